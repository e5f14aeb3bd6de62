"""The Authlib AuthorizationServer, wired to our storage and policy."""

from __future__ import annotations

from typing import Any

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request, UnsupportedResponseTypeError
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, g

from idp import runtime
from idp.admin.apitokens import ClientCredentialsGrant
from idp.db import get_db
from idp.oauth.client_auth import PrivateKeyJWT
from idp.oauth.grants import (
    AuthorizationCodeGrant,
    OpenIDCode,
    Principal,
    RefreshTokenGrant,
    S256CodeChallenge,
)
from idp.oauth.introspection import IntrospectionEndpoint
from idp.oauth.revocation import RevocationEndpoint
from idp.oauth.userinfo import UserInfoEndpoint, make_protector
from idp.portals import service as clients
from idp.portals.models import Portal
from idp.tokens import service as tokens


class Server(AuthorizationServer):
    """Flask server that also accepts an already-built request (a resumed interaction)."""

    def create_oauth2_request(self, request: Any) -> Any:
        if isinstance(request, OAuth2Request):
            return request
        return super().create_oauth2_request(request)

    def get_authorization_grant(self, request: Any) -> Any:
        try:
            return super().get_authorization_grant(request)
        except ValueError:
            # Authlib quotes the raw response_type in error_description and raises
            # ValueError when it holds characters RFC 6749 forbids there (a 500).
            pass
        client = _query_client(request.payload.client_id)
        uri = request.payload.redirect_uri
        raise UnsupportedResponseTypeError(
            "unsupported",
            "The response type is not supported.",
            redirect_uri=uri if client and uri and client.check_redirect_uri(uri) else None,
        )


class Issuer(IssuerParameter):
    """RFC 9207: ``iss`` in every authorization response."""

    def get_issuer(self) -> str:
        return runtime.settings().issuer


def _client_secret_basic(query_client: Any, request: Any) -> Portal | None:
    """Authlib's HTTP Basic client authentication, minus its 500s on a malformed header.

    Authlib 1.9 unpacks ``Basic `` (no credentials) and decodes non-UTF-8 credentials
    unguarded (ValueError): such a header is simply no authentication (invalid_client).
    Authlib offers no public hook around its built-in method, so the function is imported
    from ``rfc6749.authenticate_client`` and registered in its place through the public
    ``register_client_auth_method``.
    """
    try:
        return authenticate_client_secret_basic(query_client, request)
    except ValueError:
        return None


def _query_client(client_id: str) -> Portal | None:
    # Authlib asks several times per request (validation, then again when answering).
    if not isinstance(client_id, str):
        return None
    seen = g.setdefault("idp_portals", {})
    if client_id not in seen:
        seen[client_id] = clients.find_active(get_db(), client_id)
    return seen[client_id]


def _save_token(token: dict[str, Any], request: Any) -> None:
    principal: Principal = request.user
    tokens.save_token(
        get_db(),
        token=token,
        portal_id=request.client.id,
        citizen_id=principal.citizen.id,
        grant_id=principal.grant_id,
        chain_id=principal.chain_id,
        auth_time=principal.auth_time,
        acr=principal.acr,
        amr=list(principal.amr),
        claims_request=principal.claims_request or None,
        refresh_ttl=runtime.settings().refresh_token_ttl,
    )


class TokenGenerator(BearerTokenGenerator):
    """Opaque bearer tokens; a refresh token only under ``offline_access`` (OIDC Core §11)."""

    def __call__(
        self,
        grant_type: str,
        client: Portal,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict:
        offline = "offline_access" in (scope or "").split()
        return super().__call__(
            grant_type, client, user, scope, expires_in, include_refresh_token and offline
        )


def build_server(app: Flask) -> AuthorizationServer:
    """Create the authorization server with our grants and endpoints."""
    settings = app.extensions["idp.settings"]
    server = Server(app, query_client=_query_client, save_token=_save_token)
    server.register_token_generator(
        "default",
        TokenGenerator(
            access_token_generator=lambda **_: generate_token(43),
            refresh_token_generator=lambda **_: generate_token(43),
            expires_generator=lambda client, grant_type: settings.access_token_ttl,
        ),
    )
    server.register_grant(
        AuthorizationCodeGrant, [OpenIDCode(require_nonce=False), S256CodeChallenge(required=True)]
    )
    server.register_grant(RefreshTokenGrant)
    # RFC 6749 §4.4: automation clients of the admin API (admin scopes, own table).
    server.register_grant(ClientCredentialsGrant)
    server.register_client_auth_method("client_secret_basic", _client_secret_basic)
    server.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT())
    server.register_extension(Issuer())
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(IntrospectionEndpoint)
    server.register_endpoint(UserInfoEndpoint(resource_protector=make_protector()))
    app.extensions["idp.oauth"] = server
    return server
