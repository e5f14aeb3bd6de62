"""In a real browser: an administrator sets up the staff account through its link (a
password, then the authenticator app), signs in with the code, registers a portal
through the console's form, sees its secret once, suspends it and sees it suspended."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from idp.portals.models import Portal
from idp.staff import service as staff
from tests.browser.helpers import assert_clean, assert_no_horizontal_scroll
from tests.support.staff import STAFF_PASSWORD
from tests.support.totp import Authenticator

pytestmark = [pytest.mark.browser, pytest.mark.live]


def _admin_link(live: Any) -> tuple[str, str]:
    email = f"admin.{uuid.uuid4().hex[:8]}@so-tt.gov.vn"
    with live.session() as db:
        account = staff.add_staff(db, email=email, roles=["admin"], unit_code=None)
        token = staff.new_setup_link(db, account, ttl=3600)
        db.commit()
    return email, f"{live.url}/staff/setup/{token}"


def set_up_and_sign_in(page: Any, live: Any, clock: Any, query: str = "") -> None:
    """Set up a new admin account through its link (the password, then the authenticator
    app, its key typed from the page), then sign in with the password and the code."""
    email, link = _admin_link(live)
    page.goto(link + query)
    page.fill("#password", STAFF_PASSWORD)
    page.locator('form button[type="submit"]').click()
    app = Authenticator(page.locator("#totp-key").inner_text(), clock)
    page.fill("#code", app.code())
    page.locator('form button[type="submit"]').click()
    clock.advance()
    page.fill("#email", email)
    page.fill("#password", STAFF_PASSWORD)
    page.locator('form button[type="submit"]').click()
    page.fill("#code", app.code())
    page.locator('form button[type="submit"]').click()


def test_an_admin_signs_in_with_totp_registers_a_portal_and_suspends_it(
    page: Any, live: Any, clock: Any
) -> None:
    set_up_and_sign_in(page, live, clock)
    expect(page.locator("#sections")).to_be_visible()
    assert page.url.endswith("/staff/console/")
    # Register a portal through the form.
    page.locator("#sections a[href$='/portals']").click()
    page.click("#register-portal")
    name = f"Cổng thử nghiệm {uuid.uuid4().hex[:6]}"
    page.fill("#name", name)
    page.fill("#name_en", "Test portal")
    page.fill("#contact_email", "cntt@thu-nghiem.example.gov.vn")
    page.fill("#redirect_uris", "https://thu-nghiem.example.gov.vn/callback")
    page.check("#scope-profile")
    page.check("#purpose_name")
    page.fill("#purpose_name_vi", "Điền họ tên vào hồ sơ")
    page.fill("#purpose_name_en", "To fill in the application")
    page.check("#purpose_name_required")
    page.select_option("#id_token_signed_response_alg", "ES256")
    page.click("#save")
    secret = page.locator("#client-secret").inner_text()
    client_id = page.locator("#client-id").inner_text()
    assert len(secret) >= 40
    with live.session() as db:
        portal = db.scalar(select(Portal).where(Portal.client_id == client_id))
        assert portal.name == name
        assert portal.check_client_secret(secret)
        assert portal.id_token_signed_response_alg == "ES256"
    assert_clean(page)
    # The portal's page never shows the secret again.
    page.click("#to-portal")
    expect(page.locator("h1")).to_have_text(name)
    assert secret not in page.content()
    assert_no_horizontal_scroll(page)
    # Suspend: a confirmation step, then the portal is suspended.
    page.click("#suspend")
    expect(page.locator("#confirm")).to_be_visible()
    page.click("#confirm")
    expect(page.locator("#status .status-suspended")).to_be_visible()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#resume")).to_be_visible()
    with live.session() as db:
        assert not db.scalar(select(Portal).where(Portal.client_id == client_id)).is_active
    page.goto(f"{live.url}/staff/console/portals")
    row = page.locator(f'tr[data-client-id="{client_id}"]')
    expect(row.locator(".status-suspended")).to_be_visible()
    assert_clean(page)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_console_pages_have_no_axe_violation(
    browsing: Any, live: Any, clock: Any, backend: Any, lang: str
) -> None:
    """axe-core (WCAG 2.0-2.2 A/AA, as in test_accessibility) on every console page, the
    form with its errors included, at phone width."""
    from tests.browser.test_accessibility import LANGS, WIDTHS, Audit

    if backend.name != "embedded":
        pytest.skip("pages are the same on both backends: audited once, on the embedded one")
    page = browsing.new_page(viewport=WIDTHS["phone"], locale=LANGS[lang])
    set_up_and_sign_in(page, live, clock, query=f"?lang={lang}")
    reg = live.register_portal()
    audit = Audit(page)
    console = f"{live.url}/staff/console"
    for path, label in (
        ("/", "home"),
        ("/portals", "portals"),
        (f"/portals/{reg['client_id']}", "portal"),
        (f"/portals/{reg['client_id']}/edit", "edit"),
        (f"/portals/{reg['client_id']}/suspend", "suspend"),
        (f"/portals/{reg['client_id']}/rotate", "rotate"),
        ("/audit", "audit"),
        ("/audit?from=garbage", "audit with an error"),
        ("/figures", "figures"),
        ("/portals/new", "register"),
    ):
        page.goto(console + path)
        audit.check(label)
    page.click("#save")
    expect(page.locator(".error-summary")).to_be_visible()
    audit.check("register with errors")
    assert audit.found == [], "\n".join(audit.found)
