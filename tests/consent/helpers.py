"""Driving the consent flow with the Flask test client (fast, both backends).

Shared by the tests in tests/consent. The citizen's browser is a Flask test client
(cookies kept), the portal's back channel is the same client with HTTP basic auth.
Expected values are computed from the tables below, written from OIDC Core §5.4 and the
issue, never from the provider's own mapping code.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import text

from tests.support.factories import CitizenInfo, PortalInfo
from tests.support.useragent import Outcome, UserAgent, auth_request

ISSUER = "http://127.0.0.1:5000"

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


def body(resp: Any) -> str:
    return resp.get_data(as_text=True)


class Browser:
    """One citizen's browser (a Flask test client) and a portal's back channel."""

    def __init__(self, client: Any, citizen: CitizenInfo):
        self.client = client
        self.citizen = citizen
        self.ua = UserAgent.over(client)

    # -- the front channel ------------------------------------------------------------

    def start(self, portal: PortalInfo, **params: Any) -> tuple[Any, str, str]:
        """Send an authorization request; return (first response, verifier, nonce)."""
        query, verifier, nonce = self._request(portal, **params)
        return self.client.get("/authorize", query_string=query), verifier, nonce

    def follow(self, resp: Any, portal: PortalInfo) -> Any:
        """Follow the provider's redirects (signing in when asked); stop at a page or the
        portal's redirect URI."""
        return self.ua.follow(
            resp, identifier=self.citizen.identifier, password=self.citizen.password
        )

    def authorize(
        self,
        portal: PortalInfo,
        *,
        decision: str = "approve",
        untick: Any = frozenset(),
        as_is: bool = False,
        code: Any = None,
        **params: Any,
    ) -> Outcome:
        """Run an authorization to the portal's redirect; consent when asked: tick every
        optional item but ``untick``, or with ``as_is`` submit the page untouched."""
        query, verifier, nonce = self._request(portal, **params)
        outcome = self.ua.authorize(
            self.ua.auth_url(**query),
            identifier=self.citizen.identifier,
            password=self.citizen.password,
            consent=decision,
            untick=frozenset(untick),
            as_is=as_is,
            code=code,
        )
        assert outcome.location.startswith(portal.redirect_uri), outcome.location
        return replace(outcome, verifier=verifier, nonce=nonce)

    @staticmethod
    def _request(
        portal: PortalInfo, *, state: str = "st-consent", **params: Any
    ) -> tuple[dict[str, Any], str, str]:
        query, verifier = auth_request(portal.client_id, portal.redirect_uri, state=state, **params)
        return query, verifier, query.get("nonce")

    # -- the portal's back channel ---------------------------------------------------

    def token(self, portal: PortalInfo, outcome: Outcome) -> dict[str, Any]:
        """Exchange the outcome's code (PKCE S256) for tokens."""
        resp = self.exchange(portal, outcome)
        assert resp.status_code == 200, body(resp)
        return resp.get_json()

    def exchange(self, portal: PortalInfo, outcome: Outcome, **kw: Any) -> Any:
        """Post the outcome's code to the token endpoint; return the response.

        A confidential portal authenticates with HTTP basic; a public one (no secret)
        names itself with ``client_id`` in the form. ``kw`` goes to the test client.
        """
        assert outcome.code, outcome.params
        data = {
            "grant_type": "authorization_code",
            "code": outcome.code,
            "redirect_uri": portal.redirect_uri,
            "code_verifier": outcome.verifier,
        }
        if portal.secret is None:
            data["client_id"] = portal.client_id
        else:
            kw.setdefault("auth", (portal.client_id, portal.secret))
        return self.client.post("/token", data={**data, **kw.pop("data", {})}, **kw)

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
