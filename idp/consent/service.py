"""Consent service: what each citizen agreed to share with each portal."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import events
from idp.consent.models import ConsentGrant
from idp.db import utcnow


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


def missing_scopes(
    db: Session, *, citizen_id: str, portal_id: str, scopes: Iterable[str]
) -> frozenset[str]:
    """Return the requested scopes the citizen has not granted this portal."""
    grant = live_grant(db, citizen_id=citizen_id, portal_id=portal_id)
    granted = grant.scopes if grant else frozenset()
    return frozenset(scopes) - granted - {"openid"}


def grant_consent(
    db: Session, *, citizen_id: str, portal_id: str, scopes: Iterable[str]
) -> ConsentGrant:
    """Record consent to ``scopes``, adding to an existing live grant."""
    scopes = frozenset(scopes)
    grant = live_grant(db, citizen_id=citizen_id, portal_id=portal_id)
    if grant is None:
        grant = ConsentGrant(citizen_id=citizen_id, portal_id=portal_id,
                             scope=" ".join(sorted(scopes)))
        db.add(grant)
        db.flush()
        events.emit("consent.granted", grant_id=grant.id, portal_id=portal_id,
                    scopes=" ".join(sorted(scopes)))
        return grant
    added = scopes - grant.scopes
    if added:
        grant.scope = " ".join(sorted(grant.scopes | added))
        db.flush()
        events.emit("consent.widened", grant_id=grant.id, portal_id=portal_id,
                    scopes=" ".join(sorted(added)))
    return grant


def ensure_grant(db: Session, *, citizen_id: str, portal_id: str) -> ConsentGrant:
    """Return the live grant, creating an empty one (scope ``openid`` only) if needed."""
    grant = live_grant(db, citizen_id=citizen_id, portal_id=portal_id)
    if grant is not None:
        return grant
    return grant_consent(db, citizen_id=citizen_id, portal_id=portal_id, scopes={"openid"})


def withdraw(db: Session, *, grant_id: str, reason: str = "withdrawn") -> None:
    """Withdraw a grant; the caller revokes its tokens through the token service."""
    grant = get_grant(db, grant_id)
    if grant is None or grant.revoked_at is not None:
        return
    grant.revoked_at = utcnow()
    grant.revoked_reason = reason
    db.flush()
    events.emit("consent.withdrawn", grant_id=grant_id, portal_id=grant.portal_id)
