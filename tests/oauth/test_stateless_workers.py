"""Any worker can serve any step: two app instances behind a round-robin balancer.

Each request goes to the other instance (no sticky sessions). Each instance builds its
own database engine and its own Redis client from the same settings, so they share only
PostgreSQL and Redis, as workers behind a load balancer do. Server leg only: the
in-process store serves one process by design, so on the embedded leg two instances
would either share one dictionary (proving nothing) or not share state at all.
"""

from __future__ import annotations

import itertools
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.orm import Session
from werkzeug.test import Client

from idp import create_app
from idp.db import make_engine
from tests.conftest import base_settings
from tests.support.factories import PASSWORD, make_citizen, make_portal
from tests.support.forms import hidden_fields
from tests.support.useragent import UserAgent, auth_request, pkce_pair


class RoundRobin:
    """A load balancer that sends each request to the next worker."""

    def __init__(self, apps):
        self.apps = apps
        self.served: list[int] = []
        self._next = itertools.cycle(range(len(apps)))

    def __call__(self, environ, start_response):
        index = next(self._next)
        self.served.append(index)
        return self.apps[index](environ, start_response)


@pytest.fixture
def workers(backend, tmp_path):
    """Two app instances built from the same settings, sharing only the servers."""
    if backend.name != "server":
        pytest.skip("needs PostgreSQL + Redis: the in-process store serves one process")
    apps = []
    for n in range(2):
        settings = base_settings(
            tmp_path / f"w{n}",
            database_url=backend.database_url,
            redis_url=backend.redis_url,
            redis_prefix=f"{backend.run_prefix}rr:",
            secret_key="one-secret-for-every-worker",
        )
        # Its own engine (connection pool) and, from the settings, its own Redis client.
        apps.append(create_app(settings, engine=make_engine(settings.database_url)))
    assert apps[0].extensions["idp.store"] is not apps[1].extensions["idp.store"]
    assert apps[0].extensions["idp.engine"] is not apps[1].extensions["idp.engine"]
    yield apps
    for app in apps:
        app.extensions["idp.engine"].dispose()


def test_every_step_on_alternating_workers(backend, workers):
    apps = workers
    with Session(backend.engine, expire_on_commit=False) as db:
        portal, client_secret = make_portal(db, redirect_uris=["https://portal.example.vn/cb"])
        citizen = make_citizen(db, apps[0].extensions["idp.settings"])
        db.commit()
    balancer = RoundRobin(apps)
    browser = Client(balancer)
    params, verifier = auth_request(
        portal.client_id,
        "https://portal.example.vn/cb",
        scope="openid profile email",
        state="st",
        nonce="n",
    )
    ua = UserAgent.over(browser, issuer=apps[0].extensions["idp.settings"].issuer)
    out = ua.authorize(
        ua.auth_url(**params),
        identifier=citizen.cccd,
        password=PASSWORD,
    )
    assert out.location.startswith("https://portal.example.vn/"), out.location
    query = parse_qs(urlsplit(out.location).query)
    assert query["state"] == ["st"]
    code = query["code"][0]

    portal_side = Client(balancer)
    token = portal_side.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://portal.example.vn/cb",
            "code_verifier": verifier,
        },
        auth=(portal.client_id, client_secret),
    )
    assert token.status_code == 200, token.get_data(as_text=True)
    access = token.json["access_token"]
    for _ in range(2):  # once on each worker
        info = portal_side.get("/userinfo", headers={"Authorization": f"Bearer {access}"})
        assert info.status_code == 200
        assert info.json["family_name"] == citizen.family_name
    # The code was taken once, whichever worker is asked again.
    again = portal_side.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://portal.example.vn/cb",
            "code_verifier": verifier,
        },
        auth=(portal.client_id, client_secret),
    )
    assert again.json["error"] == "invalid_grant"
    assert set(balancer.served) == {0, 1}
    assert len(balancer.served) >= 8


def _post_form(browser, resp, path, **fields):
    return browser.post(path, data={**hidden_fields(resp.get_data(as_text=True)), **fields})


def test_a_totp_code_is_accepted_once_across_workers(backend, workers, clock):
    """Level-2 sign-in: the code typed on one worker is refused when replayed on the other."""
    from idp.assurance import ACR_SECOND_FACTOR
    from tests.support.totp import enrol

    apps = workers
    settings = apps[0].extensions["idp.settings"]
    with Session(backend.engine, expire_on_commit=False) as db:
        portal, _ = make_portal(db, redirect_uris=["https://portal.example.vn/cb"])
        citizen = make_citizen(db, settings)
        db.commit()
        app, _ = enrol(db, apps[0].extensions["idp.store"], settings, citizen.id, clock)
    balancer = RoundRobin(apps)
    code = app.code()

    def level_2_code_page(browser):
        _, challenge = pkce_pair()
        resp = browser.get(
            "/authorize",
            query_string={
                "response_type": "code",
                "client_id": portal.client_id,
                "redirect_uri": "https://portal.example.vn/cb",
                "scope": "openid",
                "acr_values": ACR_SECOND_FACTOR,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        page = browser.get(resp.headers["Location"])
        assert page.request.path == "/signin"
        after = _post_form(browser, page, "/signin", identifier=citizen.cccd, password=PASSWORD)
        assert after.status_code == 303
        code_page = browser.get(after.headers["Location"])
        assert 'name="code"' in code_page.get_data(as_text=True)
        return code_page

    first = Client(balancer)
    accepted = _post_form(first, level_2_code_page(first), "/signin", code=code)
    assert accepted.status_code == 303
    served_first = balancer.served[-1]
    second = Client(balancer)
    page = level_2_code_page(second)
    balancer._next = itertools.cycle([1 - served_first, served_first])  # the other worker
    replayed = _post_form(second, page, "/signin", code=code)
    assert balancer.served[-1] != served_first
    assert replayed.status_code == 401
