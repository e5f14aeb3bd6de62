"""Online registration without account enumeration: the same "check your phone" page
whether or not the CCCD, email or phone already has an account; the account exists only
once the code sent by SMS is typed (which verifies the phone); the owners of taken
details are told through their own contacts."""

from __future__ import annotations

import json
import re
import statistics
import threading
import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select

from idp import create_app
from idp.citizens import registration
from idp.citizens.models import Citizen
from idp.citizens.validation import normalize_phone
from idp.config import DEFAULT_LIMITS, Settings
from idp.ratelimit import Limiter
from tests.support.factories import PASSWORD, new_citizen, profile_data
from tests.support.forms import csrf_token
from tests.support.useragent import UserAgent, page_csrf


def _post(client: Any, lang: str = "en", **overrides: Any) -> tuple[dict, Any]:
    data = profile_data(**overrides)
    form = {**data, "password": PASSWORD, "password_confirm": PASSWORD}
    form["csrf_token"] = page_csrf(client, f"/register?lang={lang}")
    resp = client.post(f"/register?lang={lang}", data=form)
    resp.close()  # messages leave once the response was sent
    return data, resp


def _pending(resp: Any) -> str:
    found = re.search(r'name="pending" value="([^"]+)"', resp.get_data(as_text=True))
    assert found, resp.get_data(as_text=True)[:500]
    return found.group(1)


def _confirm(client: Any, resp: Any, code: str) -> Any:
    html = resp.get_data(as_text=True)
    return client.post(
        "/register/code",
        data={"pending": _pending(resp), "code": code, "csrf_token": csrf_token(html)},
    )


def _shape(resp: Any) -> str:
    html = resp.get_data(as_text=True)
    html = re.sub(r'name="csrf_token" value="[^"]*"', "", html)
    return re.sub(r'name="pending" value="[^"]*"', "", html)


def _count(db: Any) -> int:
    return db.scalar(select(func.count()).select_from(Citizen))


@pytest.fixture
def owner(db, settings):
    return new_citizen(db, settings, email="owner@example.vn")


def test_a_fresh_registration_waits_for_the_code_then_signs_in(client, db, inbox):
    before = _count(db)
    data, resp = _post(client)
    assert resp.status_code == 200
    assert _count(db) == before  # nothing written before the code
    phone = normalize_phone(data["phone"])
    code = inbox.code(phone, "registration_code")
    done = _confirm(client, resp, code)
    assert done.status_code == 303
    assert done.headers["Location"].endswith("/account")
    row = db.scalar(select(Citizen).where(Citizen.cccd == data["cccd"]))
    assert row.phone_verified is True
    assert row.email_verified is False  # verified from the account page, by a link
    assert row.locale == "en"
    assert client.get("/account").status_code == 200


def test_cccd_and_phone_typed_with_separators_are_stored_normalised(client, db, inbox):
    data = profile_data()
    cccd, phone = data["cccd"], normalize_phone(data["phone"])
    typed_cccd = f"{cccd[:3]} {cccd[3:6]}.{cccd[6:9]}-{cccd[9:]}"
    national = "0" + phone[3:]
    typed_phone = f"{national[:4]}.{national[4:7]}.{national[7:]}".translate(
        {ord(d): 0xFF10 + int(d) for d in "0123456789"}  # full-width digits
    )
    _, resp = _post(client, **{**data, "cccd": typed_cccd, "phone": typed_phone})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    assert _confirm(client, resp, inbox.code(phone, "registration_code")).status_code == 303
    row = db.scalar(select(Citizen).where(Citizen.cccd == cccd))
    assert row is not None
    assert row.phone == phone
    # And the number signs in however it is typed.
    from idp.citizens.service import find_by_identifier

    assert find_by_identifier(db, typed_cccd).id == row.id
    assert find_by_identifier(db, typed_phone).id == row.id


@pytest.mark.parametrize("taken", ["cccd", "email", "phone"])
def test_taken_details_get_the_same_page_and_the_owner_is_told(client, db, owner, inbox, taken):
    _, fresh = _post(client)
    same = {
        "cccd": {
            "cccd": owner.profile["cccd"],
            "birthdate": owner.profile["birthdate"],
            "gender": owner.profile["gender"],
        },
        "email": {"email": owner.profile["email"]},
        "phone": {"phone": owner.profile["phone"]},
    }[taken]
    before = _count(db)
    data, resp = _post(client, **same)
    assert resp.status_code == fresh.status_code == 200
    assert _shape(resp) == _shape(fresh)
    assert _count(db) == before
    notices = inbox.to(owner.profile["email"], "registration_attempt")
    assert len(notices) == 1
    assert "/recover" in notices[0].body
    typed_phone = normalize_phone(data["phone"])
    assert not inbox.to(typed_phone, "registration_code")
    if taken != "phone":  # the phone typed is nobody's: its holder learns it, only them
        assert inbox.last(typed_phone, "registration_taken")
    # No code opens it.
    for code in ("000000", "123456"):
        assert _confirm(client, resp, code).status_code == 400
    assert _count(db) == before


