"""The release log: every release of personal data is one row (ID token issuance, userinfo
call, introspection) with channel and claim names, and never a claim's value.
Flask test client, both backends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from idp.consent import grants as consent_grants
from idp.consent import notices
from idp.consent import releases as release_log
from tests.consent.helpers import Browser, body, personal
from tests.support.factories import new_citizen, new_portal

ALL = "openid profile email phone address cccd"


@pytest.fixture
def citizen(db, settings):
    # Distinctive values, so that finding one in the log cannot be a coincidence.
    return new_citizen(
        db,
        settings,
        family_name="Hoàng",
        middle_name="Khánh",
        given_name="Quỳnh",
        street="77 Đường Lê Thánh Tôn",
    )


@pytest.fixture
def browser(client, citizen):
    return Browser(client, citizen)


def releases(db: Any, citizen_id: str) -> list[Any]:
    return list(
        db.execute(
            text(
                "SELECT id, citizen_id, portal_id, grant_id, notice_id, channel, claims "
                "FROM releases WHERE citizen_id = :c ORDER BY released_at, id"
            ),
            {"c": citizen_id},
        ).all()
    )


def _claims(row: Any) -> list[str]:
    value = row.claims
    if isinstance(value, str):  # JSON as text, should a driver hand it over so
        value = json.loads(value)
    return list(value)


def test_each_release_is_one_row(db, browser, citizen):
    portal = new_portal(db)
    out = browser.authorize(portal, scope=ALL)
    assert releases(db, citizen.id) == []  # an authorization code releases nothing

    token = browser.token(portal, out)
    id_claims = browser.id_token(portal, token, out.nonce)
    rows = releases(db, citizen.id)
    assert len(rows) == 1
    grant = consent_grants.live_grant(db, citizen_id=citizen.id, portal_id=portal.id)
    notice = notices.current_notice(db, portal.id)
    row = rows[0]
    assert row.channel == "id_token"
    assert sorted(_claims(row)) == sorted({"sub", *personal(id_claims)})
    assert (row.portal_id, row.grant_id, row.notice_id) == (portal.id, grant.id, notice.id)

    info = browser.userinfo(token["access_token"]).get_json()
    rows = releases(db, citizen.id)
    assert [r.channel for r in rows] == ["id_token", "userinfo"]
    assert sorted(_claims(rows[1])) == sorted(info)
    assert "cccd" in _claims(rows[1])

    # A second call is a second release.
    browser.userinfo(token["access_token"])
    assert [r.channel for r in releases(db, citizen.id)] == ["id_token", "userinfo", "userinfo"]

    resp = browser.introspect(portal, token["access_token"])
    assert resp.get_json()["active"] is True
    rows = releases(db, citizen.id)
    assert [r.channel for r in rows][-1] == "introspection"
    assert _claims(rows[-1]) == ["sub"]
    assert len(rows) == 4


def test_what_releases_nothing_logs_nothing(db, browser, citizen):
    portal = new_portal(db)
    other = new_portal(db)
    _out, token, _id = browser.sign_in_flow(
        portal, scope="openid profile offline_access", prompt="consent"
    )
    count = len(releases(db, citizen.id))
    assert count == 1

    # Another portal introspecting the token learns nothing: no release.
    assert browser.introspect(other, token["access_token"]).get_json() == {"active": False}
    # A failed code exchange (wrong verifier) releases nothing.
    out = browser.authorize(portal, scope="openid profile")
    resp = browser.client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": out.code,
            "redirect_uri": portal.redirect_uri,
            "code_verifier": "x" * 50,
        },
        auth=(portal.client_id, portal.secret),
    )
    assert resp.status_code == 400
    assert len(releases(db, citizen.id)) == count

    # A refresh releases personal data only if it carries an ID token.
    resp = browser.refresh(portal, token["refresh_token"])
    assert resp.status_code == 200, body(resp)
    fresh = resp.get_json()
    count += 1 if "id_token" in fresh else 0
    assert len(releases(db, citizen.id)) == count

    # Dead tokens release nothing, by userinfo or by introspection.
    revoked = browser.client.post(
        "/revoke", data={"token": fresh["refresh_token"]}, auth=(portal.client_id, portal.secret)
    )
    assert revoked.status_code == 200
    assert browser.userinfo(fresh["access_token"]).status_code == 401
    assert browser.introspect(portal, fresh["access_token"]).get_json() == {"active": False}
    assert browser.userinfo("not-a-token").status_code == 401
    assert len(releases(db, citizen.id)) == count


def test_withdrawn_claim_is_no_longer_in_the_released_names(db, browser, citizen):
    portal = new_portal(db)
    _out, token, _id = browser.sign_in_flow(portal, scope="openid profile email")
    grant = consent_grants.live_grant(db, citizen_id=citizen.id, portal_id=portal.id)
    assert consent_grants.withdraw_claim(db, citizen_id=citizen.id, grant_id=grant.id, item="email")
    db.commit()
    info = browser.userinfo(token["access_token"]).get_json()
    assert "email" not in info
    last = releases(db, citizen.id)[-1]
    assert last.channel == "userinfo"
    assert "email" not in _claims(last)
    assert "email_verified" not in _claims(last)
    assert sorted(_claims(last)) == sorted(info)


def test_history_shows_each_release_once(db, browser, citizen):
    portal = new_portal(db)
    _out, token, _id = browser.sign_in_flow(portal, scope="openid profile")
    browser.userinfo(token["access_token"])
    browser.introspect(portal, token["access_token"])
    rows = releases(db, citizen.id)
    entries, total = release_log.history(db, citizen_id=citizen.id, limit=None)
    assert total == len(rows) == 3
    assert sorted(e.id for e in entries) == sorted(r.id for r in rows)
    assert [e.channel for e in entries] == ["introspection", "userinfo", "id_token"]


def test_no_claim_value_is_stored_in_the_release_log(db, browser, citizen):
    portal = new_portal(db)
    _out, token, id_claims = browser.sign_in_flow(portal, scope=ALL)
    info = browser.userinfo(token["access_token"]).get_json()
    browser.introspect(portal, token["access_token"])
    # A second portal with the claims parameter too.
    second = new_portal(db)
    _o, token2, _i = browser.sign_in_flow(
        second,
        scope="openid",
        claims='{"userinfo": {"cccd": null, "address": null}, "id_token": {"phone_number": null}}',
    )
    browser.userinfo(token2["access_token"])
    assert {"name", "cccd", "phone_number", "email", "address", "birthdate"} <= set(info)

    values = _values(info)
    assert citizen.profile["cccd"] in values
    assert "Quỳnh" in values
    rows = db.execute(text("SELECT * FROM releases")).all()
    assert len(releases(db, citizen.id)) == 5
    dump = "\n".join(repr(tuple(r)) + str(tuple(r)) for r in rows)
    for value in values:
        assert value not in dump, f"a claim value is stored in the release log: {value!r}"
    # Neither is the portal's pairwise subject (the log keys on the internal id).
    assert info["sub"] not in dump
    assert id_claims["sub"] not in dump


def _values(info: dict[str, Any]) -> set[str]:
    """Every personal value the citizen's claims carry, as text (parts of names and
    addresses too; booleans and timestamps are not distinctive, so left out)."""
    out: set[str] = set()
    for key, value in info.items():
        if key in ("sub", "updated_at") or isinstance(value, bool):
            continue
        if isinstance(value, dict):
            out.update(v for v in value.values() if isinstance(v, str) and len(v) > 2)
        elif key == "gender":
            continue  # "male"/"female" are claim-like words, not distinctive
        else:
            out.add(str(value))
    for name in ("family_name", "middle_name", "given_name"):
        out.add(info[name])
    out.add(info["birthdate"].replace("-", ""))
    out.add(info["phone_number"].lstrip("+"))
    return out
