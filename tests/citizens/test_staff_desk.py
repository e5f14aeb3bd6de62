"""Staff accounts and the desk pages: set-up through a one-time link (password, then an
authenticator app), sign-in at level 2 only, the desk_officer role, verifying a
citizen from the card, registering the card's holder. Flask test client, both backends."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from idp.citizens import identity
from idp.citizens.models import Citizen, IdentityVerification
from idp.staff import service as staff
from idp.staff.models import StaffAccount
from tests.consent.helpers import body, counts
from tests.support.factories import PASSWORD, new_citizen, profile_data
from tests.support.forms import csrf_token
from tests.support.staff import (
    EMAIL,
    STAFF_PASSWORD,
    add_officer,
    post_form,
    set_up,
    staff_sign_in,
)
from tests.support.useragent import sign_in


@pytest.fixture
def officer(client, db, settings, clock):
    staff_id, token = add_officer(db, settings)
    key = set_up(client, token, clock)
    resp = staff_sign_in(client, key, clock)
    assert resp.status_code == 303
    assert resp.location.endswith("/staff/desk")
    return staff_id, key


def test_setup_then_sign_in_needs_password_and_code(client, db, settings, clock):
    staff_id, token = add_officer(db, settings)
    assert not db.get(StaffAccount, staff_id).ready
    # A weak password is refused; nothing is stored yet.
    weak = post_form(client, f"/staff/setup/{token}", {"step": "password", "password": "12345678"})
    assert weak.status_code == 400
    key = set_up(client, token, clock)
    db.expire_all()
    account = db.get(StaffAccount, staff_id)
    assert account.ready
    assert STAFF_PASSWORD not in (account.password_hash or "")
    assert key not in (account.totp_sealed or "")
    # The link worked once.
    assert client.get(f"/staff/setup/{token}").status_code == 404
    # The password alone opens nothing: the desk needs the code too.
    first = post_form(client, "/staff/signin", {"email": EMAIL, "password": STAFF_PASSWORD})
    assert first.status_code == 200
    assert 'name="pending"' in body(first)
    assert client.get("/staff/desk").status_code == 303
    wrong = staff_sign_in(client, key, clock, password="not the password")
    assert wrong.status_code == 401
    resp = staff_sign_in(client, key, clock)
    assert resp.status_code == 303
    cookie = resp.headers["Set-Cookie"]
    assert "idp_staff=" in cookie
    assert "Path=/staff" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert client.get("/staff/desk").status_code == 200


def test_a_wrong_code_and_a_replayed_code_are_refused(client, db, settings, clock):
    _, token = add_officer(db, settings)
    key = set_up(client, token, clock)
    first = post_form(client, "/staff/signin", {"email": EMAIL, "password": STAFF_PASSWORD})
    pending = re.search(r'name="pending" value="([^"]+)"', body(first)).group(1)
    token_ = csrf_token(body(first))
    # The code typed at set-up was used: the same code is refused.
    replay = pyotp.TOTP(key).at(clock.now)
    for code in ("000000" if replay != "000000" else "111111", replay):
        resp = client.post(
            "/staff/signin", data={"pending": pending, "code": code, "csrf_token": token_}
        )
        assert resp.status_code == 401
    assert client.get("/staff/desk").status_code == 303


def test_guessing_a_staff_password_is_capped(client, db, settings, clock):
    _, token = add_officer(db, settings)
    key = set_up(client, token, clock)
    limit = int(dict(settings.limits)["signin_account"].split("/")[0])
    for _ in range(limit):
        assert staff_sign_in(client, key, clock, password="wrong password 1").status_code == 401
    # Locked for the window: even the right password is refused, the same way.
    assert staff_sign_in(client, key, clock).status_code == 401


def test_a_citizen_session_never_opens_staff_pages(client, db, settings):
    citizen = new_citizen(db, settings)
    sign_in(client, citizen)
    resp = client.get("/staff/desk")
    assert resp.status_code == 303
    assert "/staff/signin" in resp.location


def test_a_staff_account_without_the_role_gets_403(client, db, officer):
    db.get(StaffAccount, officer[0]).roles = []
    db.commit()
    resp = client.get("/staff/desk?lang=en")
    assert resp.status_code == 403
    assert "role" in body(resp)


def test_a_disabled_account_is_signed_out(client, db, officer):
    staff.disable_staff(db, db.get(StaffAccount, officer[0]))
    db.commit()
    assert client.get("/staff/desk").status_code == 303


def test_sign_out_ends_the_staff_session(client, officer):
    resp = post_form(client, "/staff/signout", {}, page="/staff/desk")
    assert resp.status_code == 303
    assert client.get("/staff/desk").status_code == 303


def test_find_by_number_and_verify_from_the_card(client, db, settings, officer, inbox):
    citizen = new_citizen(db, settings)
    page = post_form(
        client, "/staff/desk/find", {"cccd": " ".join(citizen.profile["cccd"])}, "/staff/desk"
    )
    assert page.status_code == 200
    html = body(page)
    assert citizen.id in html
    assert 'data-level="declared"' in html
    path = f"/staff/desk/citizen/{citizen.id}/verify"
    form = {k: citizen.profile[k] for k in ("family_name", "middle_name", "given_name")}
    form |= {"birthdate": citizen.profile["birthdate"], "gender": citizen.profile["gender"]}
    token = csrf_token(html)
    unchecked = client.post(path, data={**form, "csrf_token": token})
    assert unchecked.status_code == 400
    assert (
        db.scalar(
            select(IdentityVerification.id).where(IdentityVerification.citizen_id == citizen.id)
        )
        is None
    )
    bad = client.post(
        path, data={**form, "birthdate": "31/02/1990", "card_checked": "yes", "csrf_token": token}
    )
    assert bad.status_code == 400
    assert (
        db.scalar(
            select(IdentityVerification.id).where(IdentityVerification.citizen_id == citizen.id)
        )
        is None
    )
    done = client.post(path, data={**form, "card_checked": "yes", "csrf_token": token})
    assert done.status_code == 200, body(done)
    assert 'id="verified"' in body(done)
    levels = identity.assurance_of(db, db.get(Citizen, citizen.id)).levels()
    assert set(levels.values()) == {"desk_verified"}
    row = identity.history(db, citizen.id)[0]
    assert (row.officer_id, row.unit_code) == (officer[0], "48")
    assert inbox.last(citizen.profile["phone"], "identity_verified")


@pytest.mark.parametrize("typed", ["", "abc", "12345", "0" * 12, "x" * 100])
def test_a_bad_number_is_a_clear_error(client, officer, typed):
    resp = post_form(client, "/staff/desk/find?lang=en", {"cccd": typed}, "/staff/desk?lang=en")
    assert resp.status_code == 400
    assert "12 digits" in body(resp)


def test_an_unknown_number_offers_desk_registration(client, officer):
    number = profile_data()["cccd"]
    resp = post_form(client, "/staff/desk/find", {"cccd": number}, "/staff/desk")
    assert resp.status_code == 200
    assert f'value="{number}"' in body(resp)
    assert 'action="/staff/desk/register"' in body(resp)


def test_the_card_holder_is_registered_and_the_squatter_loses_the_number(
    client, db, settings, officer, inbox
):
    victim = profile_data()
    same = {k: victim[k] for k in ("cccd", "birthdate", "gender", "family_name", "given_name")}
    squatter = new_citizen(db, settings, **same)
    form = {**victim, "card_checked": "yes"}
    refused = post_form(client, "/staff/desk/register", form)
    assert refused.status_code == 409  # the officer must confirm who holds the card
    assert db.get(Citizen, squatter.id).cccd == victim["cccd"]
    before = counts(db, ("citizens",))
    bad = post_form(
        client, "/staff/desk/register", {**form, "phone": "123", "owner_confirmed": "yes"}
    )
    assert bad.status_code == 400
    assert counts(db, ("citizens",)) == before
    assert db.get(Citizen, squatter.id).cccd == victim["cccd"]
    done = post_form(client, "/staff/desk/register", {**form, "owner_confirmed": "yes"})
    assert done.status_code == 200, body(done)
    html = body(done)
    assert 'id="number-moved"' in html
    assert "/set-password/" in html
    assert done.headers["Cache-Control"] == "no-store"
    db.expire_all()
    assert db.get(Citizen, squatter.id).cccd is None
    owner = db.scalar(select(Citizen).where(Citizen.cccd == victim["cccd"]))
    assert identity.assurance_of(db, owner).level("cccd") == "desk_verified"
    assert inbox.last(squatter.profile["phone"], "cccd_removed")


def test_desk_forms_need_the_csrf_token(client, db, settings, officer):
    citizen = new_citizen(db, settings)
    resp = client.post("/staff/desk/find", data={"cccd": citizen.profile["cccd"]})
    assert resp.status_code == 400
    assert PASSWORD not in body(resp)


@pytest.mark.parametrize(
    ("role", "status"), [("auditor", 403), ("portal_manager", 403), ("admin", 200)]
)
def test_only_desk_officers_and_admins_open_the_desk(client, db, officer, role, status):
    from idp.staff.service import set_roles

    set_roles(db, db.get(StaffAccount, officer[0]), roles=[role])
    db.commit()
    resp = client.get("/staff/desk?lang=en")
    assert resp.status_code == status
    if status == 403:
        assert "role" in body(resp)
