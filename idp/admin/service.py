"""Portal administration: registration and purposes together, over the registry and consent.

The registry (idp.portals) knows nothing of consent; consent (idp.consent) knows nothing
of registration. Operators' commands (the CLI, later the console and the admin API)
go through these functions, so a portal and the notice of its purposes are written in
one transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from idp import backchannel, events
from idp.citizens import service as citizen_sessions
from idp.claims import items_of_scopes, scope_of_item
from idp.consent import notices
from idp.portals import service as portals
from idp.portals.models import Portal
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
