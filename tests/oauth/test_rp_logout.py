"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at ``end_session_endpoint``.

A valid ``id_token_hint`` for this browser's session ends it at once and returns the
browser to the registered ``post_logout_redirect_uri`` with ``state``; anything less asks
the citizen; anything invalid is a clear page with no redirect and nothing ended.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from idp import keys
from idp.consent import grants as consent_grants
from idp.subjects import subject_for
from tests.consent.helpers import ISSUER, Browser, body, purposes
from tests.support.factories import new_citizen, new_portal
from tests.support.forms import csrf_token

AFTER = "https://portal.example/signed-out"


@pytest.fixture
def citizen(db, settings):
    return new_citizen(db, settings)


@pytest.fixture
def portal(db):
    return new_portal(db, purposes=purposes(("name",)), post_logout_redirect_uris=[AFTER])


@pytest.fixture
def browser(client, citizen):
    return Browser(client, citizen)


def _signed_in_with_tokens(browser: Browser, portal: Any, scope: str = "openid profile") -> dict:
    return browser.token(portal, browser.authorize(portal, scope=scope, prompt="consent"))


def _signed_in(browser: Browser) -> bool:
    return browser.client.get("/account").status_code == 200


def _logout(browser: Browser, method: str = "GET", **params: Any) -> Any:
    if method == "GET":
        return browser.client.get("/logout", query_string=params)
    return browser.client.post("/logout", data=params)


def _state_of(location: str) -> list[str]:
    return parse_qs(urlsplit(location).query).get("state", [])


def _prompt_none(browser: Browser, portal: Any) -> str | None:
    query, _, _ = browser._request(portal, prompt="none", scope="openid profile")
    resp = browser.client.get("/authorize", query_string=query)
    return parse_qs(urlsplit(resp.headers.get("Location", "")).query).get("error", [None])[0]


def test_discovery_names_the_end_session_endpoint(client):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["end_session_endpoint"] == f"{ISSUER}/logout"


