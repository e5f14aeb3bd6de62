"""Loading a presented access token with everything that can make it dead."""

from __future__ import annotations

from typing import Any

from idp.citizens import service as citizens
from idp.consent import grants as consent_grants
from idp.db import get_db
from idp.portals import service as clients
from idp.tokens import service as tokens
from idp.tokens.models import Token


def live_token(value: Any, *, kind: str = "access_token") -> Token | None:
    """Return the token row if it is live: not expired, revoked, or cut off.

    A token dies with its consent grant, its portal and its citizen, at the next request.
    """
    db = get_db()
    row = (
        tokens.by_refresh_token(db, value)
        if kind == "refresh_token"
        else tokens.by_access_token(db, value)
    )
    if row is None or row.revoked_at is not None:
        return None
    if kind == "access_token" and row.is_expired():
        return None
    if kind == "refresh_token" and not row.is_refresh_active():
        return None
    portal = clients.get_portal(db, row.portal_id)
    if portal is None or not portal.is_active:
        return None
    grant = consent_grants.get_grant(db, row.grant_id)
    if grant is None or grant.revoked_at is not None:
        return None
    citizen = citizens.get_citizen(db, row.citizen_id)
    if citizen is None:
        return None
    row._portal = portal
    row._citizen = citizen
    return row
