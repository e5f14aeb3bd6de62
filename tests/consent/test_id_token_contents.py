"""The ID token carries identity, not the profile (OIDC Core §5.4, §5.5): ``sub``,
``auth_time``, ``acr``, ``amr``, ``nonce`` and only the granted ``claims.id_token``
members; claims requested by scope values come from userinfo. Both backends."""

from __future__ import annotations

import json

import pytest

from tests.consent.helpers import SCOPE_CLAIMS, Browser, personal
from tests.support.factories import ALL_SCOPES, new_citizen, new_portal


@pytest.fixture
def citizen(db, settings):
    return new_citizen(db, settings)


@pytest.fixture
def browser(client, citizen):
    return Browser(client, citizen)


def test_scope_claims_stay_out_of_the_id_token(db, browser):
    portal = new_portal(db)
    out, token, id_claims = browser.sign_in_flow(portal, scope=ALL_SCOPES, prompt="consent")
    assert personal(id_claims) == set()
    for name in ("sub", "auth_time", "acr", "amr", "nonce"):
        assert name in id_claims, name
    info = browser.userinfo(token["access_token"]).get_json()
    wanted = {c for cs in SCOPE_CLAIMS.values() for c in cs}
    assert wanted <= set(info)
    assert info["sub"] == id_claims["sub"]


def test_only_granted_id_token_members_are_added(db, browser):
    portal = new_portal(db)
    claims = {"id_token": {"birthdate": None, "cccd": {"essential": True}, "email": None}}
    out, _token, id_claims = browser.sign_in_flow(
        portal, scope="openid profile", claims=json.dumps(claims), untick={"email"}
    )
    assert personal(id_claims) == {"birthdate", "cccd"}
    assert id_claims["cccd"] == browser.citizen.profile["cccd"]
