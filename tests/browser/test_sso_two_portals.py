"""In a real browser: declare once on portal 1, single sign-on into portal 2, and the pages.

A citizen opens demo portal 1, is sent to the provider, declares their identity through
the registration form, agrees to share, and lands back signed in; then opens portal 2
(another client, another port, another pairwise sector) and is signed in without typing
a password again. Also: the default language and the language switch, the registration
and consent pages on a phone, the "do not share" path, and the CSP (no inline script).
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from idp.citizens.validation import communes
from idp.cli import DEMO_PURPOSES
from tests.browser.helpers import (
    agree_to_all,
    assert_clean,
    assert_no_horizontal_scroll,
    claim,
    consent_items,
    on_provider,
    path_of,
    sign_in,
    wait_for_consent,
)
from tests.support.factories import PASSWORD, profile_data
from tests.support.inbox import sms_code

pytestmark = [pytest.mark.browser, pytest.mark.live]

# Declared in the form, so the portal must show them back with their diacritics.
FAMILY, MIDDLE, GIVEN = "Trần", "Thị", "Ánh Tuyết"
FULL_NAME = f"{FAMILY} {MIDDLE} {GIVEN}"  # Vietnamese order: family name first
PROVINCE_DA_NANG = "48"


def register_through_form(page: Any, data: dict[str, str], live_settings: Any) -> None:
    """Fill and submit the provider's registration form like a citizen would."""
    expect(page.locator("#family_name")).to_be_visible()
    page.fill("#family_name", data["family_name"])
    page.fill("#middle_name", data["middle_name"])
    page.fill("#given_name", data["given_name"])
    # Typed as a Vietnamese writes it: day/month/year.
    year, month, day = data["birthdate"].split("-")
    page.fill("#birthdate", f"{day}/{month}/{year}")
    page.select_option("#gender", data["gender"])
    page.fill("#cccd", data["cccd"])
    page.fill("#phone", data["phone"])
    page.fill("#email", data["email"])
    page.select_option("#province", data["province"])
    # communes.js fills the commune list after the province change.
    expect(page.locator("#commune")).to_have_attribute("data-loaded", data["province"])
    page.select_option("#commune", data["commune"])
    page.fill("#street", data["street"])
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.locator('form button[type="submit"]').last.click()
    # The account exists once the code sent by SMS is typed (the phone is verified).
    expect(page.locator("#code")).to_be_visible()
    page.fill("#code", sms_code(live_settings, data["phone"], "registration_code"))
    page.locator('main form button[type="submit"]').click()


def assert_consent_lists(page: Any, portal_key: str, expected: list[str]) -> None:
    """Assert the consent page lists exactly these claim items, each with its purpose."""
    declared = DEMO_PURPOSES[portal_key]
    items = consent_items(page)
    assert [i["item"] for i in items] == expected
    for shown in items:
        spec = declared[shown["item"]]
        assert shown["value"] == shown["item"]
        assert shown["purpose"].endswith(spec["purpose"]["vi"]), shown  # page is in Vietnamese
        assert shown["required"] is spec["required"], shown
        # Decree 13/2023: no pre-ticked box; only required items come ticked (and fixed).
        assert shown["ticked"] is spec["required"], shown


