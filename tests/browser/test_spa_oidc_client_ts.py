"""In a real browser: a single-page portal signs a citizen in with oidc-client-ts.

The portal is a public client (no secret, PKCE) served from another loopback port; its
registered web origin lets its script read the provider's discovery document, token,
userinfo and refresh answers (CORS). The citizen signs in and consents on the provider's
pages, comes back, the portal reads userinfo with a bearer token, refreshes
(``signinSilent()`` spends the refresh token) and reads userinfo again. The same portal
served from an unregistered origin gets nothing: the browser rejects its fetches.

``oidc-client-ts`` comes from npm (pinned in tests/spa/package-lock.json); the fixture
runs ``npm ci`` once when it is not installed, and the test skips with the reason when
npm is absent, unless ``IDP_TEST_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.browser.conftest import REQUIRE_BROWSER
from tests.browser.helpers import agree_to_all, on_provider, sign_in, wait_for_consent

pytestmark = [pytest.mark.browser, pytest.mark.live]

SPA_DIR = Path(__file__).resolve().parents[1] / "spa"
BUNDLE = SPA_DIR / "node_modules" / "oidc-client-ts" / "dist" / "browser" / "oidc-client-ts.min.js"
SCOPE = "openid profile offline_access"


@pytest.fixture(scope="session")
def oidc_client_ts() -> Path:
    """The browser bundle of oidc-client-ts, installed with ``npm ci`` when missing."""
    if not BUNDLE.exists():
        npm = shutil.which("npm")
        reason = None
        if npm is None:
            reason = "the single-page portal needs npm to install oidc-client-ts (apt install npm)"
        else:
            done = subprocess.run(  # noqa: S603 - a fixed command
                [npm, "ci", "--prefix", str(SPA_DIR), "--no-audit", "--no-fund"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0 or not BUNDLE.exists():
                reason = f"npm ci in tests/spa failed: {done.stderr.strip()[-500:]}"
        if reason is not None:
            if REQUIRE_BROWSER:
                pytest.fail(f"IDP_TEST_REQUIRE_BROWSER=1 but {reason}")
            pytest.skip(reason)
    return BUNDLE


@dataclass
class SinglePagePortal:
    """The single-page portal's files served over HTTP on a free loopback port."""

    url: str
    config: dict[str, str]
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


def serve_spa(bundle: Path, config: dict[str, str]) -> SinglePagePortal:
    """Serve index.html (also as /callback), spa.js, the bundle and the portal's config."""
    files = {
        "/": (SPA_DIR / "index.html", "text/html"),
        "/callback": (SPA_DIR / "index.html", "text/html"),
        "/spa.js": (SPA_DIR / "spa.js", "text/javascript"),
        "/oidc-client-ts.min.js": (bundle, "text/javascript"),
    }

    @Request.application
    def app(request: Request) -> Response:
        if request.path == "/config.json":
            return Response(json.dumps(config), mimetype="application/json")
        if request.path not in files:
            return Response("not found", status=404)
        path, mimetype = files[request.path]
        return Response(path.read_bytes(), mimetype=mimetype)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="spa", daemon=True)
    thread.start()
    return SinglePagePortal(f"http://127.0.0.1:{server.server_port}", config, server, thread)


@pytest.fixture
def spas(live: Any, oidc_client_ts: Path) -> Iterator[tuple[SinglePagePortal, SinglePagePortal]]:
    """The registered single-page portal and the same portal on an unregistered origin."""
    config: dict[str, str] = {"issuer": live.url, "scope": SCOPE}
    spa = serve_spa(oidc_client_ts, config)
    stranger = serve_spa(oidc_client_ts, config)
    try:
        reg = live.register_portal(
            name="Cổng một trang",
            redirect_uris=[f"{spa.url}/callback"],
            scope=SCOPE,
            auth_method="none",
            web_origins=[spa.url],
        )
        config["client_id"] = reg["client_id"]
        yield spa, stranger
    finally:
        stranger.stop()
        spa.stop()


def open_spa(page: Any, url: str, state: str = "ready") -> None:
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-state", state)


def test_single_page_portal_signs_in_reads_userinfo_and_refreshes(page, browsing, live, spas):
    spa, stranger = spas
    citizen = live.make_citizen()
    profile = citizen["profile"]
    full_name = f"{profile['family_name']} {profile['middle_name']} {profile['given_name']}"

    open_spa(page, spa.url + "/")
    page.click("#signin")  # oidc-client-ts reads discovery (CORS), then redirects with PKCE
    expect(page.locator("#password")).to_be_visible()
    sign_in(page, citizen)
    wait_for_consent(page)
    agree_to_all(page)  # the profile items and offline access
    page.click("#approve")
    expect(page.locator("body")).to_have_attribute("data-state", "signed-in")
    assert page.url.startswith(spa.url + "/callback?")
    assert on_provider(live, page.log.navigations)[0] == "/authorize"
    request = parse_qs(urlsplit(page.log.navigations[1]).query)
    assert request["code_challenge_method"] == ["S256"]
    assert request["prompt"] == ["consent"]  # OIDC Core §11: asked for offline access

    first = page.evaluate("spa.userinfo()")
    assert first["status"] == 200
    assert first["claims"]["name"] == full_name
    expect(page.locator("#name")).to_have_text(full_name)
    old_token = page.evaluate("spa.accessToken()")

    refreshed = page.evaluate("spa.refresh()")  # a cross-origin refresh-token grant
    assert refreshed["had_refresh_token"] is True
    assert refreshed["new_access_token"] is True
    assert refreshed["new_refresh_token"] is True  # rotated on every use
    assert "offline_access" in refreshed["scope"].split()
    page.evaluate("document.getElementById('name').textContent = ''")
    second = page.evaluate("spa.userinfo()")
    assert second["status"] == 200
    assert second["claims"]["name"] == full_name
    expect(page.locator("#name")).to_have_text(full_name)
    assert page.log.errors == []
    assert not [m for m in page.log.console if "CORS" in m]

    # The same script on an origin no portal registered: the browser refuses every read.
    other = browsing.new_page()
    open_spa(other, stranger.url + "/")
    for url, token in (
        (f"{live.url}/.well-known/openid-configuration", None),
        (f"{live.url}/jwks", None),
        (f"{live.url}/userinfo", old_token),
    ):
        refused = other.evaluate("([url, token]) => spa.probe(url, token)", [url, token])
        assert refused["error"] == "TypeError", (url, refused)
    assert len([m for m in other.log.console if "blocked by CORS policy" in m]) == 3
    # While the registered portal still reads the same documents.
    assert page.evaluate(
        "url => spa.probe(url)", f"{live.url}/.well-known/openid-configuration"
    ) == {"status": 200}
