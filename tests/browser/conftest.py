"""Browser fixtures: Debian chromium through Playwright (sync API), two demo portals.

The browser tests skip with a visible reason when ``/usr/bin/chromium`` is absent,
unless ``IDP_TEST_REQUIRE_BROWSER=1`` (CI), where its absence is a failure. Playwright
never downloads a browser here: it drives the system chromium.

On failure, each test's pages are saved as a full-page screenshot and their HTML under
``test-artifacts/browser/<test-name>[-<n>].png|.html``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from clients.portal import create_portal_app
from idp.cli import DEMO_PURPOSES

CHROMIUM = os.environ.get("IDP_TEST_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("IDP_TEST_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PORTAL_SCOPE = "openid profile address cccd"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
TIMEOUT_MS = 15_000


def artifacts_dir(config: pytest.Config) -> Path:
    """Return (and create) the folder for screenshots and page HTML."""
    folder = Path(config.rootpath) / "test-artifacts" / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def safe_name(name: str) -> str:
    """Return a file-name-safe test name: ``test_x[embedded]`` -> ``test_x-embedded``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# -- the browser ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Debian chromium, shared by the session's browser tests."""
    if not os.path.exists(CHROMIUM):
        reason = f"browser tests need chromium at {CHROMIUM} (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(f"IDP_TEST_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception:
        pw.stop()
        raise
    yield chromium
    chromium.close()
    pw.stop()


@dataclass
class PageLog:
    """What a page went through: navigations, console messages, script errors."""

    navigations: list[str] = field(default_factory=list)  # every navigation request URL
    documents: list[str] = field(default_factory=list)  # URLs of documents shown
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        """Return the console messages that report a Content-Security-Policy violation."""
        return [m for m in self.console if "Content Security Policy" in m]

    def forget_navigations(self) -> None:
        """Start recording navigations afresh (to look at one step of a journey)."""
        self.navigations.clear()
        self.documents.clear()


@dataclass
class Browsing:
    """Opens pages in fresh browser contexts (own cookies) and saves them on failure."""

    browser: Any
    pages: list[Any] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def new_page(self, **context_kw: Any) -> Any:
        """Return a page in a new context; its log is ``page.log`` (a PageLog)."""
        context = self.browser.new_context(**{"locale": "vi-VN", **context_kw})
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        log = PageLog()

        def _request(req: Any) -> None:
            if req.is_navigation_request() and req.frame == page.main_frame:
                log.navigations.append(req.url)

        def _navigated(frame: Any) -> None:
            if frame == page.main_frame:
                log.documents.append(frame.url)

        page.on("request", _request)
        page.on("framenavigated", _navigated)
        page.on("console", lambda msg: log.console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: log.errors.append(str(exc)))
        page.log = log
        self.pages.append(page)
        return page

    def save(self, folder: Path, name: str) -> list[Path]:
        """Save every open page as ``name[-n].png`` (full page) and ``.html``."""
        saved: list[Path] = []
        for n, page in enumerate(self.pages):
            if page.is_closed():
                continue
            stem = name if n == 0 else f"{name}-{n}"
            try:
                page.screenshot(path=str(folder / f"{stem}.png"), full_page=True)
                (folder / f"{stem}.html").write_text(page.content(), encoding="utf-8")
                saved.append(folder / f"{stem}.png")
            except Exception as exc:  # noqa: BLE001 - best effort while reporting a failure
                (folder / f"{stem}.txt").write_text(
                    f"could not save page: {exc!r}\n", encoding="utf-8"
                )
        return saved

    def close(self) -> None:
        """Close every context (and so its pages)."""
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsing(browser: Any, request: pytest.FixtureRequest) -> Iterator[Browsing]:
    """Fresh browser contexts for one test; a failed test leaves screenshots behind."""
    b = Browsing(browser)
    folder, name = artifacts_dir(request.config), safe_name(request.node.name)
    for stale in folder.glob(f"{name}*"):  # a previous run's failure, now out of date
        if re.fullmatch(rf"{re.escape(name)}(-\d+)?\.(png|html|txt)", stale.name):
            stale.unlink()
    yield b
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        b.save(folder, name)
    b.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """The folder where browser tests leave screenshots."""
    return artifacts_dir(request.config)


