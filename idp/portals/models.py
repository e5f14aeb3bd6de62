"""The portal (client) registry's table: a registered service portal.

Client secrets are stored as SHA-256 digests (idp.hashing): they are 256-bit random
values, so a fast hash is enough and keeps the token endpoint fast (unlike passwords,
which get argon2id).
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, list_to_scope, scope_to_list
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import ID, Base, UTCDateTime, new_id, utcnow
from idp.hashing import digest


class Portal(Base, ClientMixin):
    """A registered service portal (an OAuth client / OIDC relying party)."""

    __tablename__ = "portals"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    # After a rotation with a grace period, the previous secret works until then.
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    name: Mapped[str] = mapped_column(String(200))
    # The name in English (``name`` is Vietnamese); pages in English fall back to ``name``.
    name_en: Mapped[str | None] = mapped_column(String(200))
    # Whom the operators call about this portal (RFC 7591 ``contacts``).
    contact_email: Mapped[str | None] = mapped_column(String(254))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Browser-based portals: the exact origins allowed to call the token, userinfo,
    # revocation, discovery and JWKS endpoints from a page (CORS).
    web_origins: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    scope: Mapped[str] = mapped_column(Text, default="openid")
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40))
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="RS256")
    subject_type: Mapped[str] = mapped_column(String(10), default="pairwise")
    sector_identifier: Mapped[str] = mapped_column(String(255))
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The level of assurance asked when a request names none (an ``acr`` URN, required).
    default_acr: Mapped[str | None] = mapped_column(String(40))
    # OpenID Connect Back-Channel Logout 1.0: where logout tokens are POSTed, whether the
    # portal needs ``sid`` in them, and whether the operator allowed a loopback or
    # private-network address there (refused otherwise: no requests into our network).
    # private_key_jwt: the portal's public keys, or where it publishes them.
    jwks: Mapped[dict | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(String(2000))
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2000))
    backchannel_logout_session_required: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    backchannel_private: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    # -- authlib ClientMixin -------------------------------------------------
    @property
    def client_metadata(self) -> dict[str, Any]:
        """Return registration metadata in RFC 7591 / OIDC Registration names."""
        return {
            "client_name": self.name,
            "client_name#vi": self.name,
            "client_name#en": self.name_en or self.name,
            "contacts": [self.contact_email] if self.contact_email else [],
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "web_origins": list(self.web_origins or []),
            "scope": self.scope,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "subject_type": self.subject_type,
            "grant_types": list(self.grant_types),
            # OIDC Registration §2: ``default_acr_values``.
            "default_acr_values": [self.default_acr] if self.default_acr else [],
            "jwks_uri": self.jwks_uri,
            "jwks": self.jwks,
            "backchannel_logout_uri": self.backchannel_logout_uri,
            "backchannel_logout_session_required": self.backchannel_logout_session_required,
            "response_types": ["code"] if "authorization_code" in self.grant_types else [],
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
        given = digest(client_secret)
        current = hmac.compare_digest(self.client_secret_hash, given)
        previous = bool(
            self.previous_secret_hash
            and self.previous_secret_expires_at is not None
            and self.previous_secret_expires_at > utcnow()
            and hmac.compare_digest(self.previous_secret_hash, given)
        )
        return current or previous

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    def name_in(self, language: str | None) -> str:
        """Return the portal's name in a page language (English falls back to ``name``)."""
        return (self.name_en or self.name) if language == "en" else self.name

    @property
    def display_name(self) -> str:
        """Return the portal's name in the current page's language (``name`` outside a
        request)."""
        from flask import has_request_context

        if not has_request_context():
            return self.name
        from flask_babel import get_locale

        locale = get_locale()
        return self.name_in(locale.language if locale else None)

    @property
    def is_active(self) -> bool:
        """Return whether the portal may use the provider."""
        return self.disabled_at is None


class LogoutDelivery(Base):
    """One attempt to deliver a back-channel logout token to a portal (for operators).

    Holds no personal data: the token's ``jti``, why it was sent, the attempt number,
    when, and what came of it (``delivered``, ``failed`` (retried), ``gave_up`` after
    the last retry, ``refused``: the address is not allowed).
    """

    __tablename__ = "logout_deliveries"
    __table_args__ = (Index("ix_logout_deliveries_portal_time", "portal_id", "attempted_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    portal_id: Mapped[str] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    jti: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(30))
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(String(200))
