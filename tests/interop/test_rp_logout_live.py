"""RP-initiated logout over real HTTP, with Authlib's client for the portals' side:
sign in at two portals, log out from one with ``id_token_hint``,
``post_logout_redirect_uri`` and ``state``; the browser comes back with the same
``state``, ``prompt=none`` at either portal now answers ``login_required``, and both
portals' back-channel endpoints receive a logout token for that ``sid`` (verified with
joserfc against the JWKS)."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt

from tests.interop.conftest import TIMEOUT, verify_id_token
from tests.support.receiver import Receiver
from tests.support.useragent import UserAgent

pytestmark = pytest.mark.live

AFTER = "https://portal.example/after-logout"


def _client(portal: dict[str, Any], meta: dict[str, Any]) -> OAuth2Session:
    return OAuth2Session(
        client_id=portal["client_id"],
        client_secret=portal["client_secret"],
        scope="openid profile",
        redirect_uri=portal["redirect_uri"],
        code_challenge_method="S256",
        token_endpoint=meta["token_endpoint"],
        default_timeout=TIMEOUT,
    )


def _sign_in(ua: UserAgent, client: OAuth2Session, meta: dict, citizen: dict, **extra: Any):
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url, _ = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
    )
    out = ua.authorize(url, identifier=citizen["identifier"], password=citizen["password"])
    if extra.get("prompt") == "none":
        return out
    token = client.fetch_token(authorization_response=out.location, code_verifier=verifier)
    return dict(token), nonce


def _logout_tokens(receiver: Receiver, within: float = 10.0) -> list[str]:
    deadline = time.monotonic() + within
    while not receiver.tokens() and time.monotonic() < deadline:
        time.sleep(0.05)
    return receiver.tokens()


def test_logout_from_one_portal_ends_single_sign_on_at_both(live, meta, jwks, citizen):
    assert meta["end_session_endpoint"] == live.url + "/logout"
    land_bc, tax_bc = Receiver(), Receiver()
    land = live.register_portal(
        post_logout_redirect_uris=[AFTER],
        backchannel_logout_uri=land_bc.url,
        backchannel_private=True,
    )
    tax = live.register_portal(
        backchannel_logout_uri=tax_bc.url,
        backchannel_private=True,
        backchannel_logout_session_required=True,
    )
    ua = UserAgent(live.url)
    land_client, tax_client = _client(land, meta), _client(tax, meta)
    land_token, nonce = _sign_in(ua, land_client, meta, citizen)
    tax_token, tax_nonce = _sign_in(ua, tax_client, meta, citizen)  # single sign-on: no password
    land_claims = verify_id_token(
        land_token["id_token"],
        meta=meta,
        jwks=jwks,
        client_id=land["client_id"],
        nonce=nonce,
        access_token=land_token["access_token"],
    )
    tax_claims = verify_id_token(
        tax_token["id_token"],
        meta=meta,
        jwks=jwks,
        client_id=tax["client_id"],
        nonce=tax_nonce,
        access_token=tax_token["access_token"],
    )
    assert land_claims["sid"] == tax_claims["sid"]  # one session, one sid

    state = secrets.token_urlsafe(12)
    query = urlencode(
        {
            "id_token_hint": land_token["id_token"],
            "post_logout_redirect_uri": AFTER,
            "state": state,
        }
    )
    resp = ua.get(f"{meta['end_session_endpoint']}?{query}")
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert location.startswith(AFTER + "?")
    assert parse_qs(urlsplit(location).query)["state"] == [state]

    for client in (land_client, tax_client):
        out = _sign_in(ua, client, meta, citizen, prompt="none")
        assert out.params.get("error") == "login_required", out.location

    keyset = jwks
    try:
        for receiver, portal in ((land_bc, land), (tax_bc, tax)):
            (token,) = _logout_tokens(receiver)
            decoded = jwt.decode(token, keyset, algorithms=["RS256", "ES256"])
            claims = decoded.claims
            assert decoded.header["typ"] == "logout+jwt"
            assert claims["iss"] == meta["issuer"]
            assert claims["aud"] == portal["client_id"]
            assert claims["sid"] == land_claims["sid"]
            assert claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
            assert "nonce" not in claims
            assert claims["iat"] <= time.time() + 5 < claims["exp"] + 5
        assert _logout_tokens(land_bc)[0] != _logout_tokens(tax_bc)[0]
    finally:
        land_bc.stop()
        tax_bc.stop()
