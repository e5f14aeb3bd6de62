"""The consent page and its policy: required claims, deny, remembered decisions, named
checks (claims_not_granted, notice_changed, prompt_consent), prompt=none, undeclared
claims. Flask test client, both backends."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text

from idp import events
from idp.consent import grants as consent_grants
from idp.consent import notices
from tests.consent.helpers import ISSUER, Browser, body, counts, item_badges, personal, purposes
from tests.support.factories import new_citizen, new_portal
from tests.support.forms import required_claims, ticked_claims

PROFILE = ("name", "birthdate", "gender")


@pytest.fixture
def citizen(db, settings):
    return new_citizen(db, settings)


@pytest.fixture
def browser(client, citizen):
    return Browser(client, citizen)


@pytest.fixture
def prompts():
    """The named checks of every consent prompt (the `interaction.prompt` events)."""
    seen: list[set[str]] = []

    def collect(name: str, payload: dict[str, Any]) -> None:
        if name == "interaction.prompt" and payload.get("state") != "login_pending":
            checks = {c for c in str(payload.get("checks", "")).split(",") if c}
            if checks & {"claims_not_granted", "notice_changed", "prompt_consent"}:
                seen.append(checks)

    events.subscribe(collect)
    yield seen
    events.unsubscribe(collect)


def _consent_page(browser: Browser, portal: Any, **params: Any) -> Any:
    resp, _verifier, _nonce = browser.start(portal, **params)
    page = browser.follow(resp, portal)
    assert page.status_code == 200, (page.status_code, body(page)[:300])
    assert page.request.path == "/consent"
    return page


def test_required_claims_are_marked(db, browser):
    portal = new_portal(db, purposes=purposes(PROFILE + ("email",), required=("name",)))
    page = _consent_page(browser, portal, scope="openid profile email")
    html = body(page)
    assert item_badges(html) == {
        "name": "required",
        "birthdate": "optional",
        "gender": "optional",
        "email": "optional",
    }
    # Decree 13/2023, Law 91/2025: a pre-ticked box is not consent. Optional items start
    # unticked; a required one is shown ticked and cannot be cleared.
    assert ticked_claims(html) == ["name"]
    assert required_claims(html) == ["name"]
    assert 'id="required-note"' in html
    # Each item is shown with its declared purpose.
    for item in ("name", "birthdate", "gender", "email"):
        assert f"Mục đích {item}" in html


def test_page_without_required_items_has_no_required_note(db, browser):
    portal = new_portal(db, purposes=purposes(PROFILE))
    html = body(_consent_page(browser, portal, scope="openid profile"))
    assert ticked_claims(html) == []
    assert 'id="required-note"' not in html


def test_submitting_the_page_untouched_grants_only_the_required_items(db, browser):
    portal = new_portal(db, purposes=purposes(PROFILE + ("email",), required=("name",)))
    out = browser.authorize(
        portal, scope="openid profile email offline_access", as_is=True, prompt="consent"
    )
    assert out.code, out.params
    state = consent_grants.consent_state(db, citizen_id=browser.citizen.id, portal_id=portal.id)
    assert state.granted == {"name"}
    assert state.declined == {"birthdate", "gender", "email"}
    assert "offline_access" not in state.scopes


def test_agreeing_grants_required_items_even_without_their_box(db, browser):
    portal = new_portal(db, purposes=purposes(PROFILE, required=("name", "birthdate")))
    page = _consent_page(browser, portal, scope="openid profile", state="keep-me")
    # A browser never sends a disabled box: agreeing is what grants the required items.
    resp = browser.ua.submit_consent(page, claims=["gender"])
    assert resp.status_code == 303
    final = browser.follow(resp, portal)
    assert "code=" in final.headers["Location"]
    assert "state=keep-me" in final.headers["Location"]
    state = consent_grants.consent_state(db, citizen_id=browser.citizen.id, portal_id=portal.id)
    assert state.granted == set(PROFILE)


def test_declining_required_items_means_declining_the_request(db, browser):
    portal = new_portal(db, purposes=purposes(("email",), required=("email",)))
    page = _consent_page(browser, portal, scope="openid email")
    before = counts(db)
    resp = browser.ua.submit_consent(page, decision="deny", claims=[])
    final = browser.follow(resp, portal)
    assert "error=access_denied" in final.headers["Location"]
    assert counts(db) == before


def test_deny_sends_access_denied_with_state_and_iss(db, browser):
    portal = new_portal(db, purposes=purposes(PROFILE))
    before = counts(db)
    out = browser.authorize(portal, scope="openid profile", state="st-deny", decision="deny")
    assert out.error == "access_denied"
    assert out.params["state"] == "st-deny"
    assert out.params["iss"] == ISSUER
    assert "code" not in out.params
    assert counts(db) == before


def test_second_visit_has_no_prompt(db, browser):
    portal = new_portal(db, purposes=purposes(PROFILE))
    first = browser.authorize(portal, scope="openid profile")
    assert first.prompted
    assert first.code
    second = browser.authorize(portal, scope="openid profile")
    assert not second.prompted
    assert second.code
    # A narrower request is not a new question either.
    third = browser.authorize(portal, scope="openid")
    assert not third.prompted
    assert third.code


def test_new_scope_shows_only_the_new_item(db, browser, prompts):
    portal = new_portal(db)  # every item declared, optional
    first = browser.authorize(portal, scope="openid profile")
    assert set(first.shown) == set(PROFILE)
    assert prompts[-1] == {"claims_not_granted"}

    second = browser.authorize(portal, scope="openid profile email")
    assert second.shown == ["email"]
    assert prompts[-1] == {"claims_not_granted"}
    # What is already shared is listed apart, not as a question.
    assert 'id="already-granted"' in second.consent_pages[-1]

    # A new claim through the claims parameter: again only that one.
    third = browser.authorize(
        portal, scope="openid profile email", claims='{"userinfo": {"phone_number": null}}'
    )
    assert third.shown == ["phone_number"]
    _out, token, _id = browser.sign_in_flow(
        portal, scope="openid profile email", claims='{"userinfo": {"phone_number": null}}'
    )
    info = browser.userinfo(token["access_token"]).get_json()
    assert info["phone_number"] == browser.citizen.profile["phone"]
    assert info["email"] == browser.citizen.profile["email"]


def test_changed_purpose_prompts_only_for_the_changed_item(db, browser, prompts):
    declared = purposes(PROFILE + ("email",))
    portal = new_portal(db, purposes=declared)
    first = browser.authorize(portal, scope="openid profile email")
    assert set(first.shown) == {*PROFILE, "email"}

    changed = dict(declared)
    changed["email"] = {
        "purpose": {"vi": "Để gửi thư quảng cáo", "en": "To send adverts"},
        "required": False,
    }
    notice = notices.declare_purposes(db, portal_id=portal.id, purposes=changed)
    db.commit()
    assert notice.version == 2

    second = browser.authorize(portal, scope="openid profile email")
    assert second.prompted
    assert prompts[-1] == {"notice_changed"}
    assert second.shown == ["email"]
    assert (
        "To send adverts" in second.consent_pages[-1]
        or "Để gửi thư quảng cáo" in second.consent_pages[-1]
    )
    # Answered under the new notice: no more questions.
    third = browser.authorize(portal, scope="openid profile email")
    assert not third.prompted

    # Re-declaring the same purposes is not a change: no new version, no prompt.
    again = notices.declare_purposes(db, portal_id=portal.id, purposes=changed)
    db.commit()
    assert again.version == 2
    assert not browser.authorize(portal, scope="openid profile email").prompted

    # Making an item required is a change of the notice too.
    changed["gender"] = {**changed["gender"], "required": True}
    notices.declare_purposes(db, portal_id=portal.id, purposes=changed)
    db.commit()
    fourth = browser.authorize(portal, scope="openid profile email")
    assert fourth.shown == ["gender"]
    assert item_badges(fourth.consent_pages[-1]) == {"gender": "required"}


def test_changed_purpose_of_a_declined_item_asks_again(db, browser):
    declared = purposes(PROFILE)
    portal = new_portal(db, purposes=declared)
    first = browser.authorize(portal, scope="openid profile", untick={"gender"})
    assert first.code
    changed = dict(declared)
    changed["gender"] = {"purpose": {"vi": "Thống kê", "en": "Statistics"}, "required": False}
    notices.declare_purposes(db, portal_id=portal.id, purposes=changed)
    db.commit()
    second = browser.authorize(portal, scope="openid profile")
    assert second.shown == ["gender"]


def test_prompt_consent_shows_everything(db, browser, prompts):
    portal = new_portal(db, purposes=purposes(PROFILE + ("email",)))
    browser.authorize(portal, scope="openid profile email", untick={"email"})
    out = browser.authorize(portal, scope="openid profile email", prompt="consent")
    assert out.prompted
    assert "prompt_consent" in prompts[-1]
    assert set(out.shown) == {*PROFILE, "email"}


def test_prompt_none_with_ungranted_claims_is_consent_required(db, browser):
    portal = new_portal(db, purposes=purposes(PROFILE + ("email",)))
    browser.authorize(portal, scope="openid profile")
    before = counts(db)
    out = browser.authorize(portal, scope="openid profile email", prompt="none", state="st-none")
    assert out.error == "consent_required"
    assert out.params["state"] == "st-none"
    assert out.params["iss"] == ISSUER
    assert not out.prompted
    assert counts(db) == before
    # Asking only for what is granted works silently.
    ok = browser.authorize(portal, scope="openid profile", prompt="none")
    assert ok.code
    # A claim through the claims parameter counts as well.
    out = browser.authorize(
        portal, scope="openid", prompt="none", claims='{"id_token": {"email": {"essential": true}}}'
    )
    assert out.error == "consent_required"


def test_prompt_none_before_any_consent_is_consent_required(db, browser):
    portal = new_portal(db, purposes=purposes(PROFILE))
    browser.authorize(new_portal(db), scope="openid")  # signs the browser in
    out = browser.authorize(portal, scope="openid profile", prompt="none")
    assert out.error == "consent_required"


def test_undeclared_claim_is_neither_shown_nor_released(db, browser):
    portal = new_portal(db, purposes=purposes(("name",)))
    out, token, id_claims = browser.sign_in_flow(
        portal,
        scope="openid profile email cccd",
        claims='{"id_token": {"phone_number": {"essential": true}}, "userinfo": {"address": null}}',
    )
    assert out.shown == ["name"]
    assert set(re.findall(r'data-claim="([^"]+)"', out.consent_pages[-1])) == {"name"}
    # Scope claims go to userinfo only (OIDC Core §5.4); phone_number was not declared.
    assert personal(id_claims) == set()
    info = browser.userinfo(token["access_token"]).get_json()
    assert set(info) == {"sub", "name", "family_name", "middle_name", "given_name", "updated_at"}


def test_portal_without_any_declaration_gets_only_sub(db, browser):
    portal = new_portal(db, purposes={})
    out, token, id_claims = browser.sign_in_flow(portal, scope="openid profile email")
    assert not out.prompted
    assert personal(id_claims) == set()
    assert browser.userinfo(token["access_token"]).get_json() == {"sub": id_claims["sub"]}


def test_openid_alone_creates_the_grant_without_a_page(db, browser):
    portal = new_portal(db)
    before = counts(db)
    out = browser.authorize(portal, scope="openid")
    assert out.code
    assert not out.prompted
    grant = consent_grants.live_grant(db, citizen_id=browser.citizen.id, portal_id=portal.id)
    assert grant is not None
    after = counts(db)
    assert after["consent_grants"] == before["consent_grants"] + 1
    assert after["consent_claims"] == before["consent_claims"]
    # The grant has its receipt, like every grant.
    assert after["consent_receipts"] == before["consent_receipts"] + 1
    # The next sign-in reuses it.
    assert browser.authorize(portal, scope="openid").code
    assert counts(db) == after


def test_declined_optional_claim_is_not_asked_again(db, browser):
    portal = new_portal(db, purposes=purposes(PROFILE + ("email",)))
    first = browser.authorize(portal, scope="openid profile email", untick={"email"})
    assert first.code
    state = consent_grants.consent_state(db, citizen_id=browser.citizen.id, portal_id=portal.id)
    assert state.granted == set(PROFILE)
    assert state.declined == {"email"}
    out, token, id_claims = browser.sign_in_flow(portal, scope="openid profile email")
    assert not out.prompted
    assert "email" not in id_claims
    assert "email" not in browser.userinfo(token["access_token"]).get_json()
    # Nor through the claims parameter, even as essential: that is not a new question.
    again = browser.authorize(
        portal, scope="openid", claims='{"userinfo": {"email": {"essential": true}}}'
    )
    assert not again.prompted


def test_decisions_are_rows_per_claim_with_the_notice(db, browser):
    portal = new_portal(db, purposes=purposes(PROFILE))
    browser.authorize(portal, scope="openid profile", untick={"gender"})
    notice = notices.current_notice(db, portal.id)
    rows = db.execute(
        text(
            "SELECT c.claim, c.granted, c.notice_id FROM consent_claims c "
            "JOIN consent_grants g ON g.id = c.grant_id "
            "WHERE g.portal_id = :p AND c.withdrawn_at IS NULL"
        ),
        {"p": portal.id},
    ).all()
    assert {(r[0], bool(r[1]), r[2]) for r in rows} == {
        ("name", True, notice.id),
        ("birthdate", True, notice.id),
        ("gender", False, notice.id),
    }


def test_a_forged_tick_on_an_item_not_shown_grants_nothing(db, browser):
    portal = new_portal(db)
    page = _consent_page(browser, portal, scope="openid profile")
    resp = browser.ua.submit_consent(page, claims=[*PROFILE, "cccd", "email", "bogus"])
    assert resp.status_code == 303
    final = browser.follow(resp, portal)
    assert "code=" in final.headers["Location"]
    state = consent_grants.consent_state(db, citizen_id=browser.citizen.id, portal_id=portal.id)
    assert state.granted == set(PROFILE)
    assert state.declined == set()
    # And the next request for cccd asks for it.
    assert browser.authorize(portal, scope="openid cccd").shown == ["cccd"]


def test_the_consent_form_cannot_be_submitted_twice(db, browser):
    portal = new_portal(db)
    page = _consent_page(browser, portal, scope="openid profile")
    first = browser.ua.submit_consent(page)
    assert first.status_code == 303
    after = counts(db)
    again = browser.ua.submit_consent(page, claims=["name"])
    assert 400 <= again.status_code < 500
    assert counts(db) == after


def test_an_item_no_longer_declared_stops_flowing_at_once(db, browser):
    declared = purposes(PROFILE + ("email",))
    portal = new_portal(db, purposes=declared)
    _out, token, _id = browser.sign_in_flow(portal, scope="openid profile email")
    assert "email" in browser.userinfo(token["access_token"]).get_json()
    notices.declare_purposes(
        db, portal_id=portal.id, purposes={k: v for k, v in declared.items() if k != "email"}
    )
    db.commit()
    info = browser.userinfo(token["access_token"]).get_json()
    assert "email" not in info
    assert "email_verified" not in info
    assert info["family_name"] == browser.citizen.profile["family_name"]
    # Nothing to ask either: the portal may not have it.
    out, token, id_claims = browser.sign_in_flow(portal, scope="openid profile email")
    assert not out.prompted
    assert "email" not in id_claims
