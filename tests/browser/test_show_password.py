"""The "show password" toggle in chromium: shows and hides the typed password, is a
real button for keyboards and screen readers, and the form submits the same without
JavaScript (the toggle is an enhancement only)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.helpers import assert_clean, path_of


def test_show_password_toggles_and_the_form_still_signs_in(browsing, live):
    citizen = live.make_citizen()
    page = browsing.new_page()
    page.goto(live.url + "/signin?lang=en")
    password = page.locator("#password")
    password.fill(citizen["password"])
    toggle = page.get_by_role("button", name="Show password")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(toggle).to_have_attribute("aria-controls", "password")

    toggle.click()
    expect(password).to_have_attribute("type", "text")
    expect(password).to_have_value(citizen["password"])
    hide = page.get_by_role("button", name="Hide password")
    expect(hide).to_have_attribute("aria-pressed", "true")
    hide.press("Enter")  # a keyboard user toggles it back
    expect(password).to_have_attribute("type", "password")

    page.get_by_role("button", name="Show password").click()  # shown while submitting
    page.fill("#identifier", citizen["identifier"])
    page.locator('main form button[type="submit"]').click()
    page.wait_for_url(live.url + "/account")
    assert path_of(page.url) == "/account"
    assert_clean(page)


def test_every_password_field_gets_its_own_toggle_in_the_page_language(browsing, live):
    citizen = live.make_citizen()
    page = browsing.new_page()
    page.goto(live.url + "/signin?lang=vi")
    page.fill("#identifier", citizen["identifier"])
    page.fill("#password", citizen["password"])
    page.locator('main form button[type="submit"]').click()
    page.wait_for_url(live.url + "/account")
    # Change password: three password fields, three toggles, in Vietnamese.
    section = page.locator("#password-section")
    expect(section.get_by_role("button", name="Hiện mật khẩu")).to_have_count(3)
    section.get_by_role("button", name="Hiện mật khẩu").nth(1).click()
    expect(page.locator("#password")).to_have_attribute("type", "text")
    expect(page.locator("#current_password")).to_have_attribute("type", "password")
    assert_clean(page)


def test_without_javascript_there_is_no_toggle_and_sign_in_works(browsing, live):
    citizen = live.make_citizen()
    page = browsing.new_page(java_script_enabled=False)
    page.goto(live.url + "/signin?lang=en")
    expect(page.get_by_role("button", name="Show password")).to_have_count(0)
    page.fill("#identifier", citizen["identifier"])
    page.fill("#password", citizen["password"])
    page.locator('main form button[type="submit"]').click()
    page.wait_for_url(live.url + "/account")
