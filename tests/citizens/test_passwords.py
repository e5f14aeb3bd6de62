"""Passwords as NIST SP 800-63B asks: length, not composition; common and own-data
passwords refused; NFKC before hashing; changing the password ends every other session."""

from __future__ import annotations

import datetime as dt
import gzip
import threading
import unicodedata
from importlib import resources

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from idp.citizens import passwords, service
from idp.citizens.models import Citizen
from idp.citizens.validation import ValidationErrors
from idp.tokens.models import Token
from tests.consent.helpers import Browser, purposes
from tests.support.factories import PASSWORD, make_citizen, new_citizen, new_portal
from tests.support.useragent import UserAgent, page_csrf

PASSPHRASE = "bốn mươi hai con mèo ngồi trên mái nhà ở phố cổ Hội An lúc chiều"[:64]


def refused(password: object, own: list[str] | None = None) -> str:
    with pytest.raises(ValidationErrors) as exc:
        passwords.check_policy(password, own or [])
    return str(exc.value.errors["password"])


# -- the policy --------------------------------------------------------------------------


def test_the_shipped_list_has_100000_common_passwords_with_source_and_licence():
    assert passwords.common_count() >= 100_000
    raw = resources.files("idp.citizens").joinpath("data", "common-passwords.txt.gz")
    header = gzip.decompress(raw.read_bytes()).decode()[:2000]
    for needed in ("Source:", "Licence", "SecLists", "MPL-2.0"):
        assert needed in header


@pytest.mark.parametrize(
    "password", ["12345678", "password", "PassWord", "iloveyou", "qwertyuiop", "１２３４５６７８"]
)
def test_common_passwords_are_refused_whatever_the_case_or_width(password):
    assert "most common" in refused(password)


def test_eight_spaces_and_other_white_space_only_are_refused():
    assert "only spaces" in refused(" " * 8)
    assert "only spaces" in refused("\u3000" * 10)  # ideographic spaces
    assert "only spaces" in refused("\t \n" * 4)


@pytest.mark.parametrize("password", ["short", "x" * 129, "", None, 12345678, ["a" * 10]])
def test_length_and_type(password):
    refused(password)


def test_length_is_counted_after_nfkc():
    # Eight ligature characters "ﬃ" are 24 letters once normalised: long enough.
    assert passwords.check_policy("ﬃ" * 3) == "ffi" * 3 or refused("ﬃ" * 3)
    assert passwords.check_policy("Ｍèo ｖàng ｂay") == unicodedata.normalize(
        "NFKC", "Ｍèo ｖàng ｂay"
    )


def test_a_64_character_passphrase_and_any_unicode_are_accepted():
    assert len(PASSPHRASE) == 64
    assert passwords.check_policy(PASSPHRASE) == unicodedata.normalize("NFKC", PASSPHRASE)
    assert passwords.check_policy("x" * 128)
    assert passwords.check_policy("con đường 🌸 mùa xuân")


def _own() -> list[str]:
    return passwords.own_values(
        cccd="001099012345",
        phone="+84905123456",
        birthdate=dt.date(1990, 3, 12),
        email="lan.nguyen@example.vn",
        names=("Nguyễn", "Thị", "Lan"),
    )


@pytest.mark.parametrize(
    "password",
    [
        "001099012345",  # the CCCD
        "001 099 012 345",
        "my id 001099012345!",
        "0905123456",  # the phone, as written at home
        "+84 905 123 456",
        "12/03/1990",  # the date of birth
        "12031990",
        "19900312",
        "lan12031990",
        "nguyenthilan",  # the names, without accents
        "Nguyễn Thị Lan",
        "lan.nguyen1990",
    ],
)
def test_passwords_made_of_the_citizens_own_data_are_refused(password):
    assert "your own details" in refused(password, _own())


@pytest.mark.parametrize("password", ["Lan thích hoa sen trắng", "caravan 1990 sunset"])
def test_own_data_inside_a_longer_password_is_fine(password):
    assert passwords.check_policy(password, _own())


# -- hashing ---------------------------------------------------------------------------


def test_the_nfkc_form_is_hashed_so_either_form_signs_in(db, settings):
    typed = "Ｍật ｋhẩu ｔoàn ｒộng 2025"  # full-width letters, as some keyboards type them
    citizen = make_citizen(db, settings, password=typed)
    PasswordHasher().verify(citizen.password_hash, unicodedata.normalize("NFKC", typed))
    hasher = service.make_hasher(settings)
    for form in (typed, unicodedata.normalize("NFKC", typed)):
        found = service.authenticate(db, identifier=citizen.cccd, password=form, hasher=hasher)
        assert found is citizen


