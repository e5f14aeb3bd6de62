"""Browsers a citizen signs in from, and the "new browser" notice with "this was not me".

Each browser gets a long-lived random cookie (``idp_device``: HttpOnly, host-only,
SameSite=Lax); the provider keeps only its digest per citizen (``known_browsers``). A
sign-in from a browser not seen before for that citizen sends a ``new_browser`` notice
to their contacts: when, and which kind of browser (from the User-Agent, coarsely;
never the address), with a single-use "this was not me" link (7 days). Following it and
confirming ends every session of the citizen, revokes tokens without
``offline_access``, and starts recovery. The very first browser of an account (the one
it was registered or first signed in from) is recorded without a notice.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Blueprint, g, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from idp import events, runtime
from idp.citizens import guard, messages, service
from idp.citizens.models import KnownBrowser
from idp.citizens.sso import set_sso
from idp.db import get_db, utcnow
from idp.errors import InteractionExpired
from idp.hashing import digest
from idp.tokens import service as tokens
from idp.web import rotate_browser_session

bp = Blueprint("browsers", __name__)

DEVICE_COOKIE = "idp_device"
#: Browsers keep a cookie at most 400 days (RFC 6265bis).
DEVICE_TTL = 400 * 24 * 3600
NOT_ME_TTL = 7 * 24 * 3600

_BROWSERS = (
    ("coc_coc_browser", "Cốc Cốc"),
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser", "Samsung Internet"),
    ("Zalo", "Zalo"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe(user_agent: str) -> str:
    """Return a coarse description of a browser ("Chrome, Android"), or ''."""
    ua = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in ua), "")
    system = next((name for mark, name in _SYSTEMS if mark in ua), "")
    return ", ".join(part for part in (browser, system) if part)


def network(address: str | None) -> str:
    """Return the network of an address (IPv4 /24, IPv6 /48): where, roughly, not who."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return ""
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _device() -> str:
    """Return this browser's device value, making one (set on the response) if needed."""
    value = request.cookies.get(DEVICE_COOKIE, "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{32,64}", value):
        value = g.get("idp_new_device") or secrets.token_urlsafe(32)
        g.idp_new_device = value
    return value


@bp.after_app_request
def _set_device_cookie(response: Any) -> Any:
    value = g.get("idp_new_device")
    if value:
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=DEVICE_TTL,
            httponly=True,
            secure=runtime.settings().secure_cookies,
            samesite="Lax",
        )
    return response


def note_sign_in(citizen_id: str) -> None:
    """Record this browser for the citizen; tell them when it is a new one (not the first)."""
    db = get_db()
    browser = digest(_device())
    now = utcnow()
    seen = db.execute(
        update(KnownBrowser)
        .where(KnownBrowser.citizen_id == citizen_id, KnownBrowser.browser_hash == browser)
        .values(last_seen=now)
        .execution_options(synchronize_session=False)
    )
    if seen.rowcount:
        db.commit()
        return
    first = not db.scalar(select(exists().where(KnownBrowser.citizen_id == citizen_id)))
    try:
        with db.begin_nested():
            db.add(KnownBrowser(citizen_id=citizen_id, browser_hash=browser, first_seen=now))
        db.commit()
    except IntegrityError:  # the same browser signing in twice at once: one notice
        db.rollback()
        return
    events.emit("session.new_browser", citizen_id=citizen_id, first=first)
    if not first:
        _notify(citizen_id)


def _not_me_key(token: str) -> str:
    return f"not-me:{digest(token)}"


def _notify(citizen_id: str) -> None:
    token = secrets.token_urlsafe(32)
    runtime.store().put(_not_me_key(token), {"citizen_id": citizen_id}, NOT_ME_TTL)
    link = url_for("browsers.not_me", token=token, _external=True)
    what = describe(request.headers.get("User-Agent", ""))
    when = messages.when_text()

    def send() -> None:
        citizen = service.get_citizen(get_db(), citizen_id)
        if citizen is not None:
            messages.notify(citizen, "new_browser", when=when, browser=what, not_me_url=link)

    guard.after_response(send)


@bp.route("/not-me/<token>", methods=["GET", "POST"])
def not_me(token: str) -> Any:
    store = runtime.store()
    valid = 20 <= len(token) <= 100
    data = store.get(_not_me_key(token)) if valid else None
    if data is None:
        guard.check_address(guard.LINK_IP)
        raise InteractionExpired(
            _l(
                "This link has expired or was already used. If you think someone uses "
                "your account, choose a new password with Forgot password."
            ),
            detail="not-me link unknown or used",
        )
    if request.method == "GET":
        return render_template("citizens/not_me.html", token=token)
    if store.take(_not_me_key(token)) is None:  # a concurrent submit used it
        return redirect(url_for("recovery.start"), code=303)
    citizen_id = data["citizen_id"]
    db = get_db()
    tokens.revoke_session_tokens(db, citizen_id, "not_me")
    db.commit()
    service.end_all_sessions(
        runtime.store(), citizen_id=citizen_id, ttl=runtime.settings().session_ttl
    )
    events.emit("session.not_me", citizen_id=citizen_id)
    rotate_browser_session()
    resp = make_response(redirect(url_for("recovery.start", ended="1"), code=303))
    return set_sso(resp, None)
