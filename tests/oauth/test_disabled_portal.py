"""Disabling a portal cuts it off in one action: its existing tokens die at once.

``disable_portal`` only marks the portal; the token rows are left as they are, so what
kills the tokens here is the check every presented token goes through.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from idp import events
from idp.hashing import digest
from idp.portals import service as clients
from idp.tokens.models import Token
from tests.badinput.conftest import obtain_tokens
from tests.support.factories import (
    CitizenInfo,
    PortalInfo,
    new_citizen,
    new_portal,
)


@pytest.fixture
def citizen(db: Any, settings: Any) -> CitizenInfo:
    return new_citizen(db, settings)


@pytest.fixture
def portal(db: Any) -> PortalInfo:
    return new_portal(db)


@pytest.fixture
def tokens(client: Any, portal: PortalInfo, citizen: CitizenInfo) -> dict[str, Any]:
    return obtain_tokens(client, portal, citizen, scope="openid profile offline_access")


def userinfo(client: Any, access: str) -> Any:
    return client.get("/userinfo", headers={"Authorization": f"Bearer {access}"})


def introspect(client: Any, portal: PortalInfo, token: str) -> Any:
    return client.post("/introspect", data={"token": token}, auth=(portal.client_id, portal.secret))


def disable(db: Any, portal: PortalInfo) -> None:
    clients.disable_portal(db, client_id=portal.client_id)
    db.commit()


def test_access_token_dies_at_userinfo(client, db, portal, tokens):
    access = tokens["access_token"]
    assert userinfo(client, access).status_code == 200
    disable(db, portal)
    resp = userinfo(client, access)
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "invalid_token"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    # The row itself was not touched: the portal check alone refused it.
    row = db.execute(
        select(Token.revoked_at).where(Token.access_token_hash == digest(access))
    ).one()
    assert row.revoked_at is None


def test_disabled_portal_cannot_introspect_or_refresh(client, db, portal, tokens):
    assert introspect(client, portal, tokens["access_token"]).get_json()["active"] is True
    disable(db, portal)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        resp = introspect(client, portal, token)
        assert resp.status_code == 401
        assert resp.get_json()["error"] == "invalid_client"
    resp = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(portal.client_id, portal.secret),
    )
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "invalid_client"


def test_introspection_by_another_portal_says_inactive(client, db, portal, tokens):
    other = new_portal(db)
    disable(db, portal)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        resp = introspect(client, other, token)
        assert resp.status_code == 200
        assert resp.get_json() == {"active": False}


def test_disabling_is_announced_once(db, portal):
    seen: list[tuple[str, dict[str, Any]]] = []
    listener = events.subscribe(lambda name, payload: seen.append((name, payload)))
    try:
        first = clients.disable_portal(db, client_id=portal.client_id)
        again = clients.disable_portal(db, client_id=portal.client_id)
    finally:
        events.unsubscribe(listener)
    assert first.disabled_at is not None
    assert again.disabled_at == first.disabled_at
    assert [name for name, _ in seen] == ["portal.disabled"]
    assert seen[0][1] == {"portal_id": portal.id}
    assert clients.find_active(db, portal.client_id) is None


def test_disabling_an_unknown_portal_is_refused(db):
    with pytest.raises(clients.RegistrationError):
        clients.disable_portal(db, client_id="no-such-portal")
