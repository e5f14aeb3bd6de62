"""Bad input at the machine endpoints: token, userinfo, revoke, introspect, JWKS, discovery.

They answer JSON with a standard ``error`` code, never a 500, never a trace, and a
refused request leaves no row behind.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.badinput.conftest import (
    FUZZ,
    check_clean,
    check_json_error,
    form_value,
    header_text,
    nasty_text,
    obtain_tokens,
    row_counts,
)
from tests.support.factories import new_portal

GRANT_TYPES = [
    "authorization_code",
    "refresh_token",
    "password",
    "client_credentials",
    "implicit",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "",
    "AUTHORIZATION_CODE",
]
TOKEN_KEYS = [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
    "username",
    "password",
    "assertion",
    "client_assertion",
    "client_assertion_type",
    "resource",
    "nonce",
]


def _basic(user: str, secret: str) -> str:
    raw = f"{user}:{secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _auth_headers(kind: str, portal: Any, junk: str) -> tuple[dict[str, str], dict[str, str]]:
    """Return (headers, extra form fields) for one way of (mis)authenticating."""
    if kind == "basic":
        return {"Authorization": _basic(portal.client_id, portal.secret)}, {}
    if kind == "basic-wrong-secret":
        return {"Authorization": _basic(portal.client_id, "wrong")}, {}
    if kind == "basic-unknown-client":
        return {"Authorization": _basic("nobody", "wrong")}, {}
    if kind == "basic-junk":
        return {"Authorization": "Basic " + junk}, {}
    if kind == "basic-nul":
        return {"Authorization": _basic("\x00", "\x00")}, {}
    if kind == "bearer":
        return {"Authorization": "Bearer " + junk}, {}
    if kind == "post":
        return {}, {"client_id": portal.client_id, "client_secret": portal.secret}
    if kind == "post-wrong":
        return {}, {"client_id": portal.client_id, "client_secret": junk}
    if kind == "both":  # RFC 6749 §2.3: only one method per request
        return (
            {"Authorization": _basic(portal.client_id, portal.secret)},
            {"client_id": portal.client_id, "client_secret": portal.secret},
        )
    if kind == "public-id-only":
        return {}, {"client_id": portal.client_id}
    return {}, {}


AUTH_KINDS = [
    "none",
    "basic",
    "basic-wrong-secret",
    "basic-unknown-client",
    "basic-junk",
    "basic-nul",
    "bearer",
    "post",
    "post-wrong",
    "both",
    "public-id-only",
]


# -- /token ------------------------------------------------------------------------


@FUZZ
@given(
    fields=st.dictionaries(st.sampled_from(TOKEN_KEYS), form_value, max_size=7),
    grant=st.one_of(st.sampled_from(GRANT_TYPES), nasty_text, st.none()),
    auth=st.sampled_from(AUTH_KINDS),
    junk=header_text,
)
def test_token_fuzz(client, db, portal, fields, grant, auth, junk):
    before = row_counts(db)
    headers, extra = _auth_headers(auth, portal, junk)
    data = {**fields, **extra}
    if grant is not None:
        data["grant_type"] = grant
    resp = client.post("/token", data=data, headers=headers)
    check_json_error(resp, 400, 401)
    assert resp.headers["Cache-Control"] == "no-store"
    assert row_counts(db) == before


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(["code", "redirect_uri", "code_verifier", "scope", "client_id"]),
        form_value,
        max_size=4,
    )
)
def test_token_fuzz_around_a_real_code(client, db, portal, signed_in, fields):
    """A genuine code plus garbage: refused, the code is spent, nothing issued."""
    from tests.badinput.conftest import run_authorization

    query, verifier = run_authorization(client, portal, signed_in)
    data = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "redirect_uri": portal.redirect_uri,
        "code_verifier": verifier,
    }
    data.update(fields)
    before = row_counts(db)
    resp = client.post("/token", data=data, auth=(portal.client_id, portal.secret))
    check_clean(resp)
    if resp.status_code == 200:
        # Garbage that happened to equal the right values (or an ignored scope).
        assert row_counts(db)["tokens"] == before["tokens"] + 1
        return
    check_json_error(resp, 400, 401)
    assert row_counts(db) == before


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"grant_type": "authorization_code"},
        {"grant_type": "authorization_code", "code": "x"},
        {
            "grant_type": "authorization_code",
            "code": "x" * 10_000,
            "redirect_uri": "y",
            "code_verifier": "z",
        },
        {
            "grant_type": "authorization_code",
            "code": "\x00",
            "redirect_uri": "\x00",
            "code_verifier": "\x00",
        },
        {"grant_type": "authorization_code", "code": ["a", "b"], "code_verifier": "z" * 50},
        {"grant_type": "refresh_token"},
        {"grant_type": "refresh_token", "refresh_token": "garbage"},
        {"grant_type": "refresh_token", "refresh_token": "\x00" * 50},
        {"grant_type": "refresh_token", "refresh_token": "r" * 10_000, "scope": "openid"},
        {"grant_type": "password", "username": "a", "password": "b"},
        {"grant_type": "client_credentials"},
        {"grant_type": ["authorization_code", "refresh_token"]},
    ],
)
@pytest.mark.parametrize("auth", ["basic", "post", "none", "basic-wrong-secret"])
def test_token_explicit(client, db, portal, post_portal, data, auth):
    before = row_counts(db)
    target = post_portal if auth == "post" else portal
    headers, extra = _auth_headers(auth, target, "junk")
    resp = client.post("/token", data={**data, **extra}, headers=headers)
    body = check_json_error(resp, 400, 401)
    if auth in ("none", "basic-wrong-secret") and data.get("grant_type") in (
        "authorization_code",
        "refresh_token",
    ):
        assert body["error"] == "invalid_client"
    assert row_counts(db) == before


def test_token_wrong_body_types(client, db, portal):
    before = row_counts(db)
    auth = (portal.client_id, portal.secret)
    # JSON instead of a form.
    resp = client.post("/token", json={"grant_type": "authorization_code", "code": "x"}, auth=auth)
    check_json_error(resp, 400, 401)
    # Text, XML, a multipart form, an empty body, a non-UTF-8 form.
    for body, ctype in [
        (b"grant_type=authorization_code", "text/plain"),
        (b"<grant_type/>", "application/xml"),
        (b"", "application/x-www-form-urlencoded"),
        (b"grant_type=%ff%fe&code=%c3%28", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00\x01", "application/x-www-form-urlencoded"),
        (b"grant_type=authorization_code", "application/x-www-form-urlencoded; charset=latin-1"),
    ]:
        resp = client.post("/token", data=body, content_type=ctype, auth=auth)
        check_json_error(resp, 400, 401)
    resp = client.post(
        "/token",
        data={"grant_type": "authorization_code", "code": "x", "f": (b"data", "f.txt")},
        content_type="multipart/form-data",
        auth=auth,
    )
    check_json_error(resp, 400, 401)
    # Parameters in the query string are not a token request (RFC 6749 §3.2).
    resp = client.post("/token?grant_type=authorization_code&code=x", auth=auth)
    check_json_error(resp, 400, 401)
    assert row_counts(db) == before


def test_token_methods_and_sizes(client, db, portal):
    before = row_counts(db)
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        check_json_error(client.open("/token", method=method), 405)
    huge = client.post(
        "/token",
        data={"grant_type": "authorization_code", "code": "x" * 70_000},
        auth=(portal.client_id, portal.secret),
    )
    check_json_error(huge, 413)
    huge_json = client.post("/token", json={"x": "y" * 70_000})
    check_json_error(huge_json, 413)
    many = client.post(
        "/token",
        data=b"&".join(b"k%d=v" % i for i in range(5000)),
        content_type="application/x-www-form-urlencoded",
    )
    check_json_error(many, 400, 401, 413)
    assert row_counts(db) == before


def test_token_basic_auth_garbage(client, db, portal):
    for header in [
        "Basic",
        "Basic ",
        "Basic !!!!",
        "Basic " + "A" * 5000,
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic " + base64.b64encode(b"%ff:%00").decode(),
        "Basic " + base64.b64encode(portal.client_id.encode() + b":").decode(),
        "Digest username=x",
        "basic " + base64.b64encode(b"a:b").decode(),
    ]:
        resp = client.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": "x",
                "redirect_uri": portal.redirect_uri,
                "code_verifier": "v" * 43,
            },
            headers={"Authorization": header},
        )
        body = check_json_error(resp, 400, 401)
        assert body["error"] in ("invalid_client", "invalid_request"), (header, body)


def test_public_client_cannot_use_a_secret_or_skip_pkce(
    client, db, public_portal, portal, signed_in
):
    before = row_counts(db)
    # A public portal with a made-up secret is refused.
    resp = client.post(
        "/token",
        data={"grant_type": "authorization_code", "code": "x", "code_verifier": "v" * 43},
        auth=(public_portal.client_id, "made-up"),
    )
    check_json_error(resp, 401)
    # A confidential portal may not authenticate as public (client_id only).
    resp = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "client_id": portal.client_id,
            "code_verifier": "v" * 43,
        },
    )
    check_json_error(resp, 401)
    assert row_counts(db) == before


def test_refresh_token_of_another_portal(client, db, portal, signed_in):
    tokens = obtain_tokens(client, portal, signed_in, scope="openid offline_access")
    other = new_portal(db)
    before = row_counts(db)
    resp = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(other.client_id, other.secret),
    )
    check_json_error(resp, 400)
    assert resp.get_json()["error"] == "invalid_grant"
    assert row_counts(db) == before
    # Scope widening on refresh is refused, and does not spend the refresh token.
    resp = client.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "scope": "openid cccd",
            "refresh_token": tokens["refresh_token"],
        },
        auth=(portal.client_id, portal.secret),
    )
    check_json_error(resp, 400)
    assert resp.get_json()["error"] == "invalid_scope"
    assert row_counts(db) == before
    resp = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(portal.client_id, portal.secret),
    )
    assert resp.status_code == 200, resp.get_json()


# -- /userinfo ---------------------------------------------------------------------


@FUZZ
@given(
    scheme=st.sampled_from(
        ["Bearer ", "bearer ", "BEARER ", "Basic ", "MAC ", "", "Bearer  ", "DPoP "]
    ),
    value=header_text,
    body_token=st.one_of(st.none(), form_value),
    method=st.sampled_from(["GET", "POST"]),
)
def test_userinfo_fuzz(client, db, scheme, value, body_token, method):
    before = row_counts(db)
    headers = {"Authorization": scheme + value} if scheme or value else {}
    data = {"access_token": body_token} if body_token is not None and method == "POST" else None
    resp = client.open("/userinfo", method=method, headers=headers, data=data)
    check_json_error(resp, 400, 401)
    assert row_counts(db) == before


def test_userinfo_explicit(client, db, portal, signed_in):
    tokens = obtain_tokens(client, portal, signed_in)
    good = tokens["access_token"]
    cases = [
        ({}, None, None),
        ({"Authorization": "Bearer"}, None, None),
        ({"Authorization": "Bearer "}, None, None),
        ({"Authorization": f"Basic {good}"}, None, None),
        ({"Authorization": f"Bearer {good} extra"}, None, None),
        ({"Authorization": f"Bearer {good[:-1]}"}, None, None),
        ({"Authorization": "Bearer " + "a" * 10_000}, None, None),
        ({"Authorization": "Bearer \x00"}, None, None),
        ({}, {"access_token": ""}, "application/x-www-form-urlencoded"),
        ({}, {"access_token": "garbage"}, "application/x-www-form-urlencoded"),
        ({}, {"access_token": [good[:-1], good + "x"]}, "application/x-www-form-urlencoded"),
    ]
    for headers, data, _ctype in cases:
        resp = client.post("/userinfo", headers=headers, data=data)
        assert resp.status_code != 200, (headers, data)
        check_json_error(resp, 400, 401)
    # No token, or another scheme: RFC 6750 §3.1 bare challenge, standard code in the body.
    for headers in ({}, {"Authorization": f"Basic {good}"}, {"Authorization": "Bearer"}):
        resp = client.get("/userinfo", headers=headers)
        assert check_json_error(resp, 401)["error"] == "invalid_request"
        assert resp.headers["WWW-Authenticate"] == "Bearer"
    # A token in the query string is not accepted (RFC 9700 §2.4 / RFC 6750 §2.3).
    check_json_error(client.get(f"/userinfo?access_token={good}"), 400, 401)
    # The same token as JSON is not a form body.
    check_json_error(client.post("/userinfo", json={"access_token": good}), 400, 401)
    # And the good token still works afterwards.
    resp = client.get("/userinfo", headers={"Authorization": f"Bearer {good}"})
    assert resp.status_code == 200
    for method in ("PUT", "DELETE"):
        check_json_error(client.open("/userinfo", method=method), 405)


# -- /revoke and /introspect -------------------------------------------------------


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(["token", "token_type_hint", "client_id", "client_secret"]),
        form_value,
        max_size=3,
    ),
    auth=st.sampled_from(AUTH_KINDS),
    junk=header_text,
    endpoint=st.sampled_from(["/revoke", "/introspect"]),
)
def test_revoke_introspect_fuzz(client, db, portal, fields, auth, junk, endpoint):
    before = row_counts(db)
    headers, extra = _auth_headers(auth, portal, junk)
    resp = client.post(endpoint, data={**fields, **extra}, headers=headers)
    check_clean(resp)
    assert resp.mimetype == "application/json"
    if resp.status_code == 200:
        # Only a properly authenticated portal gets an answer, and it learns nothing.
        # (Both methods at once, RFC 6749 §2.3, is tolerated: the header wins.)
        assert auth in ("basic", "both"), auth
        body = resp.get_json()
        assert body in ({}, {"active": False}), body
    else:
        check_json_error(resp, 400, 401)
    assert row_counts(db) == before


@pytest.mark.parametrize("endpoint", ["/revoke", "/introspect"])
def test_revoke_introspect_explicit(client, db, portal, endpoint):
    before = row_counts(db)
    auth = (portal.client_id, portal.secret)
    body = check_json_error(client.post(endpoint, data={}, auth=auth), 400)
    assert body["error"] == "invalid_request"
    body = check_json_error(
        client.post(endpoint, data={"token": "x", "token_type_hint": "id_token"}, auth=auth), 400
    )
    assert body["error"] == "unsupported_token_type"
    check_json_error(client.post(endpoint, data={"token": "x"}), 401)
    check_json_error(client.post(endpoint, json={"token": "x"}, auth=auth), 400)
    check_json_error(client.post(endpoint, data={"token": "x" * 70_000}, auth=auth), 413)
    check_json_error(client.get(endpoint), 405)
    for token in ("", "\x00", "x" * 10_000, "%ff"):
        resp = client.post(endpoint, data={"token": token}, auth=auth)
        check_clean(resp)
        assert resp.status_code in (200, 400)
        if resp.status_code == 200 and endpoint == "/introspect":
            assert resp.get_json() == {"active": False}
    assert row_counts(db) == before


def test_introspection_by_public_client_and_foreign_portal(
    client, db, portal, public_portal, signed_in
):
    tokens = obtain_tokens(client, portal, signed_in)
    resp = client.post(
        "/introspect", data={"token": tokens["access_token"], "client_id": public_portal.client_id}
    )
    check_json_error(resp, 401)

    other = new_portal(db)
    resp = client.post(
        "/introspect", data={"token": tokens["access_token"]}, auth=(other.client_id, other.secret)
    )
    assert resp.status_code == 200
    assert resp.get_json() == {"active": False}
    # A foreign portal cannot revoke it either.
    resp = client.post(
        "/revoke", data={"token": tokens["access_token"]}, auth=(other.client_id, other.secret)
    )
    check_clean(resp)
    resp = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert resp.status_code == 200


# -- /jwks and discovery -----------------------------------------------------------


@FUZZ
@given(
    params=st.dictionaries(nasty_text, nasty_text, max_size=4),
    path=st.sampled_from(
        ["/jwks", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
    ),
)
def test_public_documents_ignore_query_garbage(client, params, path):
    resp = client.get(path, query_string=params)
    check_clean(resp)
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert "keys" in body or "issuer" in body
    if "keys" in body:
        assert all("d" not in k and "p" not in k for k in body["keys"])


@pytest.mark.parametrize("path", ["/jwks", "/.well-known/openid-configuration"])
def test_public_documents_methods(client, path):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        check_json_error(client.open(path, method=method, data={"x": "y"}), 405)
    assert client.head(path).status_code == 200
    resp = client.get(path, headers={"Accept": "text/html"})
    assert resp.mimetype == "application/json"
