"""A sign-in from a browser not seen before sends the citizen a notice with a "this was
not me" link that ends every session and starts recovery."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from idp.citizens.browsers import describe
from idp.citizens.models import Citizen, KnownBrowser
from tests.consent.helpers import Browser, purposes
from tests.support.factories import new_citizen, new_portal
from tests.support.forms import csrf_token
from tests.support.useragent import UserAgent

PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Mobile Safari/537.36"
)


@pytest.fixture
def citizen(db, settings):
    info = new_citizen(db, settings, email="lan@example.vn")
    db.execute(update(Citizen).where(Citizen.id == info.id).values(email_verified=True))
    db.commit()
    return info


def _browser(app: Any, user_agent: str = PHONE_UA) -> Any:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


def _sign_in(client: Any, citizen: Any) -> None:
    resp = UserAgent.over(client).sign_in(citizen.identifier, citizen.password)
    resp.close()


def test_the_first_browser_is_quiet_a_new_one_is_told_the_same_one_is_not(app, db, citizen, inbox):
    first, second = _browser(app), _browser(app)
    _sign_in(first, citizen)
    assert not inbox.to("lan@example.vn", "new_browser")
    _sign_in(first, citizen)  # the same browser again
    assert not inbox.to("lan@example.vn", "new_browser")
    _sign_in(second, citizen)
    notices = inbox.to("lan@example.vn", "new_browser")
    assert len(notices) == 1
    assert "Chrome, Android" in notices[0].body
    assert "/not-me/" in notices[0].body
    assert "127.0.0.1" not in notices[0].body  # never the address
    _sign_in(second, citizen)
    assert len(inbox.to("lan@example.vn", "new_browser")) == 1
    rows = db.scalar(
        select(func.count()).select_from(KnownBrowser).where(KnownBrowser.citizen_id == citizen.id)
    )
    assert rows == 2


def test_the_browser_cookie_is_random_httponly_and_only_its_digest_is_kept(app, db, citizen):
    client = _browser(app)
    _sign_in(client, citizen)
    cookie = client.get_cookie("idp_device")
    assert cookie is not None
    assert cookie.http_only
    assert len(cookie.value) >= 32
    hashes = db.scalars(select(KnownBrowser.browser_hash)).all()
    assert cookie.value not in hashes


def test_this_was_not_me_ends_every_session_and_starts_recovery(app, db, citizen, inbox):
    portal = new_portal(db, purposes=purposes(("name",)))
    owner = _browser(app)
    _sign_in(owner, citizen)
    intruder = Browser(_browser(app), citizen)
    _sign_in(intruder.client, citizen)  # a new browser: the citizen is told
    online = intruder.token(portal, intruder.authorize(portal, scope="openid profile"))
    offline = intruder.token(
        portal, intruder.authorize(portal, scope="openid profile offline_access", prompt="consent")
    )
    link = inbox.link("lan@example.vn", "new_browser")
    path = "/" + link.split("/", 3)[3]
    phone = app.test_client()  # the citizen opens the link on their phone
    page = phone.get(path)
    assert page.status_code == 200
    assert owner.get("/account").status_code == 200  # a GET ends nothing
    done = phone.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert done.status_code == 303
    assert "/recover" in done.headers["Location"]
    assert owner.get("/account").status_code == 303
    assert intruder.client.get("/account").status_code == 303
    assert intruder.userinfo(online["access_token"]).status_code == 401
    assert intruder.refresh(portal, offline["refresh_token"]).status_code == 200
    # Once only.
    assert app.test_client().get(path).status_code == 400


@pytest.mark.parametrize("token", ["x", "y" * 43, "z" * 300])
def test_unknown_not_me_links_get_a_clear_page(client, token):
    assert client.get(f"/not-me/{token}").status_code == 400
    assert client.post(f"/not-me/{token}", data={}).status_code == 400


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (PHONE_UA, "Chrome, Android"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1", "Safari, iPhone"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Edg/126.0", "Edge, Windows"),
        ("Mozilla/5.0 (Windows NT 10.0) coc_coc_browser/118.0 Chrome/112.0", "Cốc Cốc, Windows"),
        ("", ""),
        ("\x00" * 50, ""),
    ],
)
def test_browsers_are_described_coarsely(ua, expected):
    assert describe(ua) == expected