def test_every_hash_is_of_the_nfkc_form(db, settings):
    hasher = service.make_hasher(settings)
    PasswordHasher().verify(service.hash_password(hasher, "ｍèo ｖàng"), "mèo vàng")
    citizen = make_citizen(db, settings)
    service.set_password(db, citizen_id=citizen.id, password="ｍèo ｖàng ngủ", hasher=hasher)
    PasswordHasher().verify(citizen.password_hash, "mèo vàng ngủ")


def test_a_hash_of_the_typed_form_still_signs_in_and_is_rehashed(db, settings):
    typed = "ｍèo ｖàng ngủ trưa"
    citizen = make_citizen(db, settings)
    hasher = service.make_hasher(settings)
    citizen.password_hash = hasher.hash(typed)  # made before passwords were normalised
    db.commit()
    assert service.authenticate(db, identifier=citizen.cccd, password=typed, hasher=hasher)
    hasher.verify(citizen.password_hash, unicodedata.normalize("NFKC", typed))


def test_registration_refuses_a_common_or_own_data_password(db, settings):
    from idp.citizens.validation import validate_profile
    from tests.support.factories import profile_data

    profile = validate_profile(profile_data())
    hasher = service.make_hasher(settings)
    for bad in ("iloveyou", profile.cccd, " " * 8):
        with pytest.raises(ValidationErrors) as exc:
            service.register_citizen(db, profile=profile, password=bad, hasher=hasher)
        assert "password" in exc.value.errors
    db.rollback()
    assert db.scalar(select(Citizen).where(Citizen.cccd == profile.cccd)) is None


# -- changing the password -----------------------------------------------------------------


def _change(client, current, new, confirm=None):
    return client.post(
        "/account/password?lang=en",
        data={
            "current_password": current,
            "password": new,
            "password_confirm": new if confirm is None else confirm,
            "csrf_token": page_csrf(client, "/account"),
        },
    )


@pytest.fixture
def citizen(db, settings):
    info = new_citizen(db, settings, email="lan@example.vn")
    db.get(Citizen, info.id).email_verified = True
    db.commit()
    return info


def _signed_in(app, citizen) -> tuple[object, UserAgent]:
    client = app.test_client()
    ua = UserAgent.over(client)
    assert ua.sign_in(citizen.identifier, citizen.password).status_code == 303
    return client, ua


def test_change_password_ends_every_other_session_and_tells_the_citizen(
    app, db, settings, citizen, inbox
):
    here, _ = _signed_in(app, citizen)
    elsewhere, _ = _signed_in(app, citizen)
    assert elsewhere.get("/account").status_code == 200

    new = "một mật khẩu mới thật dài"
    resp = _change(here, citizen.password, new)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert 'id="account-notice"' in resp.get_data(as_text=True)

    assert here.get("/account").status_code == 200  # this browser: a new session
    assert elsewhere.get("/account").status_code in (302, 303)  # the other: signed out
    hasher = service.make_hasher(settings)
    assert service.authenticate(db, identifier=citizen.identifier, password=new, hasher=hasher)
    assert not service.authenticate(
        db, identifier=citizen.identifier, password=citizen.password, hasher=hasher
    )
    notice = inbox.last("lan@example.vn", "password_changed")
    assert notice.language == "vi"
    assert "/recover" in notice.body
    assert new not in notice.body


