"""Driving the consent flow with the Flask test client (fast, both backends).

Shared by the tests in tests/consent. The citizen's browser is a Flask test client
(cookies kept), the portal's back channel is the same client with HTTP basic auth.
Expected values are computed from the tables below, written from OIDC Core §5.4 and the
issue, never from the provider's own mapping code.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import text

from tests.support.factories import (
    PASSWORD,
    default_purposes,
    make_citizen,
    make_portal,
    profile_data,
)
from tests.support.useragent import as_is_claims, checked_claims, pkce_pair, shown_claims

ISSUER = "http://127.0.0.1:5000"
REDIRECT_URI = "https://portal.example.vn/callback"
ALL_SCOPES = "openid profile email phone address cccd offline_access"

#: Consent items and the OIDC claims each releases (the issue's list).
ITEM_CLAIMS: dict[str, tuple[str, ...]] = {
    "name": ("name", "family_name", "middle_name", "given_name", "updated_at"),
    "birthdate": ("birthdate",),
    "gender": ("gender",),
    "email": ("email", "email_verified"),
    "phone_number": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    "cccd": ("cccd",),
}
ITEMS = tuple(ITEM_CLAIMS)
ITEM_OF = {c: i for i, cs in ITEM_CLAIMS.items() for c in cs}
PERSONAL = frozenset(ITEM_OF)
#: OIDC Core §5.4 (plus ``cccd``): the claims each scope asks for.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (
        "name",
        "family_name",
        "middle_name",
        "given_name",
        "birthdate",
        "gender",
        "updated_at",
    ),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    "cccd": ("cccd",),
}
SCOPE_ITEMS = {s: tuple(dict.fromkeys(ITEM_OF[c] for c in cs)) for s, cs in SCOPE_CLAIMS.items()}
#: Protocol claims an ID token may carry besides personal data.
PROTOCOL = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "at_hash",
        "sid",
        "azp",
        "jti",
    }
)

CONSENT_TABLES = ("consent_grants", "consent_claims", "consent_receipts")

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_INTERACTION = re.compile(r'name="interaction" value="([^"]+)"')


def purposes(items: Any, required: Any = (), tag: str = "") -> dict[str, Any]:
    """Declare a purpose (vi, en) for each item; ``required`` ones marked."""
    return {
        i: {
            "purpose": {"vi": f"Mục đích {tag}{i}", "en": f"Purpose {tag}{i}"},
            "required": i in set(required),
        }
        for i in items
    }


def counts(db: Any, tables: tuple[str, ...] = CONSENT_TABLES) -> dict[str, int]:
    """Row counts of tables (to prove a refused step wrote nothing)."""
    return {
        t: int(db.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())  # noqa: S608
        for t in tables
    }


@dataclass
class PortalInfo:
    client_id: str
    secret: str | None
    redirect_uri: str
    id: str
    name: str


def new_portal(db: Any, *, scope: str = ALL_SCOPES, purposes: Any = None, **kw: Any) -> PortalInfo:
    """Register (and commit) a confidential portal declaring ``purposes``."""
    if purposes is None:
        purposes = default_purposes(scope)
    portal, secret = make_portal(
        db, redirect_uris=[REDIRECT_URI], scope=scope, purposes=purposes, **kw
    )
    info = PortalInfo(portal.client_id, secret, REDIRECT_URI, portal.id, portal.name)
    db.commit()
    return info


@dataclass
class CitizenInfo:
    id: str
    identifier: str
    password: str
    profile: dict[str, str]


def new_citizen(db: Any, settings: Any, **overrides: Any) -> CitizenInfo:
    """Register (and commit) a citizen with a password."""
    data = profile_data(**overrides)
    row = make_citizen(db, settings, **data)
    info = CitizenInfo(row.id, data["cccd"], PASSWORD, data)
    db.commit()
    return info


@dataclass
class Outcome:
    """The end of one authorization: the portal's redirect, and what was shown."""

    params: dict[str, str]
    verifier: str
    nonce: str
    consent_pages: list[str] = field(default_factory=list)
    prompted: bool = False

    @property
    def code(self) -> str | None:
        return self.params.get("code")

    @property
    def error(self) -> str | None:
        return self.params.get("error")

    @property
    def shown(self) -> list[str]:
        """The claims listed on the (last) consent page, [] if none was shown."""
        return shown_claims(self.consent_pages[-1]) if self.consent_pages else []


def body(resp: Any) -> str:
    return resp.get_data(as_text=True)


