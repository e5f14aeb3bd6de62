"""The browser side of single sign-on: the session cookie, the signed-in citizen, the guard.

Every page that needs a signed-in citizen goes through ``citizen_required``; the
protocol endpoints read ``current_sso`` to decide whether the citizen must sign in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from idp import runtime
from idp.citizens import service
from idp.db import get_db

SSO_COOKIE = "idp_sso"


def current_sso() -> service.SignInSession | None:
    """Return this browser's live sign-in session, if any."""
    if "idp_sso" not in g:
        g.idp_sso = service.load_session(
            runtime.store(),
            request.cookies.get(SSO_COOKIE),
            runtime.settings().session_idle_ttl,
        )
    return g.idp_sso


def signed_in_citizen() -> Any:
    """Return the citizen of this browser's sign-in session, or None."""
    sso = current_sso()
    return service.get_citizen(get_db(), sso.citizen_id) if sso else None


def set_sso(response: Response, sso: service.SignInSession | None) -> Response:
    """Set (or clear) the sign-in session cookie: host-only, HttpOnly, SameSite=Lax."""
    s = runtime.settings()
    if sso is None:
        response.delete_cookie(SSO_COOKIE, httponly=True, secure=s.secure_cookies, samesite="Lax")
    else:
        response.set_cookie(
            SSO_COOKIE,
            sso.sid,
            max_age=s.session_ttl,
            httponly=True,
            secure=s.secure_cookies,
            samesite="Lax",
        )
    return response


def citizen_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``view(citizen, ...)`` for a signed-in citizen; send anyone else to sign in."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        citizen = signed_in_citizen()
        if citizen is None:
            return redirect(url_for("citizens.signin"), code=303)
        return view(citizen, *args, **kwargs)

    return guarded


def template_globals() -> dict[str, Any]:
    """Return what every page needs to know about the sign-in (for the page header)."""
    return {"signed_in": current_sso() is not None, "password_hint": PASSWORD_HINT}


PASSWORD_HINT = _l(
    "At least 8 characters; 15 or more is safer. A few words you remember together are "
    "easy to type and hard to guess. Not your citizen ID number, phone number or date of birth."
)
