"""The whole journey with the keyboard only (WCAG 2.1.1): from a portal, declare one's
identity, agree to share, come back; withdraw a portal's access; delete the account.

No click and no programmatic focus: every control is reached with Tab and used with
Enter, Space, arrow keys or typing, as a citizen without a mouse would.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import assert_clean
from tests.support.factories import PASSWORD, profile_data
from tests.support.inbox import sms_code

pytestmark = [pytest.mark.browser, pytest.mark.live]

PROVINCE_DA_NANG = "48"
MAX_TABS = 120


def tab_to(page: Any, selector: str) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def type_into(page: Any, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(text)


def choose(page: Any, selector: str, value: str) -> None:
    """Pick an option of a <select> with the arrow keys."""
    tab_to(page, selector)
    for _ in range(400):
        if page.evaluate("s => document.querySelector(s).value", selector) == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"{selector}: no option {value!r} reached with the arrow keys")


def test_register_consent_withdraw_and_delete_with_the_keyboard_only(
    browsing, live, portals, backend
):
    if backend.name != "embedded":
        pytest.skip("the pages are the same on both backends: walked once, on the embedded one")
    land, _ = portals
    page = browsing.new_page(viewport={"width": 1280, "height": 900})
    data = profile_data(province=PROVINCE_DA_NANG)

    page.goto(land.url + "/")
    tab_to(page, "#login")
    page.keyboard.press("Enter")
    expect(page.locator("#identifier")).to_be_visible()
    tab_to(page, 'a[href^="/register"]')
    page.keyboard.press("Enter")
    expect(page.locator("#family_name")).to_be_visible()

    for field in ("family_name", "middle_name", "given_name"):
        type_into(page, f"#{field}", data[field])
    year, month, day = data["birthdate"].split("-")
    type_into(page, "#birthdate", f"{day}/{month}/{year}")
    choose(page, "#gender", data["gender"])
    type_into(page, "#cccd", data["cccd"])
    type_into(page, "#phone", data["phone"])
    type_into(page, "#email", data["email"])
    choose(page, "#province", data["province"])
    expect(page.locator("#commune")).to_have_attribute("data-loaded", data["province"])
    choose(page, "#commune", data["commune"])
    type_into(page, "#street", data["street"])
    type_into(page, "#password", PASSWORD)
    type_into(page, "#password_confirm", PASSWORD)
    tab_to(page, '#register-form button[type="submit"]:not([name])')
    page.keyboard.press("Enter")
    expect(page.locator("#code")).to_be_visible()
    type_into(page, "#code", sms_code(live.settings, data["phone"], "registration_code"))
    page.keyboard.press("Enter")

    # Consent: tick an optional item with Space, agree with Enter.
    expect(page.locator("#approve")).to_be_visible()
    optional = page.locator('#requested-claims input[name="claim"]:not([disabled])')
    if optional.count():
        tab_to(page, '#requested-claims input[name="claim"]:not([disabled])')
        page.keyboard.press("Space")
        expect(optional.first).to_be_checked()
    tab_to(page, "#approve")
    page.keyboard.press("Enter")
    page.wait_for_url(land.url + "/**")
    expect(page.locator("#signed-in")).to_be_visible()

    # Withdraw the portal's access from the account pages.
    page.goto(live.url + "/account/portals")
    tab_to(page, f"#withdraw-{land.client_id}")
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-withdraw")).to_be_visible()
    tab_to(page, "#confirm-withdraw")
    page.keyboard.press("Enter")
    expect(page.locator("#past-connections")).to_be_visible()

    # Delete the account: tick the box with Space, type the password, confirm.
    page.goto(live.url + "/account")
    tab_to(page, "#delete-account-section summary")
    page.keyboard.press("Enter")  # opens the <details>
    expect(page.locator("#delete-confirm")).to_be_visible()
    tab_to(page, "#delete-confirm")
    page.keyboard.press("Space")
    type_into(page, "#delete-password", PASSWORD)
    tab_to(page, "#delete-account")
    page.keyboard.press("Enter")
    expect(page.locator("main h1")).to_have_text("Tài khoản của bạn đã được xóa")
    assert_clean(page)
