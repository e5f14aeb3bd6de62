"""Online registration that never tells a stranger which details already have an account.

The form is validated as before (a malformed field is the typist's own business, it
gives a field error). Then, whatever the data, the visitor sees one page: "we sent a
code by SMS to your phone", and the registration waits in the shared store
(``PENDING_TTL``) with the validated form and the password's argon2 hash (never the
password), bound to the browser:

- details all new: a 6-digit code goes to the phone; typing it creates the account with
  the phone verified, signs the citizen in and continues the portal's authorization;
- a CCCD, email or phone already registered: nothing is created; each owner of such
  details gets a ``registration_attempt`` notice ("someone tried to register with your
  details; if it was you, sign in or recover"), and the phone typed, when it is nobody's,
  gets a ``registration_taken`` SMS saying the same, so that the person holding that
  phone, and only them, learns it. No code opens such a registration.

Both paths do the same work before answering (validation, one argon2 hash, one store
write); messages leave after the response. Limits: ``register_ip`` per address (429)
and ``verify_account`` on codes per pending registration (then it is dropped).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from idp import events, runtime
from idp.citizens import guard, identity, messages, service
from idp.citizens.models import Citizen
from idp.citizens.validation import PROFILE_FIELDS, Profile, ValidationErrors, validate_profile
from idp.db import get_db
from idp.errors import InteractionExpired
from idp.hashing import digest
from idp.outbox import SMS
from idp.web import browser_binding

REGISTER_IP = "register_ip"
VERIFY_ACCOUNT = "verify_account"
#: How long a registration waits for its code (seconds).
PENDING_TTL = 900
#: At most one "someone tried to register with your details" notice per owner (and per
#: phone typed) in this many seconds.
NOTICE_EVERY = 3600


class RegistrationExpired(InteractionExpired):
    """A pending registration that is unknown, finished, expired or another browser's."""

    public = _l(
        "This registration has expired or was already completed. Start again, or sign in "
        "if your account exists."
    )


def _key(pending: str) -> str:
    return f"registration:{digest(pending)}"


def _code_hash(pending: str, code: str) -> str:
    return digest(f"{pending}:{code}")


def owners(db: Any, profile: Profile) -> list[Citizen]:
    """Return the accounts that already hold the profile's CCCD, email or phone."""
    taken = [Citizen.cccd == profile.cccd, Citizen.phone == profile.phone]
    if profile.email:
        taken.append(Citizen.email == profile.email)
    return list(db.scalars(select(Citizen).where(or_(*taken))))


def begin(
    form: dict[str, str],
    password: str,
    *,
    interaction: str | None,
    hasher: Any,
    authorize_params: dict[str, str] | None = None,
) -> str:
    """Validate and park a registration; send its code or the notices. Return its id.

    Raises ValidationErrors for malformed fields (including the password policy).
    """
    # Every field in one pass, the password included: the citizen sees every problem at once.
    errors: dict[str, Any] = {}
    profile = None
    typed = password
    try:
        profile = validate_profile(form)
    except ValidationErrors as exc:
        errors.update(exc.errors)
    try:
        # Without a valid profile, what the password must not be made of is checked at the
        # next submit.
        password = service.check_password_policy(
            password, service.own_data(profile) if profile else ()
        )
    except ValidationErrors as exc:
        errors.update(exc.errors)
    if typed != form.get("password_confirm", "") and "password" not in errors:
        errors["password_confirm"] = _l("The two passwords differ.")
    if errors or profile is None:
        raise ValidationErrors(errors)
    password_hash = service.hash_password(hasher, password)
    db = get_db()
    found = owners(db, profile)
    pending = secrets.token_urlsafe(24)
    code = f"{secrets.randbelow(10**6):06d}"
    record = {
        "binding": browser_binding(create=True),
        "form": {k: form.get(k, "") for k in PROFILE_FIELDS},
        "password_hash": password_hash,
        "code": None if found else _code_hash(pending, code),
        "interaction": interaction,
        # The portal's authorization request, to start it again if the sign-in step
        # expires before the code is typed (the account is created all the same).
        "authorize": dict(authorize_params) if authorize_params else None,
    }
    runtime.store().put(_key(pending), record, PENDING_TTL)
    language = messages.current_language()
    if found:
        ids = [c.id for c in found]
        phone_free = all(c.phone != profile.phone for c in found)
        # The number is on an account that only declared it: a desk settles who owns it.
        declared = any(
            c.cccd == profile.cccd and not identity.assurance_of(db, c).verified("cccd")
            for c in found
        )
        guard.after_response(
            lambda: _tell_owners(ids, profile.phone if phone_free else None, declared)
        )
        events.emit("registration.taken", citizen_ids=",".join(ids))
    else:
        guard.after_response(
            lambda: messages.send_to(
                profile.phone,
                SMS,
                "registration_code",
                language=language,
                code=code,
                minutes=PENDING_TTL // 60,
            )
        )
        events.emit("registration.pending")
    return pending


