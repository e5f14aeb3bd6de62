"""The connected-portals page: what each portal holds, withdrawal of one claim or a grant.

Runs on both backends through the Flask test client; the token flows are real (authorize
→ sign in → consent → /token, then /userinfo, /introspect and refresh).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, text

from idp.claims import CLAIM_ITEMS
from idp.consent import grants as consent_grants
from idp.consent import notices, receipts, releases
from idp.consent.models import ConsentClaim, ConsentGrant, Receipt
from tests.badinput.conftest import (
    auth_params,
    body_of,
    check_clean,
    check_error_page,
    check_html,
    obtain_tokens,
)
from tests.support.factories import PASSWORD, CitizenInfo, PortalInfo, new_portal
from tests.support.useragent import page_csrf, sign_in

SECTION = re.compile(
    r'<section class="card portal" data-client-id="([^"]+)"[^>]*>(.*?)</section>', re.S
)
CLAIM_LI = re.compile(r'<li data-claim="([^"]+)" class="(granted|declined)">(.*?)</li>', re.S)
RECEIPT_LINK = re.compile(r'<a class="receipt" href="(/account/receipts/[^"]+\.jwt)"')


@pytest.fixture
def portal(db: Any) -> PortalInfo:
    return new_portal(db, name="Cổng dịch vụ đất đai")


def sections(page: str) -> dict[str, str]:
    return dict(SECTION.findall(page))


def counts(db: Any) -> dict[str, int]:
    tables = (
        "citizens",
        "consent_grants",
        "consent_claims",
        "consent_receipts",
        "tokens",
        "releases",
    )
    return {
        t: int(db.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())  # noqa: S608
        for t in tables
    }


def grant_of(db: Any, citizen: CitizenInfo, portal: PortalInfo) -> str | None:
    """Return the id of the citizen's live grant to the portal."""
    return db.scalar(
        select(ConsentGrant.id).where(
            ConsentGrant.citizen_id == citizen.id,
            ConsentGrant.portal_id == portal.id,
            ConsentGrant.revoked_at.is_(None),
        )
    )


def post_form(client: Any, path: str, **data: Any) -> Any:
    """POST one of the account forms with the CSRF token of the account page."""
    return client.post(path, data={"csrf_token": page_csrf(client, "/account"), **data})


def userinfo(client: Any, access_token: str) -> Any:
    return client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})


# -- signed out ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/account/portals",
        "/account/history",
        "/account/history.csv",
        "/account/history.json",
        "/account/data.json",
        f"/account/receipts/{uuid.uuid4()}.jwt",
    ],
)
def test_signed_out_visitor_goes_to_signin(client, path):
    resp = client.get(path)
    assert resp.status_code == 303
    assert urlsplit(resp.headers["Location"]).path == "/signin"


@pytest.mark.parametrize(
    "path",
    [
        f"/account/portals/{uuid.uuid4()}/withdraw",
        f"/account/portals/{uuid.uuid4()}/claims/email/withdraw",
        "/account/delete",
    ],
)
def test_signed_out_post_goes_to_signin(client, path):
    resp = client.post(
        path,
        data={"csrf_token": page_csrf(client, "/signin"), "password": PASSWORD, "confirm": "yes"},
    )
    assert resp.status_code == 303
    assert urlsplit(resp.headers["Location"]).path == "/signin"


# -- the page -------------------------------------------------------------------------


