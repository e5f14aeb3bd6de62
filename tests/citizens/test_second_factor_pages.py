"""The account's second-factor pages: enrol (QR code, key in groups of four, one valid
code), recovery codes shown once, regenerate and remove only with a current code. Bad
input gets a clear message, never a 500, and writes nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from idp.citizens import factors
from tests.consent.helpers import body
from tests.support.factories import new_citizen
from tests.support.forms import csrf_token
from tests.support.totp import Authenticator, enrol
from tests.support.useragent import sign_in


@pytest.fixture
def citizen(db, settings):
    return new_citizen(db, settings)


@pytest.fixture
def signed_in(client, citizen):
    sign_in(client, citizen)
    return citizen


def _codes(html: str) -> list[str]:
    return re.findall(r"<li><code>([A-Z2-7-]+)</code></li>", html)


def _rows(db, citizen_id: str) -> tuple[int, int]:
    params = {"c": citizen_id}
    factors_n = db.execute(
        text(
            "SELECT count(*) FROM second_factors WHERE citizen_id = :c AND confirmed_at IS NOT NULL"
        ),
        params,
    ).scalar_one()
    codes_n = db.execute(
        text("SELECT count(*) FROM recovery_codes WHERE citizen_id = :c"), params
    ).scalar_one()
    return int(factors_n), int(codes_n)


def test_signed_out_is_sent_to_sign_in(client):
    assert client.get("/account/second-factor").status_code == 303
    assert client.post("/account/second-factor/confirm", data={}).status_code in (303, 400)


def test_the_account_page_links_to_the_second_factor(client, signed_in):
    html = body(client.get("/account"))
    assert 'id="link-second-factor"' in html


def test_enrolment_through_the_pages(client, db, signed_in, clock):
    page = client.get("/account/second-factor")
    html = body(page)
    assert page.status_code == 200
    assert re.search(r'<figure class="qr"[^>]*>\s*<svg', html)
    key = re.search(r'id="manual-key"[^>]*>([^<]+)<', html)[1]
    assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", key)
    app = Authenticator(key, clock)
    # A wrong code: a clear message, status 400, nothing confirmed.
    wrong = f"{(int(app.code()) + 1) % 10**6:06d}"
    for bad in (wrong, "", "abc", "9" * 70):
        resp = client.post(
            "/account/second-factor/confirm",
            data={"csrf_token": csrf_token(body(page)), "code": bad},
        )
        assert resp.status_code == 400
        assert 'id="code-error"' in body(resp)
        assert _rows(db, signed_in.id) == (0, 0)
    done = client.post(
        "/account/second-factor/confirm",
        data={"csrf_token": csrf_token(body(page)), "code": app.code()},
    )
    assert done.status_code == 200
    assert len(_codes(body(done))) == 10
    assert _rows(db, signed_in.id) == (1, 10)
    # Shown once: the page now says the factor is on, never the codes or the key.
    after = body(client.get("/account/second-factor"))
    assert 'id="factor-status"' in after
    assert not _codes(after)
    assert key not in after


def test_enrolment_without_csrf_token_is_refused(client, db, signed_in, clock):
    client.get("/account/second-factor")
    resp = client.post("/account/second-factor/confirm", data={"code": "123456"})
    assert resp.status_code == 400
    assert _rows(db, signed_in.id) == (0, 0)


def test_regenerating_codes_needs_a_current_code(client, db, store, settings, signed_in, clock):
    app, old = enrol(db, store, settings, signed_in.id, clock)
    page = client.get("/account/second-factor")
    for bad in ("", "000000", old[0] + "X"):
        resp = client.post(
            "/account/second-factor/recovery-codes",
            data={"csrf_token": csrf_token(body(page)), "code": bad},
        )
        assert resp.status_code == 400
    assert factors.use_recovery_code(db, citizen_id=signed_in.id, code=old[1]) == 9
    clock.advance()
    resp = client.post(
        "/account/second-factor/recovery-codes",
        data={"csrf_token": csrf_token(body(page)), "code": app.code()},
    )
    assert resp.status_code == 200
    new = _codes(body(resp))
    assert len(new) == 10
    assert factors.use_recovery_code(db, citizen_id=signed_in.id, code=old[2]) is None
    assert factors.use_recovery_code(db, citizen_id=signed_in.id, code=new[0]) == 9


def test_removing_the_factor_needs_a_current_code(client, db, store, settings, signed_in, clock):
    app, codes = enrol(db, store, settings, signed_in.id, clock)
    page = client.get("/account/second-factor")
    resp = client.post(
        "/account/second-factor/remove",
        data={"csrf_token": csrf_token(body(page)), "code": "123456"},
    )
    assert resp.status_code == 400
    assert factors.has_factor(db, signed_in.id)
    # The code used at enrolment is spent: it does not remove the factor either.
    clock.now -= 30
    replay = client.post(
        "/account/second-factor/remove",
        data={"csrf_token": csrf_token(body(page)), "code": app.code()},
    )
    assert replay.status_code == 400
    assert factors.has_factor(db, signed_in.id)
    # A recovery code is a way in when the phone is lost.
    resp = client.post(
        "/account/second-factor/remove",
        data={"csrf_token": csrf_token(body(page)), "code": codes[0]},
    )
    assert resp.status_code == 200
    assert 'id="account-notice"' in body(resp)
    assert _rows(db, signed_in.id) == (0, 0)
