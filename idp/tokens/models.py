"""Issued tokens.

Every token row carries its consent grant, portal and citizen, so revoking a grant or
disabling a portal is one statement. Tokens are stored as SHA-256 digests (idp.hashing).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from authlib.oauth2.rfc6749 import TokenMixin
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import ID, Base, UTCDateTime, new_id, utcnow
from idp.portals.models import Portal


class Token(Base, TokenMixin):
    """One access token and, optionally, its refresh token."""

    __tablename__ = "tokens"
    __table_args__ = (Index("ix_tokens_chain_id", "chain_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    portal_id: Mapped[str] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"), index=True)
    citizen_id: Mapped[str] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), index=True
    )
    grant_id: Mapped[str] = mapped_column(
        ForeignKey("consent_grants.id", ondelete="CASCADE"), index=True
    )
    # Everything issued from one authorization code (and its rotations) shares a chain.
    chain_id: Mapped[str] = mapped_column(ID)
    scope: Mapped[str] = mapped_column(Text, default="")
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    access_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set when the refresh token was exchanged; a later use of it is a reuse.
    refresh_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    auth_time: Mapped[int | None] = mapped_column(Integer)
    acr: Mapped[str | None] = mapped_column(String(40))
    amr: Mapped[list[str] | None] = mapped_column(JSON)
    # The OIDC Core §5.5 ``claims`` request, parsed: {target: {claim: essential}}.
    claims_request: Mapped[dict | None] = mapped_column(JSON)

    # -- authlib TokenMixin ---------------------------------------------------
    def check_client(self, client: Portal) -> bool:
        return self.portal_id == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.access_expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.access_expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_refresh_active(self) -> bool:
        """Return whether the refresh token may still be exchanged."""
        return (
            self.refresh_token_hash is not None
            and self.revoked_at is None
            and self.refresh_used_at is None
            and self.refresh_expires_at is not None
            and self.refresh_expires_at > utcnow()
        )

    # Set by the token service when the token is loaded for a request.
    _portal = None
    _citizen = None

    def get_client(self) -> Portal | None:
        """Return the portal the token was issued to (loaded by the service)."""
        return self._portal

    def get_user(self) -> Any:
        """Return the citizen the token was issued for (loaded by the service)."""
        return self._citizen