def test_page_lists_portals_claims_purposes_and_dates(client, db, citizen):
    land = new_portal(db, name="Cổng đất đai")
    tax = new_portal(db, name="Cổng thuế")
    notice = notices.current_notice(db, land.id)
    land_grant, _ = consent_grants.record_decision(
        db,
        citizen_id=citizen.id,
        portal_id=land.id,
        notice=notice,
        shown={"name", "email", "phone_number"},
        granted={"name", "email"},
        scopes={"openid"},
    )
    decided = dt.datetime(2026, 3, 1, 18, 5, tzinfo=dt.UTC)  # 02/03/2026 01:05 in Vietnam
    for row in db.scalars(select(ConsentClaim).where(ConsentClaim.grant_id == land_grant.id)):
        row.decided_at = decided
    land_grant.created_at = decided
    release = releases.log_release(
        db,
        citizen_id=citizen.id,
        portal_id=land.id,
        grant_id=land_grant.id,
        channel="userinfo",
        claims=["sub", "name", "email"],
    )
    release.released_at = dt.datetime(2026, 3, 2, 2, 30, tzinfo=dt.UTC)
    consent_grants.record_decision(
        db,
        citizen_id=citizen.id,
        portal_id=tax.id,
        notice=notices.current_notice(db, tax.id),
        shown={"cccd"},
        granted={"cccd"},
        scopes={"openid", "offline_access"},
    )
    db.commit()
    sign_in(client, citizen)

    page = check_html(client.get("/account/portals"), 200)
    found = sections(page)
    # Newest grant first.
    assert list(found) == [tax.client_id, land.client_id]
    land_html = found[land.client_id]
    assert "<h2" in land_html
    assert "Cổng đất đai" in land_html
    claims = {item: (state, body) for item, state, body in CLAIM_LI.findall(land_html)}
    assert set(claims) == {"name", "email", "phone_number"}
    assert claims["name"][0] == "granted"
    assert claims["email"][0] == "granted"
    assert claims["phone_number"][0] == "declined"
    # Purposes in the page language (Vietnamese by default), from the notice decided under.
    assert "Mục đích thử nghiệm: email" in claims["email"][1]
    assert "02/03/2026 01:05" in claims["email"][1]
    assert "02/03/2026 01:05" in land_html  # granted on
    assert "02/03/2026 09:30" in land_html  # last released (Vietnam time)
    # One withdraw form per granted claim, none for the declined one; one for the grant.
    assert land_html.count('class="withdraw-claim') == 2
    assert "phone_number/withdraw" not in land_html
    assert f"/account/portals/{land_grant.id}/claims/email/withdraw" in land_html
    assert f"/account/portals/{land_grant.id}/withdraw" in land_html
    assert f'id="withdraw-{land.client_id}"' in land_html
    assert 'name="csrf_token"' in land_html
    tax_html = found[tax.client_id]
    assert "offline" in tax_html
    # Nothing released to it yet: no date under "last shared".
    assert re.search(r'class="last-release">\s*\d', tax_html) is None

    english = check_html(client.get("/account/portals?lang=en"), 200)
    assert "Test purpose: email" in sections(english)[land.client_id]


def test_real_flow_shows_portal_and_receipt(client, db, citizen, portal):
    obtain_tokens(client, portal, citizen, scope="openid profile email")
    page = check_html(client.get("/account/portals"), 200)
    html = sections(page)[portal.client_id]
    assert "Cổng dịch vụ đất đai" in html
    assert {i for i, _, _ in CLAIM_LI.findall(html)} == {"name", "birthdate", "gender", "email"}
    links = RECEIPT_LINK.findall(html)
    assert len(links) == 1
    resp = client.get(links[0])
    assert resp.status_code == 200
    assert resp.mimetype == "application/jose"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.headers["Cache-Control"] == "no-store"
    payload = receipts.verify_receipt(body_of(resp), receipts.public_jwks(db))
    assert payload["action"] == "granted"
    assert payload["client_id"] == portal.client_id


def test_no_portals(client, db, citizen):
    sign_in(client, citizen)
    page = check_html(client.get("/account/portals"), 200)
    assert 'id="no-portals"' in page
    assert sections(page) == {}


# -- withdrawal -----------------------------------------------------------------------


def test_withdraw_one_claim_stops_its_release(client, db, citizen, portal):
    tokens = obtain_tokens(client, portal, citizen, scope="openid profile email phone")
    before = userinfo(client, tokens["access_token"]).get_json()
    assert before["email"] == citizen.profile["email"]
    assert before["phone_number"] == citizen.profile["phone"]
    grant_id = grant_of(db, citizen, portal)

    resp = post_form(client, f"/account/portals/{grant_id}/claims/email/withdraw")
    assert resp.status_code == 303
    assert urlsplit(resp.headers["Location"]).path == "/account/portals"

    after = userinfo(client, tokens["access_token"])
    assert after.status_code == 200  # the token lives on, without that claim
    data = after.get_json()
    assert "email" not in data
    assert "email_verified" not in data
    assert data["phone_number"] == citizen.profile["phone"]
    assert data["name"]

    page = check_html(client.get("/account/portals"), 200)
    assert 'role="status"' in page
    html = sections(page)[portal.client_id]
    assert "email" not in {i for i, _, _ in CLAIM_LI.findall(html)}
    rows = db.scalars(
        select(Receipt).where(Receipt.grant_id == grant_id).order_by(Receipt.created_at)
    ).all()
    assert [r.action for r in rows] == ["granted", "claim_withdrawn"]
    payload = receipts.verify_receipt(rows[-1].jws, receipts.public_jwks(db))
    decided = {c["claim"]: c["granted"] for c in payload["claims"]}
    assert decided["email"] is False
    assert decided["phone_number"] is True
    assert decided["name"] is True
    assert len(RECEIPT_LINK.findall(html)) == 2

    # Withdrawing it again changes nothing and says so.
    again = post_form(client, f"/account/portals/{grant_id}/claims/email/withdraw")
    assert again.status_code == 303
    assert (
        db.scalar(select(func.count()).select_from(Receipt).where(Receipt.grant_id == grant_id))
        == 2
    )


