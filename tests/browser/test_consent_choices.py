"""In a real browser, on a phone: consent per claim, remembered, widened only by asking,
withdrawn from the citizen's account with immediate effect on the portal.

One demo portal (a building-permit service) asks at sign-in for ``profile`` and
``address``, and is registered for ``email`` too, which it asks later through its
"share more data" link. It declares a purpose per claim: name and date of birth are
required, gender, address and email optional.

(i)   the consent page marks required claims (ticked, fixed) and shows optional ones as
      unticked boxes; the citizen ticks ``gender`` only, agrees, and the portal receives
      the required claims and gender only;
(ii)  signing out at the portal and in again: no consent page, straight back signed in;
(iii) the portal asks for ``email``: the page shows only that claim (what was already
      granted is listed, collapsed);
(iv)  on the provider's connected-portals page the citizen withdraws one claim (userinfo
      stops releasing it at once; the data history shows releases, names not values),
      then the whole grant: the portal's access token dies (userinfo 401
      ``invalid_token``), the portal's next page says so and signs the citizen out, and
      the next sign-in asks again;
(v)   required claims cannot be cleared; the page says that declining them means
      "do not share"; agreeing to the page untouched shares only the required claims.

Screenshots of the consent pages (390x844) go to test-artifacts/browser/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import Portal, start_portal
from tests.browser.helpers import (
    agree_to_all,
    already_granted,
    assert_clean,
    assert_no_horizontal_scroll,
    claim,
    claims_shown,
    consent_items,
    on_provider,
    sign_in,
    signed_out_by_provider,
    wait_for_consent,
)

pytestmark = [pytest.mark.browser, pytest.mark.live]

SCOPE = "openid profile address"
EXTRA_SCOPE = "email"


def _purpose(vi: str, en: str, required: bool) -> dict[str, Any]:
    return {"purpose": {"vi": vi, "en": en}, "required": required}


PURPOSES = {
    "name": _purpose(
        "Để ghi tên chủ đầu tư trên giấy phép xây dựng",
        "To print the owner's name on the building permit",
        True,
    ),
    "birthdate": _purpose(
        "Để xác minh chủ đầu tư đã đủ tuổi thành niên", "To check that the owner is an adult", True
    ),
    "gender": _purpose(
        "Để thống kê theo giới (không bắt buộc)", "For statistics by gender (optional)", False
    ),
    "address": _purpose(
        "Để gửi thông báo về hồ sơ đến nơi ở của bạn",
        "To send notices about the file to your home",
        False,
    ),
    "email": _purpose(
        "Để gửi giấy phép xây dựng điện tử cho bạn",
        "To send you the electronic building permit",
        False,
    ),
}
# The claims table rows each item releases (ID token / userinfo), as the portal shows them.
RELEASED = {
    "name": {"name", "family_name", "middle_name", "given_name"},
    "birthdate": {"birthdate"},
    "gender": {"gender"},
    "address": {"address"},
    "email": {"email", "email_verified"},
}
FIRST_ASK = ["name", "birthdate", "gender", "address"]  # CLAIM_ITEMS order


@pytest.fixture(scope="module")
def permits(browser: Any, live: Any) -> Iterator[Portal]:
    """The building-permit portal, with purposes and an extra scope asked later."""
    portal = start_portal(
        live,
        "permits",
        "Cổng cấp phép xây dựng",
        "permits.test",
        scope=SCOPE,
        extra_scope=EXTRA_SCOPE,
        purposes=PURPOSES,
    )
    yield portal
    portal.stop()


def portal_card(page: Any, portal: Portal) -> Any:
    """Return the portal's card on the provider's connected-portals page."""
    return page.locator(f'section.card.portal[data-client-id="{portal.client_id}"]')


def box(page: Any, item: str) -> Any:
    """Return the consent page's check box for a claim item."""
    return page.locator(f'#requested-claims li[data-claim="{item}"] input[name="claim"]')


def shoot(page: Any, folder: Path, name: str, live: Any) -> None:
    """Save a full-page screenshot of the current page."""
    page.screenshot(path=str(folder / f"{name}-{live.backend.name}.png"), full_page=True)


def userinfo_status(live: Any, access_token: str) -> tuple[int, str]:
    """Call userinfo with a bearer token; return (status, WWW-Authenticate)."""
    resp = requests.get(
        f"{live.url}/userinfo", timeout=10, headers={"Authorization": f"Bearer {access_token}"}
    )
    return resp.status_code, resp.headers.get("WWW-Authenticate", "")


def released(items: list[str]) -> set[str]:
    """Return the claim rows the portal shows when these items are granted."""
    return set().union(*(RELEASED[i] for i in items))


