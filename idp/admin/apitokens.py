"""Access tokens of the JSON admin API: admin scopes, issued to staff or automation clients.

Two ways to hold one:

- an automation client (a portal registered with ``kind="automation"``) asks the token
  endpoint with the ``client_credentials`` grant (RFC 6749 §4.4) and gets the admin
  scopes it asked for, within those it is registered for (``ClientCredentialsGrant``);
- a signed-in member of staff takes a personal token from ``/staff/api-token``, with
  the scopes of their roles (``SCOPES_BY_ROLE``).

Admin tokens live in their own table (``admin_tokens``, only the SHA-256 of the token
kept, see idp.hashing), apart from citizens' tokens: userinfo, introspection and the
token endpoint never find them there, and the admin API never looks anywhere else.
They are short-lived and carry no refresh token. Each use checks the holder again: a
disabled staff account, a removed role, a suspended or deleted client, a narrowed
registration all take effect at the next request, whatever the token says.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant as _ClientCredentialsGrant
from sqlalchemy import CheckConstraint, ForeignKey, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp import events
from idp.db import ID, Base, UTCDateTime, get_db, iso_utc, new_id, utcnow
from idp.hashing import digest
from idp.portals.models import Portal
from idp.portals.service import ADMIN_SCOPES
from idp.staff import service as staff
from idp.staff.models import StaffAccount

PORTALS = "admin:portals"
AUDIT = "admin:audit"
FIGURES = "admin:figures"
KEYS = "admin:keys"

#: What each staff role may do through the API. ``desk_officer`` works at a desk only.
SCOPES_BY_ROLE: dict[str, frozenset[str]] = {
    staff.ADMIN: frozenset(ADMIN_SCOPES),
    staff.PORTAL_MANAGER: frozenset({PORTALS}),
    staff.AUDITOR: frozenset({AUDIT, FIGURES}),
    staff.DESK_OFFICER: frozenset(),
}

#: Lifetime of a client_credentials token (seconds).
CLIENT_TOKEN_TTL = 3600
#: Longest lifetime of a staff member's personal token (never past the staff session's).
STAFF_TOKEN_TTL = 3600


class AdminToken(Base):
    """One admin access token, held by a staff account or by an automation client."""

    __tablename__ = "admin_tokens"
    __table_args__ = (
        CheckConstraint("(staff_id IS NULL) <> (portal_id IS NULL)", name="one_holder"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[str | None] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True
    )
    portal_id: Mapped[str | None] = mapped_column(
        ForeignKey("portals.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def check_client(self, client: Portal) -> bool:
        """RFC 7009: only the automation client it was issued to may revoke it."""
        return self.portal_id is not None and self.portal_id == client.id


@dataclass(frozen=True)
class Actor:
    """Who calls the API: a staff account or an automation client, and what it may do."""

    kind: str  # "staff" or "client"
    id: str  # the staff account's id, or the client's client_id
    scopes: frozenset[str]
    token_id: str

    @property
    def label(self) -> str:
        """Name the actor in the audit trail (``staff:ID`` or ``client:CLIENT_ID``)."""
        return f"{self.kind}:{self.id}"


def role_scopes(roles: list[str] | None) -> frozenset[str]:
    """Return the admin scopes the given staff roles allow."""
    out: set[str] = set()
    for role in roles or []:
        out |= SCOPES_BY_ROLE.get(role, frozenset())
    return frozenset(out)


def _client_scopes(portal: Portal) -> frozenset[str]:
    if "client_credentials" not in (portal.grant_types or []) or not portal.is_active:
        return frozenset()
    return frozenset(s for s in portal.scope.split() if s in ADMIN_SCOPES)


def _order(scopes: frozenset[str] | set[str]) -> str:
    return " ".join(s for s in ADMIN_SCOPES if s in scopes)


def issue_staff_token(db: Session, account: StaffAccount, *, ttl: int) -> tuple[str, AdminToken]:
    """Issue a personal token with the scopes of the account's roles; return it (shown
    once) and its row. Raises ValueError for an account that may not use the API."""
    scopes = role_scopes(account.roles) if account.ready else frozenset()
    if not scopes:
        raise ValueError("this staff account has no role that may use the admin API")
    value = secrets.token_urlsafe(32)
    ttl = max(1, min(int(ttl), STAFF_TOKEN_TTL))
    row = AdminToken(
        token_hash=digest(value),
        staff_id=account.id,
        scope=_order(scopes),
        expires_at=utcnow() + dt.timedelta(seconds=ttl),
    )
    db.add(row)
    db.flush()
    events.emit("admin.token_issued", token_id=row.id, actor=f"staff:{account.id}", scope=row.scope)
    return value, row


def save_client_token(
    db: Session, *, value: str, portal: Portal, scope: str, expires_in: int
) -> AdminToken:
    """Store the digest of a client_credentials token issued to an automation client."""
    row = AdminToken(
        token_hash=digest(value),
        portal_id=portal.id,
        scope=scope,
        expires_at=utcnow() + dt.timedelta(seconds=expires_in),
    )
    db.add(row)
    db.flush()
    events.emit(
        "admin.token_issued",
        token_id=row.id,
        actor=f"client:{portal.client_id}",
        portal_id=portal.id,
        scope=scope,
    )
    return row


def _valid_string(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 512 and "\x00" not in value


def find(db: Session, value: object) -> AdminToken | None:
    """Return the admin token row of this token value (live or not), or None."""
    if not _valid_string(value):
        return None
    return db.scalar(select(AdminToken).where(AdminToken.token_hash == digest(str(value))))


def authenticate(db: Session, value: object) -> Actor | None:
    """Return who holds this live admin token and what it may do now, or None.

    The scopes are those of the token still allowed to its holder at this instant:
    the staff account's current roles (a disabled account: none), the client's current
    registration (a suspended client: none).
    """
    row = find(db, value)
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    granted = frozenset(row.scope.split())
    if row.staff_id is not None:
        account = db.get(StaffAccount, row.staff_id)
        if account is None or not account.ready:
            return None
        return Actor("staff", account.id, granted & role_scopes(account.roles), row.id)
    portal = db.get(Portal, row.portal_id) if row.portal_id else None
    if portal is None or not portal.is_active:
        return None
    return Actor("client", portal.client_id, granted & _client_scopes(portal), row.id)


def revoke(db: Session, value: object, *, portal: Portal | None = None) -> bool:
    """Revoke an admin token (of ``portal`` only, when given); return whether one was."""
    row = find(db, value)
    if row is None or (portal is not None and row.portal_id != portal.id):
        return False
    done = db.execute(
        update(AdminToken)
        .where(AdminToken.id == row.id, AdminToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if done:
        events.emit("admin.token_revoked", token_id=row.id)
    return bool(done)


def describe(row: AdminToken) -> dict[str, Any]:
    """Return a token's metadata (never the token)."""
    return {
        "id": row.id,
        "scope": row.scope,
        "issued_at": iso_utc(row.issued_at),
        "expires_at": iso_utc(row.expires_at),
    }


