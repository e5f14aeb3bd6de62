"""Staff accounts: creation with a one-time set-up link, credentials, sign-in sessions.

A staff account is separate from any citizen account (its own table, cookie and
session store keys) and signs in at level 2 only: a password and a code from an
authenticator app, both set through the set-up link before the first sign-in.
Roles: ``admin``, ``portal_manager``, ``auditor`` and ``desk_officer`` (verifies
citizens' identity data at a one-stop desk, at the desk of its administrative unit).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp import events
from idp.citizens import factors, passwords
from idp.citizens.validation import normalize_email, unit_name
from idp.db import utcnow
from idp.hashing import digest
from idp.staff.models import StaffAccount, StaffLink
from idp.store import Store

DESK_OFFICER = "desk_officer"
ADMIN = "admin"
PORTAL_MANAGER = "portal_manager"
AUDITOR = "auditor"
#: ``admin`` (everything), ``portal_manager`` (portals), ``auditor`` (the audit trail and
#: the figures), ``desk_officer`` (identity verification at a one-stop desk).
ROLES = (ADMIN, PORTAL_MANAGER, AUDITOR, DESK_OFFICER)
#: Roles whose work happens at one desk: the account names the desk's unit.
UNIT_ROLES = (DESK_OFFICER,)


class StaffError(ValueError):
    """A staff operation that cannot be done; ``field`` names the bad input."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _clean_roles(roles: list[str]) -> list[str]:
    if not roles:
        raise StaffError("role", f"give at least one of {', '.join(ROLES)}")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise StaffError("role", f"unknown role {unknown[0]!r}; use one of {', '.join(ROLES)}")
    return list(dict.fromkeys(roles))


def add_staff(
    db: Session, *, email: str, roles: list[str], unit_code: str | None, name: str = ""
) -> StaffAccount:
    """Create a staff account (no credentials yet). Raises StaffError, writing nothing."""
    try:
        address = normalize_email(email or "")
    except ValueError:
        raise StaffError("email", "is not a valid email address") from None
    clean_roles = _clean_roles(roles)
    unit = (unit_code or "").strip() or None
    if unit is not None and unit_name(unit) is None:
        raise StaffError("unit", f"{unit!r} is not a province or commune code")
    if unit is None and any(r in UNIT_ROLES for r in clean_roles):
        raise StaffError("unit", "a desk officer's account names the desk's unit (--unit CODE)")
    name = " ".join((name or "").split())
    if len(name) > 100:
        raise StaffError("name", "must be at most 100 characters")
    if db.scalar(select(StaffAccount.id).where(StaffAccount.email == address)):
        raise StaffError("email", "already has a staff account")
    account = StaffAccount(email=address, name=name, roles=clean_roles, unit_code=unit)
    db.add(account)
    db.flush()
    events.emit("staff.added", staff_id=account.id, roles=" ".join(clean_roles), unit=unit or "")
    return account


def by_email(db: Session, email: object) -> StaffAccount | None:
    """Return the staff account with this email address, or None."""
    if not isinstance(email, str) or not email or len(email) > 254:
        return None
    try:
        address = normalize_email(email)
    except ValueError:
        return None
    return db.scalar(select(StaffAccount).where(StaffAccount.email == address))


def get_staff(db: Session, staff_id: object) -> StaffAccount | None:
    """Return a staff account by id, or None."""
    if not isinstance(staff_id, str) or not 0 < len(staff_id) <= 36 or "\x00" in staff_id:
        return None
    return db.get(StaffAccount, staff_id)


def list_staff(db: Session) -> list[StaffAccount]:
    """Return every staff account, oldest first."""
    return list(db.scalars(select(StaffAccount).order_by(StaffAccount.created_at)).all())


def set_roles(
    db: Session, account: StaffAccount, *, roles: list[str], unit_code: str | None = None
) -> StaffAccount:
    """Replace an account's roles (and, optionally, its desk's unit). Raises StaffError."""
    clean = _clean_roles(roles)
    unit = (unit_code or "").strip() or account.unit_code
    if unit_code is not None and unit and unit_name(unit) is None:
        raise StaffError("unit", f"{unit!r} is not a province or commune code")
    if not unit and any(r in UNIT_ROLES for r in clean):
        raise StaffError("unit", "a desk officer's account names the desk's unit (--unit CODE)")
    before = list(account.roles or [])
    account.roles = clean
    account.unit_code = unit
    db.flush()
    events.emit(
        "staff.roles_changed",
        staff_id=account.id,
        before=" ".join(before),
        after=" ".join(clean),
        unit=unit or "",
    )
    return account


def disable_staff(db: Session, account: StaffAccount) -> None:
    """Disable an account: it cannot sign in, and its sessions end at their next use."""
    if account.disabled_at is None:
        account.disabled_at = utcnow()
        db.flush()
        events.emit("staff.disabled", staff_id=account.id)


def describe(account: StaffAccount) -> dict[str, Any]:
    """Return the account for operators' listings (never a credential)."""
    return {
        "id": account.id,
        "email": account.email,
        "name": account.name,
        "roles": list(account.roles or []),
        "unit": account.unit_code,
        "unit_name": unit_name(account.unit_code) if account.unit_code else None,
        "ready": account.ready,
        "disabled": account.disabled_at is not None,
        "created_at": account.created_at.isoformat() if account.created_at else None,
    }


# -- the one-time set-up link -----------------------------------------------------------


def _link_hash(token: object) -> str | None:
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    return digest(token)


