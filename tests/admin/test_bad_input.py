"""Bad input on every field of the admin API: a 400 naming the field, never a 500, and
nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from idp.portals.models import Portal
from tests.admin.helpers import API, bearer, staff_token
from tests.support.factories import new_portal

VALID = {
    "name": "Cổng Đăng ký đất đai",
    "redirect_uris": ["https://dat-dai.example.gov.vn/cb"],
    "scope": "openid profile",
}

#: (field, bad value): each refused at registration and (where changeable) at update.
BAD = [
    ("name", 5),
    ("name", ""),
    ("name", "x" * 201),
    ("name", None),
    ("name_en", 5),
    ("name_en", "x" * 201),
    ("contact_email", "not-an-email"),
    ("contact_email", ["a@b.vn"]),
    ("redirect_uris", "https://dat-dai.example.gov.vn/cb"),
    ("redirect_uris", [5]),
    ("redirect_uris", ["http://dat-dai.example.gov.vn/cb"]),
    ("redirect_uris", ["https://dat-dai.example.gov.vn/cb#x"]),
    ("redirect_uris", ["https://*.example.gov.vn/cb"]),
    ("redirect_uris", [f"https://dat-dai.example.gov.vn/{n}" for n in range(51)]),
    ("post_logout_redirect_uris", ["javascript:alert(1)"]),
    ("post_logout_redirect_uris", {"a": 1}),
    ("web_origins", ["https://app.example.gov.vn/path"]),
    ("web_origins", ["*"]),
    ("scope", 5),
    ("scope", "openid nonsense"),
    ("scope", "openid admin:portals"),
    ("auth_method", "magic"),
    ("auth_method", True),
    ("id_token_signed_response_alg", "HS256"),
    ("id_token_signed_response_alg", "none"),
    ("default_acr", "urn:elsewhere:loa:9"),
    ("default_acr", 2),
    ("backchannel_logout_uri", "http://10.0.0.1/logout"),
    ("backchannel_logout_uri", "ftp://dat-dai.example.gov.vn/logout"),
    ("backchannel_logout_session_required", "yes"),
    ("backchannel_private", 1),
    ("jwks", {"keys": "x"}),
    ("jwks", []),
    ("jwks_uri", "not a uri"),
    ("purposes", []),
    ("purposes", {"nonsense": {}}),
    ("purposes", {"email": {"purpose": {"vi": "", "en": "x"}, "required": True}}),
    ("purposes", {"cccd": {"purpose": {"vi": "Để", "en": "To"}, "required": False}}),
    ("client_secret", "chosen-by-me"),
    ("\x00", 1),
]
CREATE_ONLY = [
    ("kind", "robot"),
    ("subject_type", "sometimes"),
    ("sector_identifier", 5),
    ("client_id", "mine"),
]


ALSO = {"jwks_uri": ("jwks",)}


@pytest.fixture
def headers(db: Any) -> dict[str, str]:
    return bearer(staff_token(db, "admin")[0])


def _count(db: Any) -> int:
    return db.scalar(select(func.count()).select_from(Portal))


def _refused(resp: Any, field: str) -> None:
    assert resp.status_code == 400, (field, resp.status_code, resp.get_data(as_text=True))
    body = resp.get_json()
    assert body["error"] in ("invalid_request", "invalid_client_metadata")
    assert body["error_description"]
    # The field named: the request's name, the registry's singular for a list, or (keys
    # of a portal that does not use private_key_jwt) the key set as a whole.
    named = {field, field.removesuffix("s"), *ALSO.get(field, ())}
    assert body["field"] in named, body


@pytest.mark.parametrize(("field", "value"), BAD + CREATE_ONLY)
def test_registration_refuses_each_bad_field(client, db, headers, field, value):
    before = _count(db)
    resp = client.post(f"{API}/portals", headers=headers, json={**VALID, field: value})
    _refused(resp, field)
    assert _count(db) == before


@pytest.mark.parametrize(("field", "value"), [*BAD, *CREATE_ONLY])
def test_an_update_refuses_each_bad_field_and_changes_nothing(client, db, headers, field, value):
    portal = new_portal(db, scope="openid profile")
    shown = client.get(f"{API}/portals/{portal.client_id}", headers=headers).get_json()
    resp = client.patch(
        f"{API}/portals/{portal.client_id}",
        headers=headers,
        json={"name_en": "Changed first", field: value},
    )
    _refused(resp, field)
    assert client.get(f"{API}/portals/{portal.client_id}", headers=headers).get_json() == shown


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/audit", {"name": "Robert'); DROP TABLE"}, "name"),
        ("/audit", {"from": "yesterday"}, "from"),
        ("/audit", {"to": "2026-13-45"}, "to"),
        ("/audit", {"limit": "0"}, "limit"),
        ("/audit", {"limit": "1001"}, "limit"),
        ("/audit", {"limit": "-1"}, "limit"),
        ("/audit", {"before": "x"}, "before"),
        ("/audit", {"before": "99999999999999999999"}, "before"),
        ("/audit.csv", {"from": "\x00"}, "from"),
        ("/figures", {"months": "0"}, "months"),
        ("/figures", {"months": "121"}, "months"),
        ("/figures.csv", {"months": "many"}, "months"),
    ],
)
def test_query_parameters_are_checked(client, db, headers, path, params, field):
    _refused(client.get(API + path, headers=headers, query_string=params), field)


def test_deliveries_limit_is_checked(client, db, headers):
    portal = new_portal(db, scope="openid profile")
    for bad in ("0", "1001", "ten"):
        resp = client.get(
            f"{API}/portals/{portal.client_id}/deliveries",
            headers=headers,
            query_string={"limit": bad},
        )
        _refused(resp, "limit")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"grace": -1}, "grace"),
        ({"grace": 30 * 24 * 3600 + 1}, "grace"),
        ({"grace": "60"}, "grace"),
        ({"grace": True}, "grace"),
        ({"grace": 1.5}, "grace"),
        ({"after": 3}, "after"),
    ],
)
def test_rotate_secret_checks_the_grace_and_keeps_the_secret(client, db, headers, body, field):
    portal = new_portal(db, scope="openid profile")
    resp = client.post(
        f"{API}/portals/{portal.client_id}/rotate-secret", headers=headers, json=body
    )
    _refused(resp, field)
    works = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(portal.client_id, portal.secret),
    )
    assert works.get_json()["error"] == "invalid_grant"  # authenticated: the secret stands


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"alg": "HS256"}, "alg"),
        ({"alg": 5}, "alg"),
        ({"overlap": -5}, "overlap"),
        ({"overlap": 7 * 24 * 3600 + 1}, "overlap"),
        ({"overlap": "soon"}, "overlap"),
        ({"kid": "mine"}, "kid"),
    ],
)
def test_key_rotation_checks_its_fields_and_rotates_nothing(client, db, headers, body, field):
    keys_before = client.get(f"{API}/keys", headers=headers).get_json()
    _refused(client.post(f"{API}/keys/rotate", headers=headers, json=body), field)
    assert client.get(f"{API}/keys", headers=headers).get_json() == keys_before


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("not json", "application/json"),
        ('{"name": ', "application/json"),
        ("[1, 2]", "application/json"),
        ('"a string"', "application/json"),
        ("name=x", "application/x-www-form-urlencoded"),
        ("", "application/json"),
        (b"\xff\xfe", "application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_clear_400(client, db, headers, data, content_type):
    before = _count(db)
    resp = client.post(f"{API}/portals", headers=headers, data=data, content_type=content_type)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid_request"
    assert _count(db) == before


def test_a_body_too_large_is_a_json_413(client, db, headers):
    resp = client.post(f"{API}/portals", headers=headers, json={**VALID, "name_en": "x" * 70_000})
    assert resp.status_code == 413
    assert resp.is_json
    assert resp.get_json()["error"] == "invalid_request"


def test_a_wrong_method_or_path_is_json(client, db, headers):
    wrong = client.put(f"{API}/portals", headers=headers, json={})
    assert wrong.status_code == 405
    assert wrong.get_json()["error"] == "invalid_request"
    missing = client.get(f"{API}/nothing-here", headers=headers)
    assert missing.status_code == 404
    assert missing.is_json


@pytest.mark.parametrize("client_id", ["nobody", "x" * 65, "a\x00b", "%00", "ü" * 10])
def test_an_unknown_portal_is_404_everywhere(client, db, headers, client_id):
    for method, suffix in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/suspend"),
        ("POST", "/resume"),
        ("POST", "/rotate-secret"),
        ("GET", "/deliveries"),
        ("PUT", "/purposes"),
    ]:
        kw = {"json": {}} if method in ("PATCH", "PUT") else {}
        resp = client.open(
            f"{API}/portals/{client_id}{suffix}", method=method, headers=headers, **kw
        )
        assert resp.status_code == 404, (method, suffix, resp.get_data(as_text=True))
        assert resp.get_json()["error"] == "not_found"