def test_declare_once_then_single_sign_on_into_a_second_portal(page, live, portals):
    land, business = portals
    data = profile_data(
        gender="female",
        family_name=FAMILY,
        middle_name=MIDDLE,
        given_name=GIVEN,
        province=PROVINCE_DA_NANG,
    )
    commune_name = dict(communes(int(PROVINCE_DA_NANG)))[int(data["commune"])]

    # (1) Portal 1 → the provider's sign-in page → "declare your identity once".
    page.goto(land.url + "/")
    page.click("#login")
    expect(page.locator("#password")).to_be_visible()
    assert path_of(page.url) == "/signin"
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    page.locator('main a[href*="/register"]').click()
    assert path_of(page.url) == "/register"
    assert "interaction=" in page.url  # the authorization continues after registering
    register_through_form(page, data, live.settings)

    # The consent page for portal 1, listing each claim it asked for with its purpose.
    wait_for_consent(page)
    expect(page.locator("main h1")).to_contain_text(land.name)
    assert_consent_lists(page, "land", ["name", "birthdate", "gender", "address", "cccd"])
    agree_to_all(page)
    page.click("#approve")

    # Back on portal 1, signed in, with the declared data.
    expect(page.locator("#signed-in")).to_be_visible()
    assert page.url.startswith(land.url + "/")
    assert page.locator("#portal-error").count() == 0
    shown_name = page.locator("#user-name").inner_text()
    assert shown_name == FULL_NAME
    assert unicodedata.is_normalized("NFC", shown_name)
    # Profile claims come from userinfo (column 3); the ID token carries identity only.
    assert claim(page, "name", 3) == FULL_NAME
    assert claim(page, "family_name", 3) == FAMILY
    assert claim(page, "given_name", 3) == GIVEN
    assert claim(page, "birthdate", 3) == data["birthdate"]
    assert claim(page, "gender", 3) == "female"
    assert claim(page, "name") == ""  # OIDC Core §5.4: not in the ID token
    assert claim(page, "cccd", 3) == data["cccd"]
    address = claim(page, "address", 3)
    assert commune_name in address
    assert "Đà Nẵng" in address
    assert data["street"] in address
    assert page.locator('#claims tr[data-claim="email"]').count() == 0  # not asked for
    assert claim(page, "acr") == "urn:vn:idp:loa:1"  # signed in with a password (level 1)
    sub_land = claim(page, "sub")
    assert sub_land
    assert_no_horizontal_scroll(page)  # long claim values wrap inside the portal's table
    assert_clean(page)

    # (2) Portal 2: signed in without the password, only its own consent page shown.
    page.log.forget_navigations()
    page.goto(business.url + "/")
    expect(page.locator("#login")).to_be_visible()
    page.click("#login")
    wait_for_consent(page)
    expect(page.locator("main h1")).to_contain_text(business.name)
    assert page.locator('input[type="password"]').count() == 0
    # It asks for `cccd` too, but declared no purpose for it: the claim is not even asked.
    assert_consent_lists(page, "business", ["name", "birthdate", "gender", "address"])
    agree_to_all(page)
    page.click("#approve")
    expect(page.locator("#signed-in")).to_be_visible()
    assert page.url.startswith(business.url + "/")
    assert page.locator("#user-name").inner_text() == FULL_NAME

    provider_pages = on_provider(live, page.log.documents)
    assert provider_pages == ["/consent"], provider_pages
    visited = on_provider(live, page.log.navigations)
    assert "/signin" not in visited, visited
    assert "/register" not in visited, visited

    sub_business = claim(page, "sub")
    assert sub_business
    assert page.locator('#claims tr[data-claim="cccd"]').count() == 0  # undeclared: never
    assert sub_business != sub_land  # pairwise subjects: portals cannot correlate
    assert_clean(page)


def test_pages_default_to_vietnamese_and_switch_to_english(page, live):
    page.goto(live.url + "/signin")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    vi_heading = page.locator("main h1").inner_text()
    assert vi_heading != "Sign in", "the default (Vietnamese) page shows English text"
    english = page.locator('nav.lang a[hreflang="en"]')
    expect(english).to_have_text("English")
    english.click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_have_text("Sign in")
    # The choice sticks for the next page, and the switch goes back to Vietnamese.
    page.goto(live.url + "/register")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    # On the registration form the switch re-submits the form: what was typed stays.
    page.fill("#family_name", "Nguyễn")
    page.fill("#cccd", "048 190 123456")
    page.locator('nav.lang button[lang="vi"]').click()
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("#family_name")).to_have_value("Nguyễn")
    expect(page.locator("#cccd")).to_have_value("048 190 123456")
    expect(page.locator(".error-summary")).to_have_count(0)
    assert_clean(page)


