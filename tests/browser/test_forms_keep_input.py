"""Forms never lose what was typed, in chromium: a registration from a portal that fails,
switches language, and is finished after the portal's sign-in step expired still creates
the account and reaches the portal."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import agree_to_all, assert_clean, path_of
from tests.support.factories import PASSWORD, profile_data
from tests.support.inbox import sms_code

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_a_failed_registration_switches_language_and_survives_an_expired_step(page, live, portals):
    from idp.interaction import _key

    land, _ = portals
    data = profile_data(province="48")
    page.goto(land.url + "/")
    page.click("#login")
    expect(page.locator("#identifier")).to_be_visible()
    interaction = re.search(r"interaction=([^&]+)", page.url).group(1)
    page.click('a[href^="/register"]')
    expect(page.locator("#family_name")).to_be_visible()

    # Everything typed but the family name: the submit fails.
    page.fill("#given_name", data["given_name"])
    year, month, day = data["birthdate"].split("-")
    page.fill("#birthdate", f"{day}/{month}/{year}")
    page.select_option("#gender", data["gender"])
    page.fill("#cccd", data["cccd"][:3] + " " + data["cccd"][3:])
    page.fill("#phone", data["phone"])
    page.select_option("#province", data["province"])
    expect(page.locator("#commune")).to_have_attribute("data-loaded", data["province"])
    page.select_option("#commune", data["commune"])
    page.fill("#street", data["street"])
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.locator('#register-form button[type="submit"]:not([name])').click()
    expect(page.locator(".error-summary a[href='#family_name']")).to_be_visible()

    # Switching language keeps the portal's sign-in and every value typed.
    page.locator('nav.lang button[lang="en"]').click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main .lead").first).to_contain_text(land.name)
    expect(page.locator("#given_name")).to_have_value(data["given_name"])
    expect(page.locator("#street")).to_have_value(data["street"])
    expect(page.locator("#commune")).to_have_value(data["commune"])

    page.fill("#family_name", data["family_name"])
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.locator('#register-form button[type="submit"]:not([name])').click()
    expect(page.locator("#code")).to_be_visible()
    # The portal's sign-in step expires while the SMS travels.
    live.app.extensions["idp.store"].delete(_key(interaction))
    page.fill("#code", sms_code(live.settings, data["phone"], "registration_code"))
    page.locator('main form button[type="submit"]').click()

    # The account exists and the portal's request starts again: consent, then the portal.
    expect(page.locator("#approve")).to_be_visible()
    assert path_of(page.url) == "/consent"
    agree_to_all(page)
    page.click("#approve")
    page.wait_for_url(land.url + "/**")
    expect(page.locator("#signed-in")).to_be_visible()
    assert_clean(page)
