"""Any worker can serve any step: two app instances behind a round-robin balancer.

Each request goes to the other instance (no sticky sessions). They share only the
database and the short-lived store, as workers behind a load balancer do; on the server
leg that is PostgreSQL and Redis through separate clients.
"""

from __future__ import annotations

import itertools
import re
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.orm import Session
from werkzeug.test import Client

from idp import create_app
from idp.store import MemoryStore, RedisStore
from tests.conftest import base_settings
from tests.support.factories import PASSWORD, make_citizen, make_portal
from tests.support.useragent import checked_claims, pkce_pair

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
INTERACTION = re.compile(r'name="interaction" value="([^"]+)"')


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


def test_every_step_on_alternating_workers(backend, tmp_path):
    secret = "one-secret-for-every-worker"
    apps = []
    memory = MemoryStore()
    for n in range(2):
        settings = base_settings(
            tmp_path / f"w{n}",
            database_url=backend.database_url,
            redis_url=backend.redis_url,
            secret_key=secret,
        )
        store = (
            RedisStore(backend.redis_url, f"{backend.run_prefix}rr:")
            if backend.redis_url
            else memory
        )
        apps.append(create_app(settings, engine=backend.engine, store=store))
    with Session(backend.engine, expire_on_commit=False) as db:
        portal, client_secret = make_portal(db, redirect_uris=["https://portal.example.vn/cb"])
        citizen = make_citizen(db, apps[0].extensions["idp.settings"])
        db.commit()
    balancer = RoundRobin(apps)
    browser = Client(balancer)
    verifier, challenge = pkce_pair()

    resp = browser.get(
        "/authorize",
        query_string={
            "response_type": "code",
            "client_id": portal.client_id,
            "redirect_uri": "https://portal.example.vn/cb",
            "scope": "openid profile email",
            "state": "st",
            "nonce": "n",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    for _ in range(12):
        if resp.status_code in (302, 303):
            location = resp.headers["Location"]
            if location.startswith("https://portal.example.vn/"):
                break
            resp = browser.get(location)
            continue
        page = resp.get_data(as_text=True)
        path = resp.request.path
        form = {
            "csrf_token": CSRF.search(page).group(1),
            "interaction": INTERACTION.search(page).group(1),
        }
        if path == "/signin":
            form.update(identifier=citizen.cccd, password=PASSWORD)
        else:
            assert path == "/consent", path
            form.update(decision="approve", claim=checked_claims(page))
        resp = browser.post(path, data=form)
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
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
