"""The citizen's browser, scripted: follows the provider's pages like a citizen would.

One flow over either transport: the Flask test client in-process (``UserAgent.over``),
or a ``requests.Session`` over real HTTP to a live server (``UserAgent(issuer)``). It
follows redirects on the provider itself, signs in when /signin shows, consents when
/consent shows, and stops at the first redirect that leaves the provider (the portal's
redirect URI).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.support.forms import (
    as_is_claims,
    checked_claims,
    continue_link,
    csrf_token,
    hidden_fields,
    interaction_id,
    shown_claims,
)

REDIRECTS = (301, 302, 303, 307)
TIMEOUT = 30


def pkce_pair() -> tuple[str, str]:
    """Return (verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def auth_request(client_id: str, redirect_uri: str, /, **over: Any) -> tuple[dict[str, Any], str]:
    """Return a valid authorization request (code flow, PKCE S256, a fresh nonce; plus
    ``over``, where None drops a parameter) and its code verifier."""
    verifier, challenge = pkce_pair()
    params: dict[str, Any] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile",
        "state": "st-1",
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(over)
    return {k: v for k, v in params.items() if v is not None}, verifier


@dataclass
class Outcome:
    """Where the provider finally sent the browser, and what it showed on the way."""

    location: str
    params: dict[str, str]
    pages: list[str] = field(default_factory=list)  # provider paths shown on the way
    consent_pages: list[str] = field(default_factory=list)  # their HTML, this run only
    verifier: str | None = None  # set by callers that built the request
    nonce: str | None = None

    @property
    def code(self) -> str | None:
        return self.params.get("code")

    @property
    def error(self) -> str | None:
        return self.params.get("error")

    @property
    def prompted(self) -> bool:
        """Whether a consent page was shown."""
        return bool(self.consent_pages)

    @property
    def shown(self) -> list[str]:
        """The claims listed on the (last) consent page, [] if none was shown."""
        return shown_claims(self.consent_pages[-1]) if self.consent_pages else []


class HttpTransport:
    """Real HTTP to a live provider, cookies kept in a ``requests.Session``."""

    def __init__(self, issuer: str):
        self.issuer = issuer
        self.client = requests.Session()

    def request(self, method: str, target: str, data: Any = None) -> requests.Response:
        url = self.issuer + target if target.startswith("/") else target
        return self.client.request(method, url, data=data, allow_redirects=False, timeout=TIMEOUT)

    @staticmethod
    def text(resp: requests.Response) -> str:
        return resp.text

    @staticmethod
    def path(resp: requests.Response) -> str:
        return urlsplit(resp.url).path


class TestClientTransport:
    """A Flask (werkzeug) test client: the app in-process, its cookie jar kept."""

    def __init__(self, client: Any, issuer: str | None = None):
        self.client = client
        self.issuer = issuer or client.application.extensions["idp.settings"].issuer

    def request(self, method: str, target: str, data: Any = None) -> Any:
        # The test client's cookies belong to its own host: ask the provider by path.
        if target.startswith(self.issuer + "/"):
            target = target[len(self.issuer) :]
        return self.client.open(target, method=method, data=data)

    @staticmethod
    def text(resp: Any) -> str:
        return resp.get_data(as_text=True)

    @staticmethod
    def path(resp: Any) -> str:
        return resp.request.path


class UserAgent:
    """A cookie-keeping client acting as the citizen's browser."""

    def __init__(self, issuer: str | None = None, *, transport: Any = None):
        self.transport = transport if transport is not None else HttpTransport(str(issuer))
        self.consent_pages: list[str] = []  # every consent page shown, in order
        self.notices: list[str] = []  # pages shown between steps (e.g. recovery codes left)

    @classmethod
    def over(cls, client: Any, issuer: str | None = None) -> UserAgent:
        """Return a user agent driving the app through a Flask (werkzeug) test client."""
        return cls(transport=TestClientTransport(client, issuer))

    @property
    def issuer(self) -> str:
        return self.transport.issuer

    @property
    def http(self) -> Any:
        """The underlying client (``requests.Session`` or the test client)."""
        return self.transport.client

    # -- requests and pages ------------------------------------------------------------

    def get(self, target: str) -> Any:
        """GET a provider path or a URL, not following redirects."""
        return self.transport.request("GET", target)

    def text(self, resp: Any) -> str:
        return self.transport.text(resp)

    def path(self, resp: Any) -> str:
        return self.transport.path(resp)

    def auth_url(self, **params: Any) -> str:
        """Return an authorization URL with the given parameters."""
        return f"{self.issuer}/authorize?{urlencode(params, doseq=True)}"

    def leaves(self, location: str) -> bool:
        """Whether a redirect leaves the provider."""
        return not (location.startswith("/") or location.startswith(self.issuer + "/"))

    def csrf(self, path: str) -> str:
        """Fetch a provider page; return its CSRF token (bound to this browser)."""
        page = self.get(path)
        assert page.status_code == 200, (path, page.status_code)
        return csrf_token(self.text(page))

    def post_form(self, page: Any, action: str, **fields: Any) -> Any:
        """Submit a provider form with the page's CSRF token and interaction id."""
        data = {**hidden_fields(self.text(page)), **fields}
        return self.transport.request("POST", action, data)

    # -- the citizen's steps -----------------------------------------------------------

    def sign_in(self, identifier: str, password: str) -> Any:
        """Sign in through the sign-in page's form; return the (303) response."""
        page = self.get("/signin")
        assert page.status_code == 200, page.status_code
        return self._submit_sign_in(page, identifier, password)

    def _submit_sign_in(self, page: Any, identifier: str, password: str | None) -> Any:
        resp = self.post_form(page, "/signin", identifier=identifier, password=password)
        assert resp.status_code == 303, ("sign-in refused", resp.status_code)
        return resp

    def submit_consent(
        self,
        page: Any,
        *,
        decision: str = "approve",
        claims: list[str] | None = None,
        as_is: bool = False,
        untick: set[str] | frozenset[str] = frozenset(),
    ) -> Any:
        """Post the consent form of ``page``: ``claims``, else every box ticked but
        ``untick`` (a citizen who agrees), or with ``as_is`` the page untouched
        (optional items unticked)."""
        html = self.text(page)
        assert interaction_id(html), "no interaction on the consent page"
        if claims is None:
            boxes = as_is_claims(html) if as_is else checked_claims(html)
            claims = [c for c in boxes if c not in untick]
        return self.post_form(page, "/consent", decision=decision, claim=claims)

    def follow(
        self,
        resp: Any,
        *,
        identifier: str | None = None,
        password: str | None = None,
        on_consent: Callable[[Any], Any] | None = None,
        code: Callable[[], str] | None = None,
        pages: list[str] | None = None,
        max_steps: int = 12,
    ) -> Any:
        """Follow the provider's redirects, signing in when /signin shows (given
        credentials; ``code`` answers a second-factor page) and calling ``on_consent``
        when /consent shows (if given); return the first other page, or the redirect
        that leaves the provider. ``pages`` collects ``/signin``, ``/signin:code`` and
        ``/consent`` as they are answered."""
        shown = pages if pages is not None else []
        for _ in range(max_steps):
            if resp.status_code in REDIRECTS:
                location = resp.headers["Location"]
                if self.leaves(location):
                    return resp
                resp = self.get(location)
                continue
            path = self.path(resp)
            if path == "/signin" and code is not None and 'name="code"' in self.text(resp):
                # A second-factor step never asks for the password again.
                assert 'name="password"' not in self.text(resp)
                shown.append("/signin:code")
                resp = self.post_form(resp, "/signin", code=code())
                notice = self.text(resp) if resp.status_code == 200 else ""
                if 'id="continue"' in notice:
                    self.notices.append(notice)
                    resp = self.get(continue_link(notice))
                continue
            if path == "/signin" and resp.status_code in (200, 401) and identifier is not None:
                shown.append(path)
                resp = self._submit_sign_in(resp, identifier, password)
                continue
            if path == "/consent" and resp.status_code == 200 and on_consent is not None:
                shown.append(path)
                resp = on_consent(resp)
                continue
            return resp
        raise AssertionError("too many steps")

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
        code: Callable[[], str] | None = None,
        max_steps: int = 12,
    ) -> Outcome:
        """Run an authorization request to its end; sign in and consent when asked.

        On a consent page the citizen ticks every optional item except ``untick``, or,
        with ``as_is``, submits the page as shown (optional items unticked); ``consent``
        is the decision sent.
        """
        pages: list[str] = []
        consent_pages: list[str] = []

        def decide(page: Any) -> Any:
            html = self.text(page)
            self.consent_pages.append(html)
            consent_pages.append(html)
            resp = self.submit_consent(page, decision=str(consent), as_is=as_is, untick=untick)
            assert resp.status_code == 303, (resp.status_code, self.text(resp)[:500])
            return resp

        if method == "POST":
            first = self.transport.request("POST", "/authorize", data)
        else:
            first = self.get(str(url))
        resp = self.follow(
            first,
            identifier=identifier,
            password=password,
            on_consent=decide if consent is not None else None,
            code=code,
            pages=pages,
            max_steps=max_steps,
        )
        if resp.status_code in REDIRECTS:
            location = resp.headers["Location"]
            query = parse_qs(urlsplit(location).query)
            return Outcome(location, {k: v[0] for k, v in query.items()}, pages, consent_pages)
        path = self.path(resp)
        if path == "/signin":
            raise AssertionError("sign-in page shown but no credentials given")
        if path == "/consent" and resp.status_code == 200:
            raise AssertionError("consent page shown but no decision given")
        raise AssertionError(f"stuck on {path} with status {resp.status_code}")