@pytest.fixture
def page(browsing: Browsing) -> Any:
    """A desktop-sized page in a fresh context."""
    return browsing.new_page(viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone_page(browsing: Browsing) -> Any:
    """A phone-sized page (390x844, touch) in a fresh context."""
    return browsing.new_page(**PHONE)


# -- the portals -----------------------------------------------------------------------------


class _Dispatch:
    """A WSGI app whose target is set once the port (hence the redirect URI) is known."""

    target: Callable[..., Any] | None = None

    def __call__(self, environ: dict, start_response: Any) -> Any:
        assert self.target is not None
        return self.target(environ, start_response)


@dataclass
class Portal:
    """A demo portal served over real HTTP, registered on the live provider."""

    key: str
    name: str
    url: str
    client_id: str
    app: Any
    _server: Any
    _thread: threading.Thread

    def session_of(self, context: Any) -> dict[str, Any]:
        """Return the portal's session: its cookie and the server-side data it points to."""
        cookie = self.cookie_of(context)
        server_side = self.app.extensions["portal_sessions"].get(cookie.get("sid"))
        return {**cookie, **(server_side or {})}

    def cookie_of(self, context: Any) -> dict[str, Any]:
        """Return what the portal's browser cookie itself holds (signed, readable)."""
        cookie_name = self.app.config["SESSION_COOKIE_NAME"]
        values = [c["value"] for c in context.cookies(self.url) if c["name"] == cookie_name]
        if not values:
            return {}
        serializer = self.app.session_interface.get_signing_serializer(self.app)
        return dict(serializer.loads(values[0]))

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


def start_portal(
    live: Any,
    key: str,
    name: str,
    sector: str,
    *,
    scope: str = PORTAL_SCOPE,
    extra_scope: str = "",
    purposes: dict[str, Any] | None = None,
    verified: tuple[str, ...] = (),
) -> Portal:
    """Start a demo portal on a free port and register it with its exact redirect URI.

    The portal is registered for ``scope`` plus ``extra_scope`` (asked later, through
    "share more data"), with ``purposes`` (default: a test purpose per claim, none
    required).
    """
    dispatch = _Dispatch()
    server = make_server("127.0.0.1", 0, dispatch, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    registered = " ".join(dict.fromkeys(scope.split() + extra_scope.split()))
    kw: dict[str, Any] = {} if purposes is None else {"purposes": purposes}
    # The portal listens for logout tokens, as the demo portals do.
    kw |= {"backchannel_logout_uri": f"{url}/backchannel-logout", "backchannel_private": True}
    try:
        reg = live.register_portal(
            name=name,
            redirect_uris=[f"{url}/callback"],
            post_logout_redirect_uris=[f"{url}/"],
            scope=registered,
            sector_identifier=sector,
            **kw,
        )
    except Exception:
        server.server_close()
        raise
    app = create_portal_app(
        key=key,
        name=name,
        issuer=live.url,
        client_id=reg["client_id"],
        client_secret=reg["client_secret"],
        scope=scope,
        extra_scope=extra_scope,
        verified=verified,
    )
    dispatch.target = app
    thread = threading.Thread(target=server.serve_forever, name=f"portal-{key}", daemon=True)
    thread.start()
    return Portal(key, name, url, reg["client_id"], app, server, thread)


@pytest.fixture(scope="session")
def portals(browser: Any, live: Any) -> Iterator[tuple[Portal, Portal]]:
    """Two demo portals (different clients, ports and pairwise sectors) on the provider,
    declaring the demo's purposes (``idp.cli.DEMO_PURPOSES``)."""
    land = start_portal(
        live, "land", "Cổng đăng ký đất đai", "land.test", purposes=DEMO_PURPOSES["land"]
    )
    try:
        # The business portal declares no purpose for `cccd`: it is never released to it.
        business = start_portal(
            live,
            "business",
            "Cổng đăng ký kinh doanh",
            "business.test",
            # As in `idp demo`: contacts are asked later, and a purpose needs its scope.
            extra_scope="email phone",
            purposes=DEMO_PURPOSES["business"],
        )
    except Exception:
        land.stop()
        raise
    yield land, business
    business.stop()
    land.stop()
