"""Portal administration: registration and purposes together, over the registry and consent.

The registry (idp.portals) knows nothing of consent; consent (idp.consent) knows nothing
of registration. Operators' commands (the CLI, later the console and the admin API)
go through these functions, so a portal and the notice of its purposes are written in
one transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp import backchannel, events
from idp.citizens import service as citizen_sessions
from idp.claims import items_of_scopes, scope_of_item
from idp.consent import notices
from idp.consent.models import ConsentGrant, Release
from idp.db import iso_utc, utcnow
from idp.portals import service as portals
from idp.portals.models import LogoutDelivery, Portal
from idp.portals.service import Registered, RegistrationError
from idp.store import Store
from idp.tokens import service as tokens


def _check_within_scopes(purposes: dict[str, Any], scope: str) -> None:
    """Refuse a purpose for an item the portal's registered scopes do not cover."""
    scopes = scope.split()
    allowed = items_of_scopes(scopes)
    for item in purposes:
        if item not in allowed:
            raise RegistrationError(
                "purposes",
                f"{item!r} needs the {scope_of_item(item)!r} scope, which the portal is not "
                f"registered for (registered: {' '.join(scopes)})",
            )


def register_portal(db: Session, *, purposes: object = None, **registration: Any) -> Registered:
    """Register a portal and publish its purposes; raise RegistrationError, writing nothing.

    ``purposes`` declares, per claim item, why the portal needs it and whether it is
    required (see ``consent.notices.validate_purposes``); undeclared claims are never
    released to the portal.
    """
    clean = None
    if purposes is not None:
        try:
            clean = notices.validate_purposes(purposes)
        except notices.PurposeError as exc:
            raise RegistrationError("purposes", str(exc)) from None
        # The registration is the upper bound of what the portal can ever receive.
        _check_within_scopes(clean, str(registration.get("scope") or ""))
    reg = portals.register_portal(db, **registration)
    if clean:
        notices.declare_purposes(db, portal_id=reg.portal.id, purposes=clean)
    return reg


def declare_purposes(db: Session, *, client_id: str, purposes: object) -> dict[str, object]:
    """Publish a portal's purposes (a new notice version if anything changed)."""
    portal = portals.by_client_id(db, client_id)
    if portal is None:
        raise RegistrationError("client_id", "no portal with this client_id")
    notice = _declare(db, portal, purposes)
    return {
        "client_id": client_id,
        "notice_version": notice.version,
        "notice_hash": notice.hash,
        "purposes": notice.purposes,
    }


def _declare(db: Session, portal: Any, purposes: object) -> Any:
    try:
        clean = notices.validate_purposes(purposes)
    except notices.PurposeError as exc:
        raise RegistrationError("purposes", str(exc)) from None
    _check_within_scopes(clean, portal.scope)
    return notices.declare_purposes(db, portal_id=portal.id, purposes=clean)


def describe_portal(db: Session, portal: Any) -> dict[str, object]:
    """Return the portal's registration and its current purposes notice (never secrets)."""
    notice = notices.current_notice(db, portal.id)
    return {
        **portals.describe(portal),
        "notice_version": notice.version if notice else None,
        "purposes": notice.purposes if notice else {},
    }


def list_portals(db: Session) -> list[dict[str, object]]:
    """Describe every registered portal, oldest first."""
    return [describe_portal(db, p) for p in portals.list_portals(db)]


def suspend_portal(db: Session, store: Store, *, client_id: str) -> dict[str, object]:
    """Cut a portal off in one action; return what was done.

    From this instant every token check refuses its tokens (``disabled_at``, read at
    each request by every worker); the tokens are also revoked, so that resuming the
    portal never brings them back; its sign-in requests meet a "suspended" page; and a
    back-channel logout is queued for every live session that used it.
    """
    portal = portals.disable_portal(db, client_id=client_id)
    revoked = tokens.revoke_portal_tokens(db, portal.id, "portal_suspended")
    told = 0
    for citizen_id, sid in citizen_sessions.portal_sessions(store, portal.id):
        told += backchannel.announce(
            store, citizen_id=citizen_id, portal_ids=[portal.id], sid=sid, reason="portal_suspended"
        )
    events.emit("portal.suspended", portal_id=portal.id, tokens=revoked, sessions=told)
    return {"client_id": portal.client_id, "tokens_revoked": revoked, "sessions_told": told}


