"""Consent binds every channel: the issued scope, introspection, refresh and releases follow
live consent (RFC 6749 §3.3, §6); a changed purpose pauses an item until re-consent; the
portal's registration bounds what the ``claims`` parameter can reach. Both backends."""

from __future__ import annotations

import json

import pytest

from idp.consent import grants as consent_grants
from idp.consent import notices, releases
from idp.consent.policy import granted_scope
from idp.portals.service import get_portal
from tests.consent.helpers import Browser, body, personal, purposes
from tests.support.factories import new_citizen, new_portal

PROFILE = ("name", "birthdate", "gender")
ALL = "openid profile cccd offline_access"


@pytest.fixture
def citizen(db, settings):
    return new_citizen(db, settings)


@pytest.fixture
def browser(client, citizen):
    return Browser(client, citizen)


def portal_row(db, portal):
    return get_portal(db, portal.id)


def _scope(value: str) -> set[str]:
    return set(value.split())


def _introspected_scope(browser: Browser, portal, token: str) -> set[str]:
    resp = browser.introspect(portal, token)
    assert resp.status_code == 200, body(resp)
    data = resp.get_json()
    assert data["active"] is True, data
    return _scope(data["scope"])


def test_unticked_item_drops_its_scope_everywhere(db, browser):
    portal = new_portal(db, purposes=purposes((*PROFILE, "cccd")))
    out = browser.authorize(portal, scope=ALL, prompt="consent", untick={"cccd"})
    token = browser.token(portal, out)
    # RFC 6749 §3.3: the token response says what was granted, not what was asked.
    assert _scope(token["scope"]) == {"openid", "profile", "offline_access"}
    assert _introspected_scope(browser, portal, token["access_token"]) == _scope(token["scope"])
    assert _introspected_scope(browser, portal, token["refresh_token"]) == _scope(token["scope"])
    refreshed = browser.refresh(portal, token["refresh_token"])
    assert refreshed.status_code == 200, body(refreshed)
    assert _scope(refreshed.get_json()["scope"]) == {"openid", "profile", "offline_access"}
    assert "cccd" not in browser.userinfo(token["access_token"]).get_json()


def test_a_scope_stays_while_one_of_its_items_is_granted(db, browser):
    portal = new_portal(db, purposes=purposes((*PROFILE, "cccd")))
    out = browser.authorize(portal, scope=ALL, prompt="consent", untick={"name", "gender"})
    token = browser.token(portal, out)
    assert _scope(token["scope"]) == {"openid", "profile", "cccd", "offline_access"}


def test_withdrawal_narrows_introspection_and_refresh(db, browser):
    portal = new_portal(db, purposes=purposes((*PROFILE, "cccd")))
    out = browser.authorize(portal, scope=ALL, prompt="consent", untick={"birthdate", "gender"})
    token = browser.token(portal, out)
    assert _scope(token["scope"]) == {"openid", "profile", "cccd", "offline_access"}
    grant = consent_grants.live_grant(db, citizen_id=browser.citizen.id, portal_id=portal.id)
    for item in ("name", "cccd"):
        assert consent_grants.withdraw_claim(
            db, citizen_id=browser.citizen.id, grant_id=grant.id, item=item
        )
    db.commit()
    live = {"openid", "offline_access"}
    assert _introspected_scope(browser, portal, token["access_token"]) == live
    resp = browser.refresh(portal, token["refresh_token"])
    assert resp.status_code == 200, body(resp)
    new = resp.get_json()
    assert _scope(new["scope"]) == live
    assert _introspected_scope(browser, portal, new["access_token"]) == live
    # Consenting again later does not widen a refresh chain (RFC 6749 §6).
    browser.authorize(portal, scope=ALL, prompt="consent")
    again = browser.refresh(portal, new["refresh_token"])
    assert again.status_code == 200, body(again)
    assert _scope(again.get_json()["scope"]) == live


def test_a_withdrawn_grant_grants_no_scope_at_all(db, browser):
    # Callers check the grant first; the policy must still grant nothing on its own.
    portal = new_portal(db, purposes=purposes(PROFILE))
    browser.authorize(portal, scope=ALL, prompt="consent")
    grant = consent_grants.live_grant(db, citizen_id=browser.citizen.id, portal_id=portal.id)
    assert granted_scope(
        db, portal=portal_row(db, portal), grant_id=grant.id, requested=ALL.split()
    )
    assert consent_grants.withdraw(db, grant_id=grant.id) is not None
    assert (
        granted_scope(db, portal=portal_row(db, portal), grant_id=grant.id, requested=ALL.split())
        == []
    )
    assert (
        granted_scope(
            db, portal=portal_row(db, portal), grant_id="no-such-grant", requested=["openid"]
        )
        == []
    )