def test_choose_claims_then_no_prompt_then_only_the_new_claim(phone_page, live, permits, artifacts):
    page = phone_page
    citizen = live.make_citizen()

    # (i) The first sign-in asks for every declared claim of the default scope.
    sign_in(page, citizen, at=permits.url)
    wait_for_consent(page)
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("main h1")).to_contain_text(permits.name)
    items = consent_items(page)
    assert [i["item"] for i in items] == FIRST_ASK
    for shown in items:
        spec = PURPOSES[shown["item"]]
        assert shown["value"] == shown["item"]
        assert shown["purpose"].endswith(spec["purpose"]["vi"]), shown
        assert shown["required"] is spec["required"], shown  # required ones are marked
        # Decree 13/2023, Law 91/2025: no pre-ticked box; required ones come ticked.
        assert shown["ticked"] is spec["required"], shown
    for optional in ("gender", "address"):
        row = page.locator(f'#requested-claims li[data-claim="{optional}"]')
        expect(row.locator(".badge")).to_have_count(1)  # marked optional
        expect(row.locator(".badge.required")).to_have_count(0)
        expect(box(page, optional)).to_be_enabled()
    expect(page.locator("#already-granted")).to_have_count(0)  # nothing granted before
    assert_no_horizontal_scroll(page)
    shoot(page, artifacts, "consent-choices-first", live)

    box(page, "gender").check()
    expect(box(page, "address")).not_to_be_checked()
    page.click("#approve")

    expect(page.locator("#signed-in")).to_be_visible()
    assert page.url.startswith(permits.url + "/")
    shown_claims = claims_shown(page)
    assert "address" not in shown_claims, shown_claims  # cleared: not released
    assert released(["name", "birthdate", "gender"]) <= shown_claims, shown_claims
    assert "email" not in shown_claims  # not asked yet
    assert page.locator("#portal-withdrawn").count() == 0
    assert_clean(page)

    # (ii) Signed out at the portal only: signing in again needs no page at the provider.
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    page.log.forget_navigations()
    page.click("#login")
    expect(page.locator("#signed-in")).to_be_visible()
    assert on_provider(live, page.log.documents) == [], page.log.documents
    assert "/authorize" in on_provider(live, page.log.navigations)
    assert "address" not in claims_shown(page)  # still not shared

    # (iii) The portal asks for one more claim: only that claim is asked.
    share_more = page.locator("#share-more")
    expect(share_more).to_be_visible()
    share_more.click()
    wait_for_consent(page)
    items = consent_items(page)
    assert [i["item"] for i in items] == ["email"], items
    assert items[0]["required"] is False
    assert items[0]["purpose"].endswith(PURPOSES["email"]["purpose"]["vi"])
    # What it already receives is listed, collapsed; the cleared address is not in it.
    assert already_granted(page) == ["name", "birthdate", "gender"]
    expect(page.locator("#already-granted")).to_be_hidden()
    details = page.locator("details:has(#already-granted)")
    assert details.evaluate("d => d.open") is False
    assert_no_horizontal_scroll(page)
    shoot(page, artifacts, "consent-choices-new-claim", live)
    details.locator("summary").click()
    expect(page.locator("#already-granted")).to_be_visible()
    shoot(page, artifacts, "consent-choices-new-claim-open", live)

    box(page, "email").check()
    page.click("#approve")
    expect(page.locator("#signed-in")).to_be_visible()
    shown_claims = claims_shown(page)
    assert released(["name", "birthdate", "gender", "email"]) <= shown_claims, shown_claims
    assert "address" not in shown_claims  # asking for more did not widen the old choice
    expect(page.locator("#share-more")).to_have_count(0)  # nothing more to ask
    assert_clean(page)


