"""Secrets and tokens are stored only as digests: database rows and the shared store."""

from __future__ import annotations

import json

import requests
from sqlalchemy import text

from idp.hashing import digest
from idp.store import MemoryStore
from tests.support.useragent import UserAgent, pkce_pair


def _store_dump(store) -> str:
    if isinstance(store, MemoryStore):
        return json.dumps({k: v[1] for k, v in store._data.items()})
    redis = store._redis
    keys = list(redis.scan_iter(f"{store._prefix}*"))
    return json.dumps({k.decode(): (redis.get(k) or b"").decode() for k in keys})


def _rows(live, table: str) -> str:
    with live.session() as db:
        return json.dumps([list(map(str, r)) for r in db.execute(text(f"SELECT * FROM {table}"))])  # noqa: S608


def test_no_secret_or_token_is_stored_in_the_clear(live):
    portal = live.register_portal()
    citizen = live.make_citizen()
    ua = UserAgent(live.url)
    verifier, challenge = pkce_pair()
    out = ua.authorize(
        ua.auth_url(
            response_type="code",
            client_id=portal["client_id"],
            redirect_uri=portal["redirect_uri"],
            scope="openid profile offline_access",
            prompt="consent",
            state="s",
            nonce="n",
            code_challenge=challenge,
            code_challenge_method="S256",
        ),
        identifier=citizen["identifier"],
        password=citizen["password"],
    )
    code = out.code
    # The code waits in the shared store under its digest only.
    store = live.app.extensions["idp.store"]
    parked = _store_dump(store)
    assert code not in parked
    assert digest(code) in parked
    tokens = requests.post(
        f"{live.url}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": portal["redirect_uri"],
            "code_verifier": verifier,
        },
        auth=(portal["client_id"], portal["client_secret"]),
        timeout=30,
    ).json()
    access, refresh = tokens["access_token"], tokens["refresh_token"]

    token_rows = _rows(live, "tokens")
    assert access not in token_rows
    assert refresh not in token_rows
    assert digest(access) in token_rows
    assert digest(refresh) in token_rows
    portal_rows = _rows(live, "portals")
    assert portal["client_secret"] not in portal_rows
    assert digest(portal["client_secret"]) in portal_rows
    citizen_rows = _rows(live, "citizens")
    assert citizen["password"] not in citizen_rows
    assert "$argon2id$" in citizen_rows
    for secret in (access, refresh, code, portal["client_secret"], citizen["password"]):
        assert secret not in _store_dump(store)
