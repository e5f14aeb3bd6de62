"""Account recovery: "forgot password" by a link to the verified email or a code to the
verified phone, the second factor still asked, and the one-stop desk reset.

What a stranger sees never says whether an account exists; a link works once and
expires; a reset ends every session, revokes tokens without ``offline_access`` and
tells the citizen, in their own language."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from idp.citizens import factors, service
from idp.citizens.models import Citizen, PasswordLink
from tests.consent.helpers import Browser, purposes
from tests.support.factories import new_citizen, new_portal
from tests.support.forms import csrf_token
from tests.support.totp import enrol
from tests.support.useragent import UserAgent, page_csrf

NEW = "một mật khẩu mới rất dài"


@pytest.fixture
def citizen(db, settings):
    """A citizen whose email and phone are verified."""
    info = new_citizen(db, settings, email="lan@example.vn", phone="0905111222")
    db.execute(
        update(Citizen)
        .where(Citizen.id == info.id)
        .values(email_verified=True, phone_verified=True)
    )
    db.commit()
    return info


def _ask(client: Any, identifier: str, lang: str = "en") -> Any:
    resp = client.post(
        f"/recover?lang={lang}",
        data={"identifier": identifier, "csrf_token": page_csrf(client, f"/recover?lang={lang}")},
    )
    resp.close()  # the messages leave once the response was sent
    return resp


def _shape(resp: Any) -> str:
    """The page without what differs on every request (CSRF, the attempt's id)."""
    html = resp.get_data(as_text=True)
    html = re.sub(r'name="csrf_token" value="[^"]*"', "", html)
    return re.sub(r'name="attempt" value="[^"]*"', "", html)


def _path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def _reset(client: Any, path: str, password: str = NEW, **extra: str) -> Any:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return client.post(
        path,
        data={
            "password": password,
            "password_confirm": password,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            **extra,
        },
    )


def _signed_in(client: Any) -> bool:
    return client.get("/account").status_code == 200


def _can_sign_in(app: Any, identifier: str, password: str) -> bool:
    client = app.test_client()
    resp = client.post(
        "/signin",
        data={"identifier": identifier, "password": password, "csrf_token": page_csrf(client)},
    )
    return resp.status_code == 303


# -- asking ------------------------------------------------------------------------------


def test_the_page_is_the_same_whether_or_not_an_account_exists(client, citizen, inbox):
    known = _ask(client, citizen.identifier)
    unknown = _ask(client, "079099000123")
    nonsense = _ask(client, "nobody@example.vn")
    assert known.status_code == unknown.status_code == nonsense.status_code == 200
    assert _shape(known) == _shape(unknown) == _shape(nonsense)
    assert inbox.last("lan@example.vn", "password_reset")
    assert inbox.last("+84905111222", "password_reset")
    assert {m.kind for m in inbox.all()} == {"password_reset"}  # nothing to the strangers


def test_only_verified_contacts_receive_anything(db, client, citizen, inbox):
    db.execute(update(Citizen).where(Citizen.id == citizen.id).values(email_verified=False))
    db.commit()
    assert _ask(client, citizen.identifier).status_code == 200
    assert not inbox.to("lan@example.vn")
    assert inbox.last("+84905111222", "password_reset")
    # No link was even made for the unverified address.
    assert db.scalar(select(PasswordLink).where(PasswordLink.purpose == "reset")) is None


def test_the_link_works_once_ends_every_session_and_tells_the_citizen(
    app, db, client, citizen, inbox
):
    elsewhere = app.test_client()
    UserAgent.over(elsewhere).sign_in(citizen.identifier, citizen.password)
    assert _signed_in(elsewhere)
    _ask(client, "lan@example.vn")
    link = inbox.link("lan@example.vn", "password_reset")
    assert "/reset/" in link
    done = _reset(client, _path(link))
    assert done.status_code == 303
    assert _signed_in(client)
    assert not _signed_in(elsewhere)
    assert _can_sign_in(app, citizen.identifier, NEW)
    assert not _can_sign_in(app, citizen.identifier, citizen.password)
    assert inbox.last("lan@example.vn", "password_changed")
    # Once only.
    again = app.test_client().get(_path(link) + "?lang=en")
    assert again.status_code == 400
    assert "expired or was already used" in again.get_data(as_text=True)


def test_the_link_expires(app, db, client, citizen, inbox):
    _ask(client, "lan@example.vn")
    link = inbox.link("lan@example.vn", "password_reset")
    db.execute(
        update(PasswordLink).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    db.commit()
    assert client.get(_path(link)).status_code == 400


def test_the_link_lives_for_the_reset_ttl(db, client, citizen, inbox, settings):
    _ask(client, "lan@example.vn")
    link = db.scalar(select(PasswordLink).where(PasswordLink.purpose == "reset"))
    expires = (
        link.expires_at.replace(tzinfo=dt.UTC)
        if link.expires_at.tzinfo is None
        else (link.expires_at)
    )
    left = (expires - dt.datetime.now(dt.UTC)).total_seconds()
    assert settings.reset_ttl - 60 < left <= settings.reset_ttl
    assert "30" in inbox.last("lan@example.vn", "password_reset").body


def test_the_sms_code_opens_the_reset_page_in_the_same_browser_once(app, client, citizen, inbox):
    page = _ask(client, citizen.identifier)
    attempt = re.search(r'name="attempt" value="([^"]+)"', page.get_data(as_text=True))[1]
    code = inbox.code("+84905111222", "password_reset")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    token = csrf_token(page.get_data(as_text=True))
    bad = client.post(
        "/recover/code", data={"attempt": attempt, "code": wrong, "csrf_token": token}
    )
    assert bad.status_code == 400
    # Another browser cannot use this browser's attempt, even with the right code.
    other = app.test_client()
    stolen = other.post(
        "/recover/code",
        data={"attempt": attempt, "code": code, "csrf_token": page_csrf(other, "/recover")},
    )
    assert stolen.status_code == 400
    ok = client.post("/recover/code", data={"attempt": attempt, "code": code, "csrf_token": token})
    assert ok.status_code == 303
    assert "/reset/" in ok.headers["Location"]
    assert _reset(client, ok.headers["Location"]).status_code == 303
    assert _can_sign_in(app, citizen.identifier, NEW)
    twice = client.post(
        "/recover/code", data={"attempt": attempt, "code": code, "csrf_token": token}
    )
    assert twice.status_code == 400


def test_a_stranger_gets_a_code_page_that_no_code_opens(client):
    page = _ask(client, "079099000123")
    html = page.get_data(as_text=True)
    attempt = re.search(r'name="attempt" value="([^"]+)"', html)[1]
    for code in ("000000", "123456", "999999"):
        resp = client.post(
            "/recover/code",
            data={"attempt": attempt, "code": code, "csrf_token": csrf_token(html)},
        )
        assert resp.status_code == 400


def test_a_reset_revokes_tokens_without_offline_access(app, db, citizen, inbox):
    portal = new_portal(db, purposes=purposes(("name",)))
    browser = Browser(app.test_client(), citizen)
    offline = browser.token(
        portal, browser.authorize(portal, scope="openid profile offline_access", prompt="consent")
    )
    online = browser.token(portal, browser.authorize(portal, scope="openid profile"))
    client = app.test_client()
    _ask(client, "lan@example.vn")
    assert _reset(client, _path(inbox.link("lan@example.vn", "password_reset"))).status_code == 303
    assert browser.userinfo(online["access_token"]).status_code == 401
    assert browser.refresh(portal, offline["refresh_token"]).status_code == 200


def test_a_citizen_with_a_second_factor_must_give_a_code(
    app, db, store, settings, client, citizen, inbox, clock
):
    authenticator, codes = enrol(db, store, settings, citizen.id, clock)
    _ask(client, "lan@example.vn")
    path = _path(inbox.link("lan@example.vn", "password_reset"))
    assert 'name="code"' in client.get(path).get_data(as_text=True)
    missing = _reset(client, path)
    assert missing.status_code == 400
    assert 'id="code-error"' in missing.get_data(as_text=True)
    wrong = _reset(client, path, code="000000")
    assert wrong.status_code == 400
    assert not _can_sign_in(app, citizen.identifier, NEW)  # the link is still unused
    done = _reset(client, path, code=codes[0])  # a recovery code works too
    assert done.status_code == 303
    assert _can_sign_in(app, citizen.identifier, NEW)
    assert factors.has_factor(db, citizen.id)  # an online reset keeps the factor


@pytest.mark.parametrize(
    ("password", "message"),
    [("12345678", "most common"), (" " * 8, "only spaces"), ("short", "at least 8")],
)
def test_the_new_password_follows_the_policy(client, citizen, inbox, password, message):
    _ask(client, "lan@example.vn")
    path = _path(inbox.link("lan@example.vn", "password_reset"))
    resp = _reset(client, path + "?lang=en", password=password)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert client.get(path).status_code == 200  # still usable


def test_a_reset_lifts_a_lock(app, client, citizen, inbox):
    limiter = app.extensions["idp.limiter"]
    while limiter.hit("signin_account", citizen.id).allowed:
        pass
    assert not _can_sign_in(app, citizen.identifier, citizen.password)
    _ask(client, "lan@example.vn")
    _reset(client, _path(inbox.link("lan@example.vn", "password_reset")))
    assert _can_sign_in(app, citizen.identifier, NEW)


@pytest.mark.parametrize(("locale", "word"), [("en", "password"), ("vi", "mật khẩu")])
def test_messages_are_in_the_citizens_language(db, client, citizen, inbox, locale, word):
    db.execute(update(Citizen).where(Citizen.id == citizen.id).values(locale=locale))
    db.commit()
    _ask(client, citizen.identifier, lang="vi" if locale == "en" else "en")
    for to in ("lan@example.vn", "+84905111222"):
        message = inbox.last(to, "password_reset")
        assert message.language == locale
        assert word in message.body.lower()


# -- limits and bad input ------------------------------------------------------------------


def test_asking_too_often_for_one_account_sends_nothing_more(app, client, citizen, inbox):
    limiter = app.extensions["idp.limiter"]
    rule = limiter.rules["recovery_account"]
    for _ in range(rule.amount + 2):
        assert _ask(client, citizen.identifier).status_code == 200
    assert len(inbox.to("lan@example.vn", "password_reset")) == rule.amount


def test_asking_too_often_from_one_address_gets_429(app, client, citizen):
    rule = app.extensions["idp.limiter"].rules["recovery_ip"]
    for i in range(rule.amount):
        assert _ask(client, f"someone{i}@example.vn").status_code == 200
    resp = _ask(client, citizen.identifier)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"]


@pytest.mark.parametrize(
    "path", ["/reset/short", "/reset/" + "x" * 43, "/reset/" + "é" * 40, "/reset/" + "x" * 500]
)
def test_unknown_links_get_a_clear_page(client, path):
    resp = client.get(path)
    assert resp.status_code in (400, 404)
    assert "Traceback" not in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"identifier": ""},
        {"identifier": "x" * 10_000},
        {"identifier": ["a", "b"]},
        {"identifier": "\x00\x01"},
    ],
)
def test_bad_input_on_the_recover_form(client, db, form):
    before = db.scalar(select(PasswordLink.token_hash).limit(1))
    resp = client.post("/recover", data={**form, "csrf_token": page_csrf(client, "/recover")})
    assert resp.status_code in (200, 400)
    assert db.scalar(select(PasswordLink.token_hash).limit(1)) == before


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"attempt": "x"},
        {"attempt": "x" * 1000, "code": "1"},
        {"attempt": "a" * 30, "code": "123456"},
    ],
)
def test_bad_input_on_the_code_form(client, form):
    resp = client.post("/recover/code", data={**form, "csrf_token": page_csrf(client, "/recover")})
    assert resp.status_code == 400


