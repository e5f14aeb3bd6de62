"""The single sign-on session lives in the shared store, not in the cookie.

Sign-out and a new sign-in end it at the store (a copied cookie is dead), every sign-in
starts a fresh session id (no fixation) and a fresh browser session (new CSRF token),
and the store keeps only a digest of the id: the cookie's value is a bearer secret.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from idp.citizens import service
from idp.citizens.sso import SSO_COOKIE
from tests.support.factories import CitizenInfo, new_citizen
from tests.support.useragent import page_csrf, sign_in


@pytest.fixture
def citizen(db: Any, settings: Any) -> CitizenInfo:
    return new_citizen(db, settings)


@pytest.fixture
def other(db: Any, settings: Any) -> CitizenInfo:
    return new_citizen(db, settings)


def sso_cookie(client: Any) -> str:
    """Return the SSO cookie's value in this browser."""
    cookie = client.get_cookie(SSO_COOKIE)
    assert cookie is not None, "no SSO cookie"
    return cookie.value


def account_with_cookie(app: Any, sid: str) -> int:
    """Present a copied SSO cookie from a fresh browser; return the account page status."""
    thief = app.test_client()
    thief.set_cookie(SSO_COOKIE, sid)
    return thief.get("/account").status_code


def test_a_copied_cookie_works_while_signed_in(app, client, citizen):
    """The premise of the tests below: the cookie alone is a bearer credential."""
    sign_in(client, citizen)
    assert account_with_cookie(app, sso_cookie(client)) == 200


def test_sign_out_ends_the_server_side_session(app, client, store, citizen):
    sign_in(client, citizen)
    sid = sso_cookie(client)
    resp = client.post("/signout", data={"csrf_token": page_csrf(client, "/account")})
    assert resp.status_code == 200
    assert client.get("/account").status_code == 303
    # Not only the browser's cookie is gone: the session itself is.
    assert account_with_cookie(app, sid) == 303
    assert service.load_session(store, sid) is None


@pytest.mark.parametrize("who", ["same citizen", "another citizen"])
def test_new_sign_in_ends_the_previous_session(app, client, store, citizen, other, who):
    sign_in(client, citizen)
    first = sso_cookie(client)
    second_citizen = citizen if who == "same citizen" else other
    sign_in(client, second_citizen)
    second = sso_cookie(client)
    assert second != first
    assert account_with_cookie(app, first) == 303
    assert service.load_session(store, first) is None
    live = service.load_session(store, second)
    assert live is not None
    assert live.citizen_id == second_citizen.id


def test_sign_in_rotates_a_planted_session_id(app, client, store, citizen, other):
    """Session fixation: an attacker's own session id planted in the victim's browser."""
    attacker = app.test_client()
    sign_in(attacker, other)
    planted = sso_cookie(attacker)
    client.set_cookie(SSO_COOKIE, planted)
    sign_in(client, citizen)
    fresh = sso_cookie(client)
    assert fresh != planted
    # At the store: the planted id is not the victim's session (it is no session at all).
    assert service.load_session(store, planted) is None
    session = service.load_session(store, fresh)
    assert session is not None
    assert session.citizen_id == citizen.id
    assert account_with_cookie(app, planted) == 303


def test_start_session_always_issues_a_fresh_id(store):
    old = service.start_session(store, citizen_id="c-1", amr=("pwd",), acr="1", ttl=60)
    new = service.start_session(
        store, citizen_id="c-2", amr=("pwd",), acr="1", ttl=60, replaces=old.sid
    )
    assert new.sid != old.sid
    assert service.load_session(store, old.sid) is None
    loaded = service.load_session(store, new.sid)
    assert loaded is not None
    assert loaded.citizen_id == "c-2"


def test_sign_in_starts_a_fresh_browser_session(client, citizen):
    """A CSRF token minted before sign-in is refused after it (new browser session)."""
    before = page_csrf(client, "/signin")
    resp = client.post(
        "/signin",
        data={"csrf_token": before, "identifier": citizen.identifier, "password": citizen.password},
    )
    assert resp.status_code == 303
    assert client.post("/signout", data={"csrf_token": before}).status_code == 400
    assert client.get("/account").status_code == 200  # still signed in


def test_store_keeps_only_a_digest_of_the_session_id(client, store, citizen):
    sign_in(client, citizen)
    sid = sso_cookie(client)
    assert store.get(f"sso:{sid}") is None
    record = store.get(f"sso:{hashlib.sha256(sid.encode()).hexdigest()}")
    assert record is not None
    assert sid not in json.dumps(record)
    # The cookie still finds its session.
    session = service.load_session(store, sid)
    assert session is not None
    assert session.citizen_id == citizen.id
    assert client.get("/account").status_code == 200


def test_ending_all_sessions_ends_every_browser_but_not_later_sessions(
    store: Any, citizen: CitizenInfo, other: CitizenInfo
) -> None:
    a = service.start_session(store, citizen_id=citizen.id, amr=("pwd",), acr="1", ttl=600)
    b = service.start_session(store, citizen_id=citizen.id, amr=("pwd",), acr="1", ttl=600)
    theirs = service.start_session(store, citizen_id=other.id, amr=("pwd",), acr="1", ttl=600)
    service.end_all_sessions(store, citizen_id=citizen.id, ttl=600)
    assert service.load_session(store, a.sid) is None
    assert service.load_session(store, b.sid) is None
    # Another citizen's session is untouched; a session started afterwards is live.
    assert service.load_session(store, theirs.sid) == theirs
    after = service.start_session(store, citizen_id=citizen.id, amr=("pwd",), acr="1", ttl=600)
    assert service.load_session(store, after.sid) == after
