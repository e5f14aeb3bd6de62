"""Secrets and tokens are stored only as digests: database rows and the shared store.

Read through public interfaces only: the store's ``get`` under the keys a secret or its
digest would have, and SQL on the tables' columns.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from sqlalchemy import String, cast, func, or_, select

from idp.citizens import service as citizens
from idp.citizens.models import Citizen
from idp.citizens.sso import SSO_COOKIE
from idp.hashing import digest
from idp.portals.models import Portal
from idp.tokens.models import Token
from tests.support.useragent import UserAgent, auth_request


def rows_holding(live: Any, model: Any, secret: str) -> int:
    """Return how many rows of ``model``'s table hold ``secret`` in any column."""
    columns = [cast(c, String).contains(secret, autoescape=True) for c in model.__table__.columns]
    with live.session() as db:
        return db.scalar(select(func.count()).select_from(model).where(or_(*columns)))


def test_no_secret_or_token_is_stored_in_the_clear(live):
    portal = live.register_portal()
    citizen = live.make_citizen()
    ua = UserAgent(live.url)
    params, verifier = auth_request(
        portal["client_id"],
        portal["redirect_uri"],
        scope="openid profile offline_access",
        prompt="consent",
        state="s",
        nonce="n",
    )
    out = ua.authorize(
        ua.auth_url(**params),
        identifier=citizen["identifier"],
        password=citizen["password"],
    )
    code = out.code
    sid = ua.http.cookies.get(SSO_COOKIE)
    assert code
    assert sid
    store = live.app.extensions["idp.store"]

    # The SSO session: under the digest of the cookie's value, which it does not hold.
    assert store.get(f"sso:{sid}") is None
    session = store.get(f"sso:{digest(sid)}")
    assert session is not None
    assert sid not in json.dumps(session)
    assert citizens.load_session(store, sid).citizen_id == citizen["id"]

    # The code waits under its digest only, and holds no bearer secret either.
    assert store.get(f"code:{code}") is None
    record = store.get(f"code:{digest(code)}")
    assert record is not None
    assert code not in json.dumps(record)
    assert sid not in json.dumps(record)

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

    with live.session() as db:
        row = db.execute(
            select(Token.access_token_hash, Token.refresh_token_hash).where(
                Token.access_token_hash == digest(access)
            )
        ).one()
        assert row.refresh_token_hash == digest(refresh)
        stored_secret = db.scalar(
            select(Portal.client_secret_hash).where(Portal.client_id == portal["client_id"])
        )
        assert stored_secret == digest(portal["client_secret"])
        password_hash = db.scalar(select(Citizen.password_hash).where(Citizen.id == citizen["id"]))
        assert password_hash.startswith("$argon2id$")
    assert rows_holding(live, Token, digest(access)) == 1  # the search does find things
    for secret in (access, refresh, code, sid):
        assert rows_holding(live, Token, secret) == 0
    assert rows_holding(live, Portal, portal["client_secret"]) == 0
    assert rows_holding(live, Citizen, citizen["password"]) == 0
    # Nor under their own names in the store.
    for secret in (access, refresh, code, sid):
        for prefix in ("code", "code-chain", "sso", "interaction"):
            assert store.get(f"{prefix}:{secret}") is None
