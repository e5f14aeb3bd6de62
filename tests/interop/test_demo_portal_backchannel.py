"""The demo portal's back-channel logout endpoint, which portal developers copy: it
verifies a logout token as Back-Channel Logout 1.0 §2.6 says (signature against the
provider's JWKS fetched over HTTP, ``iss``, ``aud``, ``iat``/``exp``, the logout event,
no ``nonce``, a ``sid`` or ``sub``, a ``jti`` used once) and ends the session it names."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt

from clients.portal import create_portal_app
from idp import keys
from idp.backchannel import EVENT, logout_token
from idp.db import get_db
from idp.portals.service import by_client_id

pytestmark = pytest.mark.live


@pytest.fixture
def portal(live: Any) -> dict[str, Any]:
    reg = live.register_portal(
        backchannel_logout_uri="https://portal.example.vn/backchannel-logout"
    )
    app = create_portal_app(
        key=f"bcl{uuid.uuid4().hex[:6]}",
        name="Cổng thử",
        issuer=live.url,
        client_id=reg["client_id"],
        client_secret=reg["client_secret"],
        scope="openid profile",
    )
    return {**reg, "app": app}


def _session(portal: dict[str, Any], sid: str, sub: str = "someone") -> str:
    return (
        portal["app"]
        .extensions["portal_sessions"]
        .new({"user": {"sid": sid, "sub": sub}, "token": {}, "claims": {}})
    )


def _token(live: Any, portal: dict[str, Any], **changes: Any) -> str:
    """A logout token as the provider makes it, with ``changes`` to its claims."""
    with live.app.app_context():
        db = get_db()
        row = by_client_id(db, portal["client_id"])
        good = logout_token(db, row, citizen_id=str(uuid.uuid4()), sid="sess-1")[1]
        if not changes:
            return good
        claims = {**jwt.decode(good, keys.private_key_set(db)).claims, **changes}
        claims = {k: v for k, v in claims.items() if v is not None}
        key = keys.signing_key(db, "RS256")
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "logout+jwt"}, claims, key)


def _post(portal: dict[str, Any], token: Any) -> Any:
    return portal["app"].test_client().post("/backchannel-logout", data={"logout_token": token})


def test_a_valid_token_ends_the_session_it_names_once(live, portal):
    ended = _session(portal, "sess-1")
    other = _session(portal, "sess-2")
    token = _token(live, portal)
    resp = _post(portal, token)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    sessions = portal["app"].extensions["portal_sessions"]
    assert sessions.get(ended) == {"ended": "provider"}
    assert sessions.get(other)["user"]["sid"] == "sess-2"
    assert _post(portal, token).status_code == 400  # the same jti again: a replay


@pytest.mark.parametrize(
    "changes",
    [
        {"nonce": "n"},
        {"aud": "another-portal"},
        {"iss": "https://evil.example"},
        {"events": {"http://schemas.openid.net/event/other": {}}},
        {"events": None},
        {"iat": int(time.time()) + 3600},
        {"exp": int(time.time()) - 3600},
        {"sid": None, "sub": None},
        {"jti": None},
    ],
)
def test_a_token_that_does_not_verify_ends_nothing(live, portal, changes):
    kept = _session(portal, "sess-1")
    resp = _post(portal, _token(live, portal, **changes))
    assert resp.status_code == 400
    assert resp.get_json() == {"error": "invalid_request"}
    assert portal["app"].extensions["portal_sessions"].get(kept)["user"]["sid"] == "sess-1"


def test_a_token_signed_by_someone_else_ends_nothing(live, portal):
    from joserfc.jwk import RSAKey

    kept = _session(portal, "sess-1")
    forged_key = RSAKey.generate_key(2048, parameters={"kid": "forged"})
    now = int(time.time())
    claims = {
        "iss": live.url,
        "aud": portal["client_id"],
        "iat": now,
        "exp": now + 120,
        "jti": "j",
        "events": {EVENT: {}},
        "sid": "sess-1",
    }
    token = jwt.encode({"alg": "RS256", "kid": "forged"}, claims, forged_key)
    assert _post(portal, token).status_code == 400
    assert portal["app"].extensions["portal_sessions"].get(kept)["user"]["sid"] == "sess-1"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.one_of(st.text(max_size=200), st.binary(max_size=50).map(repr)))
def test_garbage_is_a_clear_400(portal, value):
    resp = _post(portal, value)
    assert resp.status_code == 400
    assert resp.get_json() == {"error": "invalid_request"}