def test_id_tokens_carry_one_sid_per_session(db, browser, portal, citizen):
    other = new_portal(db, purposes=purposes(("name",)))
    first = browser.id_token(portal, _signed_in_with_tokens(browser, portal))
    second = browser.id_token(other, _signed_in_with_tokens(browser, other))
    assert first["sid"] == second["sid"]
    assert len(first["sid"]) >= 32
    # A new sign-in is a new session, with another sid.
    browser.client.post("/signout", data={"csrf_token": browser.ua.csrf("/account")})
    third = browser.id_token(portal, _signed_in_with_tokens(browser, portal))
    assert third["sid"] != first["sid"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_valid_hint_signs_out_at_once_and_returns_with_state(db, browser, portal, method):
    offline = _signed_in_with_tokens(browser, portal, "openid profile offline_access")
    resp = _logout(
        browser,
        method,
        id_token_hint=offline["id_token"],
        post_logout_redirect_uri=AFTER,
        state="xyz é&=",
    )
    assert resp.status_code == 303, body(resp)
    location = resp.headers["Location"]
    assert location.startswith(AFTER + "?")
    assert _state_of(location) == ["xyz é&="]
    assert not _signed_in(browser)
    assert _prompt_none(browser, portal) == "login_required"
    # Consent grants are untouched; the offline refresh token lives on.
    assert consent_grants.live_grant(db, citizen_id=browser.citizen.id, portal_id=portal.id)
    assert browser.refresh(portal, offline["refresh_token"]).status_code == 200


def test_without_a_redirect_the_signed_out_page_is_shown(browser, portal):
    token = _signed_in_with_tokens(browser, portal)
    resp = _logout(browser, id_token_hint=token["id_token"], ui_locales="en")
    assert resp.status_code == 200
    assert "You are signed out" in resp.get_data(as_text=True)
    assert not _signed_in(browser)


def test_an_expired_hint_is_still_a_valid_hint(app, db, browser, portal, settings):
    _signed_in_with_tokens(browser, portal)
    now = int(time.time())
    from idp.portals.service import find_active

    row = find_active(db, portal.client_id)
    with app.app_context():
        hint = _sign(db, row, browser.citizen.id, now)
    resp = _logout(browser, id_token_hint=hint, post_logout_redirect_uri=AFTER)
    assert resp.status_code == 303
    assert not _signed_in(browser)


def _sign(db: Any, row: Any, citizen_id: str, now: int, iss: str = ISSUER) -> str:
    """Sign an ID token (expired, no sid) with the provider's own key."""
    return jwt.encode(
        {"alg": "RS256", "kid": keys.signing_key(db, "RS256").kid},
        {
            "iss": iss,
            "aud": row.client_id,
            "sub": subject_for(citizen_id, row),
            "iat": now - 7200,
            "exp": now - 3600,
        },
        keys.signing_key(db, "RS256"),
    )


def _confirm(browser: Browser, page: Any, answer: str) -> Any:
    html = page.get_data(as_text=True)
    token = html.split('name="logout" value="')[1].split('"')[0]
    return browser.client.post(
        "/logout/confirm",
        data={"csrf_token": csrf_token(html), "logout": token, "answer": answer},
    )


def test_without_a_hint_the_citizen_is_asked_and_nothing_ends_until_they_agree(browser, portal):
    _signed_in_with_tokens(browser, portal)
    page = _logout(browser, client_id=portal.client_id, post_logout_redirect_uri=AFTER, state="s1")
    assert page.status_code == 200
    assert 'id="logout-yes"' in page.get_data(as_text=True)
    assert _signed_in(browser)
    resp = _confirm(browser, page, "yes")
    assert resp.status_code == 303
    assert resp.headers["Location"].startswith(AFTER)
    assert _state_of(resp.headers["Location"]) == ["s1"]
    assert not _signed_in(browser)


def test_the_citizen_may_stay_signed_in(browser, portal):
    _signed_in_with_tokens(browser, portal)
    page = _logout(browser)
    resp = _confirm(browser, page, "no")
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/account")
    assert _signed_in(browser)


def test_a_confirmation_works_once_and_only_in_its_browser(app, browser, portal, db, settings):
    _signed_in_with_tokens(browser, portal)
    page = _logout(browser)
    html = page.get_data(as_text=True)
    token = html.split('name="logout" value="')[1].split('"')[0]
    # Another browser (its own cookies) cannot use it.
    stranger = Browser(app.test_client(), new_citizen(db, settings))
    stranger_csrf = stranger.ua.csrf("/signin")
    resp = stranger.client.post(
        "/logout/confirm", data={"csrf_token": stranger_csrf, "logout": token, "answer": "yes"}
    )
    assert resp.status_code == 400
    assert _signed_in(browser)
    # Its own browser can, once (the stranger's attempt used it up).
    again = browser.client.post(
        "/logout/confirm", data={"csrf_token": csrf_token(html), "logout": token, "answer": "yes"}
    )
    assert again.status_code == 400
    assert _signed_in(browser)


def test_a_hint_for_another_citizen_asks_instead_of_signing_out(app, db, settings, browser, portal):
    other = Browser(app.test_client(), new_citizen(db, settings))
    their_token = _signed_in_with_tokens(other, portal)
    _signed_in_with_tokens(browser, portal)
    page = _logout(browser, id_token_hint=their_token["id_token"], post_logout_redirect_uri=AFTER)
    assert page.status_code == 200
    assert 'id="logout-yes"' in page.get_data(as_text=True)
    assert _signed_in(browser)
    assert _signed_in(other)


def _forged(portal: Any, sub: str = "someone") -> str:
    key = RSAKey.generate_key(2048, parameters={"kid": "forged"})
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": portal.client_id, "sub": sub, "iat": now, "exp": now + 60}
    return jwt.encode({"alg": "RS256", "kid": "forged"}, claims, key)


@pytest.mark.parametrize(
    "params",
    [
        {"id_token_hint": "not.a.jwt"},
        {"id_token_hint": "FORGED", "post_logout_redirect_uri": AFTER},
        {"client_id": "nobody", "post_logout_redirect_uri": AFTER},
        {"post_logout_redirect_uri": AFTER},  # no portal to check it against
        {"client_id": "PORTAL", "post_logout_redirect_uri": "https://evil.example/"},
        {"client_id": "PORTAL", "post_logout_redirect_uri": AFTER + "/more"},
        {"client_id": "PORTAL", "state": "x" * 5000},
        {"id_token_hint": "x" * 10_000},
    ],
)
def test_invalid_requests_get_a_page_no_redirect_nothing_ended(browser, portal, params):
    _signed_in_with_tokens(browser, portal)
    params = {
        k: (_forged(portal) if v == "FORGED" else portal.client_id if v == "PORTAL" else v)
        for k, v in params.items()
    }
    for method in ("GET", "POST"):
        resp = _logout(browser, method, **params)
        assert resp.status_code == 400, (method, resp.status_code)
        assert "Location" not in resp.headers
        assert "not valid" in resp.get_data(as_text=True) or "không hợp lệ" in resp.get_data(
            as_text=True
        )
    assert _signed_in(browser)


def test_a_hint_for_another_portal_than_client_id_is_refused(db, browser, portal):
    other = new_portal(db, purposes=purposes(("name",)))
    token = _signed_in_with_tokens(browser, portal)
    resp = _logout(browser, id_token_hint=token["id_token"], client_id=other.client_id)
    assert resp.status_code == 400
    assert _signed_in(browser)


def test_repeated_parameters_are_refused(browser, portal):
    _signed_in_with_tokens(browser, portal)
    resp = browser.client.get(f"/logout?state=a&state=b&client_id={portal.client_id}")
    assert resp.status_code == 400
    assert _signed_in(browser)


def test_without_a_session_a_valid_request_just_returns(client, portal):
    resp = client.get(
        "/logout",
        query_string={
            "client_id": portal.client_id,
            "post_logout_redirect_uri": AFTER,
            "state": "s",
        },
    )
    assert resp.status_code == 303
    assert _state_of(resp.headers["Location"]) == ["s"]


def test_a_hint_from_an_earlier_session_of_the_same_citizen_asks(browser, portal):
    old = _signed_in_with_tokens(browser, portal)
    browser.client.post("/signout", data={"csrf_token": browser.ua.csrf("/account")})
    _signed_in_with_tokens(browser, portal)  # a new session: another sid
    page = _logout(browser, id_token_hint=old["id_token"], post_logout_redirect_uri=AFTER)
    assert page.status_code == 200
    assert 'id="logout-yes"' in page.get_data(as_text=True)
    assert _signed_in(browser)


def test_a_hint_without_sid_for_another_citizen_asks(app, db, settings, browser, portal):
    from idp.portals.service import find_active

    _signed_in_with_tokens(browser, portal)
    other = new_citizen(db, settings)
    with app.app_context():
        hint = _sign(db, find_active(db, portal.client_id), other.id, int(time.time()))
    page = _logout(browser, id_token_hint=hint)
    assert page.status_code == 200
    assert 'id="logout-yes"' in page.get_data(as_text=True)
    assert _signed_in(browser)


def test_a_hint_signed_with_our_key_for_another_issuer_is_refused(app, db, browser, portal):
    from idp.portals.service import find_active

    _signed_in_with_tokens(browser, portal)
    row = find_active(db, portal.client_id)
    with app.app_context():
        hint = _sign(db, row, browser.citizen.id, int(time.time()), iss="https://other.example")
    assert _logout(browser, id_token_hint=hint).status_code == 400
    assert _signed_in(browser)


def test_the_ended_session_is_gone_from_the_store_not_only_the_cookie(browser, portal):
    from idp.citizens.sso import SSO_COOKIE

    token = _signed_in_with_tokens(browser, portal)
    cookie = browser.client.get_cookie(SSO_COOKIE)
    assert cookie is not None
    _logout(browser, id_token_hint=token["id_token"])
    # The old cookie value, replayed (copied before sign-out), opens nothing.
    browser.client.set_cookie(SSO_COOKIE, cookie.value, domain=cookie.domain, path=cookie.path)
    assert not _signed_in(browser)