def test_withdraw_grant_kills_tokens_and_prompts_again(client, db, citizen, portal):
    tokens = obtain_tokens(client, portal, citizen, scope="openid profile offline_access")
    assert "refresh_token" in tokens
    assert userinfo(client, tokens["access_token"]).status_code == 200
    grant_id = grant_of(db, citizen, portal)

    resp = post_form(client, f"/account/portals/{grant_id}/withdraw")
    assert resp.status_code == 303

    dead = userinfo(client, tokens["access_token"])
    assert dead.status_code == 401
    assert dead.get_json()["error"] == "invalid_token"
    intro = client.post(
        "/introspect",
        data={"token": tokens["access_token"]},
        auth=(portal.client_id, portal.secret),
    )
    assert intro.status_code == 200
    assert intro.get_json() == {"active": False}
    intro = client.post(
        "/introspect",
        data={"token": tokens["refresh_token"]},
        auth=(portal.client_id, portal.secret),
    )
    assert intro.get_json() == {"active": False}
    refresh = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(portal.client_id, portal.secret),
    )
    assert refresh.status_code == 400
    assert refresh.get_json()["error"] == "invalid_grant"

    db.expire_all()
    row = db.get(ConsentGrant, grant_id)
    assert row.revoked_at is not None
    assert (
        db.scalar(
            select(func.count())
            .select_from(ConsentClaim)
            .where(ConsentClaim.grant_id == grant_id, ConsentClaim.withdrawn_at.is_(None))
        )
        == 0
    )
    actions = [
        r.action
        for r in db.scalars(
            select(Receipt).where(Receipt.grant_id == grant_id).order_by(Receipt.created_at)
        )
    ]
    assert actions == ["granted", "withdrawn"]

    page = check_html(client.get("/account/portals"), 200)
    assert portal.client_id not in sections(page)
    past = page[page.index('id="past-connections"') :]
    assert f'data-client-id="{portal.client_id}"' in past
    links = RECEIPT_LINK.findall(past)
    assert len(links) == 2  # receipts of a withdrawn grant stay downloadable
    for link in links:
        assert client.get(link).status_code == 200

    # The next sign-in at that portal asks again.
    resp = client.get("/authorize", query_string=auth_params(portal, scope="openid profile"))
    for _ in range(5):
        if resp.status_code not in (302, 303):
            break
        resp = client.get(resp.headers["Location"])
    assert resp.request.path == "/consent"
    assert resp.status_code == 200


def test_withdraw_grant_twice_writes_nothing_more(client, db, citizen, portal):
    obtain_tokens(client, portal, citizen)
    grant_id = grant_of(db, citizen, portal)
    assert post_form(client, f"/account/portals/{grant_id}/withdraw").status_code == 303
    before = counts(db)
    again = post_form(client, f"/account/portals/{grant_id}/withdraw")
    assert again.status_code == 303
    assert counts(db) == before
    # And its claims cannot be withdrawn any more either.
    assert post_form(client, f"/account/portals/{grant_id}/claims/name/withdraw").status_code == 303
    assert counts(db) == before


# -- bad input ------------------------------------------------------------------------


def test_another_citizens_grant_is_404_and_untouched(client, db, citizen, other, portal):
    obtain_tokens(client, portal, other, scope="openid profile email")
    theirs_id = grant_of(db, other, portal)
    client.post("/signout", data={"csrf_token": page_csrf(client, "/account")})
    sign_in(client, citizen)
    before = counts(db)
    for path in (
        f"/account/portals/{theirs_id}/withdraw",
        f"/account/portals/{theirs_id}/claims/email/withdraw",
    ):
        page = check_error_page(post_form(client, path), 404)
        assert other.profile["email"] not in page
    receipt = db.scalar(select(Receipt).where(Receipt.grant_id == theirs_id))
    check_error_page(client.get(f"/account/receipts/{receipt.id}.jwt"), 404)
    assert counts(db) == before
    assert grant_of(db, other, portal) is not None


