"""Account recovery: "forgot password" without a desk visit, and desk resets.

1. ``/recover`` takes a CCCD, email or phone number and always answers the same page
   ("if an account matches, we sent a link or a code to its verified contact"): nothing
   tells a stranger whether an account exists. When one matches and may still ask
   (``recovery_account``), a single-use link (``IDP_RESET_TTL``, 30 minutes) goes to its
   **verified** email and a six-digit code to its **verified** phone, after the response.
   The page offers to type the code; a stranger's attempt has a decoy that no code opens.
2. The link, or the right code (``code_account``, bound to the browser that asked), opens
   ``/reset/<token>``: choose a new password. A citizen with a second factor also types
   a code from the app or a recovery code. The link works once (one winner among
   concurrent submits); then every session ends, tokens without ``offline_access`` are
   revoked, a lock on the account is lifted, the citizen's contacts are told, and this
   browser is signed in.
3. A citizen who lost both the password and the second factor goes to a one-stop desk:
   ``idp citizens reset CCCD`` prints a ``desk_reset`` link that needs no code and removes
   the second factor (they enrol again).

Limits: ``recovery_ip`` per address (429), ``recovery_account`` per account (over it:
the same page, nothing sent), ``code_account`` on codes, ``link_ip`` on unknown links.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from idp import events, runtime
from idp import interaction as flow
from idp.citizens import factors, guard, messages, service
from idp.citizens.validation import ValidationErrors
from idp.db import get_db
from idp.errors import InteractionExpired
from idp.hashing import digest
from idp.outbox import EMAIL, SMS
from idp.tokens import service as tokens
from idp.web import browser_binding

bp = Blueprint("recovery", __name__)

RECOVERY_ACCOUNT = "recovery_account"
RECOVERY_IP = "recovery_ip"
#: Lifetime of a code sent by SMS (seconds); at most IDP_RESET_TTL.
CODE_TTL = 900
RESET_PURPOSES = ("reset", "desk_reset")


class LinkExpired(InteractionExpired):
    """A reset link that is unknown, used or expired."""

    public = _l(
        "This link has expired or was already used. Ask for a new one on the "
        "Forgot password page, or at a one-stop desk."
    )


def _attempt_key(attempt: str) -> str:
    return f"recover:{digest(attempt)}"


def _code_hash(attempt: str, code: str) -> str:
    return digest(f"{attempt}:{code}")


def _interaction() -> flow.Interaction | None:
    iid = request.values.get("interaction")
    if not iid:
        return None
    inter = flow.load(runtime.store(), iid, browser_binding(create=False))
    if inter is not None:
        g.ui_locales = inter.params.get("ui_locales")
    return inter


@bp.route("/recover", methods=["GET", "POST"])
def start() -> Any:
    inter = _interaction()
    if request.method == "GET":
        return render_template("citizens/recover.html", interaction=inter, identifier="")
    guard.check_address(RECOVERY_IP)
    identifier = request.form.get("identifier", "")[:254].strip()
    if not identifier:
        return render_template(
            "citizens/recover.html",
            interaction=inter,
            identifier="",
            error=_l("Enter your citizen ID number, phone number or email."),
        ), 400
    db = get_db()
    citizen = service.find_by_identifier(db, identifier)
    attempt = secrets.token_urlsafe(24)
    code = f"{secrets.randbelow(10**6):06d}"
    record: dict[str, Any] = {
        "binding": browser_binding(create=True),
        "citizen_id": None,
        "code": None,
        "interaction": inter.id if inter else None,
    }
    # Counted for unknown accounts too: the same work whatever was typed.
    allowed = runtime.limiter().hit(RECOVERY_ACCOUNT, guard.account_key(citizen, identifier))
    if citizen is not None and allowed.allowed:
        record["citizen_id"] = citizen.id
        if citizen.phone_verified:
            record["code"] = _code_hash(attempt, code)
        guard.after_response(lambda cid=citizen.id: _send(cid, code))
        events.emit("recovery.requested", citizen_id=citizen.id)
    else:
        events.emit("recovery.requested", citizen_id=None)
    ttl = min(CODE_TTL, runtime.settings().reset_ttl)
    runtime.store().put(_attempt_key(attempt), record, ttl)
    return render_template(
        "citizens/recover_sent.html", attempt=attempt, interaction=inter, error=None
    )


def _send(citizen_id: str, code: str) -> None:
    """Send the link to the verified email and the code to the verified phone."""
    db = get_db()
    citizen = service.get_citizen(db, citizen_id)
    if citizen is None:
        return
    settings = runtime.settings()
    minutes = settings.reset_ttl // 60
    if citizen.email and citizen.email_verified:
        token = service.create_password_link(
            db, citizen_id=citizen.id, ttl=settings.reset_ttl, purpose="reset"
        )
        db.commit()
        messages.notify(
            citizen,
            "password_reset",
            channels=(EMAIL,),
            verified_only=True,
            link=url_for("recovery.reset", token=token, _external=True),
            minutes=minutes,
        )
    if citizen.phone_verified:
        messages.notify(
            citizen,
            "password_reset",
            channels=(SMS,),
            verified_only=True,
            code=code,
            minutes=min(CODE_TTL, settings.reset_ttl) // 60,
        )


@bp.post("/recover/code")
def code() -> Any:
    inter = _interaction()
    attempt = request.form.get("attempt", "")
    store = runtime.store()
    record = store.get(_attempt_key(attempt)) if 20 <= len(attempt) <= 64 else None
    if record is None or record.get("binding") != browser_binding(create=False):
        raise InteractionExpired(
            _l("This step has expired. Ask for a new code on the Forgot password page."),
            detail="recovery attempt unknown, expired or of another browser",
        )
    limit_key = record["citizen_id"] or "decoy:" + digest(attempt)
    typed = factors.normalize_code(request.form.get("code", ""))
    error = None
    if not guard.may_enter_code(limit_key):
        error = _l("Too many wrong codes. Wait 15 minutes, then ask for a new code.")
    elif len(typed) != 6 or not typed.isdigit():
        error = _l("Type the six digits of the code we sent by SMS.")
    elif not record.get("code") or not hmac.compare_digest(
        record["code"], _code_hash(attempt, typed)
    ):
        guard.code_failed(limit_key)
        error = _l("This code is not correct. Check the latest SMS and try again.")
    elif store.take(_attempt_key(attempt)) is None:  # a concurrent submit won
        raise InteractionExpired(detail="recovery code used twice")
    if error is not None:
        return render_template(
            "citizens/recover_sent.html", attempt=attempt, interaction=inter, error=error
        ), 400
    guard.code_succeeded(limit_key)
    db = get_db()
    token = service.create_password_link(
        db, citizen_id=record["citizen_id"], ttl=runtime.settings().reset_ttl, purpose="reset"
    )
    db.commit()
    return redirect(
        url_for("recovery.reset", token=token, interaction=record.get("interaction")), code=303
    )


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Any:
    from idp.citizens.views import _hasher, _signed_in

    db = get_db()
    link = service.peek_password_link(db, token, RESET_PURPOSES)
    if link is None:
        guard.check_address(guard.LINK_IP)
        raise LinkExpired(detail="bad reset link")
    citizen_id, purpose = link.citizen_id, link.purpose
    # A desk reset replaces a lost second factor; an online one must give it.
    needs_code = purpose == "reset" and factors.has_factor(db, citizen_id)
    inter = _interaction()
    errors: dict[str, Any] = {}
    if request.method == "POST":
        password = request.form.get("password", "")
        try:
            if password != request.form.get("password_confirm", ""):
                raise ValidationErrors({"password_confirm": _l("The two passwords differ.")})
            citizen = service.get_citizen(db, citizen_id)
            if citizen is None:
                raise LinkExpired(detail="reset for a deleted account")
            service.check_password_policy(password, service.own_data(citizen))
            if needs_code:
                _check_factor(citizen_id)
            if service.use_password_link(db, token, RESET_PURPOSES) is None:
                raise LinkExpired(detail="reset link used concurrently")
            service.set_password(db, citizen_id=citizen_id, password=password, hasher=_hasher())
            if purpose == "desk_reset" and factors.has_factor(db, citizen_id):
                factors.remove_factor(db, citizen_id=citizen_id)
            tokens.revoke_session_tokens(db, citizen_id, "password_reset")
            db.commit()
        except ValidationErrors as exc:
            db.rollback()
            errors = dict(exc.errors)
        else:
            ttl = runtime.settings().session_ttl
            service.end_all_sessions(runtime.store(), citizen_id=citizen_id, ttl=ttl)
            guard.release_account(citizen_id)
            events.emit("recovery.completed", citizen_id=citizen_id, purpose=purpose)
            messages.notify(
                citizen,
                "password_changed",
                when=messages.when_text(),
                recover_url=messages.recover_url(),
            )
            try:
                return _signed_in(citizen_id, inter)
            except InteractionExpired:  # the portal's sign-in step ended meanwhile
                return _signed_in(citizen_id, None)
    return render_template(
        "citizens/reset.html",
        token=token,
        errors=errors,
        needs_code=needs_code,
        desk=purpose == "desk_reset",
        interaction=inter,
    ), (400 if errors else 200)


def _check_factor(citizen_id: str) -> None:
    """Check the TOTP or recovery code typed with the new password (ValidationErrors)."""
    from idp.citizens.views import _FACTOR_CODE_ERROR, _TOO_MANY_CODES, _check_code

    check = _check_code(citizen_id)
    if check is None:
        raise ValidationErrors({"code": _TOO_MANY_CODES})
    if not check.ok:
        raise ValidationErrors({"code": _FACTOR_CODE_ERROR})
