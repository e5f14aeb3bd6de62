"""Browser-facing plumbing: the browser cookie, interaction binding, language, security headers."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask, Response, g, request, session

from idp import runtime

BROWSER_COOKIE = "idp_browser"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def browser_binding(*, create: bool) -> str | None:
    """Return the random value that ties interactions to this browser."""
    value = session.get("ib")
    if value is None and create:
        value = secrets.token_urlsafe(16)
        session["ib"] = value
    return value


def rotate_browser_session() -> None:
    """Start a fresh browser session at sign-in (new CSRF token), keeping the binding."""
    keep = {k: session[k] for k in ("ib", "lang") if k in session}
    session.clear()
    session.update(keep)


def get_locale() -> str:
    """Pick the page language: a switch on this request (``?lang=``, remembered), the
    citizen's remembered choice, the portal's ``ui_locales``, the browser's
    ``Accept-Language``, then the default.

    The citizen's own choice outranks the portal's hint (as in Keycloak): a switch made
    on one page of a sign-in must hold on the next, which carries the same hint.
    """
    s = runtime.settings()
    if not request:
        return s.default_language
    chosen = request.args.get("lang")
    if chosen in s.languages:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in s.languages:
        return session["lang"]
    for tag in (g.get("ui_locales") or "").split():
        base = tag.split("-")[0].lower()
        if base in s.languages:
            return base
    best = request.accept_languages.best_match(s.languages)
    return best or s.default_language


def init_app(app: Flask) -> None:
    """Install the security headers on every response."""

    @app.after_request
    def _headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        # Every page refuses framing (clickjacking): CSP and the legacy header.
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Content-Security-Policy", CSP)
        if response.mimetype == "text/html" or request.path.startswith(
            ("/token", "/userinfo", "/introspect", "/revoke")
        ):
            h["Cache-Control"] = "no-store"
            h.setdefault("Pragma", "no-cache")
        if runtime.settings().secure_cookies:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.template_filter("lang_query")
    def _lang_query(args: Any, lang: str) -> str:
        from urllib.parse import urlencode

        items = [(k, v) for k, v in args.items(multi=True) if k != "lang"]
        return urlencode([*items, ("lang", lang)])

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        from flask_babel import get_locale as babel_locale

        settings = runtime.settings()
        lang = str(babel_locale() or "vi")
        return {
            "current_lang": lang,
            "languages": settings.languages,
            "operator": {
                "name": (settings.operator_name_en or settings.operator_name)
                if lang == "en"
                else settings.operator_name,
                "logo": settings.operator_logo is not None,
                "hotline": settings.operator_hotline,
                "help_url": settings.operator_help_url,
            },
        }
