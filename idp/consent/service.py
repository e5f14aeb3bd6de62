"""Consent service: notices (declared purposes), per-claim grants, withdrawal, releases.

Consent is recorded per portal and per claim item, with the notice that was shown, is
never widened silently, and can be withdrawn claim by claim or whole. Every release of
personal data is logged here (claim names, never values).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from idp import events
from idp.consent.models import ConsentClaim, ConsentGrant, Notice, Release
from idp.db import iso_utc, utcnow
from idp.oauth.claims import CLAIM_ITEMS

PURPOSE_MAX = 500
CHECK_CLAIMS_NOT_GRANTED = "claims_not_granted"
CHECK_NOTICE_CHANGED = "notice_changed"
CHECK_PROMPT_CONSENT = "prompt_consent"
# Scopes that are consented to as such (not claim items).
PLAIN_SCOPES = ("openid", "offline_access")


_ITEM_RANK = {item: n for n, item in enumerate(CLAIM_ITEMS)}


def item_rank(item: str) -> int:
    """Return an item's place in the canonical order (pages, receipts, exports)."""
    return _ITEM_RANK.get(item, len(_ITEM_RANK))


class PurposeError(ValueError):
    """A portal's purpose declaration that cannot be accepted."""


class ConsentError(ValueError):
    """A consent decision that cannot be recorded (nothing was written)."""


# -- notices ----------------------------------------------------------------------------


def validate_purposes(data: object) -> dict[str, dict[str, Any]]:
    """Return a clean purposes declaration or raise PurposeError.

    Shape: ``{item: {"purpose": {"vi": str, "en": str}, "required": bool}}`` with items
    from CLAIM_ITEMS (``name``, ``birthdate``, ``gender``, ``email``, ``phone_number``,
    ``address``, ``cccd``).
    """
    if not isinstance(data, dict):
        raise PurposeError("purposes must be a JSON object keyed by claim")
    clean: dict[str, dict[str, Any]] = {}
    for item, spec in data.items():
        if item not in CLAIM_ITEMS:
            raise PurposeError(f"unknown claim {item!r}; use one of {', '.join(CLAIM_ITEMS)}")
        if not isinstance(spec, dict):
            raise PurposeError(f"{item}: must be an object with 'purpose' and 'required'")
        purpose = spec.get("purpose")
        if not isinstance(purpose, dict):
            raise PurposeError(f"{item}: 'purpose' must be an object with 'vi' and 'en' texts")
        texts = {}
        for lang in ("vi", "en"):
            text = purpose.get(lang)
            if not isinstance(text, str) or not text.strip() or len(text) > PURPOSE_MAX:
                raise PurposeError(f"{item}: purpose.{lang} must be 1 to {PURPOSE_MAX} characters")
            texts[lang] = " ".join(text.split())
        required = spec.get("required", False)
        if not isinstance(required, bool):
            raise PurposeError(f"{item}: 'required' must be true or false")
        clean[item] = {"purpose": texts, "required": required}
    return clean