def test_change_password_revokes_tokens_without_offline_access(app, db, settings, citizen):
    portal = new_portal(db, purposes=purposes(("name",)))
    browser = Browser(app.test_client(), citizen)
    offline = browser.token(
        portal, browser.authorize(portal, scope="openid profile offline_access", prompt="consent")
    )
    online = browser.token(portal, browser.authorize(portal, scope="openid profile"))
    assert _change(browser.client, citizen.password, "một mật khẩu mới thật dài").status_code == 200
    assert browser.userinfo(online["access_token"]).status_code == 401
    assert browser.refresh(portal, offline["refresh_token"]).status_code == 200
    reasons = db.scalars(select(Token.revoked_reason).where(Token.citizen_id == citizen.id)).all()
    assert "password_changed" in reasons


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field", "message"),
    [
        ("not my password", "một mật khẩu mới thật dài", None, "current_password", "not your"),
        (None, "một mật khẩu mới thật dài", "khác hẳn", "password_confirm", "differ"),
        (None, "12345678", None, "password", "most common"),
        (None, " " * 8, None, "password", "only spaces"),
        (None, "short", None, "password", "at least 8"),
    ],
)
def test_change_password_errors_leave_the_password_and_sessions_alone(
    app, db, settings, citizen, inbox, current, new, confirm, field, message
):
    here, _ = _signed_in(app, citizen)
    elsewhere, _ = _signed_in(app, citizen)
    before = db.scalar(select(Citizen.password_hash).where(Citizen.id == citizen.id))
    resp = _change(here, current or citizen.password, new, confirm)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert 'id="password-errors"' in page
    assert f'id="{field}-error"' in page
    assert message in page
    db.expire_all()
    assert db.scalar(select(Citizen.password_hash).where(Citizen.id == citizen.id)) == before
    assert elsewhere.get("/account").status_code == 200
    assert not inbox.to("lan@example.vn", "password_changed")


def test_the_own_cccd_is_refused_as_a_new_password(app, db, citizen):
    here, _ = _signed_in(app, citizen)
    cccd = db.get(Citizen, citizen.id).cccd
    resp = _change(here, citizen.password, cccd)
    assert resp.status_code == 400
    assert "your own details" in resp.get_data(as_text=True)


def test_wrong_current_passwords_count_against_the_sign_in_limit(app, citizen):
    here, _ = _signed_in(app, citizen)
    limiter = app.extensions["idp.limiter"]
    left = limiter.remaining("signin_account", citizen.id)
    for _ in range(left):
        assert _change(here, "not my password", "một mật khẩu mới thật dài").status_code == 400
    # Over the limit: even the right current password is not checked.
    resp = _change(here, citizen.password, "một mật khẩu mới thật dài")
    assert resp.status_code == 400
    assert "Too many" in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"current_password": "x" * 100_000, "password": "y" * 100_000, "password_confirm": "z"},
        {"current_password": PASSWORD, "password": "\x00" * 10, "password_confirm": "\x00" * 10},
        {
            "current_password": PASSWORD,
            "password": "ab\x07cdefgh",
            "password_confirm": "ab\x07cdefgh",
        },
    ],
)
def test_change_password_bad_input(app, db, citizen, form):
    here, _ = _signed_in(app, citizen)
    before = db.scalar(select(Citizen.password_hash).where(Citizen.id == citizen.id))
    resp = here.post("/account/password", data={**form, "csrf_token": page_csrf(here, "/account")})
    assert resp.status_code in (400, 413)  # 413: over the request size limit
    db.expire_all()
    assert db.scalar(select(Citizen.password_hash).where(Citizen.id == citizen.id)) == before


def test_change_password_needs_a_session_and_csrf(app, client, citizen):
    assert client.post("/account/password", data={}).status_code in (302, 303, 400)
    here, _ = _signed_in(app, citizen)
    resp = here.post(
        "/account/password",
        data={
            "current_password": citizen.password,
            "password": PASSPHRASE,
            "password_confirm": PASSPHRASE,
        },
    )
    assert resp.status_code == 400


def test_two_changes_at_once_give_no_error(live):
    """A double submit on a live server (two threads, each its own database session).

    One outcome, never a 500: the first change wins; the second either wins too (the
    same new password, when both checked the old one before either saved) or is
    refused as its "current password" no longer is, or finds its session ended by the
    first (sent to sign in). The new password works afterwards.
    """
    citizen = live.make_citizen()
    new = "một mật khẩu mới thật dài"
    agents = [UserAgent(live.url) for _ in range(2)]
    for ua in agents:
        ua.sign_in(citizen["identifier"], citizen["password"])
    forms = [
        {
            "current_password": citizen["password"],
            "password": new,
            "password_confirm": new,
            "csrf_token": ua.csrf("/account"),
        }
        for ua in agents
    ]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def change(ua: UserAgent, form: dict) -> None:
        barrier.wait()
        results.append(ua.transport.request("POST", "/account/password", form).status_code)

    threads = [
        threading.Thread(target=change, args=pair) for pair in zip(agents, forms, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 200 in results, results
    assert all(code in (200, 303, 400) for code in results), results
    UserAgent(live.url).sign_in(citizen["identifier"], new)