@pytest.mark.parametrize(
    "grant_id",
    [
        "00000000-0000-4000-8000-000000000000",
        "x",
        "%00",
        "%ff%fe",
        "a" * 300,
        "00000000-0000-4000-8000-00000000000G",
        "' OR 1=1 --",
        "1e308",
    ],
)
def test_unknown_grant_ids_are_404(client, db, citizen, grant_id):
    sign_in(client, citizen)
    for path in (
        f"/account/portals/{grant_id}/withdraw",
        f"/account/portals/{grant_id}/claims/email/withdraw",
    ):
        resp = post_form(client, path)
        check_clean(resp)
        assert resp.status_code == 404, (path, resp.status_code)
    resp = client.get(f"/account/receipts/{grant_id}.jwt")
    check_clean(resp)
    assert resp.status_code == 404


@pytest.mark.parametrize(
    "item", ["sub", "openid", "offline_access", "EMAIL", "%00", "x" * 300, "family_name"]
)
def test_unknown_claim_item_is_404(client, db, citizen, portal, item):
    obtain_tokens(client, portal, citizen)
    grant_id = grant_of(db, citizen, portal)
    before = counts(db)
    resp = post_form(client, f"/account/portals/{grant_id}/claims/{item}/withdraw")
    check_clean(resp)
    assert resp.status_code == 404
    assert counts(db) == before


def test_declined_or_unheld_claim_is_not_withdrawn(client, db, citizen, portal):
    obtain_tokens(client, portal, citizen, scope="openid profile")
    grant_id = grant_of(db, citizen, portal)
    before = counts(db)
    for item in ("cccd", "email"):
        assert item in CLAIM_ITEMS
        resp = post_form(client, f"/account/portals/{grant_id}/claims/{item}/withdraw")
        assert resp.status_code == 303
    assert counts(db) == before


@pytest.mark.parametrize("token", [None, "", "garbage"])
def test_missing_csrf_is_400_and_nothing_changes(client, db, citizen, portal, token):
    tokens = obtain_tokens(client, portal, citizen, scope="openid profile email")
    grant_id = grant_of(db, citizen, portal)
    before = counts(db)
    data = {} if token is None else {"csrf_token": token}
    for path in (
        f"/account/portals/{grant_id}/withdraw",
        f"/account/portals/{grant_id}/claims/email/withdraw",
    ):
        check_error_page(client.post(path, data=data), 400)
    assert counts(db) == before
    assert "email" in userinfo(client, tokens["access_token"]).get_json()


def test_wrong_methods(client, db, citizen):
    sign_in(client, citizen)
    gid = uuid.uuid4()
    check_error_page(client.get(f"/account/portals/{gid}/withdraw"), 405)
    check_error_page(client.get(f"/account/portals/{gid}/claims/email/withdraw"), 405)
    check_error_page(client.get("/account/delete"), 405)


def test_the_portal_is_named_in_the_page_language(client, db, citizen):
    named = new_portal(db, name="Cổng Thuế Đà Nẵng", name_en="Da Nang Tax Portal")
    unnamed = new_portal(db, name="Cổng Hộ tịch")  # no English name: the Vietnamese one
    for each in (named, unnamed):
        obtain_tokens(client, each, citizen, scope="openid profile")
    vietnamese = sections(check_html(client.get("/account/portals?lang=vi"), 200))
    english = sections(check_html(client.get("/account/portals?lang=en"), 200))
    assert "Cổng Thuế Đà Nẵng" in vietnamese[named.client_id]
    assert "Da Nang Tax Portal" not in vietnamese[named.client_id]
    assert "Da Nang Tax Portal" in english[named.client_id]
    assert "Cổng Thuế Đà Nẵng" not in english[named.client_id]
    assert "Cổng Hộ tịch" in english[unnamed.client_id]


def test_the_consent_page_names_the_portal_in_the_page_language(client, db, citizen):
    from tests.consent.helpers import Browser

    portal = new_portal(db, name="Cổng Thuế Đà Nẵng", name_en="Da Nang Tax Portal")
    browser = Browser(client, citizen)
    first, _, _ = browser.start(portal, scope="openid profile", ui_locales="en")
    page = browser.follow(first, portal)
    html = page.get_data(as_text=True)
    assert "Da Nang Tax Portal asks for your data" in html
    assert "Cổng Thuế Đà Nẵng" not in html
