"""Interop: Authlib's requests client against the live provider, on both backends.

The portal side is entirely Authlib (``OAuth2Session`` with PKCE S256, its client
authentication, refresh, revocation and introspection helpers) and joserfc; only the
citizen's browser is scripted by ``UserAgent``.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc.errors import InvalidClaimError

from tests.interop.conftest import TIMEOUT, verify_id_token
from tests.support.useragent import UserAgent

pytestmark = pytest.mark.live

SCOPE = "openid profile email phone address"


def _session(
    portal: dict[str, Any], meta: dict[str, Any], *, auth_method: str, scope: str = SCOPE
) -> OAuth2Session:
    return OAuth2Session(
        client_id=portal["client_id"],
        client_secret=portal["client_secret"],
        token_endpoint_auth_method=auth_method,
        revocation_endpoint_auth_method=auth_method,
        scope=scope,
        redirect_uri=portal["redirect_uri"],
        code_challenge_method="S256",
        token_endpoint=meta["token_endpoint"],
        default_timeout=TIMEOUT,
    )


def _authorize(
    live: Any, client: OAuth2Session, meta: dict[str, Any], citizen: dict[str, Any], **extra: Any
) -> tuple[str, str, str]:
    """Run the browser part; return (authorization response URL, nonce, code_verifier)."""
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    state = secrets.token_urlsafe(16)
    url, returned_state = client.create_authorization_url(
        meta["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce, **extra
    )
    assert returned_state == state
    assert "code_challenge_method=S256" in url
    out = UserAgent(live.url).authorize(
        url, identifier=citizen["identifier"], password=citizen["password"]
    )
    assert out.location.startswith(client.redirect_uri + "?")
    assert out.params["state"] == state
    assert out.params["iss"] == meta["issuer"]  # RFC 9207
    assert out.code
    return out.location, nonce, verifier


def _login(
    live: Any, client: OAuth2Session, meta: dict[str, Any], citizen: dict[str, Any], **extra: Any
) -> tuple[dict[str, Any], str]:
    """Authorize and exchange the code; return (token, nonce)."""
    response_url, nonce, verifier = _authorize(live, client, meta, citizen, **extra)
    token = client.fetch_token(authorization_response=response_url, code_verifier=verifier)
    return dict(token), nonce


def _introspect(
    meta: dict[str, Any], portal: dict[str, Any], token: str, hint: str | None = None
) -> dict[str, Any]:
    client = _session(portal, meta, auth_method="client_secret_basic")
    resp = client.introspect_token(
        meta["introspection_endpoint"], token=token, token_type_hint=hint
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def _userinfo_status(meta: dict[str, Any], access_token: str) -> int:
    resp = requests.get(
        meta["userinfo_endpoint"],
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {access_token}"},
    )
    if resp.status_code == 401:
        assert "invalid_token" in resp.headers.get("WWW-Authenticate", "")
    return resp.status_code


# -- discovery --------------------------------------------------------------------------


def test_discovery_is_valid_openid_provider_metadata(live, meta):
    OpenIDProviderMetadata(meta).validate()
    assert meta["issuer"] == live.url
    assert meta["code_challenge_methods_supported"] == ["S256"]
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
    ):
        assert meta[key].startswith(live.url + "/")
    assert "none" not in meta["introspection_endpoint_auth_methods_supported"]


# -- the code flow with each client authentication method -------------------------------


def test_code_flow_client_secret_basic(live, meta, jwks, citizen):
    portal = live.register_portal()
    client = _session(portal, meta, auth_method="client_secret_basic")
    token, nonce = _login(live, client, meta, citizen)
    assert token["token_type"].lower() == "bearer"
    assert "refresh_token" not in token  # no offline_access asked
    claims = verify_id_token(
        token["id_token"],
        meta=meta,
        jwks=jwks,
        client_id=portal["client_id"],
        nonce=nonce,
        access_token=token["access_token"],
    )
    # The checks are real: a foreign access token does not match at_hash.
    with pytest.raises(InvalidClaimError):
        verify_id_token(
            token["id_token"],
            meta=meta,
            jwks=jwks,
            client_id=portal["client_id"],
            nonce=nonce,
            access_token=token["access_token"] + "x",
        )
    with pytest.raises(InvalidClaimError):
        verify_id_token(
            token["id_token"],
            meta=meta,
            jwks=jwks,
            client_id=portal["client_id"],
            nonce="another-nonce",
            access_token=token["access_token"],
        )
    with pytest.raises(InvalidClaimError):
        verify_id_token(
            token["id_token"],
            meta=meta,
            jwks=jwks,
            client_id="someone-else",
            nonce=nonce,
            access_token=token["access_token"],
        )

    resp = client.get(meta["userinfo_endpoint"])
    assert resp.status_code == 200, resp.text
    info = resp.json()
    assert info["sub"] == claims["sub"]
    assert info["family_name"] == citizen["profile"]["family_name"]
    assert info["email"] == citizen["profile"]["email"]
    assert "cccd" not in info  # not asked for, never released


def test_code_flow_client_secret_post_es256(live, meta, jwks, citizen):
    portal = live.register_portal(
        auth_method="client_secret_post", id_token_signed_response_alg="ES256"
    )
    client = _session(portal, meta, auth_method="client_secret_post", scope="openid email")
    token, nonce = _login(live, client, meta, citizen)
    claims = verify_id_token(
        token["id_token"],
        meta=meta,
        jwks=jwks,
        client_id=portal["client_id"],
        nonce=nonce,
        access_token=token["access_token"],
    )
    assert claims.header["alg"] == "ES256"
    info = client.get(meta["userinfo_endpoint"]).json()
    assert info == {
        "sub": claims["sub"],
        "email": citizen["profile"]["email"],
        "email_verified": info.get("email_verified"),
    }

    # The same portal authenticating with the other method is refused.
    basic = _session(portal, meta, auth_method="client_secret_basic", scope="openid email")
    response_url, _nonce, verifier = _authorize(live, basic, meta, citizen)
    with pytest.raises(OAuthError) as exc:
        basic.fetch_token(authorization_response=response_url, code_verifier=verifier)
    assert exc.value.error == "invalid_client"


def test_code_flow_public_client(live, meta, jwks, citizen):
    portal = live.register_portal(auth_method="none", scope="openid profile offline_access")
    assert portal["client_secret"] is None
    client = _session(portal, meta, auth_method="none", scope="openid profile offline_access")
    token, nonce = _login(live, client, meta, citizen, prompt="consent")
    verify_id_token(
        token["id_token"],
        meta=meta,
        jwks=jwks,
        client_id=portal["client_id"],
        nonce=nonce,
        access_token=token["access_token"],
    )
    assert client.get(meta["userinfo_endpoint"]).status_code == 200
    # A public client refreshes (with rotation) and revokes without a secret.
    new = client.refresh_token()
    assert new["refresh_token"] != token["refresh_token"]
    resp = client.revoke_token(
        meta["revocation_endpoint"], token=new["refresh_token"], token_type_hint="refresh_token"
    )
    assert resp.status_code == 200
    assert _userinfo_status(meta, new["access_token"]) == 401
    # Introspection is for confidential portals only.
    resp = requests.post(
        meta["introspection_endpoint"],
        timeout=TIMEOUT,
        data={"token": token["access_token"], "client_id": portal["client_id"]},
    )
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"


def test_pkce_verifier_is_checked(live, meta, citizen):
    portal = live.register_portal()
    client = _session(portal, meta, auth_method="client_secret_basic")
    response_url, _nonce, _verifier = _authorize(live, client, meta, citizen)
    with pytest.raises(OAuthError) as exc:
        client.fetch_token(
            authorization_response=response_url, code_verifier=secrets.token_urlsafe(48)
        )
    assert exc.value.error == "invalid_grant"


# -- refresh rotation and reuse detection ------------------------------------------------


def test_refresh_rotation_and_reuse_kills_the_grant(live, meta, jwks, citizen):
    scope = "openid profile offline_access"
    portal = live.register_portal()
    client = _session(portal, meta, auth_method="client_secret_basic", scope=scope)
    first, _nonce = _login(live, client, meta, citizen, prompt="consent")
    assert first.get("refresh_token"), "offline_access + prompt=consent gives a refresh token"

    second = dict(client.refresh_token())
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert client.get(meta["userinfo_endpoint"]).status_code == 200
    assert _introspect(meta, portal, second["refresh_token"], "refresh_token")["active"] is True

    # Reusing the rotated refresh token is refused ...
    with pytest.raises(OAuthError) as exc:
        client.refresh_token(refresh_token=first["refresh_token"])
    assert exc.value.error == "invalid_grant"
    # ... and kills everything of the consent grant, the new tokens included.
    assert client.get(meta["userinfo_endpoint"]).status_code == 401
    assert _userinfo_status(meta, second["access_token"]) == 401
    assert _introspect(meta, portal, second["access_token"])["active"] is False
    assert _introspect(meta, portal, second["refresh_token"], "refresh_token") == {"active": False}
    with pytest.raises(OAuthError) as exc:
        client.refresh_token(refresh_token=second["refresh_token"])
    assert exc.value.error == "invalid_grant"


# -- code replay ---------------------------------------------------------------------


def test_code_replay_is_refused_and_revokes_the_first_tokens(live, meta, citizen):
    portal = live.register_portal()
    client = _session(portal, meta, auth_method="client_secret_basic")
    response_url, _nonce, verifier = _authorize(live, client, meta, citizen)
    token = dict(client.fetch_token(authorization_response=response_url, code_verifier=verifier))
    assert _userinfo_status(meta, token["access_token"]) == 200

    with pytest.raises(OAuthError) as exc:
        client.fetch_token(authorization_response=response_url, code_verifier=verifier)
    assert exc.value.error == "invalid_grant"
    assert _userinfo_status(meta, token["access_token"]) == 401
    assert _introspect(meta, portal, token["access_token"])["active"] is False


# -- revocation and introspection --------------------------------------------------------


def test_introspection_of_a_live_token(live, meta, jwks, citizen):
    portal = live.register_portal()
    client = _session(portal, meta, auth_method="client_secret_basic")
    token, nonce = _login(live, client, meta, citizen)
    claims = verify_id_token(
        token["id_token"],
        meta=meta,
        jwks=jwks,
        client_id=portal["client_id"],
        nonce=nonce,
        access_token=token["access_token"],
    )
    data = _introspect(meta, portal, token["access_token"], "access_token")
    assert data["active"] is True
    assert data["sub"] == claims["sub"]
    assert data["client_id"] == portal["client_id"]
    assert set(data["scope"].split()) == set(SCOPE.split())
    assert data["iss"] == meta["issuer"]
    assert data["exp"] > data["iat"]

    # Another portal may not look at it (RFC 7662 §4: it learns nothing).
    other = live.register_portal()
    assert _introspect(meta, other, token["access_token"]) == {"active": False}
    # Nor may a caller with the wrong secret.
    bad = dict(portal, client_secret="not-the-secret")
    client_bad = _session(bad, meta, auth_method="client_secret_basic")
    resp = client_bad.introspect_token(meta["introspection_endpoint"], token=token["access_token"])
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"


def test_revoke_access_token_then_introspection_inactive(live, meta, citizen):
    portal = live.register_portal()
    client = _session(portal, meta, auth_method="client_secret_basic")
    token, _nonce = _login(live, client, meta, citizen)
    assert _introspect(meta, portal, token["access_token"])["active"] is True

    # Another portal cannot revoke it (RFC 7009 §2.1), and is answered like a success.
    other = live.register_portal()
    other_client = _session(other, meta, auth_method="client_secret_basic")
    resp = other_client.revoke_token(meta["revocation_endpoint"], token=token["access_token"])
    if resp.status_code != 200:
        assert resp.status_code == 400
        assert resp.json()["error"] == "invalid_grant"
    assert _introspect(meta, portal, token["access_token"])["active"] is True

    resp = client.revoke_token(
        meta["revocation_endpoint"], token=token["access_token"], token_type_hint="access_token"
    )
    assert resp.status_code == 200
    assert _introspect(meta, portal, token["access_token"]) == {"active": False}
    assert client.get(meta["userinfo_endpoint"]).status_code == 401
    # Revoking again (or an unknown token) is still a 200 (RFC 7009 §2.2).
    resp = client.revoke_token(meta["revocation_endpoint"], token=token["access_token"])
    assert resp.status_code == 200
    resp = client.revoke_token(meta["revocation_endpoint"], token="never-issued")
    assert resp.status_code == 200


def test_revoke_refresh_token_revokes_its_access_token(live, meta, citizen):
    scope = "openid offline_access"
    portal = live.register_portal()
    client = _session(portal, meta, auth_method="client_secret_basic", scope=scope)
    token, _nonce = _login(live, client, meta, citizen, prompt="consent")
    resp = client.revoke_token(
        meta["revocation_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token"
    )
    assert resp.status_code == 200
    assert _introspect(meta, portal, token["refresh_token"], "refresh_token")["active"] is False
    assert _introspect(meta, portal, token["access_token"])["active"] is False
    with pytest.raises(OAuthError) as exc:
        client.refresh_token()
    assert exc.value.error == "invalid_grant"