# -- RFC 6749 §4.4: the client_credentials grant ------------------------------------------


class ClientCredentialsGrant(_ClientCredentialsGrant):
    """Tokens for automation clients: admin scopes only, no refresh token, own table.

    The scope granted is the scope asked for within the client's registration (all of it
    when none is asked for, RFC 6749 §3.3); nothing in common is ``invalid_scope``.
    Authlib checks the client's authentication and ``check_grant_type`` (only automation
    clients are registered for ``client_credentials``).
    """

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def validate_requested_scope(self) -> None:
        client = self.request.client
        allowed = _client_scopes(client)
        asked = self.request.payload.scope
        if asked is not None and not isinstance(asked, str):
            raise InvalidScopeError()
        wanted = set(asked.split()) if asked else set(allowed)
        granted = wanted & allowed
        if not granted:
            raise InvalidScopeError(
                description="Ask for admin scopes this client is registered for."
            )
        self.request.granted_scope = _order(granted)  # type: ignore[attr-defined]

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        scope = self.request.granted_scope  # type: ignore[attr-defined]
        token = self.generate_token(
            scope=scope, expires_in=CLIENT_TOKEN_TTL, include_refresh_token=False
        )
        token.pop("refresh_token", None)
        token["scope"] = scope
        save_client_token(
            get_db(),
            value=token["access_token"],
            portal=self.request.client,
            scope=scope,
            expires_in=CLIENT_TOKEN_TTL,
        )
        return 200, token, self.TOKEN_RESPONSE_HEADER
