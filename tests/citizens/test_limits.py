"""Limits on guessing: per account (progressive wait, then a lock told to the citizen
through their contacts, never to the keyboard), per address (429), on codes and links.

Each test builds its own app with small rules, on the test's backend: the server leg
counts in Redis, as every worker of a deployment does."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from idp import create_app
from idp.citizens.models import Citizen
from idp.config import DEFAULT_LIMITS
from idp.ratelimit import Limiter
from tests.support.factories import new_citizen
from tests.support.totp import enrol
from tests.support.useragent import UserAgent, page_csrf

WRONG = "not the password at all"


def _app(settings, db, store, limiter=None, **kw: Any) -> Any:
    """An app sharing the test's session and store, with ``rules`` over the defaults."""
    rules = {**DEFAULT_LIMITS, **kw.pop("rules", {})}
    tuned = replace(settings, limits=tuple(rules.items()), **kw)
    application = create_app(
        tuned,
        engine=db.get_bind(),
        session_factory=lambda: db,
        store=store,
        limiter=limiter or Limiter(settings.redis_url, _prefix(), rules),
    )
    application.config["TESTING"] = True
    return application


def _prefix() -> str:
    """A fresh key prefix: no attempt counted yet."""
    return f"idp-test-limits-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def citizen(db, settings):
    info = new_citizen(db, settings, email="lan@example.vn")
    row = db.get(Citizen, info.id)
    row.email_verified = True
    db.commit()
    return info


def _try(client: Any, identifier: str, password: str, lang: str = "en") -> Any:
    resp = client.post(
        f"/signin?lang={lang}",
        data={
            "identifier": identifier,
            "password": password,
            "csrf_token": page_csrf(client, f"/signin?lang={lang}"),
        },
    )
    resp.close()  # runs what waits for the response to be sent (notices)
    return resp


def _template(resp: Any, identifier: str) -> str:
    """The page with what legitimately differs (the typed identifier, CSRF) taken out."""
    html = resp.get_data(as_text=True).replace(identifier, "IDENT")
    return re.sub(r'name="csrf_token" value="[^"]*"', "", html)


def test_the_lock_after_n_failures_looks_like_a_wrong_password(db, settings, store, citizen, inbox):
    app = _app(settings, db, store, rules={"signin_account": "5/15 minutes"}, signin_delay_after=99)
    client = app.test_client()
    for _ in range(4):
        assert _try(client, citizen.identifier, WRONG).status_code == 401
    assert not inbox.to("lan@example.vn", "account_locked")  # not before the lock
    wrong = _try(client, citizen.identifier, WRONG)  # the 5th: the lock starts
    locked = _try(client, citizen.identifier, citizen.password)  # the right one, refused
    unknown = _try(client, "079099000123", citizen.password)
    assert wrong.status_code == locked.status_code == unknown.status_code == 401
    assert _template(locked, citizen.identifier) == _template(wrong, citizen.identifier)
    assert _template(unknown, "079099000123") == _template(wrong, citizen.identifier)
    assert client.get("/account").status_code in (302, 303)  # not signed in
    # The citizen is told once, through their own contact, in their language.
    notices = inbox.to("lan@example.vn", "account_locked")
    assert len(notices) == 1
    assert notices[0].language == "vi"
    assert "/recover" in notices[0].body


def test_unknown_accounts_are_limited_alike(db, settings, store, citizen):
    app = _app(settings, db, store, rules={"signin_account": "3/15 minutes"}, signin_delay_after=99)
    client = app.test_client()
    for _ in range(3):
        assert _try(client, "nobody@example.vn", WRONG).status_code == 401
    # The counter is per identifier: the real account next door is not affected.
    assert _try(client, citizen.identifier, citizen.password).status_code == 303


def test_the_lock_ends_when_the_window_moves_on(db, settings, store, citizen):
    app = _app(settings, db, store, rules={"signin_account": "2/2 seconds"}, signin_delay_after=99)
    client = app.test_client()
    for _ in range(3):
        _try(client, citizen.identifier, WRONG)
    assert _try(client, citizen.identifier, citizen.password).status_code == 401
    time.sleep(2.2)
    assert _try(client, citizen.identifier, citizen.password).status_code == 303


def test_a_success_forgets_the_failures(db, settings, store, citizen):
    app = _app(settings, db, store, rules={"signin_account": "3/15 minutes"}, signin_delay_after=99)
    client = app.test_client()
    for _ in range(2):
        _try(client, citizen.identifier, WRONG)
    assert _try(client, citizen.identifier, citizen.password).status_code == 303
    other = app.test_client()
    for _ in range(2):
        _try(other, citizen.identifier, WRONG)
    assert _try(other, citizen.identifier, citizen.password).status_code == 303


def test_failures_make_the_account_wait_before_the_next_check(db, settings, store, citizen):
    app = _app(settings, db, store, signin_delay_after=2, signin_delay_max=60)
    client = app.test_client()
    limiter = app.extensions["idp.limiter"]
    _try(client, citizen.identifier, WRONG)
    _try(client, citizen.identifier, WRONG)  # the 2nd failure: wait 1 s
    left = limiter.remaining("signin_account", citizen.id)
    # Inside the wait even the right password is refused, like a wrong one, uncounted.
    assert _try(client, citizen.identifier, citizen.password).status_code == 401
    assert limiter.remaining("signin_account", citizen.id) == left
    time.sleep(1.1)
    assert _try(client, citizen.identifier, citizen.password).status_code == 303