def resume_portal(db: Session, *, client_id: str) -> Portal:
    """Let a suspended portal sign citizens in again; tokens from before stay dead."""
    return portals.resume_portal(db, client_id=client_id)


def update_portal(
    db: Session, *, client_id: str, purposes: object = None, **changes: Any
) -> tuple[Portal, list[str]]:
    """Change a portal's registration (and, with ``purposes``, its notice) at once.

    Returns the portal and the names of what changed. Raises RegistrationError, writing
    nothing: every field is checked first, and a narrower scope must still cover the
    purposes the portal declares.
    """
    portal = portals.by_client_id(db, client_id) if isinstance(client_id, str) else None
    if portal is None:
        raise RegistrationError("client_id", "no portal with this client_id")
    clean = None
    if purposes is not None:
        try:
            clean = notices.validate_purposes(purposes)
        except notices.PurposeError as exc:
            raise RegistrationError("purposes", str(exc)) from None
    if "scope" in changes:
        kind = "automation" if "client_credentials" in portal.grant_types else "portal"
        scope = " ".join(portals.check_scope(changes["scope"], kind))
    else:
        scope = portal.scope
    # Checked before anything is written.
    declared = clean if clean is not None else _current_purposes(db, portal)
    try:
        _check_within_scopes(declared, scope)
    except RegistrationError as exc:
        if clean is None:
            raise RegistrationError(
                "scope", f"{exc.message}: declare fewer purposes first"
            ) from None
        raise
    portal, changed = portals.update_portal(db, client_id=client_id, **changes)
    if clean is not None:
        before = notices.current_notice(db, portal.id)
        notice = notices.declare_purposes(db, portal_id=portal.id, purposes=clean)
        if before is None or before.id != notice.id:
            changed.append("purposes")
    return portal, changed


def _current_purposes(db: Session, portal: Portal) -> dict[str, Any]:
    notice = notices.current_notice(db, portal.id)
    return dict(notice.purposes) if notice else {}


#: How far back the console and the API count back-channel delivery outcomes.
DELIVERY_WINDOW = dt.timedelta(days=30)


def portal_overview(db: Session, portal: Portal, *, recent: int = 10) -> dict[str, object]:
    """Describe a portal for operators: its registration and purposes, how many citizens
    have a live grant with it, its last sign-in, and its back-channel delivery outcomes
    (counts over ``DELIVERY_WINDOW`` and the latest attempts). Counts only, no person."""
    live = db.scalar(
        select(func.count())
        .select_from(ConsentGrant)
        .where(ConsentGrant.portal_id == portal.id, ConsentGrant.revoked_at.is_(None))
    )
    last = db.scalar(
        select(func.max(Release.released_at)).where(
            Release.portal_id == portal.id, Release.channel == "id_token"
        )
    )
    since = utcnow() - DELIVERY_WINDOW
    outcomes = {
        outcome: int(count)
        for outcome, count in db.execute(
            select(LogoutDelivery.outcome, func.count())
            .where(LogoutDelivery.portal_id == portal.id, LogoutDelivery.attempted_at >= since)
            .group_by(LogoutDelivery.outcome)
        ).all()
    }
    latest = db.scalars(
        select(LogoutDelivery)
        .where(LogoutDelivery.portal_id == portal.id)
        .order_by(LogoutDelivery.attempted_at.desc())
        .limit(recent)
    ).all()
    return {
        **describe_portal(db, portal),
        "kind": "automation" if "client_credentials" in portal.grant_types else "portal",
        "live_grants": int(live or 0),
        "last_sign_in": iso_utc(last) if last else None,
        "deliveries": outcomes,
        "recent_deliveries": [
            {
                "jti": d.jti,
                "reason": d.reason,
                "attempt": d.attempt,
                "attempted_at": iso_utc(d.attempted_at),
                "outcome": d.outcome,
                "http_status": d.http_status,
                "detail": d.detail,
            }
            for d in latest
        ],
    }


def delete_portal(db: Session, *, client_id: str) -> str:
    """Delete a suspended portal (its grants, tokens and secrets); the citizens' record
    stays. Refused for an active portal. Returns the deleted portal's internal id."""
    return portals.delete_portal(db, client_id=client_id)


def rotate_secret(db: Session, *, client_id: str, grace: int = 0) -> str:
    """Give a confidential portal a new secret (returned once); the previous one works
    for ``grace`` seconds more."""
    return portals.rotate_secret(db, client_id=client_id, grace=grace)