def sign_in(client: Any, citizen: Any) -> None:
    """Sign a Flask test client's browser in as ``citizen`` (a CitizenInfo)."""
    UserAgent.over(client).sign_in(citizen.identifier, citizen.password)


def page_csrf(client: Any, path: str = "/signin") -> str:
    """Fetch a page with a Flask test client; return its CSRF token (bound to its session)."""
    return UserAgent.over(client).csrf(path)


def register_through_pages(client: Any, settings: Any, **overrides: Any) -> tuple[dict, Any]:
    """Register through the pages with a Flask test client, typing the code sent by SMS.

    Return (the profile typed, the response to the code: 303 when the account exists).
    """
    from idp.citizens.validation import normalize_phone
    from tests.support.factories import PASSWORD, profile_data
    from tests.support.forms import csrf_token
    from tests.support.inbox import Inbox

    data = profile_data(**overrides)
    form = {**data, "password": PASSWORD, "password_confirm": PASSWORD}
    codes_before = len(Inbox(settings).to(normalize_phone(data["phone"]), "registration_code"))
    sent = client.post("/register", data={**form, "csrf_token": page_csrf(client, "/register")})
    sent.close()  # the SMS leaves once the response was sent
    if sent.status_code != 200:
        return data, sent
    html = sent.get_data(as_text=True)
    pending = re.search(r'name="pending" value="([^"]+)"', html)
    assert pending, "no registration code page"
    inbox, phone = Inbox(settings), normalize_phone(data["phone"])
    if len(inbox.to(phone, "registration_code")) != codes_before + 1:
        return data, sent  # no code sent (the details have an account): the code page
    code = inbox.code(phone, "registration_code")
    done = client.post(
        "/register/code",
        data={"pending": pending.group(1), "code": code, "csrf_token": csrf_token(html)},
    )
    return data, done