def test_two_submits_of_one_link_at_once(live):
    """Two browsers submit the same link at once (live server, own sessions): one wins."""
    citizen = live.make_citizen()
    with live.session() as db:
        token = service.create_password_link(db, citizen_id=citizen["id"], ttl=600, purpose="reset")
        db.commit()
    agents = [UserAgent(live.url) for _ in range(2)]
    forms = [
        {"password": NEW, "password_confirm": NEW, "csrf_token": ua.csrf(f"/reset/{token}")}
        for ua in agents
    ]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def submit(ua: UserAgent, form: dict) -> None:
        barrier.wait()
        results.append(ua.transport.request("POST", f"/reset/{token}", form).status_code)

    threads = [threading.Thread(target=submit, args=p) for p in zip(agents, forms, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [303, 400], results


# -- the one-stop desk ----------------------------------------------------------------------


def _desk(live: Any, *args: str) -> Any:
    from click.testing import CliRunner

    from idp.cli import main

    env = {
        "IDP_DATA_DIR": str(live.settings.data_dir),
        "IDP_ISSUER": live.url,
        "IDP_DATABASE_URL": live.settings.database_url,
    }
    return CliRunner().invoke(main, ["citizens", "reset", *args], env=env)


@pytest.fixture
def officer_email(live):
    from idp.staff import service as staff

    email = f"desk-{uuid.uuid4().hex[:8]}@danang.gov.vn"
    with live.session() as db:
        staff.add_staff(db, email=email, roles=["desk_officer"], unit_code="48")
        staff.add_staff(db, email="auditor-" + email, roles=["auditor"], unit_code=None)
        db.commit()
    return email


def test_a_desk_reset_needs_no_code_and_removes_the_second_factor(live, clock, officer_email):
    citizen = live.make_citizen()
    with live.session() as db:
        enrol(db, live.app.extensions["idp.store"], live.settings, citizen["id"], clock)
    result = _desk(live, citizen["identifier"], "--officer", officer_email)
    assert result.exit_code == 0, result.output
    url = json.loads(result.stdout)["reset_url"]
    assert url.startswith(live.url + "/reset/")
    ua = UserAgent(live.url)
    path = _path(url)
    page = ua.get(path)
    assert 'name="code"' not in ua.text(page)
    done = ua.transport.request(
        "POST",
        path,
        {"password": NEW, "password_confirm": NEW, "csrf_token": csrf_token(ua.text(page))},
    )
    assert done.status_code == 303
    UserAgent(live.url).sign_in(citizen["identifier"], NEW)
    with live.session() as db:
        assert not factors.has_factor(db, citizen["id"])
    # The link worked once.
    assert UserAgent(live.url).get(path).status_code == 400


@pytest.mark.parametrize(
    "args",
    [
        ["12345", "--officer", "A"],
        ["079099000123", "--officer", "A"],
        ["079099000123"],
        ["x" * 12, "--officer", "A"],
        ["079099000123", "--officer", " "],
        ["{cccd}", "--officer", "nobody@danang.gov.vn"],  # no such staff account
        ["{cccd}", "--officer", "auditor-{officer}"],  # not a desk officer
        ["{cccd}", "--officer", "{officer}", "--unit", "99999"],  # no such unit
    ],
)
def test_desk_reset_bad_input_exits_2(live, args, officer_email):
    citizen = live.make_citizen()
    args = [a.format(cccd=citizen["identifier"], officer=officer_email) for a in args]
    result = _desk(live, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_the_right_sms_code_works_once(client, citizen, inbox):
    page = _ask(client, citizen.identifier)
    html = page.get_data(as_text=True)
    attempt = re.search(r'name="attempt" value="([^"]+)"', html)[1]
    code = inbox.code("+84905111222", "password_reset")
    form = {"attempt": attempt, "code": code, "csrf_token": csrf_token(html)}
    assert client.post("/recover/code", data=form).status_code == 303
    assert client.post("/recover/code", data=form).status_code == 400


def test_guessing_reset_links_is_limited_per_address(app, client):
    rule = app.extensions["idp.limiter"].rules["link_ip"]
    for i in range(rule.amount):
        assert client.get(f"/reset/{'x' * 40}{i:04d}").status_code == 400
    resp = client.get("/reset/" + "y" * 44)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"]


def test_a_refused_password_does_not_use_up_the_code(
    db, store, settings, client, citizen, inbox, clock
):
    authenticator, codes = enrol(db, store, settings, citizen.id, clock)
    _ask(client, "lan@example.vn")
    path = _path(inbox.link("lan@example.vn", "password_reset"))
    assert _reset(client, path, password="12345678", code=codes[0]).status_code == 400
    assert factors.recovery_codes_left(db, citizen.id) == len(codes)
    code = authenticator.code()
    assert _reset(client, path, password="12345678", code=code).status_code == 400
    # The code was not checked (so not spent): it still works with a good password.
    assert _reset(client, path, code=code).status_code == 303


def test_a_desk_set_password_link_is_not_a_reset_link(db, client, citizen):
    token = service.create_password_link(db, citizen_id=citizen.id, ttl=600, purpose="set")
    reset = service.create_password_link(db, citizen_id=citizen.id, ttl=600, purpose="reset")
    db.commit()
    assert client.get(f"/reset/{token}").status_code == 400
    assert client.get(f"/set-password/{reset}").status_code == 400