def test_no_code_opens_a_registration_of_taken_details(client, db, owner, monkeypatch):
    import secrets

    monkeypatch.setattr(secrets, "randbelow", lambda n: 424242)  # the code it would have
    before = _count(db)
    _, resp = _post(client, phone=owner.profile["phone"])
    refused = _confirm(client, resp, "424242")
    assert refused.status_code == 400
    assert 'id="code-error"' in refused.get_data(as_text=True)  # a wrong code, like any
    assert _count(db) == before


def test_the_code_works_once_and_only_in_its_browser(app, client, db, store, inbox):
    data, resp = _post(client)
    code = inbox.code(normalize_phone(data["phone"]), "registration_code")
    other = app.test_client()
    stolen = other.post(
        "/register/code",
        data={"pending": _pending(resp), "code": code, "csrf_token": page_csrf(other, "/register")},
    )
    assert stolen.status_code == 400
    wrong = _confirm(client, resp, f"{(int(code) + 1) % 10**6:06d}")
    assert wrong.status_code == 400
    assert 'id="code-error"' in wrong.get_data(as_text=True)
    assert _confirm(client, resp, code).status_code == 303
    assert store.get(registration._key(_pending(resp))) is None  # taken, not left behind
    assert _confirm(client, resp, code).status_code == 400
    assert (
        db.scalar(select(func.count()).select_from(Citizen).where(Citizen.cccd == data["cccd"]))
        == 1
    )


def test_too_many_wrong_codes_cancel_the_registration(app, client, db, inbox):
    data, resp = _post(client)
    code = inbox.code(normalize_phone(data["phone"]), "registration_code")
    rule = app.extensions["idp.limiter"].rules["verify_account"]
    for _ in range(rule.amount):
        assert _confirm(client, resp, "000000").status_code == 400
    assert _confirm(client, resp, "000000").status_code == 400
    assert _confirm(client, resp, code).status_code == 400  # cancelled
    assert db.scalar(select(Citizen).where(Citizen.cccd == data["cccd"])) is None


def test_a_registration_expires(client, db, inbox, monkeypatch):
    monkeypatch.setattr(registration, "PENDING_TTL", 1)
    data, resp = _post(client)
    code = inbox.code(normalize_phone(data["phone"]), "registration_code")
    time.sleep(1.6)
    assert _confirm(client, resp, code).status_code == 400
    assert db.scalar(select(Citizen).where(Citizen.cccd == data["cccd"])) is None


