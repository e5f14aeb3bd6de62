"""OpenID Connect Back-Channel Logout 1.0: every way a session or a relationship ends
sends each affected portal a logout token, through a queue, with retries, recorded.

Flask test client for the citizen, a real HTTP endpoint (tests/support/receiver.py) for
the portal; the queue is run by hand (``backchannel.run_due``), which also proves that
no page waits for a delivery. Both backends.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp import backchannel
from idp.portals.models import LogoutDelivery
from idp.portals.service import RegistrationError
from tests.consent.helpers import ISSUER, Browser
from tests.support.factories import new_citizen, new_portal
from tests.support.forms import csrf_token
from tests.support.receiver import Receiver

EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def quick(monkeypatch):
    """Retries without waiting, and a short HTTP timeout."""
    monkeypatch.setattr(backchannel, "BACKOFF", (0, 0, 0, 0))
    monkeypatch.setattr(backchannel, "TIMEOUT", (0.5, 0.5))


@pytest.fixture
def citizen(db, settings):
    return new_citizen(db, settings)


@pytest.fixture
def browser(client, citizen):
    return Browser(client, citizen)


def _portal(db, receiver, **kw):
    return new_portal(
        db,
        scope="openid profile",
        backchannel_logout_uri=receiver.url,
        backchannel_private=True,
        **kw,
    )


def _run(app, rounds: int = 1) -> list[str]:
    out: list[str] = []
    with app.app_context():
        for _ in range(rounds):
            out += backchannel.run_due(now=time.time() + 3600)
    return out


def _verify(client, token: str, portal) -> dict[str, Any]:
    """Verify a logout token as a portal must (Back-Channel Logout 1.0 §2.6)."""
    jwks = KeySet.import_key_set(client.get("/jwks").get_json())
    decoded = jwt.decode(token, jwks, algorithms=["RS256", "ES256"])
    assert decoded.header["typ"] == "logout+jwt"
    claims = dict(decoded.claims)
    assert claims["iss"] == ISSUER
    assert claims["aud"] == portal.client_id
    assert claims["events"] == {EVENT: {}}
    assert "nonce" not in claims
    assert claims["iat"] <= time.time() + 5
    assert claims["exp"] > time.time()
    assert claims["jti"]
    return claims


def _sign_out(client) -> Any:
    html = client.get("/account").get_data(as_text=True)
    return client.post("/signout", data={"csrf_token": csrf_token(html)})


def test_signing_out_sends_a_logout_token_for_the_session(app, db, browser, receiver):
    portal = _portal(db, receiver)
    _, _, id_claims = browser.sign_in_flow(portal, scope="openid")
    resp = _sign_out(browser.client)
    assert resp.status_code in (200, 302, 303)
    assert receiver.received == []  # the page did not wait for the portal
    assert _run(app) == ["delivered"]
    (token,) = receiver.tokens()
    claims = _verify(browser.client, token, portal)
    assert claims["sid"] == id_claims["sid"]
    assert claims["sub"] == id_claims["sub"]
    assert receiver.received[0]["content_type"] == "application/x-www-form-urlencoded"
    row = db.scalar(select(LogoutDelivery).where(LogoutDelivery.portal_id == portal.id))
    assert (row.outcome, row.http_status, row.attempt, row.reason) == (
        "delivered",
        200,
        1,
        "signed_out",
    )
    assert row.jti == claims["jti"]
    # Nothing more is queued.
    assert _run(app) == []


def test_a_failing_portal_gets_the_token_on_the_third_try(app, db, browser, receiver, quick):
    receiver.statuses = [500, 503]
    portal = _portal(db, receiver)
    browser.sign_in_flow(portal, scope="openid")
    _sign_out(browser.client)
    assert _run(app, rounds=4) == ["failed", "failed", "delivered"]
    assert len(receiver.tokens()) == 3
    rows = db.scalars(
        select(LogoutDelivery)
        .where(LogoutDelivery.portal_id == portal.id)
        .order_by(LogoutDelivery.attempt)
    ).all()
    assert [(r.attempt, r.outcome, r.http_status) for r in rows] == [
        (1, "failed", 500),
        (2, "failed", 503),
        (3, "delivered", 200),
    ]


def test_a_portal_that_never_answers_is_given_up_and_recorded(app, db, browser, quick):
    silent = Receiver(hang=2.0)
    try:
        portal = _portal(db, silent)
        browser.sign_in_flow(portal, scope="openid")
        started = time.monotonic()
        _sign_out(browser.client)
        assert time.monotonic() - started < 1.5  # the page never waits
        outcomes = _run(app, rounds=len(backchannel.BACKOFF) + 1)
    finally:
        silent.stop()
    assert outcomes == ["failed"] * (len(backchannel.BACKOFF) - 1) + ["gave_up"]
    rows = db.scalars(select(LogoutDelivery).where(LogoutDelivery.portal_id == portal.id)).all()
    assert sorted(r.outcome for r in rows)[-1] == "gave_up"
    assert {r.detail for r in rows} == {"ReadTimeout"}


def test_redirects_are_not_followed(app, db, browser, receiver, quick):
    receiver.statuses = [302, 302, 302, 302]
    portal = _portal(db, receiver)
    browser.sign_in_flow(portal, scope="openid")
    _sign_out(browser.client)
    assert _run(app, rounds=5)[-1] == "gave_up"
    assert {r["path"] for r in receiver.received} == {"/backchannel-logout"}  # not followed
    assert len(receiver.received) == len(backchannel.BACKOFF)


def test_withdrawing_a_whole_grant_sends_a_logout_token(app, db, browser, receiver):
    portal = _portal(db, receiver)
    _, _, id_claims = browser.sign_in_flow(portal, scope="openid")
    from idp.consent.grants import live_grants

    grant_id = live_grants(db, browser.citizen.id)[0].id
    html = browser.client.get(f"/account/portals/{grant_id}/withdraw/confirm").get_data(
        as_text=True
    )
    resp = browser.client.post(
        f"/account/portals/{grant_id}/withdraw", data={"csrf_token": csrf_token(html)}
    )
    assert resp.status_code in (200, 303)
    assert _run(app) == ["delivered"]
    claims = _verify(browser.client, receiver.tokens()[0], portal)
    assert claims["sid"] == id_claims["sid"]
    row = db.scalar(select(LogoutDelivery).where(LogoutDelivery.portal_id == portal.id))
    assert row.reason == "withdrawn"


def test_signing_out_everywhere_tells_every_portal_of_every_session(
    app, db, client, settings, citizen, receiver
):
    other = Receiver()
    try:
        first = _portal(db, receiver)
        second = _portal(db, other)
        Browser(client, citizen).sign_in_flow(first, scope="openid")
        second_browser = Browser(app.test_client(), citizen)
        _, _, id_claims = second_browser.sign_in_flow(second, scope="openid")
        html = client.get("/account").get_data(as_text=True)
        resp = client.post("/account/sessions/end-all", data={"csrf_token": csrf_token(html)})
        assert resp.status_code in (200, 303)
        assert sorted(_run(app)) == ["delivered", "delivered"]
        assert _verify(client, other.tokens()[0], second)["sid"] == id_claims["sid"]
        assert len(receiver.tokens()) == 1
    finally:
        other.stop()


def test_a_stronger_sign_in_keeps_the_portal_informed_of_its_sid(app, db, browser, receiver):
    portal = _portal(db, receiver)
    _, _, first = browser.sign_in_flow(portal, scope="openid")
    # Signing in again (prompt=login) replaces the session: no logout is sent then...
    _, _, second = browser.sign_in_flow(portal, scope="openid", prompt="login")
    assert _run(app) == []
    # ...and the final sign-out names the sid of the portal's latest ID token.
    _sign_out(browser.client)
    assert _run(app) == ["delivered"]
    assert _verify(browser.client, receiver.tokens()[0], portal)["sid"] == second["sid"]
    assert second["sid"] != first["sid"]


def test_one_trigger_after_another_sends_one_token(app, db, browser, receiver):
    portal = _portal(db, receiver)
    browser.sign_in_flow(portal, scope="openid")
    from idp.consent.grants import live_grants

    grant_id = live_grants(db, browser.citizen.id)[0].id
    html = browser.client.get(f"/account/portals/{grant_id}/withdraw/confirm").get_data(
        as_text=True
    )
    browser.client.post(
        f"/account/portals/{grant_id}/withdraw", data={"csrf_token": csrf_token(html)}
    )
    _sign_out(browser.client)
    assert _run(app) == ["delivered"]


def test_a_portal_without_a_uri_or_needing_a_sid_it_cannot_get_is_skipped(
    app, db, browser, receiver
):
    plain = new_portal(db, scope="openid profile")
    needs_sid = _portal(db, receiver, backchannel_logout_session_required=True)
    browser.sign_in_flow(plain, scope="openid")
    _sign_out(browser.client)
    assert _run(app) == ["dropped"]  # nothing to send, nothing recorded
    # Withdrawal with no live session: a token could only name the citizen.
    browser.sign_in_flow(needs_sid, scope="openid")
    _sign_out(browser.client)
    assert _run(app) == ["delivered"]
    from idp.consent.grants import live_grants

    browser.authorize(needs_sid, scope="openid")  # signs in again
    with app.test_request_context():
        from idp import runtime

        grant = live_grants(db, browser.citizen.id)[0]
        backchannel.announce(
            runtime.store(),
            citizen_id=browser.citizen.id,
            portal_ids=[grant.portal_id],
            sid=None,
            reason="withdrawn",
        )
    assert _run(app) == ["dropped"]


def test_a_private_address_is_refused_unless_registered_so(app, db, browser, monkeypatch):
    portal = new_portal(
        db, scope="openid profile", backchannel_logout_uri="https://portal.example.vn/bcl"
    )
    monkeypatch.setattr(backchannel, "resolve", lambda host, port: ["10.0.0.5"])
    browser.sign_in_flow(portal, scope="openid")
    _sign_out(browser.client)
    assert _run(app) == ["refused"]
    row = db.scalar(select(LogoutDelivery).where(LogoutDelivery.portal_id == portal.id))
    assert row.outcome == "refused"


@pytest.mark.parametrize(
    ("uri", "private"),
    [
        ("https://portal.example.vn/bcl#frag", False),
        ("http://portal.example.vn/bcl", False),
        ("ftp://portal.example.vn/bcl", False),
        ("http://127.0.0.1:9000/bcl", False),
        ("https://10.1.2.3/bcl", False),
        ("https://localhost/bcl", False),
        ("x" * 2100, True),
    ],
)
def test_registration_validates_the_backchannel_uri(db, uri, private):
    with pytest.raises(RegistrationError):
        new_portal(db, backchannel_logout_uri=uri, backchannel_private=private)


def test_discovery_advertises_backchannel_logout(client):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["backchannel_logout_supported"] is True
    assert meta["backchannel_logout_session_supported"] is True
    assert meta["frontchannel_logout_supported"] is False


def test_deliveries_hold_no_personal_data(app, db, browser, receiver):
    portal = _portal(db, receiver)
    browser.sign_in_flow(portal, scope="openid")
    _sign_out(browser.client)
    _run(app)
    with app.app_context():
        from idp.portals.service import get_portal

        listed = backchannel.deliveries(db, get_portal(db, portal.id))
    text = json.dumps(listed, ensure_ascii=False)
    for key in ("family_name", "given_name", "birthdate", "cccd", "email", "phone", "street"):
        assert browser.citizen.profile[key] not in text
    assert browser.citizen.id not in text
    assert listed[0]["outcome"] == "delivered"