def new_setup_link(db: Session, account: StaffAccount, *, ttl: int) -> str:
    """Return a single-use set-up link token; earlier links and credentials stop working.

    Used for a new account and to re-issue one (a lost phone or password): the account
    must then choose a password and add the authenticator app again.
    """
    now = utcnow()
    db.execute(
        update(StaffLink)
        .where(StaffLink.staff_id == account.id, StaffLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    account.password_hash = None
    account.totp_sealed = None
    account.totp_confirmed_at = None
    token = secrets.token_urlsafe(32)
    db.add(
        StaffLink(
            token_hash=_link_hash(token),
            staff_id=account.id,
            expires_at=now + dt.timedelta(seconds=ttl),
        )
    )
    db.flush()
    events.emit("staff.setup_link_issued", staff_id=account.id)
    return token


def _live_link(token: object) -> Any:
    return (
        StaffLink.token_hash == _link_hash(token),
        StaffLink.used_at.is_(None),
        StaffLink.expires_at > utcnow(),
    )


def peek_setup_link(db: Session, token: object) -> StaffAccount | None:
    """Return the account of a live set-up link, without using the link."""
    if _link_hash(token) is None:
        return None
    link = db.scalar(select(StaffLink).where(*_live_link(token)))
    if link is None:
        return None
    account = get_staff(db, link.staff_id)
    return account if account is not None and account.disabled_at is None else None


def use_setup_link(db: Session, token: object) -> bool:
    """Consume a live link atomically (one winner among concurrent uses)."""
    if _link_hash(token) is None:
        return False
    result = db.execute(
        update(StaffLink)
        .where(*_live_link(token))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


@dataclass(frozen=True)
class PendingSetup:
    """A set-up in progress: the password hash and the TOTP key, kept until confirmed."""

    password_hash: str
    totp_key: str


def check_new_password(account: StaffAccount, password: object, hasher: PasswordHasher) -> str:
    """Return the argon2 hash of an acceptable password; raise ValidationErrors otherwise."""
    own = [account.email, account.email.split("@")[0], *account.name.split()]
    normal = passwords.check_policy(password, [o for o in own if len(o) >= 3])
    return hasher.hash(normal)


def new_totp_key() -> str:
    """Return a fresh TOTP key (160 bits)."""
    return pyotp.random_base32()


def finish_setup(
    db: Session,
    store: Store,
    account: StaffAccount,
    *,
    token: str,
    pending: PendingSetup,
    code: object,
    secret_key: str,
) -> bool:
    """Confirm the app with one valid code, consume the link, store both credentials.

    Returns False (nothing written) when the code is wrong or the link was used meanwhile.
    """
    if not factors.check_code(store, f"staff:{account.id}", pending.totp_key, code):
        return False
    if not use_setup_link(db, token):
        return False
    account.password_hash = pending.password_hash
    account.totp_sealed = factors.seal_key(secret_key, account.id, pending.totp_key)
    account.totp_confirmed_at = utcnow()
    db.flush()
    events.emit("staff.setup_done", staff_id=account.id)
    return True


# -- signing in --------------------------------------------------------------------------

_DUMMY: dict[tuple[int, int, int], str] = {}


def check_password(
    account: StaffAccount | None, password: object, hasher: PasswordHasher, *, refuse: bool
) -> bool:
    """Return whether ``password`` is the ready account's, with the same argon2 work always."""
    if not isinstance(password, str) or not password or len(password) > passwords.MAX_LENGTH:
        password = ""
    stored = account.password_hash if account is not None and account.ready else None
    if not stored or refuse:
        params = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
        if params not in _DUMMY:
            _DUMMY[params] = hasher.hash(secrets.token_urlsafe(16))
        stored, account = _DUMMY[params], None
    try:
        ok = hasher.verify(stored, passwords.normalize(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    return ok and account is not None


def check_totp(store: Store, account: StaffAccount, code: object, secret_key: str) -> bool:
    """Return whether ``code`` is a valid, unused code of the account's app."""
    if not account.ready or not account.totp_sealed:
        return False
    key = factors.unseal_key(secret_key, account.id, account.totp_sealed)
    return key is not None and factors.check_code(store, f"staff:{account.id}", key, code)


@dataclass(frozen=True)
class StaffSession:
    """A signed-in member of staff (always level 2)."""

    sid: str
    staff_id: str
    started: float


def _key(sid: str) -> str:
    return f"staff-sso:{digest(sid)}"


def start_session(store: Store, account: StaffAccount, *, ttl: int) -> StaffSession:
    """Start a staff session (a fresh random id; only its digest is stored)."""
    sid = secrets.token_urlsafe(32)
    now = time.time()
    record = {"staff_id": account.id, "started": now, "last": now, "expires": now + ttl}
    store.put(_key(sid), record, ttl)
    events.emit("staff.signed_in", staff_id=account.id)
    return StaffSession(sid, account.id, now)


def load_session(store: Store, sid: object, *, idle_ttl: int) -> StaffSession | None:
    """Return the live staff session with this id, or None (idle ones end)."""
    if not isinstance(sid, str) or not 0 < len(sid) <= 100:
        return None
    data = store.get(_key(sid))
    if not data:
        return None
    now = time.time()
    if now - float(data.get("last", 0)) > idle_ttl:
        store.delete(_key(sid))
        return None
    left = int(float(data.get("expires", now)) - now)
    if now - float(data["last"]) > 60 and left > 0:
        data["last"] = now
        store.put(_key(sid), data, left)
    return StaffSession(sid, data["staff_id"], float(data["started"]))


def end_session(store: Store, sid: object) -> None:
    """End a staff session."""
    if isinstance(sid, str) and 0 < len(sid) <= 100:
        store.delete(_key(sid))
