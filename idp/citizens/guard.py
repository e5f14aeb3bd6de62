"""Brute-force defence for sign-in and code entry, without telling who has an account.

Per account (rule ``signin_account``, key: the citizen's id, or a digest of the typed
identifier when no account matches, so that unknown accounts behave exactly alike):

- every attempt is counted **before** the password is checked (two workers cannot both
  get a free try), and a success forgets the count;
- after ``IDP_SIGNIN_DELAY_AFTER`` failures, each failure makes the account wait
  (1 s, 2 s, 4 s, … up to ``IDP_SIGNIN_DELAY_MAX``) before another password is
  checked; an attempt inside the wait is refused without being checked or counted.
  Like Keycloak's brute-force detection, nothing blocks a worker thread: a refused
  attempt is answered at once;
- at the limit the account is locked until the window moves on. The citizen learns it
  through their own contacts (one ``account_locked`` notice per lock); the person at
  the keyboard sees the same page, status and timing as for a wrong password (argon2
  runs on every path).

Per client address (``signin_ip``): an HTTP 429 page with ``Retry-After``; this one
may differ, it is about the address, not an account.

Code entry (``code_account``, key: the citizen's id) caps wrong TOTP / recovery codes
wherever they are typed, with one ``codes_locked`` notice. Counters live in Redis when
configured (every worker counts together), in memory otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_babel import lazy_gettext as _l

from idp import events, runtime
from idp.citizens.models import Citizen
from idp.errors import IdpError
from idp.hashing import digest

SIGNIN_ACCOUNT = "signin_account"
SIGNIN_IP = "signin_ip"
CODE_ACCOUNT = "code_account"
LINK_IP = "link_ip"


class TooManyAttempts(IdpError):
    """Too many attempts from one address: HTTP 429 with ``Retry-After``."""

    status = 429
    public = _l("Too many attempts from your network. Please wait a few minutes and try again.")

    def __init__(self, retry_after: int, detail: str = "") -> None:
        super().__init__(detail=detail)
        self.retry_after = retry_after


def client_address() -> str:
    """Return the client's address (forwarded headers are trusted per IDP_TRUST_PROXY)."""
    return request.remote_addr or "unknown"


def check_address(rule: str) -> None:
    """Count one attempt from this client address; raise TooManyAttempts over the limit."""
    verdict = runtime.limiter().hit(rule, client_address())
    if not verdict.allowed:
        events.emit("limit.address", rule=rule)
        raise TooManyAttempts(verdict.retry_after, detail=f"{rule} over the limit")


def account_key(citizen: Citizen | None, identifier: str) -> str:
    """Return the counter key of an account: its id, or the typed identifier's digest."""
    if citizen is not None:
        return citizen.id
    return "unknown:" + digest(identifier.strip().casefold())


def _delay_key(key: str) -> str:
    return f"signin-wait:{digest(key)}"


def may_try(key: str) -> bool:
    """Return whether a password may be checked for this account now (counting it).

    False while the account waits after a failure, or is locked. Called before the
    password is checked; the attempt is counted when allowed.
    """
    store = runtime.store()
    wait = store.get(_delay_key(key))
    if wait and float(wait["until"]) > time.time():
        return False
    return runtime.limiter().hit(SIGNIN_ACCOUNT, key).allowed


def failed(key: str, citizen: Citizen | None) -> None:
    """Record a wrong password: start the wait, and tell the citizen when the lock starts."""
    settings = runtime.settings()
    limiter = runtime.limiter()
    rule = limiter.rules[SIGNIN_ACCOUNT]
    failures = rule.amount - limiter.remaining(SIGNIN_ACCOUNT, key)
    if failures >= settings.signin_delay_after and settings.signin_delay_max > 0:
        wait = min(2 ** (failures - settings.signin_delay_after), settings.signin_delay_max)
        runtime.store().put(_delay_key(key), {"until": time.time() + wait}, int(wait) + 1)
    if failures >= rule.amount:
        events.emit("signin.locked", citizen_id=citizen.id if citizen else None)
        if citizen is not None:
            _notify_once(citizen.id, "account_locked", rule.get_expiry())


def succeeded(key: str) -> None:
    """Forget the account's failures after a right password."""
    runtime.limiter().clear(SIGNIN_ACCOUNT, key)
    runtime.store().delete(_delay_key(key))


def release_account(citizen_id: str) -> None:
    """Lift a lock (after the password was reset through recovery or at a desk)."""
    succeeded(citizen_id)
    runtime.limiter().clear(CODE_ACCOUNT, citizen_id)


def may_enter_code(citizen_id: str) -> bool:
    """Return whether a second-factor code may be checked for this citizen now."""
    return runtime.limiter().test(CODE_ACCOUNT, citizen_id).allowed


def code_failed(citizen_id: str) -> None:
    """Count a wrong code; at the limit tell the citizen (once per lock)."""
    limiter = runtime.limiter()
    verdict = limiter.hit(CODE_ACCOUNT, citizen_id)
    if not verdict.allowed or limiter.remaining(CODE_ACCOUNT, citizen_id) == 0:
        events.emit("code.locked", citizen_id=citizen_id)
        _notify_once(citizen_id, "codes_locked", limiter.rules[CODE_ACCOUNT].get_expiry())


def code_succeeded(citizen_id: str) -> None:
    """Forget the wrong codes after a right one."""
    runtime.limiter().clear(CODE_ACCOUNT, citizen_id)


def _notify_once(citizen_id: str, kind: str, window: int) -> None:
    """Send ``kind`` to the citizen once per window, after the response has gone.

    Sending (SMTP, an SMS gateway) takes time that would tell the person at the
    keyboard that this attempt was different: the message leaves after the response.
    """
    if not runtime.store().add(f"notice:{kind}:{citizen_id}", {}, window):
        return
    after_response(lambda: _send(citizen_id, kind))


def _send(citizen_id: str, kind: str) -> None:
    from idp.citizens import messages, service
    from idp.db import get_db

    citizen = service.get_citizen(get_db(), citizen_id)
    if citizen is not None:
        messages.notify(
            citizen, kind, when=messages.when_text(), recover_url=messages.recover_url()
        )


def after_response(job: Callable[[], Any]) -> None:
    """Run ``job`` in an app and request context once the response was sent.

    Kept on ``request`` and attached to the response by ``attach_deferred``.
    """
    jobs = request.environ.setdefault("idp.deferred", [])
    jobs.append(job)


def attach_deferred(response: Any) -> Any:
    """Attach the request's deferred jobs to the response (an ``after_request`` hook)."""
    jobs = request.environ.get("idp.deferred")
    if not jobs:
        return response
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    environ = dict(request.environ)

    def run() -> None:
        with app.request_context(environ):
            for job in jobs:
                try:
                    job()
                except Exception:  # pragma: no cover - a message must not break anything
                    app.logger.exception("deferred job failed")

    response.call_on_close(run)
    return response
