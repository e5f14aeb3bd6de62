"""Interop with a second, independent client library: requests-oauthlib (oauthlib).

The ID token is verified with joserfc directly (signature from the served JWKS, then
iss, aud, nonce, exp and at_hash by hand), without Authlib's claim classes.
"""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from requests_oauthlib import OAuth2Session

from tests.interop.conftest import TIMEOUT
from tests.support.useragent import UserAgent

pytestmark = pytest.mark.live


def _at_hash(access_token: str) -> str:
    half = hashlib.sha256(access_token.encode("ascii")).digest()[:16]
    return base64.urlsafe_b64encode(half).rstrip(b"=").decode()


def test_code_flow_with_requests_oauthlib(live, meta, jwks: KeySet, citizen, monkeypatch):
    # oauthlib insists on https; the live test server is plain http on loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    portal = live.register_portal()
    scope = ["openid", "profile", "phone"]
    oauth = OAuth2Session(
        portal["client_id"], redirect_uri=portal["redirect_uri"], scope=scope, pkce="S256"
    )
    nonce = "n-" + portal["client_id"][:8]
    url, state = oauth.authorization_url(meta["authorization_endpoint"], nonce=nonce)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]

    out = UserAgent(live.url).authorize(
        url, identifier=citizen["identifier"], password=citizen["password"]
    )
    assert out.params["state"] == state
    assert out.params["iss"] == meta["issuer"]

    token = oauth.fetch_token(
        meta["token_endpoint"],
        authorization_response=out.location,
        client_secret=portal["client_secret"],
        timeout=TIMEOUT,
    )
    assert token["token_type"].lower() == "bearer"
    assert set(token["scope"]) == set(scope)

    decoded = jwt.decode(
        token["id_token"], jwks, algorithms=meta["id_token_signing_alg_values_supported"]
    )
    claims = decoded.claims
    assert decoded.header["kid"] in {k.kid for k in jwks.keys}
    assert claims["iss"] == meta["issuer"]
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert portal["client_id"] in aud
    assert claims["nonce"] == nonce
    assert claims["exp"] > time.time() - 5
    assert claims["iat"] <= time.time() + 5
    assert claims["at_hash"] == _at_hash(token["access_token"])
    # The registry checks the time claims the same way.
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": meta["issuer"]},
        aud={"essential": True, "value": portal["client_id"]},
        exp={"essential": True},
        leeway=5,
    ).validate(claims)

    resp = oauth.get(meta["userinfo_endpoint"], timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    info = resp.json()
    assert info["sub"] == claims["sub"]
    assert info["phone_number"]
    assert "email" not in info

    # The same code a second time: invalid_grant, and the first access token dies.
    replay = OAuth2Session(portal["client_id"], redirect_uri=portal["redirect_uri"], scope=scope)
    resp = replay.post(
        meta["token_endpoint"],
        timeout=TIMEOUT,
        auth=(portal["client_id"], portal["client_secret"]),
        data={
            "grant_type": "authorization_code",
            "code": out.code,
            "redirect_uri": portal["redirect_uri"],
            "code_verifier": oauth._code_verifier,
        },
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"
    assert oauth.get(meta["userinfo_endpoint"], timeout=TIMEOUT).status_code == 401
