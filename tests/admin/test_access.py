"""Who may call what: admin tokens only, the scope of each role checked at every request."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from idp.admin import apitokens
from idp.admin.openapi import document
from idp.staff import service as staff
from tests.admin.helpers import API, automation_client, bearer, ready_staff, staff_token
from tests.consent.helpers import Browser
from tests.support.factories import new_citizen, new_portal

#: Every operation of the document with the scope it needs, a body where it takes one.
OPERATIONS = [
    (method.upper(), path, op["security"][0]["bearer"][0])
    for path, item in document("http://x")["paths"].items()
    for method, op in item.items()
]


def _call(client: Any, method: str, path: str, headers: dict[str, str]) -> Any:
    url = API + path.replace("{client_id}", "no-such-portal")
    kw: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PATCH", "PUT"):
        kw["json"] = {}
    return client.open(url, method=method, **kw)


def test_the_document_lists_every_route(app):
    routes = {
        (m, r.rule)
        for r in app.url_map.iter_rules()
        if r.rule.startswith(API) and not r.rule.endswith("openapi.json")
        for m in r.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(m, API + p.replace("{client_id}", "<client_id>")) for m, p, _ in OPERATIONS}
    assert routes == documented


def test_every_operation_needs_a_token(client, db):
    for method, path, _ in OPERATIONS:
        resp = _call(client, method, path, {})
        assert resp.status_code == 401, (method, path)
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="idp-admin"'
        assert resp.get_json()["error"] == "invalid_token"
        bad = _call(client, method, path, bearer("not-a-token"))
        assert bad.status_code == 401
        assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]


def test_a_citizen_token_opens_nothing(client, db, settings):
    citizen = new_citizen(db, settings)
    portal = new_portal(db, scope="openid profile")
    _, token, _ = Browser(client, citizen).sign_in_flow(portal, scope="openid profile")
    citizen_token = token["access_token"]
    assert Browser(client, citizen).userinfo(citizen_token).status_code == 200
    for method, path, _ in OPERATIONS:
        resp = _call(client, method, path, bearer(citizen_token))
        assert resp.status_code == 401, (method, path)


def test_an_admin_token_opens_no_citizen_endpoint(client, db):
    token, _ = staff_token(db, "admin")
    assert client.get("/userinfo", headers=bearer(token)).status_code == 401
    portal = new_portal(db, scope="openid profile")
    seen = client.post("/introspect", data={"token": token}, auth=(portal.client_id, portal.secret))
    assert seen.get_json() == {"active": False}


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        (("admin",), {"admin:portals", "admin:audit", "admin:figures", "admin:keys"}),
        (("portal_manager",), {"admin:portals"}),
        (("auditor",), {"admin:audit", "admin:figures"}),
        (("portal_manager", "auditor"), {"admin:portals", "admin:audit", "admin:figures"}),
    ],
)
def test_each_role_reaches_exactly_its_scopes(client, db, roles, allowed):
    token, _ = staff_token(db, *roles)
    for method, path, scope in OPERATIONS:
        resp = _call(client, method, path, bearer(token))
        if scope in allowed:
            assert resp.status_code not in (401, 403), (method, path, resp.get_json())
        else:
            assert resp.status_code == 403, (method, path)
            assert resp.get_json()["error"] == "insufficient_scope"
            challenge = resp.headers["WWW-Authenticate"]
            assert 'error="insufficient_scope"' in challenge
            assert f'scope="{scope}"' in challenge


def test_a_portal_manager_cannot_read_the_audit_trail(client, db):
    token, staff_id = staff_token(db, "portal_manager")
    resp = client.get(f"{API}/audit", headers=bearer(token))
    assert resp.status_code == 403
    body = resp.get_json()
    assert body["error"] == "insufficient_scope"
    assert "admin:audit" in body["error_description"]
    assert client.get(f"{API}/audit.csv", headers=bearer(token)).status_code == 403
    assert client.get(f"{API}/portals", headers=bearer(token)).status_code == 200


def test_an_auditor_cannot_suspend_a_portal(client, db):
    portal = new_portal(db, scope="openid profile")
    token, _ = staff_token(db, "auditor")
    resp = client.post(f"{API}/portals/{portal.client_id}/suspend", headers=bearer(token))
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "insufficient_scope"
    shown = client.get(f"{API}/audit", headers=bearer(token), query_string={"name": "admin."})
    assert shown.status_code == 200
    refused = [e for e in shown.get_json()["events"] if e["name"] == "admin.forbidden"]
    assert refused
    assert refused[0]["data"]["scope"] == "admin:portals"
    admin_token, _ = staff_token(db, "admin")
    still = client.get(f"{API}/portals/{portal.client_id}", headers=bearer(admin_token))
    assert still.get_json()["disabled"] is False


def test_a_desk_officer_gets_no_token_and_no_call(client, db):
    account = ready_staff(db, "desk_officer")
    with pytest.raises(ValueError, match="no role"):
        apitokens.issue_staff_token(db, account, ttl=600)
    # A token issued while the account was a portal manager: the role is read at each call.
    holder = ready_staff(db, "portal_manager")
    token, _ = apitokens.issue_staff_token(db, holder, ttl=600)
    db.commit()
    staff.set_roles(db, holder, roles=["desk_officer"], unit_code="48")
    db.commit()
    for method, path, _ in OPERATIONS:
        assert _call(client, method, path, bearer(token)).status_code == 403, (method, path)


def test_a_removed_role_takes_effect_at_once(client, db):
    token, holder_id = staff_token(db, "admin")
    assert client.get(f"{API}/audit", headers=bearer(token)).status_code == 200
    staff.set_roles(db, staff.get_staff(db, holder_id), roles=["portal_manager"])
    db.commit()
    assert client.get(f"{API}/audit", headers=bearer(token)).status_code == 403
    assert client.get(f"{API}/portals", headers=bearer(token)).status_code == 200


def test_a_disabled_staff_account_token_stops_at_once(client, db):
    token, holder_id = staff_token(db, "admin")
    assert client.get(f"{API}/portals", headers=bearer(token)).status_code == 200
    staff.disable_staff(db, staff.get_staff(db, holder_id))
    db.commit()
    assert client.get(f"{API}/portals", headers=bearer(token)).status_code == 401


def test_an_expired_or_revoked_token_is_refused(client, db):
    token, _ = staff_token(db, "admin")
    row = db.scalar(
        apitokens.select(apitokens.AdminToken).where(
            apitokens.AdminToken.token_hash == apitokens.digest(token)
        )
    )
    assert row.expires_at - row.issued_at <= dt.timedelta(seconds=apitokens.STAFF_TOKEN_TTL)
    row.expires_at = apitokens.utcnow() - dt.timedelta(seconds=1)
    db.commit()
    assert client.get(f"{API}/portals", headers=bearer(token)).status_code == 401
    other, _ = staff_token(db, "admin")
    assert apitokens.revoke(db, other)
    db.commit()
    assert client.get(f"{API}/portals", headers=bearer(other)).status_code == 401


def test_only_the_digest_is_stored(db):
    token, _ = staff_token(db, "admin")
    row = db.scalar(apitokens.select(apitokens.AdminToken))
    assert token not in str([getattr(row, c.key) for c in apitokens.AdminToken.__table__.columns])
    assert row.token_hash == apitokens.digest(token)


def test_a_suspended_automation_client_token_stops(client, db, app):
    client_id, secret, _ = automation_client(db, "admin:portals admin:audit")
    resp = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "admin:audit"},
        auth=(client_id, secret),
    )
    assert resp.status_code == 200, resp.get_json()
    token = resp.get_json()
    assert token["scope"] == "admin:audit"
    assert token["expires_in"] == apitokens.CLIENT_TOKEN_TTL
    assert "refresh_token" not in token
    assert client.get(f"{API}/audit", headers=bearer(token["access_token"])).status_code == 200
    # Asked for admin:audit only: admin:portals is not in the token.
    mine = client.get(f"{API}/portals", headers=bearer(token["access_token"]))
    assert mine.status_code == 403
    # Another administrator suspends the client: its token dies.
    admin_token, _ = staff_token(db, "admin")
    done = client.post(f"{API}/portals/{client_id}/suspend", headers=bearer(admin_token))
    assert done.status_code == 200
    assert client.get(f"{API}/audit", headers=bearer(token["access_token"])).status_code == 401


@pytest.mark.parametrize(
    ("scope", "error"),
    [("openid", "invalid_scope"), ("admin:keys", "invalid_scope"), ("", None)],
)
def test_client_credentials_grants_within_the_registration(client, db, scope, error):
    client_id, secret, _ = automation_client(db, "admin:portals admin:figures")
    resp = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, secret),
    )
    if error:
        assert resp.status_code == 400
        assert resp.get_json()["error"] == error
    else:
        assert resp.status_code == 200
        assert resp.get_json()["scope"] == "admin:portals admin:figures"


def test_a_citizen_portal_cannot_use_client_credentials(client, db):
    portal = new_portal(db, scope="openid profile")
    resp = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "admin:portals"},
        auth=(portal.client_id, portal.secret),
    )
    assert resp.status_code in (400, 401)
    assert resp.get_json()["error"] == "unauthorized_client"


def test_an_automation_client_signs_no_citizen_in(client, db):
    client_id, secret, _ = automation_client(db, "admin:portals")
    page = client.get(
        "/authorize",
        query_string={
            "client_id": client_id,
            "redirect_uri": "https://portal.example.vn/callback",
            "response_type": "code",
            "scope": "openid",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )
    assert page.status_code in (400, 403)
    assert "Location" not in page.headers
    refresh = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(client_id, secret),
    )
    assert refresh.get_json()["error"] == "unauthorized_client"


def test_every_change_is_audited_naming_the_staff_account(client, db):
    token, staff_id = staff_token(db, "portal_manager")
    portal = new_portal(db, scope="openid profile")
    path = f"{API}/portals/{portal.client_id}"
    assert client.patch(path, headers=bearer(token), json={"name_en": "Land"}).status_code == 200
    assert client.post(f"{path}/suspend", headers=bearer(token)).status_code == 200
    assert client.post(f"{path}/rotate-secret", headers=bearer(token)).status_code == 200
    assert client.post(f"{path}/resume", headers=bearer(token)).status_code == 200
    auditor, _ = staff_token(db, "auditor")
    trail = client.get(
        f"{API}/audit",
        headers=bearer(auditor),
        query_string={"name": "admin.action", "client_id": portal.client_id},
    ).get_json()["events"]
    assert [e["data"]["action"] for e in trail] == [
        "portal.resume",
        "portal.rotate_secret",
        "portal.suspend",
        "portal.update",
    ]
    assert {e["data"]["actor"] for e in trail} == {f"staff:{staff_id}"}
    assert all(portal.secret not in str(e) for e in trail)


def test_deleting_an_automation_client_deletes_its_tokens(client, db):
    client_id, secret, portal_id = automation_client(db, "admin:audit")
    issued = client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    ).get_json()
    admin_token, _ = staff_token(db, "admin")
    path = f"{API}/portals/{client_id}"
    assert client.post(f"{path}/suspend", headers=bearer(admin_token)).status_code == 200
    assert client.delete(path, headers=bearer(admin_token)).status_code == 200
    left = db.scalar(
        apitokens.select(apitokens.AdminToken).where(apitokens.AdminToken.portal_id == portal_id)
    )
    assert left is None
    assert client.get(f"{API}/audit", headers=bearer(issued["access_token"])).status_code == 401
