"""Checks beyond the Basic OP plan's modules that a certification run relies on.

Discovery complete and honest, no implicit or hybrid flow, token responses never cached,
every HTML page refusing to be framed, ID tokens verifiable with the served JWKS (RS256 by
default, ES256 when the portal registered it), and pairwise subjects.

Deliberate deviation from plain Basic OP: every authorization request carries PKCE (S256),
which this provider requires from every client (RFC 9700 §2.1.1).
"""

from __future__ import annotations

from typing import Any

import requests

from tests.conformance.rp import RP, TIMEOUT, assert_oauth_error_json, query_of
from tests.support.useragent import Outcome, UserAgent

# -- discovery ------------------------------------------------------------------------

REQUIRED = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
)
RECOMMENDED = ("userinfo_endpoint", "scopes_supported", "claims_supported")


def test_discovery_is_complete(live: Any, rp: RP) -> None:
    """OIDC Discovery §3 / §4.3 and CheckServerConfiguration: required and recommended
    metadata present, issuer identical to the URL it was fetched from, the RFC 8414 copy
    identical."""
    meta = rp.config
    for name in REQUIRED + RECOMMENDED:
        assert meta.get(name), f"{name} missing"
    assert meta["issuer"] == live.url
    assert "openid" in meta["scopes_supported"]
    for claim in ("sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "acr"):
        assert claim in meta["claims_supported"], claim
    rfc8414 = requests.get(f"{live.url}/.well-known/oauth-authorization-server", timeout=TIMEOUT)
    assert rfc8414.status_code == 200
    assert rfc8414.json() == meta


def test_discovery_is_honest(live: Any, rp: RP) -> None:
    """What is advertised is what exists: code flow only, S256 only, pairwise only, every
    advertised signing algorithm has a published key, no unsupported request features, and
    every advertised endpoint or page answers (nothing 404 or 5xx)."""
    meta = rp.config
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    # client_credentials: automation clients of the admin API only (admin scopes).
    assert set(meta["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert "implicit" not in meta["grant_types_supported"]
    assert meta.get("response_modes_supported", ["query"]) == ["query"]
    assert meta["subject_types_supported"] == ["pairwise", "public"]
    assert meta["request_parameter_supported"] is False
    assert meta["request_uri_parameter_supported"] is False
    assert meta["claims_parameter_supported"] is True
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "none" not in meta["id_token_signing_alg_values_supported"]
    jwks = rp.jwks()
    served_algs = {k["alg"] for k in jwks["keys"]}
    assert set(meta["id_token_signing_alg_values_supported"]) <= served_algs
    for key in jwks["keys"]:
        assert key.get("kid"), "every key has a kid (CheckForKeyIdInServerJWKs)"
        assert key.get("use", "sig") == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), "public keys only"
    assert len({k["kid"] for k in jwks["keys"]}) == len(jwks["keys"])
    for method in meta["token_endpoint_auth_methods_supported"]:
        assert method in (
            "client_secret_basic",
            "client_secret_post",
            "none",
            "private_key_jwt",
            "client_secret_jwt",
        )

    # Every advertised endpoint answers as the protocol says (unauthenticated probes).
    assert meta["authorization_endpoint"] == f"{live.url}/authorize"
    page = requests.get(meta["authorization_endpoint"], allow_redirects=False, timeout=TIMEOUT)
    assert page.status_code == 400
    assert page.headers["Content-Type"].startswith("text/html")
    assert_oauth_error_json(
        requests.post(
            meta["token_endpoint"], timeout=TIMEOUT, data={"grant_type": "authorization_code"}
        ),
        "invalid_client",
        401,
    )
    info = requests.get(meta["userinfo_endpoint"], timeout=TIMEOUT)
    assert info.status_code == 401
    assert info.headers["WWW-Authenticate"].startswith("Bearer")
    for name in ("revocation_endpoint", "introspection_endpoint"):
        if name in meta:
            resp = requests.post(meta[name], data={"token": "x"}, timeout=TIMEOUT)
            assert_oauth_error_json(resp, "invalid_client", 401)
    for name, value in meta.items():
        if name.endswith(("_uri", "_documentation")) and name != "jwks_uri":
            resp = requests.get(value, timeout=TIMEOUT)
            assert resp.status_code == 200, f"{name} {value} answers {resp.status_code}"
    for name, value in meta.items():
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            assert value.startswith(live.url + "/") or value == live.url, name


IMPLICIT_AND_HYBRID = (
    "id_token",
    "token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
    "none",
)


def test_implicit_and_hybrid_are_refused(rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """No implicit or hybrid flow (RFC 9700 §2.1.2): every response_type but ``code`` gets
    ``unsupported_response_type`` at the registered redirect URI, with state and iss, and no
    token, ID token or code anywhere — also for a citizen already signed in."""
    rp.code_flow(ua, citizen)  # a live session: the refusal is not a sign-in artefact
    for response_type in IMPLICIT_AND_HYBRID:
        req = rp.request(response_type=response_type)
        resp = ua.http.get(ua.auth_url(**req.params), allow_redirects=False, timeout=TIMEOUT)
        assert resp.status_code in (302, 303), (response_type, resp.status_code)
        location = resp.headers["Location"]
        assert "#" not in location, "nothing in a fragment"
        params = {k: v[0] for k, v in query_of(location).items()}
        rp.check_error(Outcome(location, params), req, "unsupported_response_type")
        assert not {"access_token", "id_token", "code"} & set(params)


# -- token endpoint caching -----------------------------------------------------------


def test_token_responses_are_never_cached(rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """RFC 6749 §5.1: ``Cache-Control: no-store`` (and ``Pragma: no-cache``) on every token
    response: success, refresh, and each kind of error. (``rp.token_request`` asserts the
    header on every call; the Pragma header is checked here.)"""
    req, _, tokens = rp.code_flow(ua, citizen, scope="openid offline_access", prompt="consent")
    responses = [tokens.response]
    responses.append(
        rp.token_request(
            {"grant_type": "refresh_token", "refresh_token": tokens.body["refresh_token"]}
        )
    )
    responses.append(
        rp.token_request(
            {
                "grant_type": "authorization_code",
                "code": "nope",
                "redirect_uri": rp.redirect_uri,
                "code_verifier": req.verifier,
            }
        )
    )
    responses.append(rp.token_request({"grant_type": "password", "username": "a", "password": "b"}))
    responses.append(
        rp.token_request(
            {"grant_type": "authorization_code", "code": "x"},
            portal=dict(rp.portal, client_secret="wrong"),
        )
    )
    assert [r.status_code for r in responses] == [200, 200, 400, 400, 401]
    for resp in responses:
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers.get("Pragma") == "no-cache"


# -- framing --------------------------------------------------------------------------


def _assert_unframeable(resp: requests.Response) -> None:
    csp = resp.headers.get("Content-Security-Policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", (resp.url, csp)
    assert resp.headers.get("X-Frame-Options") == "DENY", resp.url


def test_every_html_page_refuses_framing(
    live: Any, rp: RP, ua: UserAgent, citizen: dict[str, Any]
) -> None:
    """Clickjacking (RFC 6749 §10.13, RFC 9700 §4.16): every HTML page of the provider —
    home, sign-in, registration, consent, account, sign-out, error pages — sends
    ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``."""
    seen: list[str] = []

    def check(resp: requests.Response) -> requests.Response:
        if resp.headers.get("Content-Type", "").startswith("text/html"):
            _assert_unframeable(resp)
            seen.append(f"{resp.request.method} {resp.url.split('?')[0]} {resp.status_code}")
        return resp

    anon = requests.Session()
    for path in (
        "/",
        "/signin",
        "/register",
        "/account",
        "/authorize",
        "/no-such-page",
        "/set-password/" + "x" * 30,
        "/consent",
        "/authorize/resume/" + "y" * 30,
    ):
        check(anon.get(live.url + path, allow_redirects=False, timeout=TIMEOUT))
    check(anon.post(live.url + "/signout", timeout=TIMEOUT, allow_redirects=False))
    check(
        anon.post(live.url + "/signin", data={"identifier": "x", "password": "y"}, timeout=TIMEOUT)
    )

    # The pages of a real interaction: sign-in (with interaction), wrong password,
    # consent, then the account page and the sign-out page of a signed-in citizen.
    req = rp.request(scope="openid email")
    signin = check(rp.first_page(ua, req))
    check(ua.post_form(signin, "/signin", identifier=citizen["identifier"], password="bad"))
    resp = ua.post_form(
        signin, "/signin", identifier=citizen["identifier"], password=citizen["password"]
    )
    consent = check(ua.follow(resp))
    assert consent.url.split("?")[0].endswith("/consent")
    account = check(ua.http.get(live.url + "/account", timeout=TIMEOUT))
    assert account.status_code == 200
    check(ua.post_form(account, "/signout"))
    # An error page reached through a bad redirect_uri.
    check(
        ua.http.get(
            ua.auth_url(**rp.request(redirect_uri="https://evil.example/").params), timeout=TIMEOUT
        )
    )
    assert len(seen) >= 15, seen


# -- ID token signatures --------------------------------------------------------------


def test_id_token_es256_for_a_portal_that_registered_it(
    live: Any, ua: UserAgent, citizen: dict[str, Any]
) -> None:
    """A portal registered with ``id_token_signed_response_alg=ES256`` gets ES256 ID tokens
    whose kid names a P-256 key of the served JWKS; a default portal gets RS256."""
    portal = live.register_portal(id_token_signed_response_alg="ES256")
    portal["id_token_alg"] = "ES256"
    es = RP(live, portal)
    _, _, tokens = es.code_flow(ua, citizen)
    assert tokens.id_header["alg"] == "ES256"
    key = next(k for k in es.jwks()["keys"] if k["kid"] == tokens.id_header["kid"])
    assert key["kty"] == "EC"
    assert key["crv"] == "P-256"

    rs = RP(live, live.register_portal())
    _, _, tokens = rs.code_flow(ua, citizen)
    assert tokens.id_header["alg"] == "RS256"


def test_id_token_nonce_at_hash_auth_time(rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """The nonce comes back unchanged (OIDC Core §3.1.3.7 item 11), at_hash matches the
    access token (§3.3.2.11) and auth_time is present — checked by ``RP.tokens`` on every
    flow of this suite; here with a nonce full of characters a careless OP would mangle."""
    nonce = "n-0S6_WzA2Mj ü+/=?&#"
    req, _, tokens = rp.code_flow(ua, citizen, nonce=nonce)
    assert tokens.claims["nonce"] == nonce
    assert isinstance(tokens.claims["auth_time"], int)


# -- pairwise subjects ----------------------------------------------------------------


def test_pairwise_sub(live: Any, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """OIDC Core §8.1: portals of different sectors see different ``sub`` values for one
    citizen, stable across sign-ins for one portal; portals registered under one sector
    identifier share it; the sub reveals neither the internal id nor the citizen ID
    number."""
    land = RP(live, live.register_portal(redirect_uris=["https://land.example.vn/cb"]))
    tax = RP(live, live.register_portal(redirect_uris=["https://tax.example.vn/cb"]))
    tax2 = RP(live, live.register_portal(redirect_uris=["https://tax.example.vn/other"]))
    _, _, a1 = land.code_flow(ua, citizen)
    _, _, b1 = tax.code_flow(ua, citizen)
    _, _, b2 = tax2.code_flow(ua, citizen)
    other_browser = UserAgent(live.url)
    _, out, a2 = land.code_flow(other_browser, citizen)
    assert out.pages == ["/signin"]
    assert a1.claims["sub"] != b1.claims["sub"]
    assert a1.claims["sub"] == a2.claims["sub"]
    assert b1.claims["sub"] == b2.claims["sub"]
    for sub in (a1.claims["sub"], b1.claims["sub"]):
        assert citizen["identifier"] not in sub
        assert str(citizen["id"]) not in sub
    assert land.userinfo_claims(a2)["sub"] == a1.claims["sub"]