def test_the_wait_doubles_up_to_the_maximum(db, settings, store, citizen, monkeypatch):
    from idp.citizens import guard

    app = _app(settings, db, store, signin_delay_after=1, signin_delay_max=4)
    client = app.test_client()
    waits: list[float] = []
    now = [1_000_000.0]
    monkeypatch.setattr(guard.time, "time", lambda: now[0])
    for _ in range(5):
        _try(client, citizen.identifier, WRONG)
        with app.app_context():
            key = guard._delay_key(citizen.id)
            waits.append(round(app.extensions["idp.store"].get(key)["until"] - now[0]))
        now[0] += 100  # past any wait
    assert waits == [1, 2, 4, 4, 4]


def test_too_many_attempts_from_one_address_get_429(db, settings, store, citizen):
    app = _app(settings, db, store, rules={"signin_ip": "3/minute"})
    client = app.test_client()
    for _ in range(3):
        assert _try(client, f"x{time.time()}@example.vn", WRONG).status_code == 401
    resp = _try(client, citizen.identifier, citizen.password)
    assert resp.status_code == 429
    # A one-minute window opened seconds ago: the wait is what is left of it.
    assert 50 <= int(resp.headers["Retry-After"]) <= 60
    assert "Too many attempts" in resp.get_data(as_text=True)
    vi = _try(client, citizen.identifier, citizen.password, lang="vi")
    assert vi.status_code == 429
    assert "Too many attempts" not in vi.get_data(as_text=True)


def test_two_instances_sharing_redis_count_together(backend, db, settings, store, citizen):
    if not backend.redis_url:
        pytest.skip("two instances share counters through Redis (the server leg)")
    rules = {**DEFAULT_LIMITS, "signin_account": "4/15 minutes"}
    prefix = _prefix()
    apps = [
        _app(
            settings,
            db,
            store,
            limiter=Limiter(backend.redis_url, prefix, rules),
            rules=rules,
            signin_delay_after=99,
        )
        for _ in range(2)
    ]
    a, b = (app.test_client() for app in apps)
    for client in (a, b, a, b):
        assert _try(client, citizen.identifier, WRONG).status_code == 401
    # The 5th attempt, on either instance, meets the lock counted by both.
    assert _try(b, citizen.identifier, citizen.password).status_code == 401
    assert _try(a, citizen.identifier, citizen.password).status_code == 401


def test_wrong_codes_are_limited_and_told(db, settings, store, citizen, inbox, clock):
    app = _app(settings, db, store, rules={"code_account": "3/15 minutes"})
    authenticator, _codes = enrol(db, store, settings, citizen.id, clock)
    client = app.test_client()
    UserAgent.over(client).sign_in(citizen.identifier, citizen.password)

    def remove(code: str) -> Any:
        resp = client.post(
            "/account/second-factor/remove?lang=en",
            data={"code": code, "csrf_token": page_csrf(client, "/account/second-factor")},
        )
        resp.close()
        return resp

    for _ in range(3):
        assert remove("000000").status_code == 400
    resp = remove(authenticator.code())  # right, but not checked any more
    assert resp.status_code == 400
    assert "Too many wrong codes" in resp.get_data(as_text=True)
    with app.app_context():
        from idp.citizens import factors

        assert factors.has_factor(db, citizen.id)
    assert len(inbox.to("lan@example.vn", "codes_locked")) == 1


def test_guessing_set_password_links_is_limited(db, settings, store):
    app = _app(settings, db, store, rules={"link_ip": "3/hour"})
    client = app.test_client()
    for i in range(3):
        assert client.get(f"/set-password/{'x' * 30}{i}").status_code == 400
    resp = client.get("/set-password/" + "y" * 32)
    assert resp.status_code == 429
    assert "Retry-After" in resp.headers


def test_the_language_of_sign_in_is_remembered_for_messages(db, settings, store, citizen):
    app = _app(settings, db, store)
    client = app.test_client()
    assert _try(client, citizen.identifier, citizen.password, lang="en").status_code == 303
    db.expire_all()
    assert db.scalar(select(Citizen.locale).where(Citizen.id == citizen.id)) == "en"


def test_the_lock_notice_goes_once_even_when_two_workers_see_the_lock(
    db, settings, store, citizen, inbox
):
    """Two failures recorded at once at the limit (two workers): one notice."""
    from idp.citizens import guard

    app = _app(settings, db, store, rules={"signin_account": "2/15 minutes"}, signin_delay_after=99)
    for _ in range(2):
        with app.test_request_context("/signin", method="POST"):
            row = db.get(Citizen, citizen.id)
            for _ in range(2):
                app.extensions["idp.limiter"].hit("signin_account", citizen.id)
            guard.failed(citizen.id, row)
            resp = app.make_response("")
            guard.attach_deferred(resp)
            resp.close()
    assert len(inbox.to("lan@example.vn", "account_locked")) == 1


def test_typing_slips_are_not_counted_as_guesses(db, settings, store, citizen, clock):
    app = _app(settings, db, store, rules={"code_account": "2/15 minutes"})
    authenticator, _codes = enrol(db, store, settings, citizen.id, clock)
    client = app.test_client()
    UserAgent.over(client).sign_in(citizen.identifier, citizen.password)
    for slip in ("12345", "abcdef", "", "1234567"):
        resp = client.post(
            "/account/second-factor/recovery-codes",
            data={"code": slip, "csrf_token": page_csrf(client, "/account/second-factor")},
        )
        assert resp.status_code == 400
    resp = client.post(
        "/account/second-factor/recovery-codes",
        data={
            "code": authenticator.code(),
            "csrf_token": page_csrf(client, "/account/second-factor"),
        },
    )
    assert resp.status_code == 200
