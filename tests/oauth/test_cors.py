"""CORS for browser-based portals: only their registered web origins, only on discovery,
JWKS, token, userinfo and revocation, never on the authorization endpoint or a page.

A script of an origin can read an answer only when it carries
``Access-Control-Allow-Origin`` naming that exact origin (the Fetch standard): these
tests check, per endpoint, who gets it. The browser's side is in
tests/browser/test_spa_oidc_client_ts.py.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from sqlalchemy import event

from idp import runtime
from idp.admin.service import suspend_portal
from tests.consent.helpers import Browser
from tests.support.factories import PortalInfo, new_citizen, new_portal

CORS_ENDPOINTS = ("/.well-known/openid-configuration", "/jwks", "/token", "/userinfo", "/revoke")
PUBLIC_DOCUMENTS = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")


def origin(tag: str) -> str:
    """Return a fresh https origin (the server leg shares one database per run)."""
    return f"https://{tag}-{secrets.token_hex(4)}.example.vn"


def cors_headers(resp: Any) -> dict[str, str]:
    """Return the response's ``Access-Control-*`` headers."""
    return {k: v for k, v in resp.headers.items() if k.lower().startswith("access-control-")}


def vary(resp: Any) -> set[str]:
    return {v.strip().lower() for v in resp.headers.get("Vary", "").split(",") if v.strip()}


