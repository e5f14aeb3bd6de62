"""Cutting a portal off through the admin API, over real HTTP, with a second worker.

The automation client gets its token from one worker (client_credentials, Authlib's
client) and suspends the portal through the other; at once neither worker answers the
portal's access or refresh tokens, its authorization page says it is suspended, and the
demo portal's back-channel endpoint (served over HTTP) drops the citizen's session.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

from clients.portal import create_portal_app
from tests.admin.helpers import automation_client
from tests.interop.conftest import TIMEOUT
from tests.interop.test_demo_portal_backchannel import _session
from tests.interop.test_rp_logout_live import _client, _sign_in
from tests.support.live import start_live_server
from tests.support.useragent import UserAgent

pytestmark = pytest.mark.live


class _Later:
    """A WSGI app whose target is set once its address is registered."""

    target: Any = None

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.target(environ, start_response)


@pytest.fixture
def second(backend: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Another provider process on the same database (its own port, store and pool)."""
    server = start_live_server(backend, tmp_path_factory.mktemp("second"))
    yield server
    server.stop()


@pytest.fixture
def demo() -> Any:
    """The demo portal served over real HTTP (its app is set by the test)."""
    later = _Later()
    server = make_server("127.0.0.1", 0, later, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield later, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_suspending_through_the_api_cuts_the_portal_off_on_every_worker(live, second, demo):
    later, demo_url = demo
    reg = live.register_portal(
        backchannel_logout_uri=f"{demo_url}/backchannel-logout", backchannel_private=True
    )
    later.target = create_portal_app(
        key=f"cut{uuid.uuid4().hex[:6]}",
        name="Cổng thử",
        issuer=live.url,
        client_id=reg["client_id"],
        client_secret=reg["client_secret"],
        scope="openid profile",
    )
    meta = requests.get(f"{live.url}/.well-known/openid-configuration", timeout=TIMEOUT).json()
    citizen = live.make_citizen()
    portal_client = _client(reg, meta)
    portal_client.scope = "openid profile offline_access"
    token, _ = _sign_in(UserAgent(live.url), portal_client, meta, citizen, prompt="consent")
    assert token.get("refresh_token")
    jwks = KeySet.import_key_set(requests.get(f"{live.url}/jwks", timeout=TIMEOUT).json())
    claims = jwt.decode(token["id_token"], jwks).claims
    handle = _session({"app": later.target}, claims["sid"], claims["sub"])
    portal_sessions = later.target.extensions["portal_sessions"]

    with live.session() as db:
        automation_id, automation_secret, _ = automation_client(db, "admin:portals")
    ops = OAuth2Session(
        client_id=automation_id,
        client_secret=automation_secret,
        token_endpoint_auth_method="client_secret_basic",
        scope="admin:portals",
    )
    admin_token = ops.fetch_token(f"{second.url}/token", grant_type="client_credentials")
    assert admin_token["scope"] == "admin:portals"
    assert "refresh_token" not in admin_token

    cut = ops.post(f"{live.url}/admin/api/portals/{reg['client_id']}/suspend", timeout=TIMEOUT)
    assert cut.status_code == 200, cut.text
    assert cut.json()["tokens_revoked"] >= 1
    assert cut.json()["sessions_told"] == 1

    portal_auth = (reg["client_id"], reg["client_secret"])
    for worker in (live.url, second.url):
        info = requests.get(
            f"{worker}/userinfo",
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=TIMEOUT,
        )
        assert info.status_code == 401, worker
        seen = requests.post(
            f"{worker}/introspect",
            data={"token": token["access_token"]},
            auth=portal_auth,
            timeout=TIMEOUT,
        )
        assert seen.status_code == 401 or seen.json() == {"active": False}
        refreshed = requests.post(
            f"{worker}/token",
            data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
            auth=portal_auth,
            timeout=TIMEOUT,
        )
        assert refreshed.status_code in (400, 401), worker
        page = requests.get(
            f"{worker}/authorize",
            params={
                "client_id": reg["client_id"],
                "redirect_uri": reg["redirect_uri"],
                "response_type": "code",
                "scope": "openid",
                "ui_locales": "en",
            },
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert page.status_code == 403, worker
        assert "suspended" in page.text

    # The demo portal verified the logout token (signature, iss, aud, event, sid) and
    # dropped the session it names.
    deadline = time.monotonic() + 15
    while portal_sessions.get(handle) != {"ended": "provider"} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert portal_sessions.get(handle) == {"ended": "provider"}
    with live.session() as db:
        from idp import audit

        done = audit.search(db, name="admin.action", limit=20)
    mine = [e for e in done if e["data"].get("client_id") == reg["client_id"]]
    assert mine[0]["data"]["actor"] == f"client:{automation_id}"
    assert mine[0]["data"]["action"] == "portal.suspend"
