"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ``end_session_endpoint``.

A portal sends the citizen's browser here (GET or a form POST) to end the single sign-on
session. What a request may do depends on what it proves:

- a valid ``id_token_hint`` (an ID token we issued, signature checked, expired accepted)
  for the citizen signed in in this browser: the session ends at once;
- anything less (no hint, a hint for another citizen or another session): the citizen
  is asked on our own page, and nothing ends unless they confirm;
- an invalid request (a forged or foreign hint, an unknown ``client_id``, a
  ``post_logout_redirect_uri`` the portal did not register, oversized parameters): a
  clear page, no redirect, nothing ended.

Afterwards the browser goes to the registered ``post_logout_redirect_uri`` with
``state`` unchanged, or to our "you are signed out" page. Consent grants are untouched;
refresh tokens issued with ``offline_access`` live on (that is what they are for).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from authlib.common.urls import add_params_to_uri
from flask import Blueprint, g, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from joserfc import jwt
from joserfc.errors import JoseError

from idp import events, keys, runtime
from idp.citizens import service as citizens
from idp.citizens.sso import current_sso, set_sso
from idp.db import get_db
from idp.errors import IdpError
from idp.hashing import digest
from idp.portals import service as portals
from idp.portals.models import Portal
from idp.subjects import subject_for
from idp.web import browser_binding, rotate_browser_session

bp = Blueprint("logout", __name__)

#: Longest accepted value of each parameter (characters).
LIMITS = {
    "id_token_hint": 8192,
    "client_id": 200,
    "logout_hint": 254,
    "post_logout_redirect_uri": 2048,
    "state": 1024,
    "ui_locales": 100,
}
#: How long the "sign out?" question waits for the citizen's answer (seconds).
CONFIRM_TTL = 600


class LogoutRefused(IdpError):
    """A logout request that is not valid: shown as a page, nothing ended."""

    status = 400
    public = _l(
        "This sign-out request is not valid, so nothing was done. You are still signed in "
        "where you were. Sign out from the portal again, or from your account page here."
    )


@dataclass(frozen=True)
class LogoutRequest:
    """A validated request: who sent it, for whom, and where the browser goes after."""

    portal: Portal | None
    hint_sub: str | None
    hint_sid: str | None
    redirect_uri: str | None
    state: str | None

    def target(self) -> str | None:
        """Return where to send the browser after sign-out (None: our own page)."""
        if not self.redirect_uri:
            return None
        if self.state is None:
            return self.redirect_uri
        return add_params_to_uri(self.redirect_uri, [("state", self.state)])


def _params() -> dict[str, str]:
    values = request.form if request.method == "POST" else request.args
    out: dict[str, str] = {}
    for name, limit in LIMITS.items():
        given = values.getlist(name)
        if len(given) > 1:
            raise LogoutRefused(detail=f"logout: {name} repeated")
        if given:
            if len(given[0]) > limit:
                raise LogoutRefused(detail=f"logout: {name} too long")
            out[name] = given[0]
    return out


def _read_hint(hint: str) -> tuple[str, list[str], str | None]:
    """Return (sub, audiences, sid) of an ID token this provider issued (expired is fine)."""
    try:
        token = jwt.decode(hint, keys.private_key_set(get_db()), algorithms=["RS256", "ES256"])
    except (JoseError, ValueError, TypeError):
        raise LogoutRefused(detail="logout: id_token_hint not ours or malformed") from None
    claims = token.claims
    aud = claims.get("aud")
    auds = [a for a in (aud if isinstance(aud, list) else [aud]) if isinstance(a, str)]
    sub, sid = claims.get("sub"), claims.get("sid")
    if claims.get("iss") != runtime.settings().issuer or not isinstance(sub, str) or not auds:
        raise LogoutRefused(detail="logout: id_token_hint from another issuer")
    return sub, auds, sid if isinstance(sid, str) else None


def parse(params: dict[str, str]) -> LogoutRequest:
    """Validate a logout request (RP-Initiated Logout 1.0 §2, §3). Raises LogoutRefused."""
    db = get_db()
    hint_sub = hint_sid = None
    client_id = params.get("client_id") or None
    if params.get("id_token_hint"):
        hint_sub, auds, hint_sid = _read_hint(params["id_token_hint"])
        if client_id is None and len(auds) == 1:
            client_id = auds[0]
        if client_id not in auds:
            raise LogoutRefused(detail="logout: client_id is not the hint's audience")
    portal = portals.find_active(db, client_id) if client_id else None
    if client_id and portal is None:
        raise LogoutRefused(detail="logout: unknown or disabled client")
    redirect_uri = params.get("post_logout_redirect_uri") or None
    if redirect_uri is not None and (
        portal is None or redirect_uri not in (portal.post_logout_redirect_uris or [])
    ):
        raise LogoutRefused(detail="logout: post_logout_redirect_uri not registered")
    return LogoutRequest(portal, hint_sub, hint_sid, redirect_uri, params.get("state"))


def _proven(req: LogoutRequest, sso: citizens.SignInSession) -> bool:
    """Whether the request proves it is about this browser's session (no question asked)."""
    if req.portal is None or req.hint_sub is None:
        return False
    if req.hint_sub != subject_for(sso.citizen_id, req.portal):
        return False
    return req.hint_sid is None or req.hint_sid == digest(sso.sid)


def _signed_out(req: LogoutRequest) -> Any:
    """End this browser's session, then go where the request asked."""
    sso = current_sso()
    if sso is not None:
        citizens.end_session(runtime.store(), sso.sid, reason="rp_logout")
        events.emit(
            "session.logout",
            citizen_id=sso.citizen_id,
            portal_id=req.portal.id if req.portal else None,
        )
    rotate_browser_session()
    target = req.target()
    if target:
        resp = redirect(target, code=303)
    else:
        resp = make_response(render_template("citizens/signed_out.html"))
    return set_sso(resp, None)


def _confirm_key(token: str) -> str:
    return f"logout-confirm:{digest(token)}"


@bp.route("/logout", methods=["GET", "POST"])
def end_session() -> Any:
    params = _params()
    if params.get("ui_locales"):
        g.ui_locales = params["ui_locales"]
    req = parse(params)
    sso = current_sso()
    if sso is None or _proven(req, sso):
        return _signed_out(req)
    # Not proven: ask the citizen, keeping the validated request (bound to this browser).
    token = secrets.token_urlsafe(32)
    runtime.store().put(
        _confirm_key(token),
        {
            "binding": browser_binding(create=True),
            "client_id": req.portal.client_id if req.portal else None,
            "redirect_uri": req.redirect_uri,
            "state": req.state,
        },
        CONFIRM_TTL,
    )
    page = render_template(
        "citizens/logout_confirm.html",
        token=token,
        portal_name=req.portal.display_name if req.portal else None,
    )
    resp = make_response(page)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/logout/confirm")
def confirm() -> Any:
    token = request.form.get("logout", "")
    data = None
    if isinstance(token, str) and 20 <= len(token) <= 100:
        data = runtime.store().take(_confirm_key(token))
    if not data or data.get("binding") != browser_binding(create=False):
        raise LogoutRefused(
            _l("This sign-out question has expired. Sign out again from the portal."),
            detail="logout: confirmation unknown, used or of another browser",
        )
    portal = portals.find_active(get_db(), data["client_id"]) if data["client_id"] else None
    redirect_uri = data["redirect_uri"] if portal is not None else None
    req = LogoutRequest(portal, None, None, redirect_uri, data["state"])
    if request.form.get("answer") != "yes":
        return redirect(url_for("citizens.account"), code=303)  # stays signed in
    return _signed_out(req)
