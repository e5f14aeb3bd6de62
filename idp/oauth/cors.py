"""Cross-origin requests from browser-based portals (the Fetch standard's CORS protocol).

A single-page portal (a public client running in the citizen's browser, PKCE, no
secret) calls the provider from its own origin; the browser lets the portal's script read
an answer only when the answer names that origin. A portal registers its web origins
(``web_origins``: exact ``scheme://host[:port]``), and the provider answers CORS on these
endpoints only, for an ``Origin`` registered by:

=====================  ==============================================================
discovery, JWKS        any active portal (public documents)
token, revocation      the active portal the request names: the client_id of the
                       Basic header, else the ``client_id`` form field
userinfo               the portal of the access token; an answer that carries no data
                       (no live token: 401 with ``WWW-Authenticate``) any active portal
preflight (OPTIONS)    any active portal: a preflight carries neither the client nor
                       the token; the request that follows is checked as above
=====================  ==============================================================

Never ``*`` (the exact origin is echoed), never ``Access-Control-Allow-Credentials``
(portals send tokens, not the provider's cookies), and never a CORS header on the
authorization or logout endpoints or any page, whatever the ``Origin``: those are for
top-level navigation only. Every answer of these endpoints carries ``Vary: Origin``, so
that a shared cache never hands one origin's answer to another. Without an ``Origin``
header nothing is looked up.
"""

from __future__ import annotations

import re

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from idp.db import get_db
from idp.oauth.userinfo import request_token
from idp.portals import service as clients

#: The endpoints that answer cross-origin requests, with the methods they accept.
ENDPOINTS: dict[str, tuple[str, ...]] = {
    "oauth.discovery": ("GET",),
    "oauth.oauth_metadata": ("GET",),
    "oauth.jwks": ("GET",),
    "oauth.token": ("POST",),
    "oauth.revoke": ("POST",),
    "oauth.userinfo": ("GET", "POST"),
}
#: Answered for an origin of any active portal (nothing in them is a portal's own).
PUBLIC = ("oauth.discovery", "oauth.oauth_metadata", "oauth.jwks")
#: Request headers a portal's script may send (the bearer token and a form or JSON body).
ALLOW_HEADERS = "Authorization, Content-Type"
#: RFC 6750 §3: the portal's script must read the challenge of a refused token.
EXPOSE_HEADERS = "WWW-Authenticate"
#: How long a browser may reuse a preflight answer (seconds).
MAX_AGE = 600

# What a browser sends: lower-case scheme and host, the port only when not the default.
_ORIGIN = re.compile(r"https?://(?:[a-z0-9._-]{1,253}|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?")


def init_app(app: Flask) -> None:
    """Answer preflights and label the CORS endpoints' answers."""
    app.before_request(_preflight)
    app.after_request(_cors_headers)


def _preflight() -> Response | None:
    """Answer a CORS preflight of a CORS endpoint with 204 (headers added afterwards)."""
    if (
        request.method == "OPTIONS"
        and request.endpoint in ENDPOINTS
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    ):
        response = Response(status=204)
        del response.headers["Content-Type"]
        return response
    return None


def _cors_headers(response: Response) -> Response:
    endpoint = request.endpoint
    if endpoint not in ENDPOINTS:
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if not origin or response.mimetype == "text/html" or not allowed(origin, endpoint):
        return response
    h = response.headers
    h["Access-Control-Allow-Origin"] = origin
    if request.method == "OPTIONS":
        h["Access-Control-Allow-Methods"] = ", ".join(ENDPOINTS[endpoint])
        h["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        h["Access-Control-Max-Age"] = str(MAX_AGE)
    elif endpoint not in PUBLIC:
        h["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return response


def allowed(origin: str, endpoint: str) -> bool:
    """Return whether this request's answer may be read by a script of ``origin``."""
    if len(origin) > 300 or not _ORIGIN.fullmatch(origin):
        return False
    db = get_db()
    if request.method == "OPTIONS" or endpoint in PUBLIC:
        return clients.origin_registered(db, origin)
    if endpoint == "oauth.userinfo":
        token = request_token()
        if token is None:
            # No live token, so no data in the answer: the portal must read the refusal.
            return clients.origin_registered(db, origin)
        portal = token.get_client()
    else:
        portal = clients.find_active(db, _named_client_id())
    return portal is not None and portal.is_active and origin in (portal.web_origins or ())


def _named_client_id() -> str | None:
    """Return the client_id a token or revocation request names (authenticated or not)."""
    try:
        client_id, _ = extract_basic_authorization(request.headers)
    except ValueError:  # credentials that are not UTF-8
        client_id = None
    if client_id:
        return client_id
    try:
        return request.form.get("client_id")
    except HTTPException:  # a body too large to read (already answered 413)
        return None
