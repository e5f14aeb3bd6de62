"""Consent grants: per portal and per claim item, recorded with the notice that was
shown, never widened silently, withdrawable claim by claim or whole.

A whole withdrawal revokes every token under the grant through the token service.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp import backchannel, events, runtime
from idp.citizens import identity
from idp.citizens import service as citizen_sessions
from idp.citizens.models import Citizen
from idp.claims import CLAIM_ITEMS
from idp.consent import receipts as receipts_service
from idp.consent.display import item_rank
from idp.consent.models import ConsentClaim, ConsentGrant, Notice
from idp.consent.notices import get_notice
from idp.db import utcnow
from idp.portals import service as portals
from idp.subjects import subject_for
from idp.tokens import service as tokens

CHECK_CLAIMS_NOT_GRANTED = "claims_not_granted"


CHECK_NOTICE_CHANGED = "notice_changed"


CHECK_PROMPT_CONSENT = "prompt_consent"


# Scopes that are consented to as such (not claim items).
PLAIN_SCOPES = ("openid", "offline_access")


class ConsentError(ValueError):
    """A consent decision that cannot be recorded (nothing was written)."""


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
    return old is not None and _terms(old, item) == _terms(notice, item)


def _terms(notice: Notice, item: str) -> tuple[object, object]:
    """Return what the citizen agreed to for an item: its purpose and required flag.

    Whether the portal accepts only verified data is not a term of the sharing: the
    citizen's choice stands when that changes.
    """
    spec = notice.purposes.get(item) or {}
    return spec.get("purpose"), spec.get("required")


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


def ensure_grant_with_receipt(
    db: Session, *, citizen_id: str, portal: Any, notice: Notice | None, issuer: str
) -> ConsentGrant:
    """Return the live grant, creating one (with its ``granted`` receipt) if needed."""
    grant = live_grant(db, citizen_id=citizen_id, portal_id=portal.id)
    if grant is not None:
        return grant
    grant = ensure_grant(db, citizen_id=citizen_id, portal_id=portal.id, notice=notice)
    receipt_for(db, grant=grant, issuer=issuer, action="granted", decisions={})
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


#: Receipt actions that close a grant: the citizen's own withdrawal, account deletion.
WITHDRAWN_BY_CITIZEN = "withdrawn"


ACCOUNT_DELETED = "account_deleted"


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


def receipt_for(
    db: Session,
    *,
    grant: ConsentGrant,
    issuer: str,
    action: str,
    decisions: dict[str, bool],
    withdrawn: list[str] | None = None,
) -> Any:
    """Sign and store a receipt for the grant's decisions (with the values' assurance)."""
    portal = portals.get_portal(db, grant.portal_id)
    if portal is None:  # pragma: no cover - portals cascade to their grants
        raise ConsentError("the grant's portal is gone")
    ordered = dict(sorted(decisions.items(), key=lambda kv: item_rank(kv[0])))
    citizen = db.get(Citizen, grant.citizen_id)
    # Whether the values the citizen agreed to share are declared or verified right now.
    levels = identity.assurance_of(db, citizen).levels(ordered) if citizen else {}
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
        assurance=levels,
        withdrawn=sorted(withdrawn, key=item_rank) if withdrawn is not None else None,
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
    return receipt_for(
        db,
        grant=grant,
        issuer=issuer,
        action="claim_withdrawn",
        decisions=decisions,
        withdrawn=[item],
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

    grant = own_grant(db, citizen_id=citizen_id, grant_id=grant_id)
    if grant is None or grant.revoked_at is not None:
        return None
    decided = claim_decisions(db, grant_id)
    before = [r.claim for r in decided]
    shared = [r.claim for r in decided if r.granted]
    if withdraw(db, grant_id=grant_id, citizen_id=citizen_id, reason=reason) is None:
        return None
    tokens.revoke_grant(db, grant_id, "consent_withdrawn")
    # The portal must drop the citizen's sessions there too (Back-Channel Logout 1.0):
    # one logout token per session it knows, or one naming the citizen only.
    store = runtime.store()
    for sid in citizen_sessions.sessions_with_portal(store, citizen_id, grant.portal_id) or [None]:
        backchannel.announce(
            store, citizen_id=citizen_id, portal_ids=[grant.portal_id], sid=sid, reason=reason
        )
    # The receipt states the grant after the action: nothing is granted any more.
    return receipt_for(
        db,
        grant=grant,
        issuer=issuer,
        action="withdrawn",
        decisions=dict.fromkeys(before, False),
        withdrawn=shared,
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
