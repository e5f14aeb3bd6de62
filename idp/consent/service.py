"""Consent service: notices (declared purposes), per-claim grants, withdrawal, releases.

Consent is recorded per portal and per claim item, with the notice that was shown, is
never widened silently, and can be withdrawn claim by claim or whole. Every release of
personal data is logged here (claim names, never values).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from idp import events
from idp.consent.models import ConsentClaim, ConsentGrant, Notice, Release
from idp.db import utcnow
from idp.oauth.claims import CLAIM_ITEMS

PURPOSE_MAX = 500
CHECK_CLAIMS_NOT_GRANTED = "claims_not_granted"
CHECK_NOTICE_CHANGED = "notice_changed"
CHECK_PROMPT_CONSENT = "prompt_consent"
# Scopes that are consented to as such (not claim items).
PLAIN_SCOPES = ("openid", "offline_access")


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
    return db.scalar(select(Notice).where(Notice.portal_id == portal_id)
                     .order_by(Notice.version.desc()).limit(1))


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
    return list(db.scalars(select(ConsentClaim).where(
        ConsentClaim.grant_id == grant_id, ConsentClaim.withdrawn_at.is_(None))).all())


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


@dataclass(frozen=True)
class Prompt:
    """The outcome of the consent policy: failing checks and the items to show."""

    checks: tuple[str, ...]
    items: tuple[str, ...]
    scopes: tuple[str, ...]


def evaluate(db: Session, state: ConsentState, notice: Notice | None, *,
             items: Iterable[str], scopes: Iterable[str], prompt_consent: bool) -> Prompt:
    """Decide whether to prompt, by named checks; return what the page must show.

    Only declared items can be asked for; an undeclared item is dropped (never released).
    """
    declared = notice.purposes if notice else {}
    wanted = [i for i in CLAIM_ITEMS if i in set(items) and i in declared]
    plain = [s for s in PLAIN_SCOPES if s in set(scopes) and s != "openid"]
    undecided = [i for i in wanted if i not in state.granted and i not in state.declined]
    changed = []
    for item in wanted:
        under = state.decided_under.get(item)
        if item in undecided or notice is None or under == notice.id:
            continue
        old = get_notice(db, under)
        if old is None or old.purposes.get(item) != declared.get(item):
            changed.append(item)
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
    return Prompt(tuple(checks), tuple(shown), tuple(shown_scopes))


def record_decision(db: Session, *, citizen_id: str, portal_id: str, notice: Notice | None,
                    shown: Iterable[str], granted: Iterable[str], scopes: Iterable[str],
                    must_keep: Iterable[str] = ()) -> tuple[ConsentGrant, str]:
    """Record the citizen's answer to a consent page; return (grant, action).

    ``shown`` are the items the page listed, ``granted`` those left ticked. Raises
    ConsentError, writing nothing, if a required (or essential) item was cleared.
    """
    shown_set = set(shown)
    granted_set = set(granted)
    if not granted_set <= shown_set:
        raise ConsentError("granted claims that were not shown")
    declared = notice.purposes if notice else {}
    required = {i for i in shown_set if declared.get(i, {}).get("required")} | (
        set(must_keep) & shown_set)
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
        db.add(ConsentClaim(grant_id=grant.id, claim=item, granted=item in granted_set,
                            notice_id=notice.id if notice else None, decided_at=now))
    grant.scope = " ".join(sorted(grant.scopes | set(scopes) | {"openid"}))
    grant.notice_id = notice.id if notice else grant.notice_id
    grant.updated_at = now
    db.flush()
    events.emit(f"consent.{action}", grant_id=grant.id, portal_id=portal_id,
                granted=" ".join(sorted(granted_set)),
                declined=" ".join(sorted(shown_set - granted_set)))
    return grant, action


def ensure_grant(db: Session, *, citizen_id: str, portal_id: str,
                 notice: Notice | None = None) -> ConsentGrant:
    """Return the live grant, creating one for ``openid`` alone if needed."""
    grant = live_grant(db, citizen_id=citizen_id, portal_id=portal_id)
    if grant is not None:
        return grant
    grant, _ = record_decision(db, citizen_id=citizen_id, portal_id=portal_id, notice=notice,
                               shown=(), granted=(), scopes={"openid"})
    return grant


def withdraw_claim(db: Session, *, citizen_id: str, grant_id: str, item: str) -> bool:
    """Withdraw consent to one claim item; it is not released from then on."""
    grant = get_grant(db, grant_id)
    if grant is None or grant.citizen_id != citizen_id or grant.revoked_at is not None:
        return False
    result = db.execute(
        update(ConsentClaim)
        .where(ConsentClaim.grant_id == grant_id, ConsentClaim.claim == item,
               ConsentClaim.withdrawn_at.is_(None), ConsentClaim.granted.is_(True))
        .values(withdrawn_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        return False
    grant.updated_at = utcnow()
    db.flush()
    events.emit("consent.claim_withdrawn", grant_id=grant_id, portal_id=grant.portal_id,
                claim=item)
    return True


def withdraw(db: Session, *, grant_id: str, citizen_id: str | None = None,
             reason: str = "withdrawn") -> ConsentGrant | None:
    """Withdraw a whole grant; the caller revokes its tokens through the token service."""
    grant = get_grant(db, grant_id)
    if grant is None or grant.revoked_at is not None:
        return None
    if citizen_id is not None and grant.citizen_id != citizen_id:
        return None
    now = utcnow()
    grant.revoked_at = now
    grant.revoked_reason = reason
    db.execute(update(ConsentClaim)
               .where(ConsentClaim.grant_id == grant_id, ConsentClaim.withdrawn_at.is_(None))
               .values(withdrawn_at=now).execution_options(synchronize_session=False))
    db.flush()
    events.emit("consent.withdrawn", grant_id=grant_id, portal_id=grant.portal_id, reason=reason)
    return grant


def live_grants(db: Session, citizen_id: str) -> list[ConsentGrant]:
    """Return the citizen's live grants, newest first."""
    return list(db.scalars(select(ConsentGrant).where(
        ConsentGrant.citizen_id == citizen_id, ConsentGrant.revoked_at.is_(None))
        .order_by(ConsentGrant.created_at.desc())).all())


