"""Verified contacts: the email by a one-time link, the phone by a code sent by SMS;
portals see it in ``email_verified`` / ``phone_number_verified``; changing a contact
makes it unverified again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from idp.citizens import service
from idp.citizens.models import Citizen
from tests.support.factories import new_citizen
from tests.support.useragent import UserAgent, page_csrf


@pytest.fixture
def citizen(db, settings):
    return new_citizen(db, settings, email="lan@example.vn", phone="0905111333")


@pytest.fixture
def signed_in(app, citizen):
    client = app.test_client()
    UserAgent.over(client).sign_in(citizen.identifier, citizen.password)
    return client


def _post(client: Any, path: str, **data: Any) -> Any:
    resp = client.post(
        f"{path}?lang=en", data={**data, "csrf_token": page_csrf(client, "/account")}
    )
    resp.close()  # messages leave once the response was sent
    return resp


def _row(db: Any, citizen: Any) -> Citizen:
    db.expire_all()
    return db.scalar(select(Citizen).where(Citizen.id == citizen.id))


def test_the_email_link_verifies_once_and_claims_say_so(app, db, signed_in, citizen, inbox):
    page = signed_in.get("/account?lang=en").get_data(as_text=True)
    assert 'id="email-status"' in page
    assert "not verified" in page
    assert service.profile_claims(_row(db, citizen))["email_verified"] is False
    assert _post(signed_in, "/account/verify-email").status_code == 200
    link = inbox.link("lan@example.vn", "verify_email")
    path = "/" + link.split("/", 3)[3]
    # Opened anywhere (the mail app's browser): no session needed.
    assert app.test_client().get(path).status_code == 200
    assert service.profile_claims(_row(db, citizen))["email_verified"] is True
    assert app.test_client().get(path).status_code == 400  # once


def test_the_phone_code_verifies_and_claims_say_so(db, signed_in, citizen, inbox):
    resp = _post(signed_in, "/account/verify-phone")
    assert 'id="phone-code"' in resp.get_data(as_text=True)
    code = inbox.code("+84905111333", "verify_phone")
    wrong = _post(signed_in, "/account/verify-phone/code", code=f"{(int(code) + 1) % 10**6:06d}")
    assert wrong.status_code == 400
    assert _row(db, citizen).phone_verified is False
    assert _post(signed_in, "/account/verify-phone/code", code=code).status_code == 200
    assert service.profile_claims(_row(db, citizen))["phone_number_verified"] is True
    # Used: the same code again verifies nothing more and is refused.
    assert _post(signed_in, "/account/verify-phone/code", code=code).status_code == 400


def test_changing_a_contact_unverifies_it_and_old_proofs_prove_nothing(
    app, db, signed_in, citizen, inbox
):
    _post(signed_in, "/account/verify-email")
    link = inbox.link("lan@example.vn", "verify_email")
    _post(signed_in, "/account/verify-phone")
    code = inbox.code("+84905111333", "verify_phone")
    row = _row(db, citizen)
    changed = _post(
        signed_in,
        "/account/contacts",
        email="moi@example.vn",
        phone="0905111444",
        province=str(row.province_code),
        commune=str(row.ward_code),
        street=row.street,
    )
    assert changed.status_code == 200
    assert app.test_client().get("/" + link.split("/", 3)[3]).status_code == 400
    assert _post(signed_in, "/account/verify-phone/code", code=code).status_code == 400
    row = _row(db, citizen)
    assert (row.email_verified, row.phone_verified) == (False, False)


def test_verified_contacts_lose_the_mark_when_changed(db, signed_in, citizen):
    row = _row(db, citizen)
    row.email_verified = row.phone_verified = True
    db.commit()
    _post(
        signed_in,
        "/account/contacts",
        email="khac@example.vn",
        phone=row.phone,
        province=str(row.province_code),
        commune=str(row.ward_code),
        street=row.street,
    )
    row = _row(db, citizen)
    assert (row.email_verified, row.phone_verified) == (False, True)


def test_wrong_codes_are_limited(app, db, signed_in, citizen, inbox):
    _post(signed_in, "/account/verify-phone")
    code = inbox.code("+84905111333", "verify_phone")
    rule = app.extensions["idp.limiter"].rules["verify_account"]
    for _ in range(rule.amount):
        _post(signed_in, "/account/verify-phone/code", code="000000")
    resp = _post(signed_in, "/account/verify-phone/code", code="000000")
    assert "Too many" in resp.get_data(as_text=True)
    assert _post(signed_in, "/account/verify-phone/code", code=code).status_code == 400
    assert _row(db, citizen).phone_verified is False


@pytest.mark.parametrize("path", ["/account/verify-email", "/account/verify-phone"])
def test_sending_needs_a_session(client, path):
    resp = client.post(path, data={"csrf_token": page_csrf(client, "/signin")})
    assert resp.status_code == 303
    assert "/signin" in resp.headers["Location"]


@pytest.mark.parametrize("token", ["short", "x" * 43, "x" * 300])
def test_unknown_email_links_get_a_clear_page(client, token):
    assert client.get(f"/verify-email/{token}").status_code == 400


@pytest.mark.parametrize("code", ["", "x" * 100, "12 34 56", ["1", "2"]])
def test_bad_codes_are_refused_cleanly(db, signed_in, citizen, inbox, code):
    _post(signed_in, "/account/verify-phone")
    assert _post(signed_in, "/account/verify-phone/code", code=code).status_code == 400
    assert _row(db, citizen).phone_verified is False
