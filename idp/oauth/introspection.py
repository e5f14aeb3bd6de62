"""RFC 7662 token introspection for a portal's resource servers."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import UnsupportedTokenTypeError
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint

from idp import runtime
from idp.assurance import canonical
from idp.consent import releases
from idp.consent.policy import granted_scope
from idp.db import get_db
from idp.oauth.validation import live_token
from idp.subjects import subject_for
from idp.tokens.models import Token


class IntrospectionEndpoint(_IntrospectionEndpoint):
    """Answer for tokens issued to the authenticated (confidential) portal only."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def check_params(self, request: Any, client: Any) -> None:
        try:
            super().check_params(request, client)
        except UnsupportedTokenTypeError as exc:
            # An RFC 6749 §5.2 error (400); Authlib's class is a 401 without a challenge.
            exc.status_code = 400
            raise

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        order = ["access_token", "refresh_token"]
        if token_type_hint == "refresh_token":
            order.reverse()
        for kind in order:
            row = live_token(token_string, kind=kind)
            if row is not None:
                row._kind = kind  # type: ignore[attr-defined]
                return row
        return None

    def check_permission(self, token: Token, client: Any, request: Any) -> bool:
        return token.portal_id == client.id

    def create_introspection_payload(self, token: Token | None) -> dict[str, Any]:
        if token is None or token.is_revoked():
            return {"active": False}
        if getattr(token, "_kind", "access_token") == "access_token" and token.is_expired():
            return {"active": False}
        return self.introspect_token(token)

    def introspect_token(self, token: Token) -> dict[str, Any]:
        portal = token.get_client()
        kind = getattr(token, "_kind", "access_token")
        exp = token.access_expires_at if kind == "access_token" else token.refresh_expires_at
        # The pairwise subject is personal data too: the release is logged.
        releases.log_release(
            get_db(),
            citizen_id=token.citizen_id,
            portal_id=portal.id,
            grant_id=token.grant_id,
            channel="introspection",
            claims=["sub"],
        )
        return {
            "active": True,
            # Live consent: a withdrawn or paused item's scope is no longer reported.
            "scope": " ".join(
                granted_scope(
                    get_db(), portal=portal, grant_id=token.grant_id, requested=token.scope.split()
                )
            ),
            "client_id": portal.client_id,
            "token_type": "Bearer" if kind == "access_token" else "refresh_token",
            "exp": int(exp.timestamp()) if exp else None,
            "iat": int(token.issued_at.timestamp()),
            "sub": subject_for(token.citizen_id, portal),
            "aud": portal.client_id,
            "iss": runtime.settings().issuer,
            "auth_time": token.auth_time,
            # Tokens issued before the level URNs carry "1": reported as level 1's URN.
            "acr": canonical(token.acr),
            "amr": list(token.amr or []),
        }