def _hash(purposes: dict[str, Any]) -> str:
    canonical = json.dumps(purposes, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def current_notice(db: Session, portal_id: str) -> Notice | None:
    """Return the portal's newest notice, or None if it declared nothing."""
    return db.scalar(
        select(Notice).where(Notice.portal_id == portal_id).order_by(Notice.version.desc()).limit(1)
    )


def get_notice(db: Session, notice_id: str | None) -> Notice | None:
    """Return a notice by id."""
    return db.get(Notice, notice_id) if notice_id else None


def declare_purposes(db: Session, *, portal_id: str, purposes: object) -> Notice:
    """Record the portal's purposes; a new notice version only when anything changed."""
    clean = validate_purposes(purposes)
    digest = _hash(clean)
    notice = current_notice(db, portal_id)
    if notice is not None and notice.hash == digest:
        return notice
    version = (notice.version + 1) if notice else 1
    notice = Notice(portal_id=portal_id, version=version, purposes=clean, hash=digest)
    db.add(notice)
    db.flush()
    events.emit("notice.published", portal_id=portal_id, version=version)
    return notice


# -- the citizen's consent --------------------------------------------------------------


@dataclass
class ConsentState:
    """What one citizen decided for one portal."""

    grant: ConsentGrant | None
    granted: frozenset[str] = frozenset()
    declined: frozenset[str] = frozenset()
    decided_under: dict[str, str | None] = field(default_factory=dict)

    @property
    def scopes(self) -> frozenset[str]:
        """Return the plain scopes (openid, offline_access) granted."""
        return self.grant.scopes if self.grant else frozenset()


def live_grant(db: Session, *, citizen_id: str, portal_id: str) -> ConsentGrant | None:
    """Return the citizen's live grant to this portal, or None."""
    return db.scalar(
        select(ConsentGrant).where(
            ConsentGrant.citizen_id == citizen_id,
            ConsentGrant.portal_id == portal_id,
            ConsentGrant.revoked_at.is_(None),
        )
    )


def get_grant(db: Session, grant_id: str) -> ConsentGrant | None:
    """Return a grant by id (live or not)."""
    return db.get(ConsentGrant, grant_id)


def _live_claims(db: Session, grant_id: str) -> list[ConsentClaim]:
    return list(
        db.scalars(
            select(ConsentClaim).where(
                ConsentClaim.grant_id == grant_id, ConsentClaim.withdrawn_at.is_(None)
            )
        ).all()
    )


def consent_state(db: Session, *, citizen_id: str, portal_id: str) -> ConsentState:
    """Return the citizen's live decisions for this portal."""
    grant = live_grant(db, citizen_id=citizen_id, portal_id=portal_id)
    if grant is None:
        return ConsentState(None)
    rows = _live_claims(db, grant.id)
    return ConsentState(
        grant,
        frozenset(r.claim for r in rows if r.granted),
        frozenset(r.claim for r in rows if not r.granted),
        {r.claim: r.notice_id for r in rows},
    )


def granted_items(db: Session, grant_id: str) -> frozenset[str]:
    """Return the claim items currently granted under a live grant (empty if revoked)."""
    grant = get_grant(db, grant_id)
    if grant is None or grant.revoked_at is not None:
        return frozenset()
    return frozenset(r.claim for r in _live_claims(db, grant_id) if r.granted)


def same_terms(db: Session, *, decided_under: str | None, notice: Notice | None, item: str) -> bool:
    """Return whether an item decided under one notice has the same terms in ``notice``."""
    if notice is None:
        return False
    if decided_under == notice.id:
        return True
    old = get_notice(db, decided_under)
    return old is not None and old.purposes.get(item) == notice.purposes.get(item)


def releasable_items(db: Session, *, grant_id: str, notice: Notice | None) -> frozenset[str]:
    """Return the granted items that may leave now: declared in ``notice`` on the terms
    the citizen accepted. An item whose purpose or required flag changed is paused until
    the citizen consents again (Decree 13/2023 art. 11: consent is to a stated purpose).
    """
    grant = get_grant(db, grant_id)
    if grant is None or grant.revoked_at is not None or notice is None:
        return frozenset()
    return frozenset(
        r.claim
        for r in _live_claims(db, grant_id)
        if r.granted
        and r.claim in notice.purposes
        and same_terms(db, decided_under=r.notice_id, notice=notice, item=r.claim)
    )


@dataclass(frozen=True)
class Prompt:
    """The outcome of the consent policy: failing checks and the items to show."""

    checks: tuple[str, ...]
    items: tuple[str, ...]
    scopes: tuple[str, ...]
    #: Requested items the citizen has no value for: shown as "not on file", never asked.
    missing: tuple[str, ...] = ()


def evaluate(
    db: Session,
    state: ConsentState,
    notice: Notice | None,
    *,
    items: Iterable[str],
    scopes: Iterable[str],
    prompt_consent: bool,
    on_file: Iterable[str] | None = None,
) -> Prompt:
    """Decide whether to prompt, by named checks; return what the page must show.

    Only declared items can be asked for; an undeclared item is dropped (never released).
    An item the citizen has no value for (``on_file``; None = all) is never asked for:
    it is listed as missing, and becomes a question once a value exists.
    """
    declared = notice.purposes if notice else {}
    requested = [i for i in CLAIM_ITEMS if i in set(items) and i in declared]
    have = set(CLAIM_ITEMS if on_file is None else on_file)
    wanted = [i for i in requested if i in have]
    missing = [i for i in requested if i not in have and i not in state.granted]
    plain = [s for s in PLAIN_SCOPES if s in set(scopes) and s != "openid"]
    undecided = [i for i in wanted if i not in state.granted and i not in state.declined]
    changed = [
        i
        for i in wanted
        if i not in undecided
        and not same_terms(db, decided_under=state.decided_under.get(i), notice=notice, item=i)
    ]
    new_scopes = [s for s in plain if s not in state.scopes]
    checks: list[str] = []
    # Signing in with `openid` alone releases only the portal's own pairwise `sub`: the
    # citizen's sign-in is the agreement; the connection still appears in their account.
    if undecided or new_scopes:
        checks.append(CHECK_CLAIMS_NOT_GRANTED)
    if changed:
        checks.append(CHECK_NOTICE_CHANGED)
    if prompt_consent:
        checks.append(CHECK_PROMPT_CONSENT)
    if prompt_consent:
        shown, shown_scopes = wanted, plain
    else:
        shown = [i for i in wanted if i in undecided or i in changed]
        shown_scopes = new_scopes
    return Prompt(tuple(checks), tuple(shown), tuple(shown_scopes), tuple(missing))


def record_decision(
    db: Session,
    *,
    citizen_id: str,
    portal_id: str,
    notice: Notice | None,
    shown: Iterable[str],
    granted: Iterable[str],
    scopes: Iterable[str],
) -> tuple[ConsentGrant, str]:
    """Record the citizen's answer to a consent page; return (grant, action).

    ``shown`` are the items the page listed, ``granted`` those agreed to. Raises
    ConsentError, writing nothing, if an item the portal registered as required is
    missing (a portal's ``essential`` is a request and never makes an item required).
    """
    shown_set = set(shown)
    granted_set = set(granted)
    if not granted_set <= shown_set:
        raise ConsentError("granted claims that were not shown")
    declared = notice.purposes if notice else {}
    required = {i for i in shown_set if declared.get(i, {}).get("required")}
    cleared = required - granted_set
    if cleared:
        raise ConsentError("required claims cleared: " + " ".join(sorted(cleared)))
    grant = live_grant(db, citizen_id=citizen_id, portal_id=portal_id)
    action = "changed"
    if grant is None:
        grant = ConsentGrant(citizen_id=citizen_id, portal_id=portal_id, scope="openid")
        db.add(grant)
        db.flush()
        action = "granted"
    now = utcnow()
    for row in _live_claims(db, grant.id):
        if row.claim in shown_set:
            row.withdrawn_at = now
    db.flush()
    for item in sorted(shown_set):
        db.add(
            ConsentClaim(
                grant_id=grant.id,
                claim=item,
                granted=item in granted_set,
                notice_id=notice.id if notice else None,
                decided_at=now,
            )
        )
    grant.scope = " ".join(sorted(grant.scopes | set(scopes) | {"openid"}))
    grant.notice_id = notice.id if notice else grant.notice_id
    grant.updated_at = now
    db.flush()
    events.emit(
        f"consent.{action}",
        grant_id=grant.id,
        portal_id=portal_id,
        granted=" ".join(sorted(granted_set)),
        declined=" ".join(sorted(shown_set - granted_set)),
    )
    return grant, action


def ensure_grant(
    db: Session, *, citizen_id: str, portal_id: str, notice: Notice | None = None
) -> ConsentGrant:
    """Return the live grant, creating one for ``openid`` alone if needed."""
    grant = live_grant(db, citizen_id=citizen_id, portal_id=portal_id)
    if grant is not None:
        return grant
    grant, _ = record_decision(
        db,
        citizen_id=citizen_id,
        portal_id=portal_id,
        notice=notice,
        shown=(),
        granted=(),
        scopes={"openid"},
    )
    return grant


def withdraw_claim(db: Session, *, citizen_id: str, grant_id: str, item: str) -> bool:
    """Withdraw consent to one claim item; it is not released from then on."""
    grant = get_grant(db, grant_id)
    if grant is None or grant.citizen_id != citizen_id or grant.revoked_at is not None:
        return False
    result = db.execute(
        update(ConsentClaim)
        .where(
            ConsentClaim.grant_id == grant_id,
            ConsentClaim.claim == item,
            ConsentClaim.withdrawn_at.is_(None),
            ConsentClaim.granted.is_(True),
        )
        .values(withdrawn_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        return False
    grant.updated_at = utcnow()
    db.flush()
    events.emit("consent.claim_withdrawn", grant_id=grant_id, portal_id=grant.portal_id, claim=item)
    return True


def withdraw(
    db: Session, *, grant_id: str, citizen_id: str | None = None, reason: str = "withdrawn"
) -> ConsentGrant | None:
    """Withdraw a whole grant; the caller revokes its tokens through the token service."""
    where = [ConsentGrant.id == grant_id, ConsentGrant.revoked_at.is_(None)]
    if citizen_id is not None:
        where.append(ConsentGrant.citizen_id == citizen_id)
    now = utcnow()
    # One conditional UPDATE: of two simultaneous withdrawals only one succeeds (and
    # issues a receipt).
    result = db.execute(
        update(ConsentGrant)
        .where(*where)
        .values(revoked_at=now, revoked_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    db.execute(
        update(ConsentClaim)
        .where(ConsentClaim.grant_id == grant_id, ConsentClaim.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
        .execution_options(synchronize_session=False)
    )
    db.flush()
    grant = get_grant(db, grant_id)
    db.refresh(grant)
    events.emit("consent.withdrawn", grant_id=grant_id, portal_id=grant.portal_id, reason=reason)
    return grant


def live_grants(db: Session, citizen_id: str) -> list[ConsentGrant]:
    """Return the citizen's live grants, newest first."""
    return list(
        db.scalars(
            select(ConsentGrant)
            .where(ConsentGrant.citizen_id == citizen_id, ConsentGrant.revoked_at.is_(None))
            .order_by(ConsentGrant.created_at.desc())
        ).all()
    )


def claim_decisions(db: Session, grant_id: str) -> list[ConsentClaim]:
    """Return the live decisions of a grant (granted and declined)."""
    return sorted(_live_claims(db, grant_id), key=lambda r: item_rank(r.claim))


# -- the release log ----------------------------------------------------------------------


def log_release(
    db: Session,
    *,
    citizen_id: str,
    portal_id: str,
    grant_id: str | None,
    channel: str,
    claims: Iterable[str],
) -> Release:
    """Record that these claims (names only) left the provider for this portal."""
    grant = get_grant(db, grant_id) if grant_id else None
    row = Release(
        citizen_id=citizen_id,
        portal_id=portal_id,
        grant_id=grant_id,
        notice_id=grant.notice_id if grant else None,
        channel=channel,
        claims=sorted(set(claims)),
        released_at=utcnow(),
    )
    db.add(row)
    db.flush()
    events.emit(
        "claims.released",
        channel=channel,
        portal_id=portal_id,
        grant_id=grant_id,
        claims=" ".join(row.claims),
    )
    return row


def history(
    db: Session,
    *,
    citizen_id: str,
    portal_id: str | None = None,
    offset: int = 0,
    limit: int | None = 20,
) -> tuple[list[Release], int]:
    """Return the citizen's releases newest first (one page) and the total count."""
    where = [Release.citizen_id == citizen_id]
    if portal_id:
        where.append(Release.portal_id == portal_id)
    total = db.scalar(select(func.count()).select_from(Release).where(*where)) or 0
    query = (
        select(Release)
        .where(*where)
        .order_by(Release.released_at.desc(), Release.id.desc())
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(db.scalars(query).all()), int(total)


def last_release(db: Session, *, citizen_id: str, portal_id: str) -> Any:
    """Return the time of the latest release to a portal, or None."""
    return db.scalar(
        select(func.max(Release.released_at)).where(
            Release.citizen_id == citizen_id, Release.portal_id == portal_id
        )
    )


# -- the citizen's account pages: connected portals, withdrawal, history, export -----------

#: Vietnam has kept UTC+7 without daylight saving since 1975; the fixed offset is the
#: fallback where the system has no time zone database.
try:
    from zoneinfo import ZoneInfo

    VIETNAM_TZ: dt.tzinfo = ZoneInfo("Asia/Ho_Chi_Minh")
except (ImportError, KeyError, ValueError):  # pragma: no cover - no tz database
    VIETNAM_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")

HISTORY_PAGE_SIZE = 20
#: Receipt actions that close a grant: the citizen's own withdrawal, account deletion.
WITHDRAWN_BY_CITIZEN = "withdrawn"
ACCOUNT_DELETED = "account_deleted"


def vietnam_time(when: dt.datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """Return a UTC time as Vietnam local time text (dd/mm/yyyy HH:MM), '' for None."""
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(VIETNAM_TZ).strftime(fmt)


def purpose_text(notice: Notice | None, item: str, lang: str) -> str:
    """Return the purpose a notice declares for one item in ``lang`` ('' if none)."""
    spec = (notice.purposes if notice else {}).get(item)
    if not spec:
        return ""
    texts = spec.get("purpose") or {}
    return texts.get(lang) or texts.get("vi") or ""


def items_of_claims(claims: Iterable[str]) -> list[str]:
    """Return the consent items released claim names belong to (``sub`` first)."""
    from idp.oauth.claims import item_of

    names = set(claims)
    items = {item_of(c) for c in names}
    return (["sub"] if "sub" in names else []) + [i for i in CLAIM_ITEMS if i in items]


class _Lookup:
    """Memoised notices and portals for building many rows."""

    def __init__(self, db: Session):
        self.db = db
        self._notices: dict[str | None, Notice | None] = {}
        self._portals: dict[str, Any] = {}

    def notice(self, notice_id: str | None) -> Notice | None:
        if notice_id not in self._notices:
            self._notices[notice_id] = get_notice(self.db, notice_id)
        return self._notices[notice_id]

    def portal(self, portal_id: str) -> Any:
        from idp.oauth import clients

        if portal_id not in self._portals:
            self._portals[portal_id] = clients.get_portal(self.db, portal_id)
        return self._portals[portal_id]


@dataclass(frozen=True)
class ClaimEntry:
    """One claim item of a grant as the citizen sees it."""

    item: str
    granted: bool
    purpose: str
    decided_at: dt.datetime
    withdrawn_at: dt.datetime | None = None


@dataclass
class Connection:
    """One grant to one portal, with what it holds and its receipts."""

    grant: ConsentGrant
    client_id: str
    portal_name: str
    claims: list[ClaimEntry]
    last_release: dt.datetime | None
    receipts: list[Any]

    @property
    def offline(self) -> bool:
        """Return whether the portal keeps access while the citizen is away."""
        return "offline_access" in self.grant.scopes


def past_grants(db: Session, citizen_id: str) -> list[ConsentGrant]:
    """Return the citizen's withdrawn (revoked) grants, most recently ended first."""
    return list(
        db.scalars(
            select(ConsentGrant)
            .where(ConsentGrant.citizen_id == citizen_id, ConsentGrant.revoked_at.is_not(None))
            .order_by(ConsentGrant.revoked_at.desc(), ConsentGrant.created_at.desc())
        ).all()
    )


def own_grant(db: Session, *, citizen_id: str, grant_id: str) -> ConsentGrant | None:
    """Return the grant if it is this citizen's (live or not), else None."""
    grant = get_grant(db, grant_id)
    return grant if grant is not None and grant.citizen_id == citizen_id else None


def connections(db: Session, *, citizen_id: str, lang: str, live: bool = True) -> list[Connection]:
    """Return the citizen's connected portals (or past connections), newest first."""
    from idp.consent import receipts as receipts_service

    look = _Lookup(db)
    out: list[Connection] = []
    grants = live_grants(db, citizen_id) if live else past_grants(db, citizen_id)
    for grant in grants:
        portal = look.portal(grant.portal_id)
        if portal is None:  # pragma: no cover - portals cascade to their grants
            continue
        claims = (
            []
            if not live
            else [
                ClaimEntry(
                    r.claim,
                    r.granted,
                    purpose_text(look.notice(r.notice_id), r.claim, lang),
                    r.decided_at,
                )
                for r in claim_decisions(db, grant.id)
            ]
        )
        out.append(
            Connection(
                grant=grant,
                client_id=portal.client_id,
                portal_name=portal.name,
                claims=claims,
                last_release=last_release(db, citizen_id=citizen_id, portal_id=grant.portal_id),
                receipts=receipts_service.receipts_of(db, citizen_id, grant.id),
            )
        )
    return out


def _receipt_for(
    db: Session, *, grant: ConsentGrant, issuer: str, action: str, decisions: dict[str, bool]
) -> Any:
    from idp.consent import receipts as receipts_service
    from idp.oauth import clients
    from idp.oauth.grants import subject_for

    portal = clients.get_portal(db, grant.portal_id)
    if portal is None:  # pragma: no cover - portals cascade to their grants
        raise ConsentError("the grant's portal is gone")
    ordered = dict(sorted(decisions.items(), key=lambda kv: item_rank(kv[0])))
    return receipts_service.issue_receipt(
        db,
        issuer=issuer,
        grant=grant,
        notice=get_notice(db, grant.notice_id),
        client_id=portal.client_id,
        portal_name=portal.name,
        subject=subject_for(grant.citizen_id, portal),
        action=action,
        decisions=ordered,
    )


def withdraw_claim_with_receipt(
    db: Session, *, citizen_id: str, grant_id: str, item: str, issuer: str
) -> Any:
    """Withdraw one granted claim item and issue a ``claim_withdrawn`` receipt.

    Returns the receipt, or None (nothing written) when the grant is not the citizen's,
    not live, or the item is not currently granted. Release filtering reads live consent
    at every release, so the item stops leaving the provider from the next request.
    """
    if item not in CLAIM_ITEMS:
        return None
    grant = own_grant(db, citizen_id=citizen_id, grant_id=grant_id)
    if grant is None or grant.revoked_at is not None:
        return None
    if not withdraw_claim(db, citizen_id=citizen_id, grant_id=grant_id, item=item):
        return None
    decisions = {r.claim: r.granted for r in claim_decisions(db, grant_id)}
    decisions[item] = False
    return _receipt_for(
        db, grant=grant, issuer=issuer, action="claim_withdrawn", decisions=decisions
    )


def withdraw_grant_with_receipt(
    db: Session, *, citizen_id: str, grant_id: str, issuer: str, reason: str = WITHDRAWN_BY_CITIZEN
) -> Any:
    """Withdraw a whole grant, revoke every token under it, issue a ``withdrawn`` receipt.

    All in the caller's transaction: the grant's access and refresh tokens are dead at
    the next request (validation checks the grant and the token rows), and the next
    authorization at that portal prompts again. Returns the receipt, or None (nothing
    written) when the grant is not the citizen's or is already withdrawn.
    """
    from idp.oauth import tokens

    grant = own_grant(db, citizen_id=citizen_id, grant_id=grant_id)
    if grant is None or grant.revoked_at is not None:
        return None
    before = [r.claim for r in claim_decisions(db, grant_id)]
    if withdraw(db, grant_id=grant_id, citizen_id=citizen_id, reason=reason) is None:
        return None
    tokens.revoke_grant(db, grant_id, "consent_withdrawn")
    # The receipt states the grant after the action: nothing is granted any more.
    return _receipt_for(
        db, grant=grant, issuer=issuer, action="withdrawn", decisions=dict.fromkeys(before, False)
    )


def withdraw_all(
    db: Session, *, citizen_id: str, issuer: str, reason: str = WITHDRAWN_BY_CITIZEN
) -> int:
    """Withdraw every live grant of the citizen (receipts, tokens revoked); return how many."""
    count = 0
    for grant in live_grants(db, citizen_id):
        if (
            withdraw_grant_with_receipt(
                db, citizen_id=citizen_id, grant_id=grant.id, issuer=issuer, reason=reason
            )
            is not None
        ):
            count += 1
    return count


@dataclass(frozen=True)
class HistoryEntry:
    """One release as the citizen sees it: names, purposes, channel, time. No values."""

    id: str
    released_at: dt.datetime
    client_id: str
    portal_name: str
    channel: str
    claims: list[str]
    items: list[str]
    purposes: dict[str, str]
    notice_version: int | None

    def as_dict(self) -> dict[str, Any]:
        """Return the entry for the JSON and CSV exports."""
        return {
            "id": self.id,
            "time": iso_utc(self.released_at),
            "time_vietnam": vietnam_time(self.released_at),
            "portal": self.portal_name,
            "client_id": self.client_id,
            "channel": self.channel,
            "claims": list(self.claims),
            "items": list(self.items),
            "purposes": dict(self.purposes),
            "notice_version": self.notice_version,
        }


def _entries(look: _Lookup, rows: Iterable[Release], lang: str) -> list[HistoryEntry]:
    out = []
    for row in rows:
        portal = look.portal(row.portal_id)
        notice = look.notice(row.notice_id)
        items = items_of_claims(row.claims or [])
        purposes = {i: p for i in items if (p := purpose_text(notice, i, lang))}
        out.append(
            HistoryEntry(
                id=row.id,
                released_at=row.released_at,
                client_id=portal.client_id if portal else "",
                portal_name=portal.name if portal else "",
                channel=row.channel,
                claims=list(row.claims or []),
                items=items,
                purposes=purposes,
                notice_version=notice.version if notice else None,
            )
        )
    return out


def history_portals(db: Session, citizen_id: str) -> list[tuple[str, str]]:
    """Return (client_id, name) of every portal in the citizen's history, by name."""
    look = _Lookup(db)
    ids = db.scalars(
        select(Release.portal_id).where(Release.citizen_id == citizen_id).distinct()
    ).all()
    found = [p for p in (look.portal(i) for i in ids) if p is not None]
    return sorted(((p.client_id, p.name) for p in found), key=lambda cp: (cp[1], cp[0]))


def history_portal_id(db: Session, *, citizen_id: str, client_id: str) -> str | None:
    """Return the portal id of a client_id that appears in the citizen's history."""
    look = _Lookup(db)
    for portal_id in db.scalars(
        select(Release.portal_id).where(Release.citizen_id == citizen_id).distinct()
    ).all():
        portal = look.portal(portal_id)
        if portal is not None and portal.client_id == client_id:
            return portal_id
    return None


def history_entries(
    db: Session,
    *,
    citizen_id: str,
    lang: str,
    portal_id: str | None = None,
    page: int | None = 1,
    per_page: int = HISTORY_PAGE_SIZE,
) -> tuple[list[HistoryEntry], int]:
    """Return one page of the citizen's history (all of it if ``page`` is None), newest
    first, and the total number of releases."""
    if page is None:
        rows, total = history(db, citizen_id=citizen_id, portal_id=portal_id, limit=None)
    else:
        rows, total = history(
            db,
            citizen_id=citizen_id,
            portal_id=portal_id,
            offset=(page - 1) * per_page,
            limit=per_page,
        )
    return _entries(_Lookup(db), rows, lang), total


def history_csv(entries: Iterable[HistoryEntry]) -> str:
    """Return the history as CSV text (one line per release; names, never values)."""
    import csv
    import io

    def cell(value: str) -> str:
        # OWASP CSV injection: text a spreadsheet would run as a formula is quoted.
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(
        [
            "time_utc",
            "time_vietnam",
            "portal",
            "client_id",
            "channel",
            "claims",
            "items",
            "purposes",
            "notice_version",
        ]
    )
    for e in entries:
        writer.writerow(
            [
                iso_utc(e.released_at),
                vietnam_time(e.released_at),
                cell(e.portal_name),
                cell(e.client_id),
                e.channel,
                " ".join(e.claims),
                " ".join(e.items),
                cell(" | ".join(f"{i}: {p}" for i, p in e.purposes.items())),
                "" if e.notice_version is None else str(e.notice_version),
            ]
        )
    return buf.getvalue()


def citizen_record(db: Session, *, citizen_id: str, lang: str) -> dict[str, Any]:
    """Return everything consent holds about the citizen: grants (every decision, with
    the notice it was made under), receipts (with the JWS) and the release history."""
    from idp.consent import receipts as receipts_service

    look = _Lookup(db)
    grants = list(
        db.scalars(
            select(ConsentGrant)
            .where(ConsentGrant.citizen_id == citizen_id)
            .order_by(ConsentGrant.created_at.desc())
        ).all()
    )
    out_grants = []
    for grant in grants:
        portal = look.portal(grant.portal_id)
        decisions = db.scalars(
            select(ConsentClaim)
            .where(ConsentClaim.grant_id == grant.id)
            .order_by(ConsentClaim.decided_at, ConsentClaim.claim)
        ).all()
        out_claims = []
        for r in decisions:
            notice = look.notice(r.notice_id)
            spec = (notice.purposes if notice else {}).get(r.claim, {})
            out_claims.append(
                {
                    "claim": r.claim,
                    "granted": r.granted,
                    "decided_at": iso_utc(r.decided_at),
                    "withdrawn_at": iso_utc(r.withdrawn_at),
                    "purpose": spec.get("purpose", {}),
                    "required": bool(spec.get("required")),
                    "notice": {"version": notice.version, "hash": notice.hash} if notice else None,
                }
            )
        out_grants.append(
            {
                "grant_id": grant.id,
                "client_id": portal.client_id if portal else None,
                "portal": portal.name if portal else None,
                "scopes": sorted(grant.scopes),
                "created_at": iso_utc(grant.created_at),
                "updated_at": iso_utc(grant.updated_at),
                "withdrawn_at": iso_utc(grant.revoked_at),
                "withdrawn_reason": grant.revoked_reason,
                "claims": out_claims,
            }
        )
    out_receipts = []
    for rec in receipts_service.receipts_of(db, citizen_id):
        portal = look.portal(rec.portal_id)
        out_receipts.append(
            {
                "id": rec.id,
                "action": rec.action,
                "time": iso_utc(rec.created_at),
                "grant_id": rec.grant_id,
                "client_id": portal.client_id if portal else None,
                "jws": rec.jws,
            }
        )
    rows, _ = history(db, citizen_id=citizen_id, limit=None)
    return {
        "grants": out_grants,
        "receipts": out_receipts,
        "history": [e.as_dict() for e in _entries(look, rows, lang)],
    }
