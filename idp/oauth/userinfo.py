"""OIDC Core §5.3 UserInfo endpoint; bearer token in the header or the form body."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import ResourceProtector, current_token
from authlib.oauth2.rfc6749 import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6749.errors import ForbiddenError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oidc import core as oidc
from flask import request

from idp import keys, runtime
from idp.db import get_db
from idp.oauth.grants import Principal, user_claims
from idp.oauth.validation import live_token
from idp.tokens.models import Token


class LiveTokenValidator(BearerTokenValidator):
    """RFC 6750 bearer validation against the token store."""

    def authenticate_token(self, token_string: str) -> Token | None:
        return live_token(token_string)


class BodyTokenProtector(ResourceProtector):
    """Accept the token in the Authorization header, or as a form field (RFC 6750 §2.2)."""

    def parse_request_authorization(self, request_: Any) -> tuple[Any, str]:
        try:
            return super().parse_request_authorization(request_)
        except MissingAuthorizationError:
            if (
                request.method == "POST"
                and request.mimetype == "application/x-www-form-urlencoded"
                and request.form.get("access_token")
            ):
                return self.get_token_validator("bearer"), request.form["access_token"]
            raise NoBearerToken() from None
        except UnsupportedTokenTypeError:
            raise NoBearerToken() from None


class NoBearerToken(ForbiddenError):
    """RFC 6750 §3.1: no bearer token (none, or another scheme): a bare ``Bearer``
    challenge and a standard code in the body, not Authlib's ``missing_authorization``."""

    error = "invalid_request"
    description = "A bearer access token is required."

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("WWW-Authenticate", "Bearer")]


def make_protector() -> BodyTokenProtector:
    """Return the resource protector used by userinfo."""
    protector = BodyTokenProtector()
    protector.register_token_validator(LiveTokenValidator())
    return protector


class UserInfoEndpoint(oidc.UserInfoEndpoint):
    """Release ``sub`` and the claims of the token's granted scopes."""

    def get_issuer(self) -> str:
        return runtime.settings().issuer

    def generate_user_info(self, user: Any, scope: str) -> oidc.UserInfo:
        token = request_token()
        principal = Principal(
            citizen=user,
            portal=token.get_client(),
            auth_time=token.auth_time or 0,
            amr=list(token.amr or []),
            acr=token.acr or "",
            grant_id=token.grant_id,
            claims_request=token.claims_request or {},
        )
        return user_claims(principal, scope, "userinfo")

    def resolve_private_key(self) -> Any:
        return keys.private_key_set(get_db())


def request_token() -> Token:
    """Return the token authenticated for this request (Authlib's ``current_token``)."""
    return current_token._get_current_object()