def test_withdrawing_the_grant_signs_the_portal_out(phone_page, live, permits, artifacts):
    page = phone_page
    citizen = live.make_citizen()
    sign_in(page, citizen, at=permits.url)
    wait_for_consent(page)
    agree_to_all(page)
    page.click("#approve")
    expect(page.locator("#signed-in")).to_be_visible()
    assert claim(page, "gender", 3) == citizen["profile"]["gender"]

    token = permits.session_of(page.context)["token"]["access_token"]
    assert userinfo_status(live, token)[0] == 200

    # The provider's connected-portals page lists what the portal holds.
    page.goto(live.url + "/account/portals")
    card = portal_card(page, permits)
    expect(card).to_be_visible()
    granted = card.locator("li[data-claim]:has(button.withdraw-claim)").evaluate_all(
        "items => items.map(li => li.dataset.claim)"
    )
    assert granted == FIRST_ASK, granted
    assert_no_horizontal_scroll(page)
    shoot(page, artifacts, "account-portals", live)

    # Withdrawing one claim stops it at once: the portal's next userinfo lacks it.
    card.locator('li[data-claim="gender"] button.withdraw-claim').click()
    expect(
        portal_card(page, permits).locator('li[data-claim="gender"] button.withdraw-claim')
    ).to_have_count(0)
    page.goto(permits.url + "/profile")  # the portal fetches the citizen's claims again
    expect(page.locator("#signed-in")).to_be_visible()
    # Userinfo no longer releases it (and the ID token never carried it: OIDC Core §5.4).
    expect(page.locator('#claims tr[data-claim="gender"]')).to_have_count(0)
    assert claim(page, "name", 3)  # the rest still is
    assert userinfo_status(live, token)[0] == 200  # the grant, hence the token, lives

    # The data history shows the releases to this portal: names and purposes, no values.
    page.goto(f"{live.url}/account/history?portal={permits.client_id}")
    rows = page.locator(f'#history tr[data-channel][data-client-id="{permits.client_id}"]')
    expect(rows.first).to_be_visible()
    channels = rows.evaluate_all("rows => rows.map(r => r.dataset.channel)")
    assert channels[0] == "userinfo", channels  # newest first: the page just loaded
    assert "id_token" in channels, channels
    newest = rows.first.locator("li[data-claim]").evaluate_all(
        "items => items.map(li => li.dataset.claim)"
    )
    assert "gender" not in newest, newest
    assert "name" in newest, newest
    history_text = page.locator("#history").inner_text()
    for value in ("cccd", "email", "phone"):
        assert citizen["profile"][value] not in history_text, value

    # (iv) Withdraw the whole grant.
    page.goto(live.url + "/account/portals")
    withdraw = portal_card(page, permits).locator(f"a.withdraw-grant#withdraw-{permits.client_id}")
    expect(withdraw).to_be_visible()
    withdraw.click()
    # Its own confirmation page names what stops, then asks.
    expect(page.locator("#withdraw-items li")).not_to_have_count(0)
    expect(page.locator("#confirm-withdraw")).to_be_visible()
    assert_clean(page)
    page.click("#confirm-withdraw")
    expect(page.locator(".notice[role=status]")).to_contain_text(permits.name)
    expect(page.locator("#past-connections")).to_contain_text(permits.name)
    expect(portal_card(page, permits)).to_have_count(0)
    assert_clean(page)

    # The portal's access token is dead at once (RFC 6750 §3.1).
    status, challenge = userinfo_status(live, token)
    assert status == 401, (status, challenge)
    assert 'error="invalid_token"' in challenge, challenge

    # The portal was told through the back channel: says why, and forgets the citizen.
    signed_out_by_provider(page, permits.url)
    expect(page.locator("#portal-withdrawn")).to_be_visible()
    expect(page.locator("#signed-in")).to_have_count(0)
    expect(page.locator("#login")).to_be_visible()
    assert permits.session_of(page.context).keys().isdisjoint({"token", "user"})
    assert_no_horizontal_scroll(page)
    shoot(page, artifacts, "portal-withdrawn", live)
    page.reload()  # said once; the portal is simply signed out now
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#portal-withdrawn")).to_have_count(0)

    # The next sign-in asks again, for everything (the citizen is still signed in).
    page.click("#login")
    wait_for_consent(page)
    assert [i["item"] for i in consent_items(page)] == FIRST_ASK
    expect(page.locator("#already-granted")).to_have_count(0)
    assert_clean(page)


def test_required_claims_cannot_be_cleared(phone_page, live, permits, artifacts):
    page = phone_page
    citizen = live.make_citizen()
    sign_in(page, citizen, at=permits.url)
    wait_for_consent(page)

    # (v) Required claims are ticked and fixed; the page says how to decline them.
    for required in ("name", "birthdate"):
        expect(box(page, required)).to_be_checked()
        expect(box(page, required)).to_be_disabled()
    for optional in ("gender", "address"):
        expect(box(page, optional)).not_to_be_checked()
        expect(box(page, optional)).to_be_enabled()
    note = page.locator("#required-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text(permits.name)
    expect(note).to_contain_text(page.locator("#deny").inner_text())
    assert_no_horizontal_scroll(page)
    shoot(page, artifacts, "consent-choices-required", live)

    # Agreeing to the page untouched shares the required claims only.
    page.click("#approve")
    expect(page.locator("#signed-in")).to_be_visible()
    shown_claims = claims_shown(page)
    assert released(["name", "birthdate"]) <= shown_claims, shown_claims
    assert "gender" not in shown_claims, shown_claims
    assert "address" not in shown_claims, shown_claims
    assert_clean(page)


def test_portal_asks_only_for_scopes_it_is_configured_for(live, permits):
    """/login?scope=... may ask for the default scopes and the extra ones, nothing else."""

    def login(scope: str | None) -> requests.Response:
        params = {} if scope is None else {"scope": scope}
        return requests.get(
            permits.url + "/login", params=params, timeout=10, allow_redirects=False
        )

    for scope, expected in (
        (None, SCOPE),
        ("openid profile email", "openid profile email"),
        (f"{SCOPE} {EXTRA_SCOPE}", f"{SCOPE} {EXTRA_SCOPE}"),
    ):
        resp = login(scope)
        assert resp.status_code == 302, (scope, resp.status_code)
        location = resp.headers["Location"]
        assert location.startswith(live.url + "/authorize?"), location
        assert parse_qs(urlsplit(location).query)["scope"] == [expected]
    for scope in ("openid cccd", "profile email", "openid phone", ""):
        resp = login(scope)
        assert resp.status_code == 400, (scope, resp.status_code)
        assert "invalid_scope" in resp.text
