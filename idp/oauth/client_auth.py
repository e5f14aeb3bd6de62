"""``private_key_jwt`` client authentication (RFC 7523 §2.2, OIDC Core §9).

A portal registered with this method proves itself with a JWT it signs with its own
private key; we hold only its public keys (``jwks``) or where to fetch them
(``jwks_uri``). The assertion must have ``iss`` = ``sub`` = its client_id, ``aud`` our
issuer or the endpoint's URL, an ``exp`` at most 5 minutes ahead, and a ``jti`` used once
(claimed in the shared store, so a replay is refused on every worker). Only RS256 and
ES256 signatures are accepted: ``none`` and HMAC (a public key used as a shared secret)
never are. Accepted at the token, introspection and revocation endpoints.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp import events, runtime
from idp.hashing import digest
from idp.portals.models import Portal

METHOD = "private_key_jwt"
ALGORITHMS = ["RS256", "ES256"]
MAX_LIFETIME = 300
LEEWAY = 30
JWKS_CACHE = 300


def fetch_jwks(uri: str) -> dict[str, Any]:
    """Return a portal's published JWKS (cached in the shared store for 5 minutes)."""
    store = runtime.store()
    key = f"client-jwks:{digest(uri)}"
    cached = store.get(key)
    if cached is not None:
        return cached
    try:
        resp = requests.get(uri, timeout=(3.05, 5), allow_redirects=False)
        data = resp.json() if resp.status_code == 200 else None
    except (requests.RequestException, ValueError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise InvalidClientError(description="The client's jwks_uri did not give a JWKS.")
    store.put(key, data, JWKS_CACHE)
    return data


class PrivateKeyJWT(JWTBearerClientAssertion):
    """Authlib's RFC 7523 client assertion with our audiences, algorithms and jti store."""

    CLIENT_AUTH_METHOD = METHOD

    def __init__(self) -> None:
        super().__init__(validate_jti=True, leeway=LEEWAY)

    def get_audiences(self) -> list[str]:
        issuer = runtime.settings().issuer
        return [issuer, f"{issuer}/token", f"{issuer}/introspect", f"{issuer}/revoke"]

    def resolve_client_public_key(self, client: Portal) -> Any:
        if client.token_endpoint_auth_method != METHOD:
            raise InvalidClientError(description="The client does not use private_key_jwt.")
        data = client.jwks if client.jwks else fetch_jwks(client.jwks_uri or "")
        try:
            return KeySet.import_key_set(data)
        except (JoseError, ValueError, TypeError, KeyError):
            raise InvalidClientError(description="The client's keys cannot be read.") from None

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ALGORITHMS)
        except (JoseError, ValueError, TypeError):
            raise InvalidClientError(description="The client assertion does not verify.") from None
        claims = token.claims
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp > time.time() + MAX_LIFETIME + LEEWAY:
            raise InvalidClientError(description="The client assertion lives too long.")
        self.verify_claims(claims)
        return claims

    def validate_jti(self, claims: dict[str, Any], jti: Any) -> bool:
        if not isinstance(jti, str) or not 0 < len(jti) <= 256:
            return False
        ttl = max(1, int(claims["exp"] - time.time()) + LEEWAY)
        fresh = runtime.store().add(f"client-jti:{claims['iss']}:{digest(jti)}", {}, ttl)
        if not fresh:
            events.emit("client_assertion.replayed", client_id=str(claims["iss"])[:64])
        return fresh
