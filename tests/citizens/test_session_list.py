"""Where the citizen is signed in: the account page lists each live session (kind of
browser, network, times, portals used), signs out one, or signs out everywhere; an idle
session ends after IDP_SESSION_IDLE_TTL."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from idp.citizens import service
from tests.consent.helpers import Browser, purposes
from tests.support.factories import new_citizen, new_portal
from tests.support.useragent import UserAgent, page_csrf

PHONE = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36"
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0"


@pytest.fixture
def citizen(db, settings):
    return new_citizen(db, settings)


def _browser(app: Any, citizen: Any, ua: str) -> Any:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = ua
    UserAgent.over(client).sign_in(citizen.identifier, citizen.password).close()
    return client


def _refs(page: str) -> list[str]:
    return re.findall(r'<li data-session="([0-9a-f]{64})"', page)


def test_the_account_lists_each_session_and_the_portals_used(app, db, citizen):
    phone = _browser(app, citizen, PHONE)
    desktop = _browser(app, citizen, DESKTOP)
    portal = new_portal(db, purposes=purposes(("name",)))
    Browser(desktop, citizen).authorize(portal, scope="openid profile")
    page = desktop.get("/account?lang=en").get_data(as_text=True)
    assert len(_refs(page)) == 2
    assert "Chrome, Android" in page
    assert "Firefox, Windows" in page
    assert "this browser" in page
    assert portal.name in page
    assert "network 127.0.0.0/24" in page
    assert phone.get("/account").status_code == 200


def test_signing_out_another_session(app, citizen):
    phone = _browser(app, citizen, PHONE)
    desktop = _browser(app, citizen, DESKTOP)
    page = desktop.get("/account?lang=en").get_data(as_text=True)
    other = next(ref for ref in _refs(page) if f'data-session="{ref}" class="current"' not in page)
    resp = desktop.post(
        "/account/sessions/end?lang=en",
        data={"session": other, "csrf_token": page_csrf(desktop, "/account")},
    )
    assert "was signed out" in resp.get_data(as_text=True)
    assert phone.get("/account").status_code == 303
    assert desktop.get("/account").status_code == 200


def test_another_citizens_session_cannot_be_ended(app, db, settings, citizen):
    stranger = new_citizen(db, settings)
    theirs = _browser(app, stranger, PHONE)
    their_ref = _refs(theirs.get("/account").get_data(as_text=True))[0]
    mine = _browser(app, citizen, DESKTOP)
    for ref in (their_ref, "x", "f" * 64, "0" * 1000):
        resp = mine.post(
            "/account/sessions/end",
            data={"session": ref, "csrf_token": page_csrf(mine, "/account")},
        )
        assert resp.status_code == 200
    assert theirs.get("/account").status_code == 200


def test_sign_out_everywhere(app, db, citizen):
    portal = new_portal(db, purposes=purposes(("name",)))
    phone = _browser(app, citizen, PHONE)
    desktop = _browser(app, citizen, DESKTOP)
    browser = Browser(desktop, citizen)
    online = browser.token(portal, browser.authorize(portal, scope="openid profile"))
    offline = browser.token(
        portal, browser.authorize(portal, scope="openid profile offline_access", prompt="consent")
    )
    resp = desktop.post(
        "/account/sessions/end-all", data={"csrf_token": page_csrf(desktop, "/account")}
    )
    assert resp.status_code == 200
    assert 'id="signed-out-everywhere"' in resp.get_data(as_text=True)
    assert phone.get("/account").status_code == 303
    assert desktop.get("/account").status_code == 303
    assert browser.userinfo(online["access_token"]).status_code == 401
    assert browser.refresh(portal, offline["refresh_token"]).status_code == 200


def test_an_idle_session_ends_and_use_keeps_it_alive(store, monkeypatch):
    session = service.start_session(
        store, citizen_id="c1", amr=("pwd",), acr="urn:vn:idp:loa:1", ttl=3600
    )
    now = [time.time()]
    monkeypatch.setattr(service.time, "time", lambda: now[0])
    now[0] += 61  # used after a minute: "last used" moves on
    assert service.load_session(store, session.sid, idle_ttl=100) is not None
    now[0] += 90  # 151 s after the start, 90 s after the last use
    assert service.load_session(store, session.sid, idle_ttl=100) is not None
    now[0] += 101  # unused for longer than the idle lifetime
    assert service.load_session(store, session.sid, idle_ttl=100) is None
    assert service.load_session(store, session.sid) is None  # gone for good