def preflight(client: Any, path: str, from_origin: str, method: str = "POST") -> Any:
    return client.options(
        path,
        headers={
            "Origin": from_origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


@pytest.fixture
def spa(db: Any) -> tuple[PortalInfo, str]:
    """A public single-page portal (auth method ``none``) and its registered origin."""
    web = origin("spa")
    return new_portal(db, auth_method="none", web_origins=[web]), web


@pytest.fixture
def other(db: Any) -> tuple[PortalInfo, str]:
    """Another portal (confidential) with an origin of its own."""
    web = origin("other")
    return new_portal(db, web_origins=[web]), web


def sign_in(client: Any, db: Any, settings: Any, portal: PortalInfo) -> tuple[Browser, Any]:
    """Run an authorization to the portal's redirect URI; return the browser and outcome."""
    browser = Browser(client, new_citizen(db, settings))
    outcome = browser.authorize(
        portal, scope="openid profile offline_access", prompt="consent", state="st-cors"
    )
    return browser, outcome


def public_token(browser: Browser, portal: PortalInfo, outcome: Any, from_origin: str) -> Any:
    """Exchange the code as a single-page portal does: client_id in the form, no secret."""
    return browser.exchange(portal, outcome, headers={"Origin": from_origin})


# -- discovery and JWKS: an origin of any active portal --------------------------------------


@pytest.mark.parametrize("path", [*PUBLIC_DOCUMENTS, "/jwks"])
def test_public_documents_answer_a_registered_origin_only(client, spa, other, path):
    _, web = spa
    resp = client.get(path, headers={"Origin": web})
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == web  # exact, never "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers
    assert "origin" in vary(resp)
    # Another portal's origin is registered too: a public document is for every portal.
    assert (
        client.get(path, headers={"Origin": other[1]}).headers["Access-Control-Allow-Origin"]
        == (other[1])
    )

    for stranger in (origin("stranger"), "null", web + ":8443", web.upper(), web + "/"):
        resp = client.get(path, headers={"Origin": stranger})
        assert resp.status_code == 200
        assert cors_headers(resp) == {}, stranger
        assert "origin" in vary(resp)


def test_origins_match_exactly_even_with_like_wildcards(client, db):
    # ``_`` is a LIKE wildcard: the lookup must neither choke on it nor let it match.
    web = f"https://my_app-{secrets.token_hex(4)}.example.vn"
    new_portal(db, auth_method="none", web_origins=[web, "http://127.0.0.1:8765"])
    path = PUBLIC_DOCUMENTS[0]
    assert client.get(path, headers={"Origin": web}).headers["Access-Control-Allow-Origin"] == web
    lookalike = web.replace("my_app", "my_ap_")  # as a LIKE pattern, it matches
    assert cors_headers(client.get(path, headers={"Origin": lookalike})) == {}
    local = client.get(path, headers={"Origin": "http://127.0.0.1:8765"})
    assert local.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8765"
    assert cors_headers(client.get(path, headers={"Origin": "http://127.0.0.1:876"})) == {}


def test_without_an_origin_header_nothing_is_looked_up(client, spa, backend):
    statements: list[str] = []

    def _seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(backend.engine, "before_cursor_execute", _seen)
    try:
        plain = client.get("/.well-known/openid-configuration")
        looked_up = len(statements)
        client.get("/.well-known/openid-configuration", headers={"Origin": spa[1]})
    finally:
        event.remove(backend.engine, "before_cursor_execute", _seen)
    assert plain.status_code == 200
    assert cors_headers(plain) == {}
    assert "origin" in vary(plain)  # a shared cache must not hand it to a script
    assert looked_up == 0
    assert any("portals" in s for s in statements[looked_up:])


@pytest.mark.parametrize(
    "garbage",
    [
        "https://" + "a" * 400 + ".vn",
        "https://app.example.vn\u0000",
        "https://ứng-dụng.example.vn",
        "https://%61pp.example.vn",
        "https://app_%.example.vn",
        "http://[::1]:99999",
        "https://app.example.vn, https://other.example.vn",
        "*",
    ],
)
@pytest.mark.parametrize("path", CORS_ENDPOINTS)
def test_garbage_origins_get_nothing_and_no_error(client, spa, path, garbage):
    # A form naming the portal and undecodable Basic credentials: nothing may choke.
    headers = {"Origin": garbage, "Authorization": "Basic //79/g=="}
    if path in ("/token", "/revoke"):
        resp = client.post(path, headers=headers, data={"client_id": spa[0].client_id})
    else:
        resp = client.get(path, headers=headers)
    assert resp.status_code < 500
    assert cors_headers(resp) == {}
    assert preflight(client, path, garbage).status_code == 204


# -- preflight -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method", "methods"),
    [
        ("/.well-known/openid-configuration", "GET", "GET"),
        ("/jwks", "GET", "GET"),
        ("/token", "POST", "POST"),
        ("/userinfo", "GET", "GET, POST"),
        ("/revoke", "POST", "POST"),
    ],
)
def test_preflight_answers_a_registered_origin(client, spa, path, method, methods):
    _, web = spa
    resp = preflight(client, path, web, method)
    assert resp.status_code == 204
    assert resp.data == b""
    headers = cors_headers(resp)
    assert headers["Access-Control-Allow-Origin"] == web
    assert headers["Access-Control-Allow-Methods"] == methods
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in headers
    assert "origin" in vary(resp)

    refused = preflight(client, path, origin("stranger"), method)
    assert refused.status_code == 204
    assert cors_headers(refused) == {}
    assert "origin" in vary(refused)


# -- token and revocation: the origin of the portal the request names ---------------------


def test_token_answers_the_named_public_portal_origin_only(client, db, settings, spa, other):
    portal, web = spa
    browser, outcome = sign_in(client, db, settings, portal)
    resp = public_token(browser, portal, outcome, web)
    assert resp.status_code == 200, resp.get_json()
    assert resp.headers["Access-Control-Allow-Origin"] == web
    assert resp.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate"
    assert "Access-Control-Allow-Credentials" not in resp.headers
    assert "origin" in vary(resp)
    refresh_token = resp.get_json()["refresh_token"]

    # The portal's script reads its refusals too (a used code: invalid_grant).
    again = public_token(browser, portal, outcome, web)
    assert again.status_code == 400
    assert again.headers["Access-Control-Allow-Origin"] == web

    # Registered, but by another portal: that portal's scripts cannot read this one's.
    stolen = client.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": portal.client_id,
        },
        headers={"Origin": other[1]},
    )
    assert cors_headers(stolen) == {}
    assert "origin" in vary(stolen)


def test_token_names_the_client_of_the_basic_header(client, db, settings, other, spa):
    portal, web = other
    browser, outcome = sign_in(client, db, settings, portal)
    # A form client_id never outranks the client the Basic header authenticates.
    form = {"client_id": spa[0].client_id}
    resp = browser.exchange(portal, outcome, data=form, headers={"Origin": spa[1]})
    assert cors_headers(resp) == {}
    resp = browser.exchange(portal, outcome, data=form, headers={"Origin": web})
    assert resp.headers["Access-Control-Allow-Origin"] == web


def test_token_without_a_named_client_answers_no_origin(client, spa):
    _, web = spa
    resp = client.post("/token", data={"grant_type": "refresh_token"}, headers={"Origin": web})
    assert resp.status_code in (400, 401)
    assert cors_headers(resp) == {}
    assert "origin" in vary(resp)
    garbled = client.post(
        "/token",
        data={"grant_type": "refresh_token"},
        headers={"Origin": web, "Authorization": "Basic //79/g=="},
    )
    assert garbled.status_code in (400, 401)
    assert cors_headers(garbled) == {}


