"""Registration, sign-in, account edits, sign-out and desk password links, through HTTP."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from idp.citizens.models import Citizen
from tests.support.factories import PASSWORD, make_citizen, profile_data
from tests.support.forms import csrf_token
from tests.support.useragent import UserAgent, page_csrf, register_through_pages


def register(client, settings, **overrides):
    return register_through_pages(client, settings, **overrides)


def test_register_signs_in_and_shows_account(client, db, settings):
    data, resp = register(client, settings, family_name="Trần", middle_name="Thị", given_name="Mỹ")
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/account")
    page = client.get("/account").get_data(as_text=True)
    assert "Trần Thị Mỹ" in page
    assert data["cccd"] in page
    citizen = db.scalar(select(Citizen).where(Citizen.cccd == data["cccd"]))
    assert citizen.phone == data["phone"]


def test_names_are_stored_nfc(client, db, settings):
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "Nguyễn")
    data, resp = register(client, settings, family_name=decomposed)
    assert resp.status_code == 303
    citizen = db.scalar(select(Citizen).where(Citizen.cccd == data["cccd"]))
    assert citizen.family_name == unicodedata.normalize("NFC", "Nguyễn")


def test_one_cccd_one_account(client, db, settings, inbox):
    """A second registration with the same CCCD creates nothing: the same page as a
    fresh registration, a notice to the account's owner, no code that opens it."""
    data, first = register(client, settings)
    assert first.status_code == 303
    client.post("/signout", data={"csrf_token": page_csrf(client, "/account")})
    again, second = register(
        client, settings, cccd=data["cccd"], birthdate=data["birthdate"], gender=data["gender"]
    )
    assert second.status_code == 200  # the code page, like any registration
    assert not inbox.to(again["phone"], "registration_code")
    assert inbox.last(data["phone"], "registration_attempt")
    assert (
        db.scalar(select(func.count()).select_from(Citizen).where(Citizen.cccd == data["cccd"]))
        == 1
    )


def test_cccd_mismatch_is_a_field_error_and_nothing_is_written(client, db):
    before = db.scalar(select(func.count()).select_from(Citizen))
    data = profile_data(gender="female", birthdate="2001-03-04")
    data["cccd"] = data["cccd"][:4] + "99" + data["cccd"][6:]  # wrong year
    form = {
        **data,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "csrf_token": page_csrf(client, "/register"),
    }
    resp = client.post("/register", data=form)
    assert resp.status_code == 400
    assert 'id="cccd-error"' in resp.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Citizen)) == before


def test_sign_in_failure_is_generic(client, db, settings):
    citizen = make_citizen(db, settings)
    token = page_csrf(client, "/signin")
    wrong_pw = client.post(
        "/signin", data={"identifier": citizen.cccd, "password": "nope!nope", "csrf_token": token}
    )
    no_account = client.post(
        "/signin", data={"identifier": "001099999999", "password": PASSWORD, "csrf_token": token}
    )
    assert wrong_pw.status_code == no_account.status_code == 401
    strip = re.compile(r'name="(csrf_token|identifier)" value="[^"]*"')
    assert strip.sub("", wrong_pw.get_data(as_text=True)) == strip.sub(
        "", no_account.get_data(as_text=True)
    )


def test_session_id_rotates_at_sign_in(client, db, settings):
    citizen = make_citizen(db, settings)

    headers = []

    def sign_in():
        resp = UserAgent.over(client).sign_in(citizen.cccd, PASSWORD)
        headers.extend(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("idp_sso="))
        return client.get_cookie("idp_sso").value

    first = sign_in()
    second = sign_in()
    assert first != second
    for header in headers:
        attrs = header.lower()
        assert "httponly" in attrs
        assert "samesite=lax" in attrs
        assert "domain=" not in attrs  # host-only


def test_edit_contacts_revalidates(client, db, settings):
    data, _ = register(client, settings)
    token = page_csrf(client, "/account")
    bad = client.post(
        "/account/contacts",
        data={
            "csrf_token": token,
            "phone": "12",
            "email": "x@",
            "province": "48",
            "commune": "70",
            "street": "",
        },
    )
    assert bad.status_code == 400
    body = bad.get_data(as_text=True)
    assert 'id="phone-error"' in body
    assert 'id="commune-error"' in body
    good = client.post(
        "/account/contacts",
        data={
            "csrf_token": token,
            "phone": "0912345678",
            "email": "moi@example.vn",
            "province": "1",
            "commune": "70",
            "street": "1 Tràng Tiền",
        },
    )
    assert good.status_code == 200
    citizen = db.scalar(select(Citizen).where(Citizen.cccd == data["cccd"]))
    assert (citizen.phone, citizen.email, citizen.province_code, citizen.ward_code) == (
        "+84912345678",
        "moi@example.vn",
        1,
        70,
    )


def test_sign_out_ends_the_session(client, settings):
    register(client, settings)
    resp = client.post("/signout", data={"csrf_token": page_csrf(client, "/account")})
    assert resp.status_code == 200
    assert client.get("/account").status_code == 303


def test_account_requires_sign_in(client):
    resp = client.get("/account")
    assert resp.status_code == 303
    assert "/signin" in resp.headers["Location"]


def test_desk_password_link_is_single_use(client, db, settings, app_ctx):
    from idp.citizens.service import create_password_link

    citizen = make_citizen(db, settings, password=None)
    token = create_password_link(db, citizen_id=citizen.id, ttl=3600)
    db.commit()
    page = client.get(f"/set-password/{token}")
    assert page.status_code == 200
    form = {
        "password": "một mật khẩu mới",
        "password_confirm": "một mật khẩu mới",
        "csrf_token": csrf_token(page.get_data(as_text=True)),
    }
    resp = client.post(f"/set-password/{token}", data=form)
    assert resp.status_code == 303
    assert client.get(f"/set-password/{token}").status_code == 400
    assert citizen.password_hash.startswith("$argon2id$")


def test_forms_need_csrf(client):
    resp = client.post("/signin", data={"identifier": "x", "password": "y"})
    assert resp.status_code == 400
    assert "Traceback" not in resp.get_data(as_text=True)


def test_communes_json(client):
    resp = client.get("/communes/48")
    assert resp.status_code == 200
    assert any("Hải Châu" in c["name"] for c in resp.json)
    assert client.get("/communes/999").status_code == 404


def test_cookies_are_secure_when_the_issuer_is_https(backend, db, store, tmp_path):
    from idp import create_app
    from tests.conftest import base_settings

    settings = base_settings(
        tmp_path,
        issuer="https://id.danang.example",
        database_url=backend.database_url,
        redis_url=backend.redis_url,
    )
    app = create_app(settings, engine=backend.engine, session_factory=lambda: db, store=store)
    client = app.test_client()
    citizen = make_citizen(db, settings)
    page = client.get("/signin", base_url="https://id.danang.example")
    token = csrf_token(page.get_data(as_text=True))
    resp = client.post(
        "/signin",
        base_url="https://id.danang.example",
        data={"identifier": citizen.cccd, "password": PASSWORD, "csrf_token": token},
        headers={"Referer": "https://id.danang.example/signin"},
    )
    assert resp.status_code == 303
    cookies = resp.headers.getlist("Set-Cookie")
    assert cookies
    assert all("Secure" in c for c in cookies)
    assert "max-age" in resp.headers["Strict-Transport-Security"]
