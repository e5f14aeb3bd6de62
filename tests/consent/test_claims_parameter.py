"""The OIDC Core §5.5 ``claims`` request parameter: targeting (id_token vs userinfo),
``essential``, unknown claims ignored, malformed values refused (invalid_request to the
redirect URI with state and iss). Flask test client, both backends."""

from __future__ import annotations

import json

import pytest

from idp.consent import grants as consent_grants
from tests.consent.helpers import (
    ISSUER,
    Browser,
    body,
    counts,
    essential_labels,
    item_badges,
    personal,
)
from tests.support.factories import new_citizen, new_portal
from tests.support.forms import ticked_claims

NAME_CLAIMS = {"name", "family_name", "middle_name", "given_name", "updated_at"}


@pytest.fixture
def citizen(db, settings):
    return new_citizen(db, settings)


@pytest.fixture
def browser(client, citizen):
    return Browser(client, citizen)


def test_id_token_and_userinfo_members_go_to_their_target_only(db, browser):
    portal = new_portal(db)
    claims = {
        "id_token": {"email": None, "birthdate": None},
        "userinfo": {"phone_number": None, "birthdate": None},
    }
    out, token, id_claims = browser.sign_in_flow(portal, scope="openid", claims=json.dumps(claims))
    assert set(out.shown) == {"email", "birthdate", "phone_number"}
    profile = browser.citizen.profile
    assert personal(id_claims) == {"email", "birthdate"}
    assert id_claims["email"] == profile["email"]
    assert id_claims["birthdate"] == profile["birthdate"]
    info = browser.userinfo(token["access_token"]).get_json()
    assert set(info) == {"sub", "phone_number", "birthdate"}
    assert info["phone_number"] == profile["phone"]


def test_scope_claims_go_to_userinfo_and_members_add_to_them(db, browser):
    portal = new_portal(db)
    out, token, id_claims = browser.sign_in_flow(
        portal, scope="openid email", claims=json.dumps({"userinfo": {"cccd": None}})
    )
    assert set(out.shown) == {"email", "cccd"}
    # OIDC Core §5.4: claims requested by scope values are returned from userinfo only.
    assert personal(id_claims) == set()
    info = browser.userinfo(token["access_token"]).get_json()
    assert set(info) - {"sub"} == {"email", "email_verified", "cccd"}
    assert info["cccd"] == browser.citizen.profile["cccd"]


def test_one_member_of_an_item_releases_only_that_claim(db, browser):
    portal = new_portal(db)
    _out, token, id_claims = browser.sign_in_flow(
        portal, scope="openid", claims=json.dumps({"id_token": {"family_name": None}})
    )
    assert personal(id_claims) == {"family_name"}
    assert browser.userinfo(token["access_token"]).get_json() == {"sub": id_claims["sub"]}


def test_essential_is_a_request_the_citizen_can_decline(db, browser):
    portal = new_portal(db)
    claims = {"userinfo": {"cccd": {"essential": True}, "email": {"essential": False}}}
    resp, _verifier, _nonce = browser.start(portal, scope="openid", claims=json.dumps(claims))
    page = browser.follow(resp, portal)
    assert page.request.path == "/consent"
    # Only the portal's registered flags make an item required; essential is only said.
    assert item_badges(body(page)) == {"cccd": "optional", "email": "optional"}
    assert essential_labels(body(page)) == {"cccd"}
    assert ticked_claims(body(page)) == []
    done = browser.ua.submit_consent(page, claims=["email"])
    assert done.status_code == 303, body(done)[:300]
    final = browser.follow(done, portal)
    assert "code=" in final.headers["Location"]
    state = consent_grants.consent_state(db, citizen_id=browser.citizen.id, portal_id=portal.id)
    assert state.granted == {"email"}
    assert state.declined == {"cccd"}


def test_unknown_claims_and_targets_are_ignored(db, browser):
    portal = new_portal(db)
    claims = {
        "id_token": {"nickname": {"essential": True}, "picture": None, "acr": {"essential": True}},
        "userinfo": {"x_unknown": {"essential": True}, "locale": None},
        "other": {"email": {"essential": True}},
    }
    out, token, id_claims = browser.sign_in_flow(portal, scope="openid", claims=json.dumps(claims))
    assert not out.prompted  # nothing known to ask for
    assert personal(id_claims) == set()
    assert browser.userinfo(token["access_token"]).get_json() == {"sub": id_claims["sub"]}


def test_empty_and_null_members_are_accepted(db, browser):
    portal = new_portal(db)
    for claims in ({}, {"id_token": {}}, {"userinfo": None}, {"id_token": {"email": {}}}):
        out = browser.authorize(portal, scope="openid", claims=json.dumps(claims))
        assert out.code, (claims, out.params)


def test_undeclared_claim_in_the_claims_parameter_is_dropped(db, browser):
    portal = new_portal(
        db,
        scope="openid profile",
        purposes={"birthdate": {"purpose": {"vi": "Tuổi", "en": "Age"}, "required": False}},
    )
    out, token, id_claims = browser.sign_in_flow(
        portal,
        scope="openid",
        claims=json.dumps(
            {
                "id_token": {"cccd": {"essential": True}, "birthdate": None},
                "userinfo": {"email": None, "birthdate": None},
            }
        ),
    )
    assert out.shown == ["birthdate"]
    assert personal(id_claims) == {"birthdate"}
    assert set(browser.userinfo(token["access_token"]).get_json()) == {"sub", "birthdate"}


def test_userinfo_members_still_apply_after_a_refresh(db, browser):
    portal = new_portal(db)
    claims = json.dumps({"userinfo": {"gender": None}})
    _out, token, _id = browser.sign_in_flow(
        portal, scope="openid offline_access", claims=claims, prompt="consent"
    )
    assert token.get("refresh_token")
    resp = browser.refresh(portal, token["refresh_token"])
    assert resp.status_code == 200, body(resp)
    fresh = resp.get_json()
    info = browser.userinfo(fresh["access_token"]).get_json()
    assert set(info) == {"sub", "gender"}


MALFORMED = [
    "not json",
    "{",
    "[]",
    '"userinfo"',
    "42",
    "null",
    '{"userinfo": []}',
    '{"id_token": "email"}',
    '{"userinfo": {"email": true}}',
    '{"id_token": {"email": 5}}',
    '{"userinfo": {"email": "essential"}}',
    "{" * 5000,
]


@pytest.mark.parametrize("value", MALFORMED)
def test_malformed_claims_is_invalid_request_to_the_portal(db, browser, value):
    portal = new_portal(db)
    browser.authorize(portal, scope="openid")  # signed in and consented already
    before = counts(db)
    out = browser.authorize(portal, scope="openid profile", claims=value, state="st-bad")
    assert out.error == "invalid_request", out.params
    assert out.params["state"] == "st-bad"
    assert out.params["iss"] == ISSUER
    assert "code" not in out.params
    assert counts(db) == before


def test_malformed_claims_before_sign_in_is_refused_as_well(db, client, citizen):
    portal = new_portal(db)
    fresh = Browser(client, citizen)
    resp, _verifier, _nonce = fresh.start(portal, scope="openid", claims="[1, 2]", state="st-x")
    final = fresh.follow(resp, portal)
    assert final.status_code in (302, 303)
    loc = final.headers["Location"]
    assert loc.startswith(portal.redirect_uri)
    assert "error=invalid_request" in loc
    assert "state=st-x" in loc
