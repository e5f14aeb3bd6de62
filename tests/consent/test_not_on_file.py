"""Nothing is granted that does not exist: an item the citizen has no value for is shown
as "not on file" with a link to add it, never recorded, never a reason to prompt by
itself, and asked for once a value exists. Both backends."""

from __future__ import annotations

import pytest

from idp.citizens import service as citizens
from idp.consent import grants as consent_grants
from tests.consent.helpers import Browser, missing_items, purposes
from tests.support.factories import new_citizen, new_portal

PROFILE = ("name", "birthdate", "gender")


@pytest.fixture
def citizen(db, settings):
    return new_citizen(db, settings, email="")


@pytest.fixture
def browser(client, citizen):
    return Browser(client, citizen)


def test_items_on_file_follow_the_profile(db, citizen):
    row = citizens.get_citizen(db, citizen.id)
    assert citizens.items_on_file(row) == {
        "name",
        "birthdate",
        "gender",
        "phone_number",
        "address",
        "cccd",
    }


def test_missing_item_is_shown_not_recorded_and_asked_once_on_file(db, browser):
    portal = new_portal(db, purposes=purposes((*PROFILE, "email")))
    out = browser.authorize(portal, scope="openid profile email")
    assert out.prompted
    page = out.consent_pages[-1]
    assert set(out.shown) == set(PROFILE)  # no box for a value that does not exist
    assert missing_items(page) == ["email"]
    assert 'href="/account"' in page
    state = consent_grants.consent_state(db, citizen_id=browser.citizen.id, portal_id=portal.id)
    assert state.granted == set(PROFILE)
    assert "email" not in state.granted | state.declined
    token = browser.token(portal, out)
    assert set(token["scope"].split()) == {"openid", "profile"}
    assert "email" not in browser.userinfo(token["access_token"]).get_json()

    # Not a reason to ask again at every sign-in.
    assert not browser.authorize(portal, scope="openid profile email").prompted
    assert not browser.authorize(portal, scope="openid email").prompted

    # Once the citizen adds an email, the portal asks for it.
    profile = browser.citizen.profile
    citizens.update_contacts(
        db,
        citizen_id=browser.citizen.id,
        data={
            "email": "moi.them@example.vn",
            "phone": profile["phone"],
            "province": profile["province"],
            "commune": profile["commune"],
            "street": profile["street"],
        },
    )
    db.commit()
    again = browser.authorize(portal, scope="openid profile email")
    assert again.shown == ["email"]
    assert missing_items(again.consent_pages[-1]) == []
    info = browser.userinfo(browser.token(portal, again)["access_token"]).get_json()
    assert info["email"] == "moi.them@example.vn"


def test_openid_email_alone_without_an_email_does_not_prompt(db, browser):
    portal = new_portal(db, purposes=purposes(("email",)))
    out = browser.authorize(portal, scope="openid email")
    assert out.code, out.params
    assert not out.prompted
    grant = consent_grants.live_grant(db, citizen_id=browser.citizen.id, portal_id=portal.id)
    assert grant is not None
    assert consent_grants.claim_decisions(db, grant.id) == []
