"""Bad input everywhere: shared checks, fixtures and strategies.

Every test here runs on both backends through the Flask test client (``client``),
which shares the test's rolled-back ``db`` session with the app. Data the app must see
is committed into that session (the outer transaction still rolls back after the test).
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.support.factories import CitizenInfo, PortalInfo, new_citizen, new_portal
from tests.support.useragent import UserAgent, auth_request, sign_in

# -- hypothesis ---------------------------------------------------------------------

# IDP_FUZZ_EXAMPLES=500 for a long local hunt; the default keeps the suite quick.
FUZZ = settings(
    max_examples=int(os.environ.get("IDP_FUZZ_EXAMPLES", "30")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Values that break naive code: NUL, control and bidi characters, huge strings,
#: things that look like numbers, URLs, markup, SQL, percent-escapes of non-UTF-8.
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\n",
    "\t",
    "\u202e",
    "\ufeff",
    "\ud7ff",
    "😀" * 3,
    "x" * 10_000,
    "9" * 40,
    "-1",
    "0",
    "1e308",
    "NaN",
    "null",
    "true",
    "[]",
    "{}",
    "%00",
    "%ff%fe",
    "%",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "https://evil.example/cb",
    "javascript:alert(1)",
    "openid " * 300,
    "Nguyễn",
    "Nguye\u0302\u0303n",
]

nasty_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=3000),
)
#: A form or query value: usually one string, sometimes a repeated key (a list).
form_value = st.one_of(nasty_text, st.lists(nasty_text, min_size=2, max_size=3))
#: Header-safe text (latin-1, no CR/LF).
header_text = st.text(
    alphabet=st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=300
)

# -- checks ------------------------------------------------------------------------

STANDARD_ERRORS = {
    # RFC 6749
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "unsupported_response_type",
    "server_error",
    "temporarily_unavailable",
    # RFC 6750, RFC 7009
    "invalid_token",
    "insufficient_scope",
    "unsupported_token_type",
    # OIDC Core §3.1.2.6
    "interaction_required",
    "login_required",
    "account_selection_required",
    "consent_required",
    "invalid_request_uri",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    "registration_not_supported",
}

_LEAKS = re.compile(
    r"Traceback \(most recent call last\)|File \"/|sqlalchemy|psycopg|IntegrityError|"
    r"werkzeug\.exceptions|jinja2\.|KeyError|TypeError|AttributeError|ValueError|"
    r"<module>|site-packages",
)


def body_of(resp: Any) -> str:
    return resp.get_data(as_text=True)


def check_clean(resp: Any) -> None:
    """Never a 500, never a stack trace or internal names in the body."""
    assert resp.status_code < 500, (resp.status_code, body_of(resp)[:500])
    leak = _LEAKS.search(body_of(resp))
    assert leak is None, f"internal detail in response: {leak.group(0)!r}"


def check_json_error(resp: Any, *statuses: int) -> dict[str, Any]:
    """A machine endpoint's refusal: JSON with a standard ``error`` code."""
    check_clean(resp)
    if statuses:
        assert resp.status_code in statuses, (resp.status_code, body_of(resp)[:300])
    else:
        assert 400 <= resp.status_code < 500, resp.status_code
    assert resp.mimetype == "application/json", (resp.mimetype, body_of(resp)[:200])
    data = resp.get_json()
    assert isinstance(data, dict)
    assert data.get("error") in STANDARD_ERRORS, data
    if resp.status_code == 401:
        assert resp.headers.get("WWW-Authenticate"), "401 without a challenge"
    return data


def check_html(resp: Any, *statuses: int) -> str:
    """A human page: HTML (never JSON, never a bare string), no internals."""
    check_clean(resp)
    if statuses:
        assert resp.status_code in statuses, (resp.status_code, body_of(resp)[:300])
    assert resp.mimetype == "text/html", resp.mimetype
    page = body_of(resp)
    assert "<html" in page
    assert "</html>" in page
    return page


def check_error_page(resp: Any, *statuses: int) -> str:
    """The generic error page (clear message, no redirect)."""
    page = check_html(resp, *statuses)
    assert "Location" not in resp.headers
    assert 'role="alert"' in page
    return page


def location_params(resp: Any) -> tuple[str, dict[str, list[str]]]:
    loc = resp.headers["Location"]
    parts = urlsplit(loc)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else parts.path, parse_qs(
        parts.query, keep_blank_values=True
    )


TABLES = ("citizens", "consent_grants", "tokens", "portals", "password_links")


def row_counts(db: Any) -> dict[str, int]:
    """Row counts of the tables a refused request must not touch."""
    return {
        t: int(db.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())  # noqa: S608
        for t in TABLES
    }


# -- fixtures ----------------------------------------------------------------------


@pytest.fixture
def settings(settings: Any) -> Any:
    """The test settings with the limits on guessing raised: fuzzing is not guessing
    (the limits have their own tests, in tests/citizens/test_limits.py)."""
    from dataclasses import replace

    raised = tuple((name, "100000/minute") for name, _ in settings.limits)
    return replace(settings, limits=raised)


@pytest.fixture
def portal(db: Any) -> PortalInfo:
    """A confidential portal (client_secret_basic), committed."""
    return new_portal(db)


@pytest.fixture
def post_portal(db: Any) -> PortalInfo:
    """A confidential portal authenticating with client_secret_post."""
    return new_portal(db, auth_method="client_secret_post")


@pytest.fixture
def public_portal(db: Any) -> PortalInfo:
    """A public portal (PKCE only)."""
    return new_portal(db, auth_method="none")


@pytest.fixture
def citizen(db: Any, settings: Any) -> CitizenInfo:
    """A registered citizen with a password, committed."""
    return new_citizen(db, settings)


@pytest.fixture
def signed_in(client: Any, citizen: CitizenInfo) -> CitizenInfo:
    """The test client signed in as ``citizen``."""
    sign_in(client, citizen)
    return citizen


def auth_params(portal: PortalInfo, **over: Any) -> dict[str, Any]:
    """A valid authorization request for ``portal`` (plus overrides; None drops)."""
    return auth_request(portal.client_id, portal.redirect_uri, **over)[0]


def run_authorization(
    client: Any, portal: PortalInfo, citizen: CitizenInfo, **over: Any
) -> tuple[dict[str, list[str]], str]:
    """Drive the whole browser part with the test client; return (redirect query, verifier).

    Signs in and consents when asked. The final redirect must go to the portal.
    """
    params, verifier = auth_request(portal.client_id, portal.redirect_uri, **over)
    ua = UserAgent.over(client)
    out = ua.authorize(
        ua.auth_url(**params), identifier=citizen.identifier, password=citizen.password
    )
    assert out.location.startswith(portal.redirect_uri), out.location
    return parse_qs(urlsplit(out.location).query), verifier


def obtain_tokens(
    client: Any, portal: PortalInfo, citizen: CitizenInfo, scope: str = "openid profile"
) -> dict[str, Any]:
    """Return a token response for ``portal`` (refresh token with offline_access)."""
    over: dict[str, Any] = {"scope": scope}
    if "offline_access" in scope:
        over["prompt"] = "consent"
    query, verifier = run_authorization(client, portal, citizen, **over)
    resp = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": portal.redirect_uri,
            "code_verifier": verifier,
        },
        auth=(portal.client_id, portal.secret),
    )
    assert resp.status_code == 200, body_of(resp)
    return resp.get_json()
