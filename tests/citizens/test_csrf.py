"""CSRF tokens on the forms that change something: refused without a valid token.

Each request is otherwise valid (this browser's pending interaction, a live link, the
right password), so only the missing or foreign CSRF token can explain the 400; the
same form with the page's own token then goes through.
"""

from __future__ import annotations

from typing import Any

import pytest

from idp.citizens import service
from tests.badinput.conftest import auth_params, check_error_page, location_params, row_counts
from tests.support.factories import (
    CitizenInfo,
    PortalInfo,
    new_citizen,
    new_portal,
)
from tests.support.forms import csrf_token
from tests.support.useragent import page_csrf, sign_in

NEW_PASSWORD = "một mật khẩu mới rất dài 2025"


@pytest.fixture
def citizen(db: Any, settings: Any) -> CitizenInfo:
    return new_citizen(db, settings)


@pytest.fixture
def portal(db: Any) -> PortalInfo:
    return new_portal(db)


def foreign_token(app: Any) -> str:
    """Return a CSRF token that is valid, but for another browser."""
    return page_csrf(app.test_client(), "/signin")


def bad_tokens(app: Any) -> list[dict[str, str]]:
    return [{}, {"csrf_token": ""}, {"csrf_token": "garbage"}, {"csrf_token": foreign_token(app)}]


def test_consent_needs_the_pages_csrf_token(app, client, db, portal, citizen):
    sign_in(client, citizen)
    resp = client.get("/authorize", query_string=auth_params(portal))
    target, query = location_params(resp)
    assert target == "/consent"
    iid = query["interaction"][0]
    page = client.get("/consent", query_string={"interaction": iid})
    assert page.status_code == 200
    form = {"interaction": iid, "decision": "approve", "claim": ["profile"]}
    before = row_counts(db)
    for bad in bad_tokens(app):
        check_error_page(client.post("/consent", data={**form, **bad}), 400)
        assert row_counts(db) == before  # no grant, no receipt
    # The interaction is still pending, and the real form goes through.
    assert client.get("/consent", query_string={"interaction": iid}).status_code == 200
    resp = client.post(
        "/consent", data={**form, "csrf_token": csrf_token(page.get_data(as_text=True))}
    )
    assert resp.status_code == 303
    assert row_counts(db)["consent_grants"] == before["consent_grants"] + 1


def test_set_password_needs_the_pages_csrf_token(app, client, db, settings, citizen):
    link = service.create_password_link(db, citizen_id=citizen.id, ttl=3600)
    db.commit()
    page = client.get(f"/set-password/{link}")
    assert page.status_code == 200
    form = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    hasher = service.make_hasher(settings)
    for bad in bad_tokens(app):
        check_error_page(client.post(f"/set-password/{link}", data={**form, **bad}), 400)
        # The link is unused and the password unchanged.
        assert service.peek_password_link(db, link).citizen_id == citizen.id
        assert service.verify_password(
            db, citizen_id=citizen.id, password=citizen.password, hasher=hasher
        )
    resp = client.post(
        f"/set-password/{link}",
        data={**form, "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert resp.status_code == 303
    assert service.peek_password_link(db, link) is None
    assert service.verify_password(db, citizen_id=citizen.id, password=NEW_PASSWORD, hasher=hasher)


def test_sign_in_needs_the_pages_csrf_token(app, client, citizen):
    """Login CSRF: a forged form must not sign the browser in to someone's account."""
    page = client.get("/signin")
    form = {"identifier": citizen.identifier, "password": citizen.password}
    for bad in bad_tokens(app):
        check_error_page(client.post("/signin", data={**form, **bad}), 400)
        assert client.get_cookie("idp_sso") is None
    resp = client.post(
        "/signin", data={**form, "csrf_token": csrf_token(page.get_data(as_text=True))}
    )
    assert resp.status_code == 303