def claim_decisions(db: Session, grant_id: str) -> list[ConsentClaim]:
    """Return the live decisions of a grant (granted and declined)."""
    return sorted(_live_claims(db, grant_id), key=lambda r: list(CLAIM_ITEMS).index(r.claim)
                  if r.claim in CLAIM_ITEMS else 99)


# -- the release log ----------------------------------------------------------------------


def log_release(db: Session, *, citizen_id: str, portal_id: str, grant_id: str | None,
                channel: str, claims: Iterable[str]) -> Release:
    """Record that these claims (names only) left the provider for this portal."""
    grant = get_grant(db, grant_id) if grant_id else None
    row = Release(citizen_id=citizen_id, portal_id=portal_id, grant_id=grant_id,
                  notice_id=grant.notice_id if grant else None, channel=channel,
                  claims=sorted(set(claims)), released_at=utcnow())
    db.add(row)
    db.flush()
    events.emit("claims.released", channel=channel, portal_id=portal_id, grant_id=grant_id,
                claims=" ".join(row.claims))
    return row


def history(db: Session, *, citizen_id: str, portal_id: str | None = None,
            offset: int = 0, limit: int | None = 20) -> tuple[list[Release], int]:
    """Return the citizen's releases newest first (one page) and the total count."""
    where = [Release.citizen_id == citizen_id]
    if portal_id:
        where.append(Release.portal_id == portal_id)
    total = db.scalar(select(func.count()).select_from(Release).where(*where)) or 0
    query = select(Release).where(*where).order_by(Release.released_at.desc(),
                                                   Release.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(db.scalars(query).all()), int(total)


def last_release(db: Session, *, citizen_id: str, portal_id: str) -> Any:
    """Return the time of the latest release to a portal, or None."""
    return db.scalar(select(func.max(Release.released_at)).where(
        Release.citizen_id == citizen_id, Release.portal_id == portal_id))


def purposes_of(notice: Notice | None, claims: Iterable[str], lang: str) -> dict[str, str]:
    """Return {claim name: purpose text} for released claim names under a notice."""
    from idp.oauth.claims import item_of

    out: dict[str, str] = {}
    declared = notice.purposes if notice else {}
    for claim in claims:
        item = item_of(claim)
        spec = declared.get(item) if item else None
        if spec:
            out[claim] = spec["purpose"].get(lang) or spec["purpose"]["vi"]
    return out
