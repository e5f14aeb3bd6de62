"""The portal (client) registry and issued tokens.

Every token row carries its consent grant, portal and citizen, so revoking a grant or
disabling a portal is one statement. Secrets and tokens are stored as SHA-256 digests:
they are 256-bit random values, so a fast hash is enough and keeps the token endpoint
fast (unlike passwords, which get argon2id).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, list_to_scope, scope_to_list
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import ID, Base, UTCDateTime, new_id, utcnow


def digest(secret: str) -> str:
    """Return the hex SHA-256 digest under which a secret or token is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Portal(Base, ClientMixin):
    """A registered service portal (an OAuth client / OIDC relying party)."""

    __tablename__ = "portals"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(Text, default="openid")
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40))
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="RS256")
    subject_type: Mapped[str] = mapped_column(String(10), default="pairwise")
    sector_identifier: Mapped[str] = mapped_column(String(255))
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    # -- authlib ClientMixin -------------------------------------------------
    @property
    def client_metadata(self) -> dict[str, Any]:
        """Return registration metadata in RFC 7591 / OIDC Registration names."""
        return {
            "client_name": self.name,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "scope": self.scope,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "subject_type": self.subject_type,
            "grant_types": list(self.grant_types),
            "response_types": ["code"],
        }

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OIDC Core §3.1.2.1: redirect_uri is REQUIRED; no default is ever assumed.
        return None

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            return ""
        allowed = set(self.scope.split())
        return list_to_scope([s for s in scope_to_list(scope) if s in allowed])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # RFC 9700 §2.1: exact string matching.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.client_secret_hash or not isinstance(client_secret, str):
            return False
        return hmac.compare_digest(self.client_secret_hash, digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    @property
    def is_active(self) -> bool:
        """Return whether the portal may use the provider."""
        return self.disabled_at is None


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
