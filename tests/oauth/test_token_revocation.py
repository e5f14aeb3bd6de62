"""Revoking tokens: exactly the tokens meant, each with its reason, each announced.

Rotation kills the old access token with its refresh token; a withdrawn grant, a replayed
code and a portal's own revocation each revoke their tokens with a named reason that the
citizen's data export shows, and each emits its event (ids, reason, count; no secrets).
"""

from __future__ import annotations

from typing import Any

import pytest

from idp import events
from idp.consent import grants as consent_grants
from idp.tokens import service as tokens
from tests.consent.helpers import Browser, body, purposes
from tests.support.factories import new_citizen, new_portal

SCOPE = "openid profile offline_access"


@pytest.fixture
def citizen(db, settings):
    return new_citizen(db, settings)


@pytest.fixture
def browser(client, citizen):
    return Browser(client, citizen)


@pytest.fixture
def seen() -> Any:
    """Collect the events emitted during the test: [(name, payload)]."""
    got: list[tuple[str, dict[str, Any]]] = []

    def collect(name: str, payload: dict[str, Any]) -> None:
        got.append((name, dict(payload)))

    events.subscribe(collect)
    yield got
    events.unsubscribe(collect)


def _named(seen: list, name: str) -> list[dict[str, Any]]:
    return [payload for event, payload in seen if event == name]


def _tokens(browser: Browser, portal: Any) -> dict[str, Any]:
    out = browser.authorize(portal, scope=SCOPE, prompt="consent")
    return browser.token(portal, out)


def _export(db: Any, citizen_id: str) -> list[dict[str, Any]]:
    return tokens.tokens_of_citizen(db, citizen_id)


def test_rotation_kills_the_old_access_token_too(db, browser, citizen):
    portal = new_portal(db, purposes=purposes(("name", "birthdate", "gender")))
    first = _tokens(browser, portal)
    assert browser.userinfo(first["access_token"]).status_code == 200
    refreshed = browser.refresh(portal, first["refresh_token"])
    assert refreshed.status_code == 200, body(refreshed)
    assert browser.userinfo(first["access_token"]).status_code == 401
    assert browser.userinfo(refreshed.get_json()["access_token"]).status_code == 200
    reasons = sorted((row["revoked_reason"] or "") for row in _export(db, citizen.id))
    assert reasons == ["", "rotated"]


def test_withdrawing_a_grant_revokes_only_its_tokens(db, browser, citizen, seen, settings, app):
    land = new_portal(db, purposes=purposes(("name",)))
    tax = new_portal(db, purposes=purposes(("name",)))
    land_token = _tokens(browser, land)
    tax_token = _tokens(browser, tax)
    grant = consent_grants.live_grant(db, citizen_id=citizen.id, portal_id=land.id)
    with app.test_request_context():
        receipt = consent_grants.withdraw_grant_with_receipt(
            db, citizen_id=citizen.id, grant_id=grant.id, issuer=settings.issuer
        )
    assert receipt is not None
    assert _named(seen, "token.grant_revoked") == [
        {"grant_id": grant.id, "reason": "consent_withdrawn", "count": 1}
    ]
    rows = {row["client_id"]: row for row in _export(db, citizen.id)}
    assert rows[land.client_id]["revoked_reason"] == "consent_withdrawn"
    assert rows[land.client_id]["revoked_at"] is not None
    # The other portal's grant and tokens are untouched.
    assert rows[tax.client_id]["revoked_reason"] is None
    assert browser.userinfo(tax_token["access_token"]).status_code == 200
    assert browser.userinfo(land_token["access_token"]).status_code == 401


def test_a_replayed_code_revokes_its_chain_with_a_reason(db, browser, citizen, seen, client):
    portal = new_portal(db, purposes=purposes(("name",)))
    out = browser.authorize(portal, scope=SCOPE, prompt="consent")
    token = browser.token(portal, out)
    replay = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": out.code,
            "redirect_uri": portal.redirect_uri,
            "code_verifier": out.verifier,
        },
        auth=(portal.client_id, portal.secret),
    )
    assert replay.status_code == 400
    (chain,) = _named(seen, "token.chain_revoked")
    assert (chain["reason"], chain["count"]) == ("code_replayed", 1)
    assert chain["chain_id"]
    assert browser.userinfo(token["access_token"]).status_code == 401
    (row,) = _export(db, citizen.id)
    assert row["revoked_reason"] == "code_replayed"


def test_a_portal_revoking_its_access_token_is_announced(db, browser, citizen, seen, client):
    portal = new_portal(db, purposes=purposes(("name",)))
    token = _tokens(browser, portal)
    resp = client.post(
        "/revoke",
        data={"token": token["access_token"], "token_type_hint": "access_token"},
        auth=(portal.client_id, portal.secret),
    )
    assert resp.status_code == 200
    (revoked,) = _named(seen, "token.revoked")
    (row,) = _export(db, citizen.id)
    assert revoked == {"token_id": revoked["token_id"], "reason": "revoked_by_portal"}
    assert revoked["token_id"]
    assert row["revoked_reason"] == "revoked_by_portal"
    # Revoking the refresh token ends its whole chain (RFC 7009 §2.1).
    again = _tokens(browser, portal)
    client.post(
        "/revoke",
        data={"token": again["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(portal.client_id, portal.secret),
    )
    (chain,) = _named(seen, "token.chain_revoked")
    assert (chain["reason"], chain["count"]) == ("revoked_by_portal", 1)


def test_the_export_describes_each_token_without_secrets(db, browser, citizen):
    portal = new_portal(db, purposes=purposes(("name",)))
    token = _tokens(browser, portal)
    (row,) = _export(db, citizen.id)
    grant = consent_grants.live_grant(db, citizen_id=citizen.id, portal_id=portal.id)
    assert row["portal"] == portal.name
    assert row["client_id"] == portal.client_id
    assert row["grant_id"] == grant.id
    assert set(row["scope"].split()) == set(token["scope"].split())
    assert row["has_refresh_token"] is True
    assert row["revoked_at"] is None
    assert row["revoked_reason"] is None
    assert row["issued_at"] < row["access_expires_at"]
    assert token["access_token"] not in str(row)
    assert token["refresh_token"] not in str(row)


def test_ending_every_session_revokes_only_tokens_without_offline_access(
    db, browser, citizen, seen
):
    portal = new_portal(db, purposes=purposes(("name",)))
    offline = _tokens(browser, portal)
    online = browser.token(portal, browser.authorize(portal, scope="openid profile"))
    assert "refresh_token" not in online
    assert tokens.revoke_session_tokens(db, citizen.id, "password_changed") == 1
    db.commit()
    assert browser.userinfo(online["access_token"]).status_code == 401
    # Asked for access while signed out: the refresh token (and its access token) live on.
    assert browser.userinfo(offline["access_token"]).status_code == 200
    assert browser.refresh(portal, offline["refresh_token"]).status_code == 200
    assert _named(seen, "token.session_tokens_revoked") == [
        {"citizen_id": citizen.id, "reason": "password_changed", "count": 1}
    ]
