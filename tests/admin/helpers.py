"""Admin API test helpers: staff holders and automation clients, their tokens, calls."""

from __future__ import annotations

import uuid
from typing import Any

from idp.admin import apitokens
from idp.db import utcnow
from idp.staff import service as staff

API = "/admin/api"


def ready_staff(db: Any, *roles: str) -> Any:
    """Create a staff account as if set up (password and authenticator), committed."""
    unit = "48" if "desk_officer" in roles else None
    account = staff.add_staff(
        db,
        email=f"staff-{uuid.uuid4().hex[:10]}@so.danang.gov.vn",
        roles=list(roles),
        unit_code=unit,
    )
    account.password_hash = "set-up"
    account.totp_confirmed_at = utcnow()
    db.commit()
    return account


def staff_token(db: Any, *roles: str, ttl: int = 600) -> tuple[str, str]:
    """Return (token, staff id) of a new ready staff account with ``roles``."""
    account = ready_staff(db, *roles)
    value, _ = apitokens.issue_staff_token(db, account, ttl=ttl)
    db.commit()
    return value, account.id


def automation_client(db: Any, scope: str, **kw: Any) -> Any:
    """Register an automation client (committed); return (client_id, secret, portal id)."""
    from idp.admin.service import register_portal

    reg = register_portal(
        db, name=f"Tự động {uuid.uuid4().hex[:6]}", kind="automation", scope=scope, **kw
    )
    db.commit()
    return reg.portal.client_id, reg.client_secret, reg.portal.id


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header of a bearer token."""
    return {"Authorization": f"Bearer {token}"}
