"""Deleting an account: grants withdrawn with receipts, tokens dead, session ended, profile
erased; the release log and the receipts stay without the link to the person."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, text

from idp.citizens.models import Citizen
from idp.consent.models import ConsentGrant, Receipt, Release
from idp.tokens.models import Token
from tests.badinput.conftest import check_clean, check_error_page, check_html, obtain_tokens
from tests.support.factories import PASSWORD, CitizenInfo, PortalInfo, new_citizen, new_portal
from tests.support.useragent import page_csrf, sign_in


@pytest.fixture
def portals(db: Any) -> tuple[PortalInfo, PortalInfo]:
    return new_portal(db, name="Cổng đất đai"), new_portal(db, name="Cổng thuế")


def counts(db: Any) -> dict[str, int]:
    tables = (
        "citizens",
        "consent_grants",
        "consent_claims",
        "consent_receipts",
        "tokens",
        "releases",
        "password_links",
    )
    return {
        t: int(db.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())  # noqa: S608
        for t in tables
    }


def delete(client: Any, **data: Any) -> Any:
    return client.post(
        "/account/delete", data={"csrf_token": page_csrf(client, "/account"), **data}
    )


def userinfo(client: Any, token: str) -> Any:
    return client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def connected(
    client: Any, db: Any, citizen: CitizenInfo, portals: tuple[PortalInfo, PortalInfo]
) -> list[dict[str, Any]]:
    """The citizen signed in, with tokens at two portals and some releases."""
    land, tax = portals
    issued = [
        obtain_tokens(client, land, citizen, scope="openid profile email offline_access"),
        obtain_tokens(client, tax, citizen, scope="openid cccd"),
    ]
    for tokens in issued:
        assert userinfo(client, tokens["access_token"]).status_code == 200
    return issued


def test_delete_account(client, db, citizen, portals, connected):
    release_ids = sorted(
        db.scalars(select(Release.id).where(Release.citizen_id == citizen.id)).all()
    )
    assert len(release_ids) >= 4
    grant_ids = db.scalars(
        select(ConsentGrant.id).where(ConsentGrant.citizen_id == citizen.id)
    ).all()
    assert len(grant_ids) == 2

    resp = delete(client, password=PASSWORD, confirm="yes")
    page = check_html(resp, 200)
    assert 'id="account-deleted"' in page
    # The sign-in cookie is cleared.
    assert any(c.startswith("idp_sso=;") for c in resp.headers.getlist("Set-Cookie"))
    assert 'href="/account/portals"' not in page  # the header no longer shows account links

    db.expire_all()
    assert db.get(Citizen, citizen.id) is None
    assert (
        db.scalar(
            select(func.count()).select_from(ConsentGrant).where(ConsentGrant.id.in_(grant_ids))
        )
        == 0
    )
    assert (
        db.scalar(select(func.count()).select_from(Token).where(Token.citizen_id == citizen.id))
        == 0
    )
    # The release log is kept, unlinked from the person.
    kept = db.execute(
        select(Release.id, Release.citizen_id, Release.grant_id).where(Release.id.in_(release_ids))
    ).all()
    assert sorted(r.id for r in kept) == release_ids
    assert all(r.citizen_id is None and r.grant_id is None for r in kept)
    # So are the receipts, with a "withdrawn" one per grant.
    actions = db.scalars(
        select(Receipt.action).where(
            Receipt.citizen_id.is_(None), Receipt.portal_id.in_([p.id for p in portals])
        )
    ).all()
    assert sorted(actions) == ["granted", "granted", "withdrawn", "withdrawn"]

    # Every token is dead at the next request.
    land = portals[0]
    for tokens in connected:
        dead = userinfo(client, tokens["access_token"])
        assert dead.status_code == 401
        assert dead.get_json()["error"] == "invalid_token"
    intro = client.post(
        "/introspect",
        data={"token": connected[0]["access_token"]},
        auth=(land.client_id, land.secret),
    )
    assert intro.get_json() == {"active": False}
    refresh = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": connected[0]["refresh_token"]},
        auth=(land.client_id, land.secret),
    )
    assert refresh.get_json()["error"] == "invalid_grant"

    # Signed out, and the old credentials open nothing.
    resp = client.get("/account")
    assert resp.status_code == 303
    assert urlsplit(resp.headers["Location"]).path == "/signin"
    resp = client.post(
        "/signin",
        data={
            "csrf_token": page_csrf(client, "/signin"),
            "identifier": citizen.identifier,
            "password": PASSWORD,
        },
    )
    assert resp.status_code == 401


def test_delete_without_grants(client, db, citizen):
    sign_in(client, citizen)
    page = check_html(delete(client, password=PASSWORD, confirm="yes"), 200)
    assert 'id="account-deleted"' in page
    db.expire_all()
    assert db.get(Citizen, citizen.id) is None


@pytest.mark.parametrize(
    "form",
    [
        {"password": "not the password", "confirm": "yes"},
        {"password": "", "confirm": "yes"},
        {"password": PASSWORD + " ", "confirm": "yes"},
        {"password": "x" * 5000, "confirm": "yes"},
        {"password": "\x00", "confirm": "yes"},
        {"confirm": "yes"},
        {"password": PASSWORD},
        {"password": PASSWORD, "confirm": "no"},
        {"password": PASSWORD, "confirm": ""},
    ],
)
def test_refused_deletion_changes_nothing(client, db, citizen, connected, form):
    before = counts(db)
    resp = delete(client, **form)
    page = check_html(resp, 400)
    assert 'id="delete-error"' in page
    assert 'role="alert"' in page
    assert counts(db) == before
    db.expire_all()
    assert db.get(Citizen, citizen.id) is not None
    for tokens in connected:
        assert userinfo(client, tokens["access_token"]).status_code == 200
    assert client.get("/account").status_code == 200  # still signed in


@pytest.mark.parametrize("token", [None, "", "garbage"])
def test_deletion_without_csrf_is_refused(client, db, citizen, connected, token):
    before = counts(db)
    data = {"password": PASSWORD, "confirm": "yes"}
    if token is not None:
        data["csrf_token"] = token
    check_error_page(client.post("/account/delete", data=data), 400)
    assert counts(db) == before
    assert client.get("/account").status_code == 200


def test_deletion_leaves_other_citizens_alone(client, db, settings, citizen, portals):
    other = new_citizen(db, settings)
    theirs = obtain_tokens(client, portals[0], other, scope="openid profile")
    client.post("/signout", data={"csrf_token": page_csrf(client, "/account")})
    sign_in(client, citizen)
    check_html(delete(client, password=PASSWORD, confirm="yes"), 200)
    db.expire_all()
    assert db.get(Citizen, other.id) is not None
    assert userinfo(client, theirs["access_token"]).status_code == 200
    assert (
        db.scalar(
            select(func.count())
            .select_from(ConsentGrant)
            .where(ConsentGrant.citizen_id == other.id, ConsentGrant.revoked_at.is_(None))
        )
        == 1
    )


def test_deleted_page_is_not_reachable_by_get(client, db, citizen):
    sign_in(client, citizen)
    resp = client.get("/account/delete")
    check_clean(resp)
    assert resp.status_code == 405
