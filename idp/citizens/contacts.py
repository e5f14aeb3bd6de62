"""Verifying a citizen's contacts: the email by a one-time link, the phone by a code.

A verified contact is what recovery sends links and codes to, and what portals see as
``email_verified`` / ``phone_number_verified``. Changing a contact on the account page
makes it unverified again (``service.update_contacts``). Each proof is bound to the
address it was sent to: a link for an address the citizen has since replaced proves
nothing. Links live an hour, codes 15 minutes; both work once; wrong codes and requests
count under ``verify_account``.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from idp import events, runtime
from idp.citizens import guard, messages, service
from idp.citizens.sso import citizen_required
from idp.db import get_db
from idp.errors import InteractionExpired
from idp.hashing import digest
from idp.outbox import EMAIL, SMS

bp = Blueprint("contacts", __name__)

VERIFY_ACCOUNT = "verify_account"
LINK_TTL = 3600
CODE_TTL = 900


def _link_key(token: str) -> str:
    return f"verify-email:{digest(token)}"


def _code_key(citizen_id: str) -> str:
    return f"verify-phone:{citizen_id}"


def _allowed(citizen_id: str, what: str) -> bool:
    return runtime.limiter().hit(VERIFY_ACCOUNT, f"{what}:{citizen_id}").allowed


def _account(citizen: Any, notice: Any = None, phone_code: bool = False, error: Any = None):
    from idp.citizens.views import _account_page

    return _account_page(
        citizen, {}, None, notice=notice, phone_code=phone_code, phone_code_error=error
    )


_TOO_MANY = _l("Too many tries. Wait 15 minutes, then try again.")


@bp.post("/account/verify-email")
@citizen_required
def send_email_link(citizen: Any) -> Any:
    if not citizen.email or citizen.email_verified:
        return redirect(url_for("citizens.account"), code=303)
    if not _allowed(citizen.id, "email"):
        return _account(citizen, notice=_TOO_MANY)
    token = secrets.token_urlsafe(32)
    runtime.store().put(
        _link_key(token), {"citizen_id": citizen.id, "email": citizen.email}, LINK_TTL
    )
    link = url_for("contacts.verify_email", token=token, _external=True)
    to, language = citizen.email, messages.language_of(citizen)
    guard.after_response(
        lambda: messages.send_to(
            to, EMAIL, "verify_email", language=language, link=link, minutes=LINK_TTL // 60
        )
    )
    events.emit("contact.verification_sent", citizen_id=citizen.id, channel=EMAIL)
    return _account(citizen, notice=_l("We sent a link to your email. Open it within an hour."))


@bp.get("/verify-email/<token>")
def verify_email(token: str) -> Any:
    data = runtime.store().take(_link_key(token)) if 20 <= len(token) <= 100 else None
    if data is None:
        guard.check_address(guard.LINK_IP)
        raise InteractionExpired(
            _l(
                "This link has expired or was already used. Ask for a new one on your account page."
            ),
            detail="email verification link unknown or used",
        )
    db = get_db()
    citizen = service.get_citizen(db, data["citizen_id"])
    if citizen is None or citizen.email != data["email"]:
        raise InteractionExpired(
            _l("This link was for an email address your account no longer has."),
            detail="email verification for a replaced address",
        )
    citizen.email_verified = True
    db.commit()
    events.emit("contact.verified", citizen_id=citizen.id, channel=EMAIL)
    return render_template("citizens/contact_verified.html")


@bp.post("/account/verify-phone")
@citizen_required
def send_phone_code(citizen: Any) -> Any:
    if citizen.phone_verified:
        return redirect(url_for("citizens.account"), code=303)
    if not _allowed(citizen.id, "phone"):
        return _account(citizen, notice=_TOO_MANY)
    code = f"{secrets.randbelow(10**6):06d}"
    runtime.store().put(
        _code_key(citizen.id),
        {"code": digest(f"{citizen.id}:{code}"), "phone": citizen.phone},
        CODE_TTL,
    )
    to, language = citizen.phone, messages.language_of(citizen)
    guard.after_response(
        lambda: messages.send_to(
            to, SMS, "verify_phone", language=language, code=code, minutes=CODE_TTL // 60
        )
    )
    events.emit("contact.verification_sent", citizen_id=citizen.id, channel=SMS)
    return _account(citizen, notice=_l("We sent a code by SMS to your phone."), phone_code=True)


@bp.post("/account/verify-phone/code")
@citizen_required
def verify_phone(citizen: Any) -> Any:
    store = runtime.store()
    data = store.get(_code_key(citizen.id))
    if data is None or data.get("phone") != citizen.phone:
        return _account(citizen, error=_l("This code has expired. Ask for a new one."))
    typed = "".join(str(request.form.get("code", ""))[:20].split())
    expected = digest(f"{citizen.id}:{typed}")
    if not (len(typed) == 6 and typed.isdigit() and hmac.compare_digest(data["code"], expected)):
        if not _allowed(citizen.id, "phone-code"):
            store.delete(_code_key(citizen.id))
            return _account(citizen, error=_TOO_MANY)
        return _account(
            citizen,
            phone_code=True,
            error=_l("This code is not correct. Check the latest SMS and try again."),
        )
    if store.take(_code_key(citizen.id)) is None:  # a concurrent submit used it
        return redirect(url_for("citizens.account"), code=303)
    db = get_db()
    row = service.get_citizen(db, citizen.id)
    row.phone_verified = True
    db.commit()
    events.emit("contact.verified", citizen_id=citizen.id, channel=SMS)
    return _account(row, notice=_l("Your phone number is verified."))