def test_phone_pages_fit_the_screen(phone_page, live, portals, artifacts):
    """Registration, sign-in and consent pages on a 390x844 phone: no sideways scroll."""
    page = phone_page
    land, _ = portals
    folder = artifacts
    backend = live.backend.name

    page.goto(live.url + "/register")
    expect(page.locator("#family_name")).to_be_visible()
    page.select_option("#province", PROVINCE_DA_NANG)
    expect(page.locator("#commune")).to_have_attribute("data-loaded", PROVINCE_DA_NANG)
    # Once the communes are there, the first option asks to choose one (not a province).
    choose = page.locator("#commune").get_attribute("data-choose-label")
    assert choose
    expect(page.locator("#commune option").first).to_have_text(choose)
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(folder / f"phone-register-{backend}.png"), full_page=True)

    citizen = live.make_citizen()
    page.goto(land.url + "/")
    page.click("#login")
    expect(page.locator("#password")).to_be_visible()
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(folder / f"phone-signin-{backend}.png"), full_page=True)
    sign_in(page, citizen)
    expect(page.locator("#approve")).to_be_visible()
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(folder / f"phone-consent-{backend}.png"), full_page=True)
    # The buttons are large enough to tap (WCAG 2.5.8 asks 24px; we aim for 44px).
    for button in ("#approve", "#deny"):
        box = page.locator(button).bounding_box()
        assert box is not None
        assert box["height"] >= 44, (button, box)
    assert_clean(page)


def test_do_not_share_returns_access_denied_to_the_portal(page, live, portals):
    land, _ = portals
    citizen = live.make_citizen()
    sign_in(page, citizen, at=land.url)
    expect(page.locator("#deny")).to_be_visible()

    callbacks: list[str] = []
    page.on(
        "request",
        lambda req: req.url.startswith(land.url + "/callback") and callbacks.append(req.url),
    )
    page.click("#deny")
    expect(page.locator("#portal-error")).to_be_visible()
    expect(page.locator("#portal-error")).to_contain_text("access_denied")
    expect(page.locator("#signed-in")).to_have_count(0)
    expect(page.locator("#login")).to_be_visible()
    # RFC 6749 §4.1.2.1 + RFC 9207: the error came to the redirect URI with state and iss.
    assert len(callbacks) == 1, callbacks
    params = parse_qs(urlsplit(callbacks[0]).query)
    assert params["error"] == ["access_denied"]
    assert params["iss"] == [live.url]
    assert params.get("state")
    assert "code" not in params
    assert_clean(page)


def test_csp_blocks_inline_script_and_our_pages_need_none(page, live, portals):
    land, _ = portals
    pages = ["/", "/signin", "/register"]
    for path in pages:
        response = page.goto(live.url + path)
        assert response is not None
        assert response.ok, path
        csp = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp, (path, csp)
        assert "unsafe-inline" not in csp, (path, csp)
        assert "frame-ancestors 'none'" in csp, (path, csp)
        assert page.locator("script:not([src])").count() == 0, f"inline script on {path}"
        assert page.locator("[style]").count() == 0, f"inline style attribute on {path}"
    # Our own script runs under the policy: the province change loads the communes.
    page.select_option("#province", PROVINCE_DA_NANG)
    expect(page.locator("#commune")).to_have_attribute("data-loaded", PROVINCE_DA_NANG)
    assert page.locator("#commune option").count() > 1
    assert_clean(page)

    # The policy really blocks inline script: inject one and watch it refused.
    page.evaluate("""() => {
        const s = document.createElement("script");
        s.textContent = "window.__inlineRan = true;";
        document.body.appendChild(s);
    }""")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__inlineRan === true") is False
    assert page.log.csp_violations(), "the injected inline script was not reported as blocked"