def _change_purpose(db, portal, items, item: str) -> None:
    changed = purposes(items)
    changed[item]["purpose"] = {"vi": "Mục đích mới hoàn toàn", "en": "A brand new purpose"}
    notices.declare_purposes(db, portal_id=portal.id, purposes=changed)
    db.commit()


def _last_release(db, browser, portal):
    rows, _ = releases.history(db, citizen_id=browser.citizen.id, portal_id=portal.id, limit=1)
    return rows[0], notices.get_notice(db, rows[0].notice_id)


def test_a_changed_purpose_pauses_the_item_until_consent(db, browser):
    items = (*PROFILE, "cccd")
    portal = new_portal(db, purposes=purposes(items))
    out = browser.authorize(portal, scope=ALL, prompt="consent")
    token = browser.token(portal, out)
    assert "cccd" in browser.userinfo(token["access_token"]).get_json()
    _change_purpose(db, portal, items, "cccd")

    # Not released on any channel until the citizen accepts the new purpose.
    info = browser.userinfo(token["access_token"]).get_json()
    assert "cccd" not in info
    assert "name" in info
    row, notice = _last_release(db, browser, portal)
    assert "cccd" not in row.claims
    assert notice.version == 1  # what the citizen accepted for the released items
    assert _introspected_scope(browser, portal, token["access_token"]) == {
        "openid",
        "profile",
        "offline_access",
    }
    resp = browser.refresh(portal, token["refresh_token"])
    assert resp.status_code == 200, body(resp)
    refreshed = resp.get_json()
    assert "cccd" not in _scope(refreshed["scope"])
    assert "cccd" not in browser.userinfo(refreshed["access_token"]).get_json()

    # The next authorization asks about the new purpose only; then cccd flows again,
    # logged under the notice the citizen accepted.
    again = browser.authorize(portal, scope="openid profile cccd")
    assert again.shown == ["cccd"]
    token2 = browser.token(portal, again)
    assert "cccd" in _scope(token2["scope"])
    info = browser.userinfo(token2["access_token"]).get_json()
    assert info["cccd"] == browser.citizen.profile["cccd"]
    row, notice = _last_release(db, browser, portal)
    assert "cccd" in row.claims
    assert notice.version == 2


def test_a_changed_required_flag_pauses_the_item_too(db, browser):
    portal = new_portal(db, purposes=purposes(PROFILE))
    token = browser.token(portal, browser.authorize(portal, scope="openid profile"))
    notices.declare_purposes(
        db, portal_id=portal.id, purposes=purposes(PROFILE, required=("name",))
    )
    db.commit()
    info = browser.userinfo(token["access_token"]).get_json()
    assert "name" not in info
    assert info["birthdate"] == browser.citizen.profile["birthdate"]


def test_claims_parameter_cannot_reach_beyond_the_registered_scopes(db, browser):
    portal = new_portal(db, scope="openid profile", purposes=purposes(PROFILE))
    # A notice published before registrations bounded purposes declares cccd anyway.
    notices.declare_purposes(db, portal_id=portal.id, purposes=purposes((*PROFILE, "cccd")))
    db.commit()
    claims = {"userinfo": {"cccd": None}, "id_token": {"cccd": {"essential": True}}}
    out, token, id_claims = browser.sign_in_flow(
        portal, scope="openid profile", claims=json.dumps(claims)
    )
    assert set(out.shown) == set(PROFILE)
    assert "cccd" not in body_of_pages(out)
    assert "cccd" not in personal(id_claims)
    assert "cccd" not in browser.userinfo(token["access_token"]).get_json()
    # Even a cccd decision recorded earlier does not leave the provider.
    consent_grants.record_decision(
        db,
        citizen_id=browser.citizen.id,
        portal_id=portal.id,
        notice=notices.current_notice(db, portal.id),
        shown={"cccd"},
        granted={"cccd"},
        scopes={"openid"},
    )
    db.commit()
    assert "cccd" not in browser.userinfo(token["access_token"]).get_json()


def body_of_pages(out) -> str:
    return "".join(out.consent_pages)
