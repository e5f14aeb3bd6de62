"""In a real browser: a portal that needs verified identity data.

(i)  a citizen whose data is only declared is stopped at the portal's sign-in by a page
     that says what "verified" means and lists the one-stop desks; nothing is shared,
     and the way back tells the portal (``access_denied``);
(ii) once an officer verified the citizen at a desk, the same sign-in goes through and
     the portal receives ``verified_claims``: it matches its register on a verified
     citizen ID number.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from idp.citizens.models import Citizen
from idp.cli import DEMO_PURPOSES
from idp.staff import desk
from idp.staff import service as staff
from tests.browser.conftest import Portal, start_portal
from tests.browser.helpers import agree_to_all, assert_clean, sign_in, wait_for_consent

pytestmark = [pytest.mark.browser, pytest.mark.live]

VERIFIED = ("family_name", "given_name", "birthdate", "cccd")


@pytest.fixture(scope="module")
def land(browser: Any, live: Any) -> Iterator[Portal]:
    purposes = copy.deepcopy(DEMO_PURPOSES["land"])
    purposes["cccd"]["verified"] = True
    portal = start_portal(
        live,
        "land-verified",
        "Cổng đăng ký đất đai",
        "land-verified.test",
        purposes=purposes,
        verified=VERIFIED,
    )
    yield portal
    portal.stop()


def _verify_at_desk(live: Any, citizen_id: str) -> None:
    with live.app.test_request_context(), live.session() as db:
        officer = staff.add_staff(
            db, email=f"officer.{citizen_id[:8]}@motcua.vn", roles=["desk_officer"], unit_code="48"
        )
        desk.verify_in_person(db, citizen=db.get(Citizen, citizen_id), officer=officer)
        db.commit()


def test_declared_data_is_stopped_then_verified_data_goes_through(
    page: Any, live: Any, land: Portal
) -> None:
    citizen = live.make_citizen()
    sign_in(page, citizen, at=land.url)
    expect(page.locator("#unverified-items li[data-item='cccd']")).to_be_visible()
    expect(page.locator("#desks li").first).to_be_visible()
    assert page.locator("#requested-claims").count() == 0  # no consent is asked
    assert_clean(page)
    page.click("#back-to-portal")
    expect(page.locator("#portal-error")).to_contain_text("one-stop desk")
    expect(page.locator("#login")).to_be_visible()

    _verify_at_desk(live, citizen["id"])
    page.click("#login")
    wait_for_consent(page)
    expect(page.locator("[data-assurance='cccd']")).to_contain_text("bộ phận một cửa")
    agree_to_all(page)
    page.click("#approve")
    expect(page.locator("#register-match")).to_have_attribute("data-verified", "yes")
    expect(page.locator("tr[data-claim='verified_claims']")).to_be_visible()
