"""A scripted browser over real HTTP: follows the provider's pages like a citizen would.

It follows redirects on the provider itself, fills the sign-in and consent forms, and
stops at the first redirect that leaves the provider (the portal's redirect URI).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_INTERACTION = re.compile(r'name="interaction" value="([^"]+)"')
_CHECKBOX = re.compile(r'<input type="checkbox" name="claim" value="([^"]+)"([^>]*)>')


def checked_claims(html: str) -> list[str]:
    """Return the claim boxes a citizen who agrees to everything ticks and submits.

    Optional items start unticked; this is every box that can be ticked. Required items
    have a disabled (ticked) box: agreeing grants them, and a browser does not send them.
    """
    return [value for value, rest in _CHECKBOX.findall(html) if " disabled" not in rest]


def ticked_claims(html: str) -> list[str]:
    """Return the claim boxes ticked as the page stands (required ones included)."""
    return [value for value, rest in _CHECKBOX.findall(html) if " checked" in rest]


def as_is_claims(html: str) -> list[str]:
    """Return what a browser submits for the page untouched (ticked, enabled boxes)."""
    return [
        value
        for value, rest in _CHECKBOX.findall(html)
        if " checked" in rest and " disabled" not in rest
    ]


def required_claims(html: str) -> list[str]:
    """Return the items the page shows as required (a ticked box that cannot be cleared)."""
    return [value for value, rest in _CHECKBOX.findall(html) if " disabled" in rest]


def shown_claims(html: str) -> list[str]:
    """Return every claim checkbox on a consent page."""
    return [value for value, _ in _CHECKBOX.findall(html)]


def pkce_pair() -> tuple[str, str]:
    """Return (verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


@dataclass
class Outcome:
    """Where the provider finally sent the browser."""

    location: str
    params: dict[str, str]
    pages: list[str] = field(default_factory=list)  # provider paths shown on the way

    @property
    def code(self) -> str | None:
        return self.params.get("code")

    @property
    def error(self) -> str | None:
        return self.params.get("error")


class UserAgent:
    """A cookie-keeping HTTP client acting as the citizen's browser."""

    def __init__(self, issuer: str):
        self.issuer = issuer
        self.http = requests.Session()
        self.consent_pages: list[str] = []

    def auth_url(self, **params: Any) -> str:
        """Return an authorization URL with the given parameters."""
        return f"{self.issuer}/authorize?{urlencode(params)}"

    def authorize(
        self,
        url: str | None = None,
        *,
        method: str = "GET",
        data: dict[str, Any] | None = None,
        identifier: str | None = None,
        password: str | None = None,
        consent: str | None = "approve",
        untick: set[str] | frozenset[str] = frozenset(),
        as_is: bool = False,
        max_steps: int = 12,
    ) -> Outcome:
        """Run an authorization request to its end; sign in and consent when asked.

        On a consent page the citizen ticks every optional item except ``untick``, or,
        with ``as_is``, submits the page as shown (optional items unticked).
        """
        pages: list[str] = []
        if method == "POST":
            resp = self.http.post(
                f"{self.issuer}/authorize", data=data, allow_redirects=False, timeout=30
            )
        else:
            resp = self.http.get(url, allow_redirects=False, timeout=30)
        for _ in range(max_steps):
            if resp.status_code in (301, 302, 303, 307):
                location = resp.headers["Location"]
                if location.startswith("/"):
                    location = self.issuer + location
                if not location.startswith(self.issuer + "/"):
                    query = parse_qs(urlsplit(location).query)
                    return Outcome(location, {k: v[0] for k, v in query.items()}, pages)
                resp = self.http.get(location, allow_redirects=False, timeout=30)
                continue
            path = urlsplit(resp.url).path
            pages.append(path)
            if path == "/signin" and resp.status_code in (200, 401):
                if identifier is None:
                    raise AssertionError("sign-in page shown but no credentials given")
                resp = self.post_form(resp, "/signin", identifier=identifier, password=password)
                if resp.status_code == 401:
                    raise AssertionError("sign-in refused")
                continue
            if path == "/consent" and resp.status_code == 200:
                if consent is None:
                    raise AssertionError("consent page shown but no decision given")
                self.consent_pages.append(resp.text)
                boxes = as_is_claims(resp.text) if as_is else checked_claims(resp.text)
                ticked = [c for c in boxes if c not in untick]
                resp = self.post_form(resp, "/consent", decision=consent, claim=ticked)
                continue
            raise AssertionError(f"stuck on {path} with status {resp.status_code}")
        raise AssertionError("too many steps")

    def post_form(self, page: requests.Response, action: str, **fields: Any) -> requests.Response:
        """Submit a provider form with the page's CSRF token and interaction id."""
        data = dict(fields)
        csrf = _CSRF.search(page.text)
        if csrf:
            data["csrf_token"] = csrf.group(1)
        inter = _INTERACTION.search(page.text)
        if inter:
            data["interaction"] = inter.group(1)
        return self.http.post(
            f"{self.issuer}{action}", data=data, allow_redirects=False, timeout=30
        )