class Browser:
    """One citizen's browser (a Flask test client) and a portal's back channel."""

    def __init__(self, client: Any, citizen: CitizenInfo):
        self.client = client
        self.citizen = citizen

    # -- the front channel ------------------------------------------------------------

    def start(
        self,
        portal: PortalInfo,
        *,
        scope: str = "openid profile",
        claims: str | None = None,
        prompt: str | None = None,
        state: str = "st-consent",
        **extra: Any,
    ) -> tuple[Any, str, str]:
        """Send an authorization request; return (first response, verifier, nonce)."""
        verifier, challenge = pkce_pair()
        nonce = secrets.token_urlsafe(8)
        params: dict[str, Any] = {
            "response_type": "code",
            "client_id": portal.client_id,
            "redirect_uri": portal.redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if claims is not None:
            params["claims"] = claims
        if prompt is not None:
            params["prompt"] = prompt
        params.update(extra)
        return self.client.get("/authorize", query_string=params), verifier, nonce

    def follow(self, resp: Any, portal: PortalInfo) -> Any:
        """Follow the provider's redirects (signing in when asked); stop at a page or the
        portal's redirect URI."""
        for _ in range(10):
            if resp.status_code in (302, 303):
                loc = resp.headers["Location"]
                if loc.startswith(portal.redirect_uri):
                    return resp
                resp = self.client.get(loc)
                continue
            if resp.request.path == "/signin" and resp.status_code == 200:
                inter = _INTERACTION.search(body(resp))
                resp = self.client.post(
                    "/signin",
                    data={
                        "csrf_token": csrf_of(resp),
                        "identifier": self.citizen.identifier,
                        "password": self.citizen.password,
                        "interaction": inter.group(1) if inter else "",
                    },
                )
                assert resp.status_code == 303, (resp.status_code, body(resp)[:300])
                continue
            return resp
        raise AssertionError("too many redirects")

    def submit_consent(
        self,
        page: Any,
        *,
        decision: str = "approve",
        claims: list[str] | None = None,
        as_is: bool = False,
    ) -> Any:
        """Post the consent form of ``page``: ``claims``, else every box ticked (a citizen
        who agrees), or with ``as_is`` the page untouched (optional items unticked)."""
        inter = _INTERACTION.search(body(page))
        assert inter, "no interaction on the consent page"
        if claims is None:
            claims = as_is_claims(body(page)) if as_is else checked_claims(body(page))
        return self.client.post(
            "/consent",
            data={
                "csrf_token": csrf_of(page),
                "interaction": inter.group(1),
                "decision": decision,
                "claim": claims,
            },
        )

    def authorize(
        self,
        portal: PortalInfo,
        *,
        decision: str = "approve",
        untick: Any = frozenset(),
        as_is: bool = False,
        **params: Any,
    ) -> Outcome:
        """Run an authorization to the portal's redirect; consent when asked: tick every
        optional item but ``untick``, or with ``as_is`` submit the page untouched."""
        resp, verifier, nonce = self.start(portal, **params)
        pages: list[str] = []
        for _ in range(4):
            resp = self.follow(resp, portal)
            if resp.status_code in (302, 303):
                query = parse_qs(urlsplit(resp.headers["Location"]).query)
                return Outcome(
                    {k: v[0] for k, v in query.items()}, verifier, nonce, pages, bool(pages)
                )
            assert resp.request.path == "/consent", (resp.request.path, resp.status_code)
            assert resp.status_code == 200, (resp.status_code, body(resp)[:500])
            pages.append(body(resp))
            boxes = as_is_claims(body(resp)) if as_is else checked_claims(body(resp))
            ticked = [c for c in boxes if c not in set(untick)]
            resp = self.submit_consent(resp, decision=decision, claims=ticked)
            assert resp.status_code == 303, (resp.status_code, body(resp)[:500])
        raise AssertionError("consent asked again and again")

    # -- the portal's back channel ---------------------------------------------------

    def token(self, portal: PortalInfo, outcome: Outcome) -> dict[str, Any]:
        """Exchange the outcome's code (PKCE S256) for tokens."""
        assert outcome.code, outcome.params
        resp = self.client.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": outcome.code,
                "redirect_uri": portal.redirect_uri,
                "code_verifier": outcome.verifier,
            },
            auth=(portal.client_id, portal.secret),
        )
        assert resp.status_code == 200, body(resp)
        return resp.get_json()

    def refresh(self, portal: PortalInfo, refresh_token: str) -> Any:
        return self.client.post(
            "/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
            },
            auth=(portal.client_id, portal.secret),
        )

    def id_token(
        self, portal: PortalInfo, token: dict[str, Any], nonce: str | None = None
    ) -> dict[str, Any]:
        """Verify the ID token's signature against /jwks (joserfc); return its claims."""
        jwks = KeySet.import_key_set(self.client.get("/jwks").get_json())
        decoded = jwt.decode(token["id_token"], jwks, algorithms=["RS256", "ES256"])
        claims = dict(decoded.claims)
        assert claims["iss"] == ISSUER
        aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        assert portal.client_id in aud
        if nonce is not None:
            assert claims["nonce"] == nonce
        return claims

    def userinfo(self, access_token: str) -> Any:
        return self.client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})

    def introspect(self, portal: PortalInfo, token: str, hint: str | None = None) -> Any:
        data = {"token": token}
        if hint:
            data["token_type_hint"] = hint
        return self.client.post("/introspect", data=data, auth=(portal.client_id, portal.secret))

    def sign_in_flow(self, portal: PortalInfo, **params: Any) -> tuple[Outcome, dict, dict]:
        """Authorize, exchange the code, verify the ID token; return (outcome, token,
        ID token claims)."""
        outcome = self.authorize(portal, **params)
        token = self.token(portal, outcome)
        return outcome, token, self.id_token(portal, token, outcome.nonce)


def csrf_of(resp: Any) -> str:
    match = _CSRF.search(body(resp))
    assert match, "no CSRF token on the page"
    return match.group(1)


def item_badges(html: str) -> dict[str, str]:
    """Return {item: 'required'|'optional'} as the consent page marks each listed item."""
    out = {}
    for item, chunk in re.findall(r'<li data-claim="([^"]+)">(.*?)</li>', html, re.S):
        if 'name="claim"' not in chunk:
            continue
        out[item] = "required" if re.search(r'class="badge required"', chunk) else "optional"
    return out


def essential_labels(html: str) -> set[str]:
    """Return the listed items the page labels "the portal says it needs this"."""
    return {
        item
        for item, chunk in re.findall(r'<li data-claim="([^"]+)">(.*?)</li>', html, re.S)
        if 'class="badge essential"' in chunk
    }


def missing_items(html: str) -> list[str]:
    """Return the items the consent page lists as not on file."""
    return re.findall(r'<li data-missing="([^"]+)">', html)


def personal(claims: dict[str, Any]) -> set[str]:
    """The personal-data claim names among ``claims`` (protocol claims and sub left out)."""
    return {k for k in claims if k not in PROTOCOL}
