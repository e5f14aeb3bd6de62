"""Bad input at the authorization endpoint and its resume step.

RFC 6749 §4.1.2.1 / RFC 9700: with an unknown client or an unregistered redirect URI the
provider shows a page and never redirects; otherwise errors go back to the *registered*
URI only, with ``state`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.badinput.conftest import (
    FUZZ,
    auth_params,
    check_clean,
    check_error_page,
    form_value,
    location_params,
    nasty_text,
    row_counts,
)
from tests.support.factories import REDIRECT_URI

ISSUER = "http://127.0.0.1:5000"

AUTH_KEYS = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "ui_locales",
    "id_token_hint",
    "login_hint",
    "request",
    "request_uri",
    "acr_values",
    "display",
    "response_mode",
    "claims",
    "registration",
    "lang",
    "unknown_param",
]

UNREGISTERED = [
    "https://evil.example/callback",
    REDIRECT_URI + "/",
    REDIRECT_URI + "x",
    REDIRECT_URI + "?next=https://evil.example",
    REDIRECT_URI + "#frag",
    REDIRECT_URI.upper(),
    "https://portal.example.vn/callback/../evil",
    "https://portal.example.vn.evil.example/callback",
    "https://portal.example.vn@evil.example/callback",
    "//evil.example/callback",
    "javascript:alert(1)",
    "http://portal.example.vn/callback",
    " " + REDIRECT_URI,
    REDIRECT_URI + "\x00",
]


def _send(client: Any, method: str, params: dict[str, Any]) -> Any:
    if method == "GET":
        return client.get("/authorize", query_string=params)
    return client.post("/authorize", data=params)


CLAIM_SCOPES = {"profile", "email", "phone", "address", "cccd", "offline_access"}


def check_authorize_answer(
    resp: Any, params: dict[str, Any], portal: Any, signed_in: bool = False
) -> None:
    """The invariant of every /authorize answer, whatever the input."""
    check_clean(resp)
    if resp.status_code not in (301, 302, 303, 307, 308):
        check_error_page(resp, 400)
        return
    target, query = location_params(resp)
    if target.startswith("/"):
        # Our own interaction pages (sign-in, consent) are fine, only for valid requests.
        assert target in ("/signin", "/consent"), target
        assert params.get("client_id") == portal.client_id
        assert params.get("redirect_uri") == portal.redirect_uri
        return
    # Anything else leaving the provider must be the exact registered URI.
    assert target == portal.redirect_uri, resp.headers["Location"]
    assert params.get("client_id") == portal.client_id
    assert params.get("redirect_uri") == portal.redirect_uri
    if "code" in query:
        # Only a signed-in citizen gets a code without a page, and only when nothing
        # needing consent was asked (openid alone releases just the pairwise sub).
        assert signed_in
        assert "error" not in query
        scope = params.get("scope")
        assert isinstance(scope, str)
        assert not set(scope.split()) & CLAIM_SCOPES, scope
    else:
        assert len(query.get("error", [])) == 1
    assert query["iss"] == [ISSUER]
    state = params.get("state")
    if isinstance(state, str) and state:
        assert query["state"] == [state]
    elif not state:
        assert "state" not in query


client_ids = st.one_of(st.just("@portal"), st.just("@portal"), form_value, st.just(None))
redirect_uris = st.one_of(
    st.just("@portal"), st.just("@portal"), st.sampled_from(UNREGISTERED), form_value, st.just(None)
)


@FUZZ
@given(
    extra=st.dictionaries(st.sampled_from(AUTH_KEYS), form_value, max_size=8),
    cid=client_ids,
    ruri=redirect_uris,
    method=st.sampled_from(["GET", "POST"]),
)
def test_authorize_fuzz_anonymous(client, db, portal, extra, cid, ruri, method):
    before = row_counts(db)
    params = auth_params(portal)
    params.update(extra)
    for key, value in (("client_id", cid), ("redirect_uri", ruri)):
        if value == "@portal":
            params[key] = getattr(portal, key)
        elif value is None:
            params.pop(key, None)
        else:
            params[key] = value
    resp = _send(client, method, params)
    check_authorize_answer(resp, params, portal)
    assert row_counts(db) == before


@FUZZ
@given(
    extra=st.dictionaries(
        st.sampled_from(
            [
                "prompt",
                "max_age",
                "id_token_hint",
                "scope",
                "nonce",
                "state",
                "code_challenge",
                "code_challenge_method",
                "ui_locales",
                "acr_values",
                "login_hint",
                "claims",
                "request",
                "request_uri",
            ]
        ),
        form_value,
        max_size=4,
    )
)
def test_authorize_fuzz_signed_in(client, db, portal, signed_in, extra):
    """A signed-in browser reaches the consent, prompt and hint logic with garbage."""
    before = row_counts(db)
    params = auth_params(portal, **extra)
    resp = client.get("/authorize", query_string=params)
    check_authorize_answer(resp, params, portal, signed_in=True)
    after = row_counts(db)
    if "code=" not in resp.headers.get("Location", ""):
        assert after == before
    else:  # the (claim-less) grant the code stands for; a code is not a token row
        assert after == dict(before, consent_grants=after["consent_grants"])
        assert after["consent_grants"] - before["consent_grants"] in (0, 1)


@pytest.mark.parametrize("redirect_uri", UNREGISTERED)
def test_unregistered_redirect_uri_never_redirects(client, db, portal, redirect_uri):
    before = row_counts(db)
    resp = client.get("/authorize", query_string=auth_params(portal, redirect_uri=redirect_uri))
    check_error_page(resp, 400)
    assert "evil.example" not in resp.headers.get("Location", "")
    assert row_counts(db) == before


@pytest.mark.parametrize(
    "client_id", ["", "unknown-client", "x" * 65, "x" * 10_000, "\x00", "' OR 1=1 --", ["a", "b"]]
)
def test_unknown_client_never_redirects(client, portal, client_id):
    resp = client.get("/authorize", query_string=auth_params(portal, client_id=client_id))
    check_error_page(resp, 400)


def test_missing_client_and_redirect(client, portal):
    check_error_page(client.get("/authorize"), 400)
    check_error_page(client.post("/authorize", data={}), 400)
    check_error_page(
        client.get("/authorize", query_string=auth_params(portal, redirect_uri=None)), 400
    )


def test_a_suspended_portal_gets_a_clear_page_and_no_redirect(client, db, portal):
    from sqlalchemy import update

    from idp.db import utcnow
    from idp.portals.models import Portal

    db.execute(update(Portal).where(Portal.id == portal.id).values(disabled_at=utcnow()))
    db.commit()
    page = check_error_page(
        client.get("/authorize", query_string=auth_params(portal, ui_locales="en")), 403
    )
    assert "suspended" in page


@pytest.mark.parametrize(
    ("over", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"response_type": None}, "unsupported_response_type"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"code_challenge": "x" * 200}, "invalid_request"),
        ({"max_age": "abc"}, "invalid_request"),
        ({"max_age": "-5"}, "invalid_request"),
        ({"max_age": "9" * 40}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://evil.example/req"}, "request_uri_not_supported"),
        ({"prompt": "none"}, "login_required"),
    ],
)
def test_bad_params_redirect_to_registered_uri(client, db, portal, over, error):
    before = row_counts(db)
    params = auth_params(portal, **over)
    resp = client.get("/authorize", query_string=params)
    check_clean(resp)
    assert resp.status_code == 302, (resp.status_code, resp.get_data(as_text=True)[:300])
    target, query = location_params(resp)
    assert target == portal.redirect_uri
    assert query["error"] == [error]
    assert query["iss"] == [ISSUER]
    if isinstance(params["state"], str):
        assert query["state"] == [params["state"]]
    assert "code" not in query
    assert row_counts(db) == before


@pytest.mark.parametrize("value", ['"', "\\", "é", "\x00", "code\ttoken", "mã"])
def test_unquotable_response_type_or_redirect_uri(client, db, portal, value):
    """Regression: Authlib quoted these into error_description and raised a 500."""
    resp = client.get("/authorize", query_string=auth_params(portal, response_type=value))
    check_clean(resp)
    assert resp.status_code == 302
    target, query = location_params(resp)
    assert target == portal.redirect_uri
    assert query["error"] == ["unsupported_response_type"]
    assert query["state"] == ["st-1"]
    resp = client.get(
        "/authorize", query_string=auth_params(portal, redirect_uri=portal.redirect_uri + value)
    )
    check_error_page(resp, 400)


@pytest.mark.parametrize("key", ["response_type", "client_id", "redirect_uri", "scope", "state"])
def test_repeated_params_are_refused(client, db, portal, key):
    """RFC 6749 §3.1: parameters MUST NOT be repeated; a page or an error redirect."""
    before = row_counts(db)
    params = auth_params(portal)
    params[key] = [params[key], params[key] + "2"]
    resp = client.get("/authorize", query_string=params)
    check_clean(resp)
    if resp.status_code == 302:
        target, query = location_params(resp)
        assert target == portal.redirect_uri
        assert query["error"] == ["invalid_request"]
    else:
        check_error_page(resp, 400)
    assert row_counts(db) == before


@pytest.mark.parametrize("state", ["a b&c=d#e", "Nguyễn Văn An", "x" * 2000, "%00", "<>\"'"])
def test_state_is_echoed_exactly(client, portal, state):
    resp = client.get("/authorize", query_string=auth_params(portal, state=state, prompt="none"))
    assert resp.status_code == 302
    _target, query = location_params(resp)
    assert query["state"] == [state]
    assert query["error"] == ["login_required"]


@pytest.mark.parametrize(
    ("over", "error"),
    [
        ({"id_token_hint": "not-a-jwt"}, "invalid_request"),
        ({"id_token_hint": "x" * 10_000}, "invalid_request"),
        ({"id_token_hint": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}, "invalid_request"),
        ({"max_age": "1.5"}, "invalid_request"),
        ({"prompt": "none"}, "consent_required"),
    ],
)
def test_bad_params_signed_in(client, db, portal, signed_in, over, error):
    before = row_counts(db)
    resp = client.get("/authorize", query_string=auth_params(portal, **over))
    check_clean(resp)
    assert resp.status_code == 302
    target, query = location_params(resp)
    assert target == portal.redirect_uri
    assert query["error"] == [error]
    assert row_counts(db) == before


def test_non_utf8_query_and_body(client, portal):
    base = urlencode(auth_params(portal, state=None))
    for raw in ("state=%ff%fe%00", "scope=%c3%28", "nonce=%ed%a0%80", "client_id=%ff"):
        resp = client.get(f"/authorize?{base}&{raw}")
        check_clean(resp)
        assert resp.status_code in (302, 303, 400)
        if resp.status_code in (302, 303):
            target, _query = location_params(resp)
            assert target in (portal.redirect_uri, "/signin")
        resp = client.post(
            "/authorize",
            data=f"{base}&{raw}".encode(),
            content_type="application/x-www-form-urlencoded",
        )
        check_clean(resp)
        assert resp.status_code in (302, 303, 400)


def test_oversized_and_odd_bodies(client, portal):
    big = client.post("/authorize", data=auth_params(portal, state="x" * 70_000))
    check_clean(big)
    assert big.status_code == 413
    resp = client.post("/authorize", json=auth_params(portal))
    check_error_page(resp, 400)
    resp = client.post(
        "/authorize", data=b"\xff\xfe\x00garbage", content_type="application/x-www-form-urlencoded"
    )
    check_error_page(resp, 400)
    resp = client.post(
        "/authorize",
        data={"f": (b"x", "a.txt"), **auth_params(portal)},
        content_type="multipart/form-data",
    )
    check_clean(resp)
    resp = client.open("/authorize", method="PUT", data=auth_params(portal))
    check_clean(resp)
    assert resp.status_code == 405


# -- /authorize/resume/<id> ----------------------------------------------------------


@FUZZ
@given(iid=nasty_text)
def test_resume_garbage(client, iid):
    from urllib.parse import quote

    resp = client.get("/authorize/resume/" + quote(iid, safe=""))
    check_clean(resp)
    if resp.status_code == 308:  # werkzeug merging "//" in the path: stays on the provider
        assert resp.headers["Location"].startswith("http://localhost/authorize/resume/")
    elif resp.status_code != 404:
        check_error_page(resp, 400)
    else:
        check_error_page(resp, 404)


def test_resume_from_another_browser_and_twice(app, client, db, portal, signed_in):
    resp = client.get("/authorize", query_string=auth_params(portal))
    assert resp.status_code == 303
    consent_url = resp.headers["Location"]
    iid = consent_url.split("interaction=")[1]
    # Another browser (no binding cookie) cannot continue this interaction.
    other = app.test_client()
    check_error_page(other.get(f"/authorize/resume/{iid}"), 400)
    check_error_page(other.get(consent_url), 400)
    before = row_counts(db)
    # Resume before consent: still pending, sends back to the consent page.
    resp = client.get(f"/authorize/resume/{iid}")
    check_clean(resp)
    assert row_counts(db) == before
