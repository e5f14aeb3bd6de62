"""A small, strict relying party used by the conformance tests.

It plays the part the OpenID Foundation's conformance suite plays against an OP: it
builds authorization requests, drives the scripted browser, calls the token and UserInfo
endpoints over real HTTP, and validates ID tokens with joserfc against the JWKS the
provider serves (never against the provider's private keys).

Deliberate deviation from plain Basic OP: this provider REQUIRES PKCE (S256) from every
client (RFC 9700 §2.1.1), so every authorization request built here carries
``code_challenge`` and ``code_challenge_method=S256`` unless a test removes them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.useragent import Outcome, UserAgent, pkce_pair

TIMEOUT = 30
# RFC 6749 Appendix A: characters allowed in error / error_description values.
_NQSCHAR = {chr(c) for c in range(0x20, 0x7F)} - {'"', "\\"}


def b64url_sha256_half(value: str) -> str:
    """Return the ``at_hash`` / ``c_hash`` of a value for a SHA-256 based alg."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def query_of(location: str) -> dict[str, list[str]]:
    """Return the query parameters of a redirect location (all values)."""
    return parse_qs(urlsplit(location).query, keep_blank_values=True)


def assert_oauth_error_json(resp: requests.Response, error: str, status: int = 400) -> None:
    """Assert an RFC 6749 §5.2 error response: status, JSON, valid error fields."""
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["error"] == error, body
    for name in ("error", "error_description"):
        if name in body:
            assert set(body[name]) <= _NQSCHAR, f"{name} has characters outside RFC 6749 A"


@dataclass
class AuthRequest:
    """One authorization request: its parameters and the PKCE verifier kept by the RP."""

    params: dict[str, str]
    verifier: str

    @property
    def state(self) -> str | None:
        return self.params.get("state")

    @property
    def nonce(self) -> str | None:
        return self.params.get("nonce")


@dataclass
class Tokens:
    """A successful token response, with the validated ID token."""

    response: requests.Response
    body: dict[str, Any]
    id_token: str
    id_header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def access_token(self) -> str:
        return self.body["access_token"]


