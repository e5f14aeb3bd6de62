"""OpenID Foundation Basic OP certification plan — request objects and the claims parameter.

This provider deliberately supports neither request objects (``request``) nor
``request_uri``, nor the ``claims`` parameter, and says so in discovery. The plan accepts
that: its request-object modules pass when the OP answers ``request_not_supported`` /
``request_uri_not_supported`` (OIDC Core §3.1.2.6, §6) — redirected to the registered
redirect URI, with ``iss`` (RFC 9207) and ``state`` when the client sent one outside the
object — and ``oidcc-claims-essential`` only requires the request to succeed.

The requests are shaped as the suite shapes them (BuildRequestObjectRedirectToAuthorization
Endpoint): ``response_type``, ``client_id``, ``scope`` and ``redirect_uri`` as query
parameters, everything else (state, nonce, PKCE) only inside the object. Deliberate
deviation from plain Basic OP: the provider requires PKCE (S256) of every client; the
refusal of an unsupported request object must not depend on PKCE parameters that only the
object carries.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.conformance.rp import RP, TIMEOUT, AuthRequest, query_of
from tests.support.useragent import Outcome, UserAgent

OUTER = ("response_type", "client_id", "scope", "redirect_uri")


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned_request_object(rp: RP, req: AuthRequest) -> str:
    """SerializeRequestObjectWithNullAlgorithm: the request as an alg=none JWT."""
    claims = dict(req.params, iss=rp.client_id, aud=rp.live.url)
    return f"{_b64({'alg': 'none'})}.{_b64(claims)}."


def _redirect(rp: RP, ua: UserAgent, params: dict[str, str]) -> Outcome:
    """Send the request; expect an immediate redirect to the portal (no page shown)."""
    resp = ua.http.get(ua.auth_url(**params), allow_redirects=False, timeout=TIMEOUT)
    assert resp.status_code in (302, 303), resp.status_code
    location = resp.headers["Location"]
    assert location.startswith(rp.redirect_uri + "?"), location
    return Outcome(location, {k: v[0] for k, v in query_of(location).items()})


def test_oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported(
    rp: RP, ua: UserAgent, citizen: dict[str, Any]
) -> None:
    """oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported: "This test
    calls the authorization endpoint as normal, but passes a request_uri that points at an
    unsigned jwt. The authorization server must successfully complete the authorization, or
    return a request_uri_not_supported error."
    """
    assert rp.config["request_uri_parameter_supported"] is False
    req = rp.request()
    # Never fetched: the provider refuses request_uri before looking at it.
    request_uri = "https://portal.example.vn/requests/" + req.params["state"] + ".jwt"

    suite_shaped = {k: req.params[k] for k in OUTER} | {"request_uri": request_uri}
    out = _redirect(rp, ua, suite_shaped)
    rp.check_error(out, AuthRequest({}, ""), "request_uri_not_supported")

    # With state (and PKCE) also outside the object, state comes back; signed in or not.
    for who in (None, citizen):
        if who is not None:
            rp.code_flow(ua, who)  # now the browser has a session
        req = rp.request()
        out = _redirect(rp, ua, req.params | {"request_uri": request_uri})
        rp.check_error(out, req, "request_uri_not_supported")


def test_oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(
    rp: RP, ua: UserAgent
) -> None:
    """oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported: "This
    test sends a unsigned request object (by value) to the authorization endpoint. The
    server must either accept the request and process the authentication correctly, or
    return a request_not_supported error as per OIDCC-3.1.2.6. Note that the python suite
    allowed implementations to completely ignore the request object - this was not compliant
    with the spec"
    """
    assert rp.config["request_parameter_supported"] is False
    req = rp.request()
    obj = unsigned_request_object(rp, req)

    suite_shaped = {k: req.params[k] for k in OUTER} | {"request": obj}
    out = _redirect(rp, ua, suite_shaped)
    rp.check_error(out, AuthRequest({}, ""), "request_not_supported")

    req = rp.request()
    out = _redirect(rp, ua, req.params | {"request": unsigned_request_object(rp, req)})
    rp.check_error(out, req, "request_not_supported")


def test_oidcc_ensure_request_object_with_redirect_uri(rp: RP, ua: UserAgent) -> None:
    """oidcc-ensure-request-object-with-redirect-uri: "This test includes two redirect URIs,
    one in the request object (passed by value) and one as a normal request parameter. The
    server must either use the redirect_uri in the request object (as per OIDCC-6.1) and
    process the authentication correctly, or show an invalid redirect_uri error".

    Not processing request objects, the provider must judge the outer (unregistered)
    redirect_uri: an error page, and no redirect anywhere — in particular not a
    ``request_not_supported`` to the registered URI (EnsureOPDoesNotUseDefaultRedirectUriIn
    CaseOfInvalidRedirectUri).
    """
    req = rp.request()
    obj = unsigned_request_object(rp, req)
    params = {k: req.params[k] for k in OUTER} | {
        "request": obj,
        "redirect_uri": rp.redirect_uri + "/invalid",
    }
    resp = ua.http.get(ua.auth_url(**params), allow_redirects=False, timeout=TIMEOUT)
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert resp.headers["Content-Type"].startswith("text/html")


def test_oidcc_claims_essential(rp: RP, ua: UserAgent, citizen: dict[str, Any]) -> None:
    """oidcc-claims-essential: "This test makes an authorization request requesting the 'name'
    claim as essential (in the userinfo [...]), and the OP must return a successful result.
    A warning is raised if the OP fails to return a value for the name claim."

    The provider supports the claims parameter (OIDC Core §5.5): ``name`` requested as
    essential for userinfo is put before the citizen on the consent page (as required),
    then released at userinfo only — the ID token does not carry it
    (EnsureIdTokenDoesNotContainName).
    """
    assert rp.config["claims_parameter_supported"] is True
    claims = json.dumps({"userinfo": {"name": {"essential": True}}})
    _, out, tokens = rp.code_flow(ua, citizen, claims=claims)
    assert out.pages == ["/signin", "/consent"]
    assert 'value="name"' in ua.consent_pages[-1]
    assert "name" not in tokens.claims
    info = rp.userinfo_claims(tokens)
    assert info["name"].startswith(citizen["profile"]["family_name"])
