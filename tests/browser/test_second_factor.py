"""Strong sign-in in chromium: TOTP enrolment (QR code shown, the typed key works), a
level-2 sign-in (password, then the code), a recovery code that works once, and a
step-up that asks only for the code and gives the portal a level-2 ID token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from idp.assurance import ACR_PASSWORD as L1
from idp.assurance import ACR_SECOND_FACTOR as L2
from idp.citizens import service
from idp.citizens.sso import SSO_COOKIE
from tests.browser.conftest import Portal, start_portal
from tests.browser.helpers import (
    agree_to_all,
    assert_clean,
    assert_no_horizontal_scroll,
    claim,
    path_of,
    sign_in,
    wait_for_consent,
)
from tests.support.totp import Authenticator, enrol


@pytest.fixture(scope="module")
def tax(browser: Any, live: Any) -> Iterator[Portal]:
    """A tax portal that asks for level 2 before showing a citizen's tax file."""
    portal = start_portal(live, "tax", "Cổng thuế điện tử", "tax.test", scope="openid profile")
    yield portal
    portal.stop()


def level_2_login(page: Any, portal: Portal) -> None:
    page.goto(f"{portal.url}/login?acr_values={L2}")


def type_code(page: Any, code: str) -> None:
    page.fill("#code", code)
    page.locator('main form button[type="submit"]').click()


def test_totp_enrolment_level_2_sign_in_and_a_recovery_code(browsing, live, tax, clock, artifacts):
    citizen = live.make_citizen()
    page = browsing.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)

    # Enrol from the account page: a QR code drawn as SVG, the key in groups of four.
    page.goto(live.url + "/signin")
    sign_in(page, citizen)
    page.click("#link-second-factor")
    qr = page.locator("#qr svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box["width"] > 150
    assert box["height"] > 150
    key = page.locator("#manual-key").inner_text()
    groups = key.split()
    assert len(groups) == 8
    assert all(len(g) == 4 for g in groups)
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts / f"second-factor-enrol-{live.backend.name}.png"))
    app = Authenticator(key, clock)  # the key typed by hand into the app
    type_code(page, "000000" if app.code() != "000000" else "111111")
    expect(page.locator("#code-error")).to_be_visible()  # a wrong code: not enrolled
    type_code(page, app.code())
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    page.click("#continue")
    page.click("#link-second-factor")
    expect(page.locator("#factor-status")).to_be_visible()
    assert_clean(page)

    # Level-2 sign-in from scratch in another browser: the password, then the code.
    other = browsing.new_page(viewport={"width": 1280, "height": 900})
    level_2_login(other, tax)
    expect(other.locator("#password")).to_be_visible()
    sign_in(other, citizen)
    expect(other.locator("#code")).to_be_visible()
    assert path_of(other.url) == "/signin"
    assert other.locator("#password").count() == 0
    clock.advance()
    type_code(other, app.code())
    wait_for_consent(other)
    agree_to_all(other)
    other.click("#approve")
    expect(other.locator("#signed-in")).to_be_visible()
    assert claim(other, "acr") == L2
    assert claim(other, "amr") == "pwd, otp"
    assert_clean(other)

    # A recovery code, in a third browser: it works once, and says how many are left.
    for attempt in range(2):
        third = browsing.new_page(viewport={"width": 1280, "height": 900})
        level_2_login(third, tax)
        sign_in(third, citizen)
        expect(third.locator("#code")).to_be_visible()
        type_code(third, codes[0].lower())  # typed loosely: lower case
        if attempt == 0:
            expect(third.locator("#codes-left")).to_contain_text("9")
            third.click("#continue")
            expect(third.locator("#signed-in")).to_be_visible()
            assert claim(third, "acr") == L2
        else:
            expect(third.locator("#code-error")).to_be_visible()  # used: refused
            expect(third.locator("#code")).to_be_visible()
        assert_clean(third)


def _sid(page: Any, live: Any) -> str:
    values = [c["value"] for c in page.context.cookies(live.url) if c["name"] == SSO_COOKIE]
    assert values, "no SSO cookie"
    return values[0]


def test_step_up_asks_only_for_the_code(page, live, tax, clock, artifacts):
    citizen = live.make_citizen()
    store = live.app.extensions["idp.store"]
    with live.session() as db:
        app, _ = enrol(db, store, live.settings, citizen["id"], clock)

    # A level-1 session: signed in at the portal with the password only.
    page.goto(tax.url + "/")
    page.click("#login")
    sign_in(page, citizen)
    wait_for_consent(page)
    agree_to_all(page)
    page.click("#approve")
    expect(page.locator("#signed-in")).to_be_visible()
    assert claim(page, "acr") == L1
    assert claim(page, "amr") == "pwd"
    # The level-1 sign-in happened two minutes ago.
    sid = _sid(page, live)
    key = service._session_key(sid)
    data = store.get(key)
    data["auth_time"] -= 120
    store.put(key, data, live.settings.session_ttl)
    first_auth_time = data["auth_time"]

    # The portal now asks for level 2: only the code is asked, not the password.
    page.click("#logout")
    level_2_login(page, tax)
    expect(page.locator("#code")).to_be_visible()
    expect(page.locator("#step-up")).to_contain_text(tax.name)
    assert page.locator('input[type="password"]').count() == 0
    assert path_of(page.url) == "/signin"
    page.screenshot(path=str(artifacts / f"step-up-{live.backend.name}.png"))
    clock.advance()
    type_code(page, app.code())

    expect(page.locator("#signed-in")).to_be_visible()
    assert claim(page, "acr") == L2
    assert claim(page, "amr") == "pwd, otp"
    assert int(claim(page, "auth_time")) > first_auth_time
    # The session was upgraded under a new id; the level-1 one is gone.
    assert _sid(page, live) != sid
    assert service.load_session(store, sid) is None
    assert service.load_session(store, _sid(page, live)).acr == L2
    assert_clean(page)