def test_revocation_answers_the_named_portal_origin_only(client, db, settings, spa, other):
    portal, web = spa
    browser, outcome = sign_in(client, db, settings, portal)
    token = public_token(browser, portal, outcome, web).get_json()
    form = {"token": token["access_token"], "client_id": portal.client_id}
    assert cors_headers(client.post("/revoke", data=form, headers={"Origin": other[1]})) == {}
    resp = client.post("/revoke", data=form, headers={"Origin": web})
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == web
    assert "origin" in vary(resp)


# -- userinfo: the origin of the token's portal ---------------------------------------------


def test_userinfo_answers_the_origin_of_the_tokens_portal(client, db, settings, spa, other):
    portal, web = spa
    browser, outcome = sign_in(client, db, settings, portal)
    access = public_token(browser, portal, outcome, web).get_json()["access_token"]
    bearer = {"Authorization": f"Bearer {access}"}

    resp = client.get("/userinfo", headers={**bearer, "Origin": web})
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == web
    assert "Access-Control-Allow-Credentials" not in resp.headers
    assert "origin" in vary(resp)

    # The data of this portal's token is never readable by another portal's scripts.
    foreign = client.get("/userinfo", headers={**bearer, "Origin": other[1]})
    assert cors_headers(foreign) == {}
    assert "origin" in vary(foreign)
    stranger = client.get("/userinfo", headers={**bearer, "Origin": origin("stranger")})
    assert cors_headers(stranger) == {}


def test_userinfo_refusal_is_readable_by_registered_origins_only(client, spa):
    _, web = spa
    for headers in ({"Authorization": "Bearer not-a-token"}, {}):
        resp = client.get("/userinfo", headers={**headers, "Origin": web})
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert resp.headers["Access-Control-Allow-Origin"] == web
        assert resp.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate"
        assert "origin" in vary(resp)

        refused = client.get("/userinfo", headers={**headers, "Origin": origin("stranger")})
        assert refused.status_code == 401
        assert cors_headers(refused) == {}


# -- a suspended portal's origins get nothing ------------------------------------------------


def test_suspended_portal_origins_get_nothing(app, client, db, settings, spa):
    portal, web = spa
    browser, outcome = sign_in(client, db, settings, portal)
    access = public_token(browser, portal, outcome, web).get_json()["access_token"]
    with app.test_request_context():
        suspend_portal(db, runtime.store(), client_id=portal.client_id)
        db.commit()

    for path in CORS_ENDPOINTS:
        assert cors_headers(preflight(client, path, web)) == {}, path
    assert cors_headers(client.get("/jwks", headers={"Origin": web})) == {}
    assert cors_headers(client.get(PUBLIC_DOCUMENTS[0], headers={"Origin": web})) == {}
    resp = client.get("/userinfo", headers={"Authorization": f"Bearer {access}", "Origin": web})
    assert resp.status_code == 401
    assert cors_headers(resp) == {}
    resp = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": portal.client_id},
        headers={"Origin": web},
    )
    assert cors_headers(resp) == {}


# -- never on the authorization endpoint, logout, or any page --------------------------------


def test_never_on_authorize_logout_or_pages(client, spa):
    portal, web = spa
    query = {
        "response_type": "code",
        "client_id": portal.client_id,
        "redirect_uri": portal.redirect_uri,
        "scope": "openid",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    answers = [
        client.get("/authorize", query_string=query, headers={"Origin": web}),
        client.post("/authorize", data=query, headers={"Origin": web}),
        client.get("/logout", headers={"Origin": web}),
        client.get("/signin?lang=en", headers={"Origin": web}),
        client.get("/", headers={"Origin": web}),
        client.get("/no-such-page", headers={"Origin": web}),
        # JSON, naming the portal: the introspection endpoint is for portals' servers.
        client.post(
            "/introspect",
            data={"token": "x", "client_id": portal.client_id},
            headers={"Origin": web},
        ),
    ]
    answers += [
        preflight(client, path, web, method)
        for path, method in (
            ("/authorize", "GET"),
            ("/logout", "POST"),
            ("/signin", "POST"),
            ("/introspect", "POST"),
        )
    ]
    for resp in answers:
        assert cors_headers(resp) == {}, (resp.request.path, resp.status_code)
