"""An automation client gets admin tokens over real HTTP with Authlib's client (RFC 6749
§4.4), with each client authentication method, calls the API, and revokes its token
(RFC 7009)."""

from __future__ import annotations

from typing import Any

import pytest
from authlib.integrations.requests_client import OAuth2Session
from joserfc.jwk import RSAKey

from tests.admin.helpers import automation_client
from tests.interop.conftest import TIMEOUT
from tests.interop.test_private_key_jwt import ShortLivedPrivateKeyJWT

pytestmark = pytest.mark.live


def _session(live: Any, method: str) -> OAuth2Session:
    """Register an automation client with ``method``; return Authlib's client for it."""
    key = RSAKey.generate_key(2048, parameters={"kid": "ops-key"})
    extra: dict[str, Any] = {"auth_method": method}
    if method == "private_key_jwt":
        extra["jwks"] = {"keys": [key.as_dict(private=False)]}
    with live.session() as db:
        client_id, secret, _ = automation_client(db, "admin:portals admin:audit", **extra)
    session = OAuth2Session(
        client_id=client_id,
        client_secret=key if method == "private_key_jwt" else secret,
        token_endpoint_auth_method=method,
        scope="admin:audit",
        default_timeout=TIMEOUT,
    )
    if method == "private_key_jwt":
        session.register_client_auth_method(ShortLivedPrivateKeyJWT(f"{live.url}/token"))
    return session


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "private_key_jwt"])
def test_an_automation_client_gets_a_token_and_calls_the_api(live, method):
    session = _session(live, method)
    token = session.fetch_token(f"{live.url}/token", grant_type="client_credentials")
    assert token["token_type"].lower() == "bearer"
    assert token["scope"] == "admin:audit"
    assert token["expires_in"] == 3600
    assert "refresh_token" not in token
    page = session.get(f"{live.url}/admin/api/audit", params={"limit": 5})
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert isinstance(page.json()["events"], list)
    # Not asked for, so not granted: admin:portals.
    refused = session.get(f"{live.url}/admin/api/portals")
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
    # The token is no citizen token.
    info = session.get(f"{live.url}/userinfo")
    assert info.status_code == 401


def test_a_revoked_admin_token_stops_at_once(live):
    session = _session(live, "client_secret_basic")
    token = session.fetch_token(f"{live.url}/token", grant_type="client_credentials")
    assert session.get(f"{live.url}/admin/api/audit/verify").status_code == 200
    done = session.revoke_token(f"{live.url}/revoke", token=token["access_token"])
    assert done.status_code == 200
    gone = session.get(f"{live.url}/admin/api/audit/verify")
    assert gone.status_code == 401
    assert 'error="invalid_token"' in gone.headers["WWW-Authenticate"]


def test_another_client_cannot_revoke_it(live):
    owner = _session(live, "client_secret_basic")
    token = owner.fetch_token(f"{live.url}/token", grant_type="client_credentials")
    other = _session(live, "client_secret_basic")
    other.revoke_token(f"{live.url}/revoke", token=token["access_token"])
    assert owner.get(f"{live.url}/admin/api/audit/verify").status_code == 200