def test_the_store_keeps_the_hash_never_the_password(client, store, inbox):
    _, resp = _post(client)
    record = store.get(registration._key(_pending(resp)))
    assert record["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in json.dumps(record, ensure_ascii=False)


def test_details_taken_between_the_form_and_the_code_give_a_clear_page(client, db, settings, inbox):
    data, resp = _post(client)
    code = inbox.code(normalize_phone(data["phone"]), "registration_code")
    # Meanwhile the same person is registered at a one-stop desk.
    new_citizen(db, settings, **{k: data[k] for k in ("cccd", "birthdate", "gender")})
    done = _confirm(client, resp, code)
    assert done.status_code == 400
    assert "registered meanwhile" in done.get_data(as_text=True) or "đăng ký" in done.get_data(
        as_text=True
    )


def test_too_many_registrations_from_one_address_get_429(app, client):
    rule = app.extensions["idp.limiter"].rules["register_ip"]
    for _ in range(rule.amount):
        assert _post(client)[1].status_code == 200
    resp = _post(client)[1]
    assert resp.status_code == 429
    assert resp.headers["Retry-After"]


@pytest.mark.parametrize(
    "form",
    [{}, {"pending": "x"}, {"pending": "x" * 1000, "code": "1"}, {"code": ["1", "2"]}],
)
def test_bad_input_on_the_code_form(client, db, form):
    before = _count(db)
    resp = client.post(
        "/register/code", data={**form, "csrf_token": page_csrf(client, "/register")}
    )
    assert resp.status_code == 400
    assert _count(db) == before


def test_the_portal_sign_in_continues_after_the_code(client, db, inbox):
    from tests.consent.helpers import purposes
    from tests.support.factories import new_portal
    from tests.support.useragent import auth_request

    portal = new_portal(db, purposes=purposes(("name",)))
    query, _ = auth_request(portal.client_id, portal.redirect_uri, scope="openid profile")
    start = client.get("/authorize", query_string=query)
    signin = client.get(start.headers["Location"])
    iid = re.search(r'name="interaction" value="([^"]+)"', signin.get_data(as_text=True))[1]
    data = profile_data()
    form = {**data, "password": PASSWORD, "password_confirm": PASSWORD, "interaction": iid}
    form["csrf_token"] = page_csrf(client, f"/register?interaction={iid}")
    resp = client.post("/register", data=form)
    resp.close()
    code = inbox.code(normalize_phone(data["phone"]), "registration_code")
    done = _confirm(client, resp, code)
    assert done.status_code == 303
    assert iid in done.headers["Location"]  # back to the authorization, not the account


def test_two_codes_submitted_at_once_make_one_account(live):
    """Double submit on a live server (two threads, own database sessions): one account,
    the other submit a clear page, never a 500."""
    from tests.support.inbox import sms_code

    ua = UserAgent(live.url)
    data = profile_data()
    form = {**data, "password": PASSWORD, "password_confirm": PASSWORD}
    form["csrf_token"] = ua.csrf("/register")
    resp = ua.transport.request("POST", "/register", form)
    html = ua.text(resp)
    pending = re.search(r'name="pending" value="([^"]+)"', html)[1]
    code = sms_code(live.settings, data["phone"], "registration_code")
    body = {"pending": pending, "code": code, "csrf_token": csrf_token(html)}
    results: list[int] = []
    barrier = threading.Barrier(2)

    def submit() -> None:
        barrier.wait()
        results.append(ua.transport.request("POST", "/register/code", body).status_code)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [303, 400], results
    with live.session() as db:
        count = db.scalar(
            select(func.count()).select_from(Citizen).where(Citizen.cccd == data["cccd"])
        )
    assert count == 1


def test_fresh_and_taken_details_take_the_same_time(db, settings, store, owner):
    """Both paths hash the password with the production argon2 parameters."""
    rules = {**DEFAULT_LIMITS, "register_ip": "100000/minute"}
    tuned = replace(
        settings,
        limits=tuple(rules.items()),
        argon2_time_cost=Settings.argon2_time_cost,
        argon2_memory_kib=Settings.argon2_memory_kib,
    )
    app = create_app(
        tuned,
        engine=db.get_bind(),
        session_factory=lambda: db,
        store=store,
        limiter=Limiter(settings.redis_url, f"idp-test-reg-{uuid.uuid4().hex[:8]}:", rules),
    )
    app.config["TESTING"] = True
    client = app.test_client()
    token = page_csrf(client, "/register")
    taken = {k: owner.profile[k] for k in ("cccd", "birthdate", "gender")}

    def attempt(kind: str) -> float:
        data = profile_data(**(taken if kind == "taken" else {}))
        form = {**data, "password": PASSWORD, "password_confirm": PASSWORD, "csrf_token": token}
        start = time.perf_counter()
        resp = client.post("/register", data=form)
        elapsed = time.perf_counter() - start
        assert resp.status_code == 200
        resp.close()
        return elapsed

    times: dict[str, list[float]] = {"fresh": [], "taken": []}
    for _ in range(40):
        for kind in times:  # interleaved, so that machine noise hits both alike
            times[kind].append(attempt(kind))
    medians = {k: statistics.median(v) for k, v in times.items()}
    assert abs(medians["fresh"] - medians["taken"]) < 0.020, medians


def test_an_owner_gets_one_notice_an_hour_however_many_attempts(client, db, owner, inbox):
    taken = {k: owner.profile[k] for k in ("cccd", "birthdate", "gender")}
    phone = "0905777888"
    for _ in range(3):
        assert _post(client, phone=phone, **taken)[1].status_code == 200
    assert len(inbox.to(owner.profile["email"], "registration_attempt")) == 1
    assert len(inbox.to(normalize_phone(phone), "registration_taken")) == 1


def test_every_field_is_checked_in_one_pass_and_summarised_with_links(client, db):
    before = _count(db)
    data = profile_data()
    form = {**data, "family_name": "", "cccd": "12345", "password": "123", "password_confirm": "1"}
    form["csrf_token"] = page_csrf(client, "/register?lang=en")
    resp = client.post("/register?lang=en", data=form)
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    summary = re.search(r'<div class="error-summary"[^>]*autofocus[^>]*>(.*?)</div>', html, re.S)
    assert summary, "an error summary, focused when the page opens"
    links = re.findall(r'<a href="#([a-z_]+)">', summary.group(1))
    # The password is judged in the same pass as the profile, not after it is fixed.
    assert {"family_name", "cccd", "password"} <= set(links), links
    for name in links:
        assert f'id="{name}"' in html
        assert re.search(rf'id="{name}"[^>]*aria-invalid="true"', html, re.S), name
    assert _count(db) == before