@dataclass
class RP:
    """A registered portal acting as a relying party against the live provider."""

    live: Any
    portal: dict[str, Any]
    auth_method: str = "client_secret_basic"
    _config: dict[str, Any] = field(default_factory=dict)

    # -- discovery and keys ---------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        if not self._config:
            resp = requests.get(
                f"{self.live.url}/.well-known/openid-configuration", timeout=TIMEOUT
            )
            assert resp.status_code == 200
            self._config.update(resp.json())
        return self._config

    def jwks(self) -> dict[str, Any]:
        resp = requests.get(self.config["jwks_uri"], timeout=TIMEOUT)
        assert resp.status_code == 200
        return resp.json()

    @property
    def client_id(self) -> str:
        return self.portal["client_id"]

    @property
    def redirect_uri(self) -> str:
        return self.portal["redirect_uri"]

    # -- the authorization endpoint ------------------------------------------------

    def request(self, **overrides: Any) -> AuthRequest:
        """Build a code-flow request (state, nonce, PKCE S256); ``None`` drops a parameter."""
        verifier, challenge = pkce_pair()
        params: dict[str, Any] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid",
            "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return AuthRequest({k: str(v) for k, v in params.items() if v is not None}, verifier)

    def authorize(
        self,
        ua: UserAgent,
        citizen: dict[str, Any] | None,
        req: AuthRequest,
        *,
        method: str = "GET",
        consent: str | None = "approve",
    ) -> Outcome:
        """Send the request through the browser; sign in and consent when asked."""
        creds = (
            {"identifier": citizen["identifier"], "password": citizen["password"]}
            if citizen
            else {}
        )
        if method == "POST":
            out = ua.authorize(method="POST", data=req.params, consent=consent, **creds)
        else:
            out = ua.authorize(ua.auth_url(**req.params), consent=consent, **creds)
        return out

    def first_page(self, ua: UserAgent, req: AuthRequest) -> requests.Response:
        """Send the request and return the first provider page it leads to (not followed).

        ``ua.authorize(page.url, ...)`` then continues the interaction from that page.
        """
        resp = ua.get(ua.auth_url(**req.params))
        assert resp.status_code in (302, 303), resp.status_code
        page = ua.follow(resp)
        assert page.status_code == 200, (page.status_code, page.headers.get("Location"))
        return page

    def check_success(self, out: Outcome, req: AuthRequest) -> str:
        """Check a successful authorization response (RFC 6749 §4.1.2, RFC 9207)."""
        assert out.location.split("?")[0] == self.redirect_uri, out.location
        assert "error" not in out.params, out.params
        assert urlsplit(out.location).fragment == "", "code flow answers in the query"
        query = query_of(out.location)
        assert all(len(v) == 1 for v in query.values()), "each parameter exactly once"
        assert out.params.get("state") == req.state
        assert out.params["iss"] == self.live.url
        code = out.params["code"]
        # oidcc-server: EnsureMinimumAuthorizationCodeLength / Entropy (RFC 6749 §10.10).
        assert len(code) >= 22
        return code

    def check_error(self, out: Outcome, req: AuthRequest, error: str | set[str]) -> str:
        """Check an error redirect to the registered URI with state and iss."""
        assert out.location.split("?")[0] == self.redirect_uri, out.location
        expected = {error} if isinstance(error, str) else error
        assert out.params.get("error") in expected, out.params
        assert "code" not in out.params
        if req.state is not None:
            assert out.params.get("state") == req.state
        else:
            assert "state" not in out.params
        assert out.params["iss"] == self.live.url
        for name in ("error", "error_description"):
            if name in out.params:
                assert set(out.params[name]) <= _NQSCHAR
        return out.params["error"]

    # -- the token endpoint ---------------------------------------------------------

    def token_request(
        self,
        data: dict[str, Any],
        *,
        auth_method: str | None = None,
        portal: dict[str, Any] | None = None,
    ) -> requests.Response:
        """POST to the token endpoint with the portal's client authentication."""
        portal = portal or self.portal
        method = auth_method or self.auth_method
        data = dict(data)
        auth = None
        if method == "client_secret_basic":
            auth = (portal["client_id"], portal["client_secret"])
        elif method == "client_secret_post":
            data.update(client_id=portal["client_id"], client_secret=portal["client_secret"])
        resp = requests.post(self.config["token_endpoint"], data=data, auth=auth, timeout=TIMEOUT)
        # Every token endpoint answer must not be cached (RFC 6749 §5.1, §5.2).
        assert resp.headers.get("Cache-Control") == "no-store", resp.headers
        return resp

    def exchange(self, code: str, req: AuthRequest, **kw: Any) -> requests.Response:
        """Exchange an authorization code (with the PKCE verifier)."""
        return self.token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": req.verifier,
            },
            **kw,
        )

    def tokens(self, resp: requests.Response, req: AuthRequest) -> Tokens:
        """Validate a successful token response and its ID token (OIDC Core §3.1.3.3)."""
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith("application/json")
        assert resp.headers.get("Pragma") in (None, "no-cache")
        body = resp.json()
        assert body["token_type"].lower() == "bearer"
        assert isinstance(body["access_token"], str)
        assert len(body["access_token"]) >= 22
        assert isinstance(body.get("expires_in"), int)
        assert body["expires_in"] > 0
        header, claims = self.validate_id_token(body["id_token"], nonce=req.nonce)
        # OIDC Core §3.1.3.6: at_hash, if present, must match (this provider always sends it).
        assert claims["at_hash"] == b64url_sha256_half(body["access_token"])
        return Tokens(resp, body, body["id_token"], header, claims)

    def validate_id_token(
        self, id_token: str, *, nonce: str | None, alg: str | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Verify signature (served JWKS, kid), iss, aud, exp, iat, sub, nonce."""
        expected_alg = alg or self.portal.get("id_token_alg", "RS256")
        jwks = self.jwks()
        keyset = KeySet.import_key_set(jwks)
        token = jwt.decode(id_token, keyset, algorithms=[expected_alg])
        header, claims = dict(token.header), dict(token.claims)
        assert header["alg"] == expected_alg
        # OIDC Core §10.1 and the suite's EnsureIdTokenContainsKid: kid present and served.
        assert header.get("kid") in {k.get("kid") for k in jwks["keys"]}
        registry = jwt.JWTClaimsRegistry(
            leeway=5,
            iss={"essential": True, "value": self.live.url},
            aud={"essential": True, "value": self.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        registry.validate(token.claims)
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1:
            assert claims.get("azp") == self.client_id
        assert isinstance(claims["sub"], str)
        assert 0 < len(claims["sub"]) <= 255
        assert claims["exp"] > time.time() - 5
        if nonce is None:
            assert "nonce" not in claims
        else:
            assert claims["nonce"] == nonce
        # Basic OP: auth_time is always sent by this provider (OIDC Core §2).
        assert isinstance(claims["auth_time"], int)
        assert claims["auth_time"] <= claims["iat"] + 5
        return header, claims

    def code_flow(
        self,
        ua: UserAgent,
        citizen: dict[str, Any] | None,
        *,
        method: str = "GET",
        consent: str | None = "approve",
        **params: Any,
    ) -> tuple[AuthRequest, Outcome, Tokens]:
        """Run a whole successful code flow and return the request, outcome and tokens."""
        req = self.request(**params)
        out = self.authorize(ua, citizen, req, method=method, consent=consent)
        code = self.check_success(out, req)
        return req, out, self.tokens(self.exchange(code, req), req)

    # -- the UserInfo endpoint ------------------------------------------------------

    def userinfo(self, access_token: str, how: str = "get") -> requests.Response:
        """Call UserInfo: GET with header, POST with header, or POST with the form body."""
        url = self.config["userinfo_endpoint"]
        header = {"Authorization": f"Bearer {access_token}"}
        if how == "get":
            return requests.get(url, headers=header, timeout=TIMEOUT)
        if how == "post-header":
            return requests.post(url, headers=header, timeout=TIMEOUT)
        if how == "post-body":
            return requests.post(url, data={"access_token": access_token}, timeout=TIMEOUT)
        raise ValueError(how)

    def userinfo_claims(self, tokens: Tokens, how: str = "get") -> dict[str, Any]:
        """Return validated UserInfo claims (OIDC Core §5.3.2): JSON, same sub."""
        resp = self.userinfo(tokens.access_token, how)
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith("application/json")
        info = resp.json()
        assert info["sub"] == tokens.claims["sub"]
        return info


# -- OIDC Core §5.1 standard claim types (the suite's ValidateUserInfoStandardClaims) --

_STRING_CLAIMS = {
    "sub",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
}
_BOOL_CLAIMS = {"email_verified", "phone_number_verified"}
_ADDRESS_MEMBERS = {"formatted", "street_address", "locality", "region", "postal_code", "country"}


def check_standard_claims(info: dict[str, Any]) -> None:
    """Assert every standard claim present has the type OIDC Core §5.1 gives it."""
    for name, value in info.items():
        if name in _STRING_CLAIMS:
            assert isinstance(value, str), f"{name} must be a string"
            assert value, f"{name} must not be empty"
        elif name in _BOOL_CLAIMS:
            assert isinstance(value, bool), f"{name} must be a boolean"
        elif name == "updated_at":
            assert isinstance(value, int)
            assert not isinstance(value, bool)
        elif name == "address":
            assert isinstance(value, dict)
            assert value
            assert set(value) <= _ADDRESS_MEMBERS, value
            assert all(isinstance(v, str) for v in value.values())
    if "birthdate" in info:  # EnsureUserInfoBirthDateValid: YYYY, or YYYY-MM-DD
        assert re.fullmatch(r"\d{4}(-\d{2}-\d{2})?", info["birthdate"])
        if len(info["birthdate"]) == 10:
            dt.date.fromisoformat(info["birthdate"])
    if "phone_number" in info:  # E.164 recommended (§5.1)
        assert re.fullmatch(r"\+\d{6,15}", info["phone_number"]), info["phone_number"]
    if "email" in info:
        assert "@" in info["email"]
