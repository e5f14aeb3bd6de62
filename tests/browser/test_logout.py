"""Signing out on a shared computer, in chromium: the demo portal's "sign out everywhere"
uses RP-initiated logout; the provider asks the citizen (the portal sends no ID token),
ends the single sign-on session and returns the browser to the portal with its state.
The next person at that computer meets the password, not the previous citizen."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.helpers import (
    agree_to_all,
    assert_clean,
    path_of,
    sign_in,
    signed_out_by_provider,
    wait_for_consent,
)


def _signed_in_at(page, portal, citizen, *, password: bool) -> None:
    page.goto(portal.url + "/")
    page.click("#login")
    if password:
        sign_in(page, citizen)
    wait_for_consent(page)
    agree_to_all(page)
    page.click("#approve")
    expect(page.locator("#signed-in")).to_be_visible()


def test_sign_out_everywhere_ends_single_sign_on(browsing, live, portals):
    land, business = portals
    citizen = live.make_citizen()
    page = browsing.new_page()
    _signed_in_at(page, land, citizen, password=True)
    _signed_in_at(page, business, citizen, password=False)  # single sign-on

    page.goto(land.url + "/")
    page.click("#logout-everywhere")
    expect(page.locator("#logout-yes")).to_be_visible()  # the provider asks
    assert path_of(page.url) == "/logout"
    assert land.name in page.locator("main").inner_text()
    page.click("#logout-yes")
    expect(page.locator("#portal-signed-out")).to_be_visible()
    assert page.url.startswith(land.url + "/")
    expect(page.locator("#login")).to_be_visible()

    # The other portal was told through the back channel: its session is gone too.
    signed_out_by_provider(page, business.url)
    expect(page.locator("#signed-in")).to_have_count(0)
    # The next person opening the other portal's sign-in meets the password.
    page.click("#login")
    expect(page.locator("#password")).to_be_visible()
    assert path_of(page.url) == "/signin"
    assert_clean(page)


def test_staying_signed_in_keeps_the_session(browsing, live, portals):
    land, _ = portals
    citizen = live.make_citizen()
    page = browsing.new_page()
    _signed_in_at(page, land, citizen, password=True)
    page.click("#logout-everywhere")
    page.click("#logout-no")
    expect(page.locator("#account-notice, main h1").first).to_be_visible()
    assert path_of(page.url) == "/account"
    # Still signed in at the provider: the portal signs in again without a password.
    page.goto(land.url + "/")
    page.click("#login")
    expect(page.locator("#signed-in")).to_be_visible()


def test_a_declined_consent_reads_as_a_sentence(browsing, live, portals):
    land, _ = portals
    citizen = live.make_citizen()
    page = browsing.new_page()
    sign_in(page, citizen, at=land.url)
    wait_for_consent(page)
    page.click("#deny")
    error = page.locator("#portal-error")
    expect(error).to_contain_text("Bạn đã không đồng ý chia sẻ dữ liệu")
    expect(error).to_contain_text("access_denied")


def test_the_portal_trusts_only_its_own_logout_state(portals):
    """A forged "you are signed out" return (a state the portal did not send) shows nothing."""
    land, _ = portals
    client = land.app.test_client()
    assert 'id="portal-signed-out"' not in client.get("/?state=forged").get_data(as_text=True)
    with client.session_transaction() as sess:
        sess["logout_state"] = "the-real-one"
    assert 'id="portal-signed-out"' not in client.get("/?state=forged").get_data(as_text=True)
    with client.session_transaction() as sess:
        sess["logout_state"] = "the-real-one"
    shown = client.get("/?state=the-real-one").get_data(as_text=True)
    assert 'id="portal-signed-out"' in shown


def test_sign_out_everywhere_from_the_sessions_page(browsing, live):
    """Two browsers (two contexts) signed in; "sign out everywhere" in one ends both."""
    citizen = live.make_citizen()
    here, there = browsing.new_page(), browsing.new_page()
    for page in (here, there):
        page.goto(live.url + "/signin?lang=en")
        sign_in(page, citizen)
        page.wait_for_url(live.url + "/account")
    here.reload()
    expect(here.locator("#sessions > li")).to_have_count(2)
    here.click("#signout-everywhere")
    expect(here.locator("#signed-out-everywhere")).to_be_visible()
    there.goto(live.url + "/account")
    assert path_of(there.url) == "/signin"
    assert_clean(here)


def test_sign_out_everywhere_from_the_sessions_page_reaches_another_browser(
    browsing, live, portals
):
    """Two browsers (a home computer and a café's), each signed in at a portal; from the
    account's sessions page in one, "Sign out everywhere" ends the other's session and
    its portal is told through the back channel."""
    land, business = portals
    citizen = live.make_citizen()
    home = browsing.new_page()
    cafe = browsing.new_page()  # a second browser context: its own cookies
    _signed_in_at(home, land, citizen, password=True)
    _signed_in_at(cafe, business, citizen, password=True)

    home.goto(live.url + "/account")
    sessions = home.locator("#sessions li[data-session]")
    expect(sessions).to_have_count(2)
    home.click("#signout-everywhere")
    expect(home.locator("main h1")).to_be_visible()  # "you are signed out" (this one too)
    # Both portals are told through the back channel.
    signed_out_by_provider(home, land.url)

    # The café's portal hears of it and forgets the citizen; its next sign-in needs the
    # password again: the café browser's single sign-on session is gone.
    signed_out_by_provider(cafe, business.url)
    cafe.click("#login")
    expect(cafe.locator("#password")).to_be_visible()
    assert path_of(cafe.url) == "/signin"
    assert_clean(cafe)


def test_the_portal_cookie_holds_no_personal_data(browsing, live, portals):
    land, _ = portals
    citizen = live.make_citizen()
    page = browsing.new_page()
    _signed_in_at(page, land, citizen, password=True)
    cookie = land.cookie_of(page.context)
    assert set(cookie) <= {"sid", "logout_state"}, cookie
    text = repr(cookie)
    for key in ("cccd", "family_name", "given_name", "birthdate"):
        assert citizen["profile"][key] not in text
    assert land.session_of(page.context)["user"]["sub"]  # kept server-side
