"""The right of access: the citizen downloads everything the service holds about them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from idp.consent import receipts
from idp.consent.models import Release
from tests.badinput.conftest import body_of, check_html, obtain_tokens
from tests.support.factories import CitizenInfo, PortalInfo, new_citizen, new_portal
from tests.support.useragent import page_csrf, sign_in


@pytest.fixture
def citizen(db: Any, settings: Any) -> CitizenInfo:
    return new_citizen(db, settings, family_name="Trần", middle_name="Thị", given_name="Mỹ Duyên")


@pytest.fixture
def portal(db: Any) -> PortalInfo:
    return new_portal(db, name="Cổng dịch vụ công tỉnh")


def test_my_data_is_complete(client, db, citizen, portal):
    tokens = obtain_tokens(client, portal, citizen, scope="openid profile email phone")
    client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    # Withdraw one item so the export shows a withdrawn decision and two receipts.
    page = client.get("/account/portals").get_data(as_text=True)
    action = re.search(
        r'action="(/account/portals/[^/]+/claims/phone_number/withdraw)"', page
    ).group(1)
    assert (
        client.post(action, data={"csrf_token": page_csrf(client, "/account")}).status_code == 303
    )

    resp = client.get("/account/data.json")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Cache-Control"] == "no-store"
    data = json.loads(body_of(resp))
    assert set(data) >= {"issuer", "generated_at", "profile", "grants", "receipts", "history"}

    profile = data["profile"]
    p = citizen.profile
    assert profile["name"] == "Trần Thị Mỹ Duyên"
    assert profile["family_name"] == "Trần"
    assert profile["given_name"] == "Mỹ Duyên"
    assert profile["cccd"] == p["cccd"]
    assert profile["phone_number"] == p["phone"]
    assert profile["email"] == p["email"]
    assert profile["birthdate"] == p["birthdate"]
    assert profile["gender"] == p["gender"]
    assert p["street"] in profile["address"]["formatted"]
    assert profile["has_password"] is True
    assert "argon2" not in body_of(resp)  # never the password hash

    (grant,) = data["grants"]
    assert grant["client_id"] == portal.client_id
    assert grant["portal"] == "Cổng dịch vụ công tỉnh"
    assert grant["withdrawn_at"] is None
    assert "openid" in grant["scopes"]
    claims = {(c["claim"], c["withdrawn_at"] is None): c for c in grant["claims"]}
    assert {c for c, live in claims if live} == {"name", "birthdate", "gender", "email"}
    withdrawn = claims[("phone_number", False)]
    assert withdrawn["granted"] is True
    assert withdrawn["withdrawn_at"]
    assert claims[("email", True)]["purpose"] == {
        "vi": "Mục đích thử nghiệm: email",
        "en": "Test purpose: email",
    }
    assert claims[("email", True)]["notice"]["version"] == 1

    assert [r["action"] for r in data["receipts"]] == ["claim_withdrawn", "granted"]
    jwks = receipts.public_jwks(db)
    for rec in data["receipts"]:
        payload = receipts.verify_receipt(rec["jws"], jwks)
        assert payload["jti"] == rec["id"]
        assert payload["action"] == rec["action"]

    logged = db.scalars(select(Release.id).where(Release.citizen_id == citizen.id)).all()
    assert sorted(h["id"] for h in data["history"]) == sorted(logged)
    assert all(h["client_id"] == portal.client_id for h in data["history"])


def test_my_data_of_a_new_citizen(client, db, citizen):
    sign_in(client, citizen)
    data = client.get("/account/data.json").get_json()
    assert data["profile"]["cccd"] == citizen.profile["cccd"]
    assert data["grants"] == []
    assert data["receipts"] == []
    assert data["history"] == []


def test_my_data_holds_only_this_citizens_data(client, db, settings, citizen, portal):
    other = new_citizen(db, settings)
    obtain_tokens(client, portal, other, scope="openid profile email")
    client.post("/signout", data={"csrf_token": page_csrf(client, "/account")})
    sign_in(client, citizen)
    body = client.get("/account/data.json").get_data(as_text=True)
    assert other.profile["cccd"] not in body
    assert other.profile["email"] not in body
    assert json.loads(body)["grants"] == []


def test_account_page_and_header_link_the_pages(client, db, citizen):
    sign_in(client, citizen)
    page = check_html(client.get("/account"), 200)
    for href in ("/account/portals", "/account/history", "/account/data.json"):
        assert page.count(f'href="{href}"') == 2, href  # account page and header
    assert 'action="/account/delete"' in page
    for path in ("/account/portals", "/account/history"):
        other_page = check_html(client.get(path), 200)
        assert 'href="/account/data.json"' in other_page
    client.post("/signout", data={"csrf_token": page_csrf(client, "/account")})
    home = check_html(client.get("/"), 200)
    assert 'href="/account/portals"' not in home