def _tell_owners(
    citizen_ids: list[str], free_phone: str | None, declared_number: bool = False
) -> None:
    """Tell each owner of the details, and the phone typed if it is nobody's."""
    db = get_db()
    signin = url_for("citizens.signin", _external=True)
    recover = messages.recover_url()
    store = runtime.store()
    for cid in citizen_ids:
        owner = service.get_citizen(db, cid)
        # One notice per owner per NOTICE_EVERY, however many attempts (from however
        # many addresses): a notice must not become a way to flood someone.
        if owner is not None and store.add(f"notice:registration_attempt:{cid}", {}, NOTICE_EVERY):
            messages.notify(
                owner,
                "registration_attempt",
                when=messages.when_text(),
                signin_url=signin,
                recover_url=recover,
            )
    if free_phone and store.add(
        f"notice:registration_taken:{digest(free_phone)}", {}, NOTICE_EVERY
    ):
        messages.send_to(
            free_phone,
            SMS,
            "registration_taken",
            language=messages.current_language(),
            signin_url=signin,
            recover_url=recover,
            declared_number=declared_number,
        )


def pending_interaction(pending: str) -> str | None:
    """Return the interaction id a pending registration continues (None if none)."""
    record = runtime.store().get(_key(pending)) if _valid(pending) else None
    return record.get("interaction") if record else None


def pending_authorize(pending: str) -> dict[str, str] | None:
    """Return the portal's authorization request a pending registration came from."""
    record = runtime.store().get(_key(pending)) if _valid(pending) else None
    return record.get("authorize") if record else None


def _valid(pending: object) -> bool:
    return isinstance(pending, str) and 20 <= len(pending) <= 64


def confirm(pending: str, typed: str) -> Citizen:
    """Check the code and create the account (phone verified). Raises on failure.

    ValidationErrors({"code": ...}) for a wrong code (the registration stays, up to the
    ``verify_account`` limit, then is dropped); RegistrationExpired when it is gone.
    """
    store = runtime.store()
    record = store.get(_key(pending)) if _valid(pending) else None
    if record is None or record.get("binding") != browser_binding(create=False):
        raise RegistrationExpired(detail="registration unknown, expired or of another browser")
    code = "".join(typed.split()) if isinstance(typed, str) else ""
    right = (
        record["code"] is not None
        and len(code) == 6
        and code.isascii()
        and code.isdigit()
        and hmac.compare_digest(record["code"], _code_hash(pending, code))
    )
    if not right:
        if not runtime.limiter().hit(VERIFY_ACCOUNT, "registration:" + pending).allowed:
            store.delete(_key(pending))
            raise RegistrationExpired(
                _l("Too many wrong codes: this registration was cancelled. Start again."),
                detail="registration: too many wrong codes",
            )
        raise ValidationErrors(
            {"code": _l("This code is not correct. Check the latest SMS and try again.")}
        )
    if store.take(_key(pending)) is None:  # a concurrent submit took it
        raise RegistrationExpired(detail="registration confirmed twice")
    db = get_db()
    profile = validate_profile(record["form"])
    try:
        citizen = service.register_citizen(
            db, profile=profile, password=None, hasher=None, password_hash=record["password_hash"]
        )
    except ValidationErrors:
        db.rollback()
        # Taken meanwhile (another registration with the same details won).
        raise RegistrationExpired(
            _l(
                "These details were registered meanwhile. Sign in, or use Forgot password "
                "if the account is yours."
            ),
            detail="registration raced",
        ) from None
    citizen.phone_verified = True
    citizen.locale = messages.current_language()
    db.commit()
    return citizen
