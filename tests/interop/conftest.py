"""Shared pieces of the interop tests: discovery, JWKS, a citizen, ID-token checks.

These tests drive the live provider with third-party client libraries, never with the
provider's own code, so that what a portal developer would experience is what is tested.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

TIMEOUT = 30


@pytest.fixture
def meta(live: Any) -> dict[str, Any]:
    """The discovery document, fetched over HTTP like any portal would."""
    resp = requests.get(f"{live.url}/.well-known/openid-configuration", timeout=TIMEOUT)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    return resp.json()


@pytest.fixture
def jwks(meta: dict[str, Any]) -> KeySet:
    """The provider's public keys, fetched from ``jwks_uri``."""
    resp = requests.get(meta["jwks_uri"], timeout=TIMEOUT)
    assert resp.status_code == 200
    body = resp.json()
    assert all("d" not in k for k in body["keys"]), "private key material in the JWKS"
    return KeySet.import_key_set(body)


@pytest.fixture
def citizen(live: Any) -> dict[str, Any]:
    """A freshly registered citizen with a password."""
    return live.make_citizen()


def verify_id_token(
    id_token: str,
    *,
    meta: dict[str, Any],
    jwks: KeySet,
    client_id: str,
    nonce: str,
    access_token: str,
) -> CodeIDToken:
    """Verify signature and claims (iss, aud, nonce, at_hash, exp) as an RP would."""
    decoded = jwt.decode(id_token, jwks, algorithms=meta["id_token_signing_alg_values_supported"])
    options = {
        "iss": {"essential": True, "value": meta["issuer"]},
        "aud": {"essential": True, "value": client_id},
        "nonce": {"essential": True, "value": nonce},
        "exp": {"essential": True},
        "at_hash": {"essential": True},
    }
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        options,
        {"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    claims.validate(leeway=5)
    assert claims["exp"] > claims["iat"]
    return claims
