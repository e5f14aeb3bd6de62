"""``private_key_jwt`` over real HTTP: Authlib's client ``PrivateKeyJWT`` signs in and
introspects; every malformed or hostile assertion is ``invalid_client`` (RFC 7523,
OIDC Core §9)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.interop.conftest import TIMEOUT
from tests.support.useragent import UserAgent

pytestmark = pytest.mark.live
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's PrivateKeyJWT with assertions that expire in 2 minutes (Authlib's
    default is an hour; the provider accepts at most 5 minutes)."""

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            expires_in=120,
        )


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "portal-key-1"})


@pytest.fixture
def portal(live: Any, key: RSAKey) -> dict[str, Any]:
    public = key.as_dict(private=False)
    return live.register_portal(
        auth_method="private_key_jwt",
        jwks={"keys": [public]},
        scope="openid profile",
    )


def _assertion(client_id: str, aud: str, key: Any, **over: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_urlsafe(16),
    }
    header = {"alg": over.pop("alg", "RS256"), "kid": over.pop("kid", "portal-key-1")}
    claims.update(over)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(header, claims, key, algorithms=[header["alg"]])


def _introspect(meta: dict, client_id: str, assertion: str) -> requests.Response:
    return requests.post(
        meta["introspection_endpoint"],
        data={
            "token": "x" * 43,
            "client_id": client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
        timeout=TIMEOUT,
    )


def test_discovery_advertises_private_key_jwt(meta):
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"]
    assert "private_key_jwt" in meta["introspection_endpoint_auth_methods_supported"]
    assert set(meta["token_endpoint_auth_signing_alg_values_supported"]) == {"RS256", "ES256"}


def test_authlib_client_signs_in_and_introspects(live, meta, citizen, portal, key):
    assert "client_secret" not in portal or portal["client_secret"] is None
    session = OAuth2Session(
        client_id=portal["client_id"],
        client_secret=key,
        scope="openid profile",
        redirect_uri=portal["redirect_uri"],
        code_challenge_method="S256",
        token_endpoint_auth_method="private_key_jwt",
        default_timeout=TIMEOUT,
    )
    session.register_client_auth_method(ShortLivedPrivateKeyJWT(meta["token_endpoint"]))
    verifier = secrets.token_urlsafe(48)
    url, _ = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce="n-1"
    )
    ua = UserAgent(live.url)
    out = ua.authorize(url, identifier=citizen["identifier"], password=citizen["password"])
    token = session.fetch_token(
        meta["token_endpoint"], authorization_response=out.location, code_verifier=verifier
    )
    assert token["access_token"]
    session.register_client_auth_method(ShortLivedPrivateKeyJWT(meta["introspection_endpoint"]))
    seen = session.introspect_token(meta["introspection_endpoint"], token=token["access_token"])
    assert seen.status_code == 200
    assert seen.json()["active"] is True


def test_a_valid_assertion_works_once(meta, portal, key):
    assertion = _assertion(portal["client_id"], meta["issuer"], key)
    assert _introspect(meta, portal["client_id"], assertion).status_code == 200
    replay = _introspect(meta, portal["client_id"], assertion)
    assert replay.status_code in (400, 401)  # RFC 6749 §5.2: 401 only for the header
    assert replay.json()["error"] == "invalid_client"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hmac_with_public_key(client_id: str, aud: str, key: RSAKey) -> str:
    """The classic attack: HS256 with the (public) RSA key's PEM as the shared secret."""
    pem = key.as_pem(private=False)
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "exp": now + 60, "jti": "h"}
    head = _b64(json.dumps({"alg": "HS256", "kid": "portal-key-1"}).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def _unsigned(client_id: str, aud: str) -> str:
    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "exp": now + 60, "jti": "n"}
    return f"{b64({'alg': 'none'})}.{b64(claims)}."


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "too_long",
        "wrong_aud",
        "unknown_kid",
        "other_key",
        "alg_none",
        "hmac_public_key",
        "iss_not_sub",
        "no_jti",
        "es256_unregistered",
        "garbage",
    ],
)
def test_a_bad_assertion_is_invalid_client(meta, portal, key, case):
    cid, aud = portal["client_id"], meta["issuer"]
    other = RSAKey.generate_key(2048, parameters={"kid": "portal-key-1"})
    assertion = {
        "expired": lambda: _assertion(cid, aud, key, exp=int(time.time()) - 600),
        "too_long": lambda: _assertion(cid, aud, key, exp=int(time.time()) + 3600),
        "wrong_aud": lambda: _assertion(cid, "https://elsewhere.example/token", key),
        "unknown_kid": lambda: _assertion(cid, aud, other, kid="nobody"),
        "other_key": lambda: _assertion(cid, aud, other),
        "alg_none": lambda: _unsigned(cid, aud),
        "hmac_public_key": lambda: _hmac_with_public_key(cid, aud, key),
        "iss_not_sub": lambda: _assertion(cid, aud, key, iss="someone-else"),
        "no_jti": lambda: _assertion(cid, aud, key, jti=None),
        "es256_unregistered": lambda: _assertion(
            cid, aud, ECKey.generate_key("P-256", parameters={"kid": "portal-key-1"}), alg="ES256"
        ),
        "garbage": lambda: "not.a.jwt",
    }[case]()
    resp = _introspect(meta, cid, assertion)
    assert resp.status_code in (400, 401), resp.text
    assert resp.json()["error"] == "invalid_client"
