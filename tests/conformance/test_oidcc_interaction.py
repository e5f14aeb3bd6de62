"""OpenID Foundation Basic OP certification plan — authorization request parameters.

The modules of ``oidcc-basic-certification-test-plan`` about ``display``, ``prompt``,
``max_age``, ``id_token_hint``, ``login_hint``, ``ui_locales``, ``claims_locales``,
``acr_values`` and unknown parameters; one test per module, named after its ``testName``,
its docstring quoting the module's summary. See test_oidcc_basic.py for the whole map.

Deliberate deviation from plain Basic OP: every request carries PKCE (S256), which this
provider requires from every client (RFC 9700 §2.1.1).
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from tests.conformance.rp import RP
from tests.support.useragent import UserAgent

_HTML_LANG = re.compile(r'<html lang="([^"]+)"')


def _signed_in(rp: RP, ua: UserAgent, citizen: dict[str, Any], **params: Any) -> Any:
    """First authorization in this browser (the sign-in page is shown); return its tokens."""
    _, out, tokens = rp.code_flow(ua, citizen, **params)
    assert out.pages == ["/signin"], "scope=openid alone needs no consent"
    return tokens


# -- display --------------------------------------------------------------------------


def test_oidcc_display_page(rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """oidcc-display-page: "This test includes the display=page parameter in the request to
    the authorization endpoint. Use of this parameter in the request must not cause an error
    at the OP as per 'Mandatory to Implement Features for All OpenID Providers' in the
    OpenID Connect Core specification. [...] You should get a normal user agent login page
    view."
    """
    assert "page" in rp.config["display_values_supported"]
    req = rp.request(display="page")
    page = rp.first_page(ua, req)
    assert page.url.split("?")[0].endswith("/signin")
    assert 'name="password"' in page.text
    out = rp.authorize(ua, citizen, req)
    rp.tokens(rp.exchange(rp.check_success(out, req), req), req)


def test_oidcc_display_popup(rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """oidcc-display-popup: "This test includes the display=popup parameter in the request to
    the authorization endpoint. Use of this parameter in the request must not cause an error
    at the OP [...]. You should get a popup user agent login window."

    The provider's pages are responsive, so the ordinary sign-in page serves a popup.
    """
    _, out, _ = rp.code_flow(ua, citizen, display="popup", scope="openid email")
    assert out.pages == ["/signin", "/consent"]


# -- prompt ---------------------------------------------------------------------------


def test_oidcc_prompt_login(rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """oidcc-prompt-login: "This test calls the authorization endpoint test twice. The second
    time it will include prompt=login, so that the authorization server is required to ask
    the user to login a second time."

    ExpectSecondLoginPage: the second authorization shows the sign-in page again although
    the browser has a live session (and consent is not asked again).
    CheckIdTokenAuthTimeClaimsDifferIfPresent is asserted as "not earlier": auth_time has a
    one-second resolution and this scripted citizen signs in again within the same second.
    """
    first = _signed_in(rp, ua, citizen)
    _, quiet, _ = rp.code_flow(ua, citizen)
    assert quiet.pages == [], "without prompt=login the session is reused"
    _, out, second = rp.code_flow(ua, citizen, prompt="login")
    assert out.pages == ["/signin"]
    assert second.claims["sub"] == first.claims["sub"]
    assert second.claims["auth_time"] >= first.claims["auth_time"]


def test_oidcc_prompt_none_not_logged_in(rp: RP, ua: UserAgent) -> None:
    """oidcc-prompt-none-not-logged-in: "This test calls the authorization endpoint with
    prompt=none, expecting that no recent enough authentication is present to enable a
    silent login and hence the OP will redirect back with an error as per section 3.1.2.6
    of OpenID Connect."

    The suite uses a 128-character state "to check OP doesn't corrupt it in the error
    response"; the error must be one that requires a user interface.
    """
    req = rp.request(prompt="none", state=secrets.token_urlsafe(96)[:128])
    assert len(req.params["state"]) == 128
    out = rp.authorize(ua, None, req, consent=None)
    assert out.pages == []
    rp.check_error(
        out,
        req,
        {
            "login_required",
            "interaction_required",
            "consent_required",
            "account_selection_required",
        },
    )


def test_oidcc_prompt_none_logged_in(rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """oidcc-prompt-none-logged-in: "This test calls the authorization endpoint test twice. The
    second time it will include prompt=none, and the authorization server must not request
    that the user logs in. The test verifies that auth_time (if present) and sub are
    consistent between the id_tokens from the first and second authorizations."
    """
    first = _signed_in(rp, ua, citizen)
    _, out, second = rp.code_flow(ua, None, prompt="none", consent=None)
    assert out.pages == []
    assert second.claims["sub"] == first.claims["sub"]
    assert second.claims["auth_time"] == first.claims["auth_time"]


# -- max_age --------------------------------------------------------------------------


def test_oidcc_max_age_1(rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """oidcc-max-age-1: "This test calls the authorization endpoint test twice. The second time
    it waits 1 second and includes max_age=1, so that the authorization server is required
    to ask the user to login a second time and must return an auth_time claim in the second
    id_token."

    The suite waits 2 s ("after 1 second the previous authentication is just still valid");
    so does this test. Then: a second sign-in page, auth_time present, later than the first
    and not older than the second authorization (CheckIdTokenAuthTimeIsRecentIfPresent).
    """
    first = _signed_in(rp, ua, citizen)
    time.sleep(2)
    started = int(time.time())
    _, out, second = rp.code_flow(ua, citizen, max_age="1")
    assert out.pages == ["/signin"]
    assert second.claims["auth_time"] > first.claims["auth_time"]
    assert second.claims["auth_time"] >= started
    assert second.claims["sub"] == first.claims["sub"]


def test_oidcc_max_age_10000(rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """oidcc-max-age-10000: "This test calls the authorization endpoint test twice. The first
    time it includes max_age=15000 (so that the OP is required to return auth_time in the
    id_token). The second time it includes max_age=10000, and the authorization server must
    not request that the user logs in. The test verifies that auth_time and sub are
    consistent between the id_tokens from the first and second authorizations."
    """
    first = _signed_in(rp, ua, citizen, max_age="15000")
    assert "auth_time" in first.claims
    _, out, second = rp.code_flow(ua, None, max_age="10000", consent=None)
    assert out.pages == []
    assert second.claims["auth_time"] == first.claims["auth_time"]
    assert second.claims["sub"] == first.claims["sub"]


# -- other request parameters ----------------------------------------------------------


def test_oidcc_ensure_request_with_unknown_parameter_succeeds(
    rp: RP, ua: UserAgent, citizen: dict[str, Any]
) -> None:
    """oidcc-ensure-request-with-unknown-parameter-succeeds: "The test includes the parameter
    extra=foobar (which is not defined by any specification) in the request to the
    authorization endpoint, and the authentication must complete successfully with the
    extra parameter ignored as per RFC6749-3.1 'The authorization server MUST ignore
    unrecognized request parameters'"
    """
    req, out, _ = rp.code_flow(ua, citizen, extra="foobar")
    assert "extra" not in out.params
    assert "foobar" not in out.location


def test_oidcc_id_token_hint(live: Any, rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """oidcc-id-token-hint: "This test calls the authorization endpoint test twice. The second
    time it will include prompt=none with the id_token_hint set to the id token from the
    first authorization, and the authorization server must return successfully immediately
    without interacting with the user. The test verifies that auth_time (if present) and sub
    are consistent between the id_tokens from the first and second authorizations."

    Also (OIDC Core §3.1.2.2): a hint naming another citizen than the one signed in gets
    ``login_required`` under prompt=none.
    """
    first = _signed_in(rp, ua, citizen)
    _, out, second = rp.code_flow(
        ua, None, prompt="none", id_token_hint=first.id_token, consent=None
    )
    assert out.pages == []
    assert second.claims["sub"] == first.claims["sub"]
    assert second.claims["auth_time"] == first.claims["auth_time"]

    other = _signed_in(rp, UserAgent(live.url), live.make_citizen())
    req = rp.request(prompt="none", id_token_hint=other.id_token)
    out = rp.authorize(ua, None, req, consent=None)
    assert out.pages == []
    rp.check_error(out, req, "login_required")


def test_oidcc_login_hint(rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """oidcc-login-hint: "This test calls the authorization endpoint with a login_hint
    (provided in configuration, or buffy@<your issuer hostname> if not), which must at a
    minimum not result in errors. [...] This test requests that you log in as a specific
    user, so a fresh login page is needed."

    The hint prefills the sign-in form's identifier; the suite's default hint (an unknown
    account) is shown as typed, without an error and without revealing anything.
    """
    buffy = rp.request(login_hint="buffy@127.0.0.1")
    page = rp.first_page(UserAgent(rp.live.url), buffy)
    assert 'value="buffy@127.0.0.1"' in page.text

    req = rp.request(login_hint=citizen["identifier"])
    page = rp.first_page(ua, req)
    assert f'name="identifier" value="{citizen["identifier"]}"' in page.text
    out = ua.authorize(page.url, identifier=citizen["identifier"], password=citizen["password"])
    rp.tokens(rp.exchange(rp.check_success(out, req), req), req)


def test_oidcc_ui_locales(rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """oidcc-ui-locales: "This test includes the ui_locales parameter in the request to the
    authorization endpoint, with the value set to that provided in the configuration (or
    'se' if no value probably). Use of this parameter in the request must not cause an
    error at the OP. [...] check that the login page is displayed using one of the
    requested locales."

    'se' alone is not offered, so the default (Vietnamese) is used; 'se en' falls through to
    English, on the sign-in page and on the consent page.
    """
    assert "en" in rp.config["ui_locales_supported"]
    page = rp.first_page(UserAgent(rp.live.url), rp.request(ui_locales="se"))
    assert _HTML_LANG.search(page.text).group(1) == "vi"

    req = rp.request(ui_locales="se en-GB", scope="openid email")
    page = rp.first_page(ua, req)
    assert _HTML_LANG.search(page.text).group(1) == "en"
    consent = ua.post_form(
        page, "/signin", identifier=citizen["identifier"], password=citizen["password"]
    )
    consent = ua.follow(consent)
    assert consent.status_code == 200, f"left the provider before consent: {consent.headers}"
    assert consent.url.split("?")[0].endswith("/consent")
    assert _HTML_LANG.search(consent.text).group(1) == "en"
    out = ua.authorize(consent.url)
    rp.tokens(rp.exchange(rp.check_success(out, req), req), req)


def test_oidcc_claims_locales(rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """oidcc-claims-locales: "This test calls the authorization endpoint with
    claims_locale=se, which (as per section 15.1 of the OpenID Connect core spec) must at a
    minimum not result in errors."

    The claims come back unchanged (they have no language variants here).
    """
    _, _, tokens = rp.code_flow(ua, citizen, scope="openid profile", claims_locales="se")
    info = rp.userinfo_claims(tokens)
    assert info["family_name"] == citizen["profile"]["family_name"]
    assert not any("#" in name for name in info), "no language-tagged claims"


def test_oidcc_ensure_request_with_acr_values_succeeds(
    rp: RP, ua: UserAgent, citizen: dict[str, Any]
) -> None:
    """oidcc-ensure-request-with-acr-values-succeeds: "This test will send an acr_values
    containing the authorization server's advertised acr_values_supported (or if none
    advertised, the values '1' and '2'). The authorization must succeed, and the returned
    id_tokens 'SHOULD' (but is not required to) contain an acr claim with one of the
    requested values."

    The suite only warns when acr is missing or another value; this provider always sends
    an acr, so the test requires it to be one of the requested values.
    """
    supported = rp.config["acr_values_supported"]
    assert supported
    _, _, tokens = rp.code_flow(ua, citizen, acr_values=" ".join(supported))
    assert tokens.claims["acr"] in supported
