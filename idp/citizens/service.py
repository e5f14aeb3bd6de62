"""Citizen service: registration, credentials, sign-in sessions, profile claims.

Functions take plain values and a session; views and other packages call these, never
the models directly.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeGuard

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp import backchannel, events
from idp.citizens import passwords
from idp.citizens.models import Citizen, PasswordLink
from idp.citizens.validation import (
    Profile,
    ValidationErrors,
    address_claim,
    normalize_cccd,
    normalize_email,
    normalize_phone,
    validate_contacts,
)
from idp.claims import CLAIM_ITEMS
from idp.config import Settings
from idp.db import iso_utc, utcnow
from idp.hashing import digest
from idp.store import Store

PASSWORD_MIN = passwords.MIN_LENGTH
PASSWORD_MAX = passwords.MAX_LENGTH


def make_hasher(settings: Settings) -> PasswordHasher:
    """Return an argon2id hasher with the configured parameters."""
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


def check_password_policy(password: object, own: Iterable[str] = ()) -> str:
    """Return the password, normalised, if acceptable; raise ValidationErrors otherwise.

    ``own``: the citizen's own data a password must not be made of (see
    ``passwords.own_values`` and ``own_data``).
    """
    return passwords.check_policy(password, own)


def own_data(citizen: Citizen | Profile) -> list[str]:
    """Return the citizen's own data in the forms a password must not be made of."""
    return passwords.own_values(
        cccd=citizen.cccd,
        phone=citizen.phone,
        birthdate=citizen.birthdate,
        email=citizen.email,
        names=(citizen.family_name, citizen.middle_name, citizen.given_name),
    )


def hash_password(hasher: PasswordHasher, password: str) -> str:
    """Return the argon2id hash of the password in its normalised (NFKC) form."""
    return hasher.hash(passwords.normalize(password))


def _verify(hasher: PasswordHasher, stored: str, password: str) -> str | None:
    """Check ``password`` against ``stored``; return the form that matched, or None.

    The NFKC form is tried first, then the form as typed: hashes made before passwords
    were normalised hold the typed form, and ``authenticate`` rehashes those.
    """
    normal = passwords.normalize(password)
    for candidate in (normal, password) if normal != password else (normal,):
        try:
            if hasher.verify(stored, candidate):
                return candidate
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            continue
    return None


def _duplicate_errors(db: Session, profile_like: dict[str, Any], exclude_id: str = "") -> dict:
    errors: dict[str, Any] = {}
    checks = (
        (
            "cccd",
            Citizen.cccd,
            _l(
                "This citizen ID number already has an account. Sign in, or "
                "ask the one-stop desk for help."
            ),
        ),
        ("email", Citizen.email, _l("This email address is already used by another account.")),
        ("phone", Citizen.phone, _l("This phone number is already used by another account.")),
    )
    for key, column, message in checks:
        value = profile_like.get(key)
        if not value:
            continue
        found = db.scalar(select(Citizen.id).where(column == value))
        if found and found != exclude_id:
            errors[key] = message
    return errors


def register_citizen(
    db: Session,
    *,
    profile: Profile,
    password: str | None,
    hasher: PasswordHasher | None,
    password_hash: str | None = None,
) -> Citizen:
    """Create a citizen account; one CCCD, one account. Raises ValidationErrors.

    ``password_hash``: a hash made earlier (online registration keeps only the hash
    while the phone is being verified); otherwise ``password`` is checked and hashed.
    """
    if password is not None:
        password = check_password_policy(password, own_data(profile))
        if hasher is None:
            raise TypeError("a password needs a hasher")
        password_hash = hash_password(hasher, password)
    dup = _duplicate_errors(
        db, {"cccd": profile.cccd, "email": profile.email, "phone": profile.phone}
    )
    if dup:
        raise ValidationErrors(dup)
    citizen = Citizen(
        family_name=profile.family_name,
        middle_name=profile.middle_name,
        given_name=profile.given_name,
        birthdate=profile.birthdate,
        gender=profile.gender,
        cccd=profile.cccd,
        email=profile.email,
        phone=profile.phone,
        province_code=profile.province_code,
        ward_code=profile.ward_code,
        street=profile.street,
        password_hash=password_hash,
    )
    try:
        with db.begin_nested():
            db.add(citizen)
    except IntegrityError:
        # A concurrent registration took the same CCCD, email or phone.
        raise ValidationErrors(
            _duplicate_errors(
                db, {"cccd": profile.cccd, "email": profile.email, "phone": profile.phone}
            )
            or {"cccd": _l("This citizen ID number already has an account.")}
        ) from None
    events.emit("citizen.registered", citizen_id=citizen.id)
    return citizen


def get_citizen(db: Session, citizen_id: str) -> Citizen | None:
    """Return the citizen with this id, or None."""
    # PostgreSQL refuses NUL in text (a DataError): such an id names nobody.
    if not isinstance(citizen_id, str) or not 0 < len(citizen_id) <= 36 or "\x00" in citizen_id:
        return None
    return db.get(Citizen, citizen_id)


def find_by_identifier(db: Session, identifier: str) -> Citizen | None:
    """Return the citizen whose CCCD, email or phone is ``identifier``."""
    ident = (identifier or "").strip() if isinstance(identifier, str) else ""
    if not ident or len(ident) > 254:
        return None
    number = normalize_cccd(ident)
    if len(number) == 12 and number.isascii() and number.isdigit():
        return db.scalar(select(Citizen).where(Citizen.cccd == number))
    if "@" in ident:
        try:
            email = normalize_email(ident)
        except ValueError:
            return None
        return db.scalar(select(Citizen).where(Citizen.email == email))
    try:
        phone = normalize_phone(ident)
    except ValueError:
        return None
    return db.scalar(select(Citizen).where(Citizen.phone == phone))


_DUMMY_HASH: dict[tuple[int, int, int], str] = {}


def authenticate(
    db: Session, *, identifier: str, password: str, hasher: PasswordHasher
) -> Citizen | None:
    """Return the citizen if identifier and password match, else None.

    Takes the same time whether or not the account exists (no enumeration), and
    rehashes the password when the argon2 parameters changed.
    """
    return check_credentials(find_by_identifier(db, identifier), password, hasher)


def check_credentials(
    citizen: Citizen | None, password: object, hasher: PasswordHasher, *, refuse: bool = False
) -> Citizen | None:
    """Return ``citizen`` if ``password`` is theirs, else None, with the same argon2 work.

    With no citizen, no password on file, or ``refuse`` (the account may not try now),
    a dummy hash is verified instead, so that every refusal takes the same time.
    """
    if not isinstance(password, str) or not password or len(password) > PASSWORD_MAX:
        password = ""
    stored = citizen.password_hash if citizen is not None else None
    if not stored or refuse:
        params = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
        if params not in _DUMMY_HASH:
            _DUMMY_HASH[params] = hasher.hash(secrets.token_urlsafe(16))
        stored = _DUMMY_HASH[params]
        citizen = None
    matched = _verify(hasher, stored, password)
    if matched is None:
        events.emit("signin.failed", reason="bad_credentials")
        return None
    if citizen is None:
        return None
    normal = passwords.normalize(password)
    if matched != normal or hasher.check_needs_rehash(stored):
        citizen.password_hash = hasher.hash(normal)
        events.emit("citizen.password_rehashed", citizen_id=citizen.id)
    return citizen


def set_password(db: Session, *, citizen_id: str, password: str, hasher: PasswordHasher) -> None:
    """Set a citizen's password after the policy check."""
    citizen = get_citizen(db, citizen_id)
    if citizen is None:
        raise ValidationErrors({"password": _l("This account no longer exists.")})
    normal = check_password_policy(password, own_data(citizen))
    citizen.password_hash = hasher.hash(normal)
    events.emit("citizen.password_set", citizen_id=citizen_id)


def update_contacts(db: Session, *, citizen_id: str, data: dict[str, Any]) -> Citizen:
    """Re-validate and save email, phone and address. Raises ValidationErrors."""
    citizen = get_citizen(db, citizen_id)
    if citizen is None:
        raise ValidationErrors({"phone": _l("This account no longer exists.")})
    clean = validate_contacts(data)
    dup = _duplicate_errors(db, {"email": clean["email"], "phone": clean["phone"]}, citizen.id)
    if dup:
        raise ValidationErrors(dup)
    if clean["email"] != citizen.email:
        citizen.email_verified = False
    if clean["phone"] != citizen.phone:
        citizen.phone_verified = False
    citizen.email = clean["email"]
    citizen.phone = clean["phone"]
    citizen.province_code = clean["province_code"]
    citizen.ward_code = clean["ward_code"]
    citizen.street = clean["street"]
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        raise ValidationErrors(
            {"phone": _l("This phone number or email is already used by another account.")}
        ) from None
    events.emit("citizen.contacts_updated", citizen_id=citizen.id)
    return citizen


def profile_claims(citizen: Citizen) -> dict[str, Any]:
    """Return every OIDC claim the citizen's profile can answer (filtered by the caller)."""
    claims: dict[str, Any] = {
        "name": citizen.name,
        "family_name": citizen.family_name,
        "given_name": citizen.given_name,
        "birthdate": citizen.birthdate.isoformat(),
        "gender": citizen.gender,
        "phone_number": citizen.phone,
        "phone_number_verified": citizen.phone_verified,
        "address": address_claim(citizen.province_code, citizen.ward_code, citizen.street),
        "cccd": citizen.cccd,
        "updated_at": int(citizen.updated_at.timestamp()),
    }
    if citizen.middle_name:
        claims["middle_name"] = citizen.middle_name
    if citizen.email:
        claims["email"] = citizen.email
        claims["email_verified"] = citizen.email_verified
    return claims


def items_on_file(citizen: Citizen) -> frozenset[str]:
    """Return the consent items (CLAIM_ITEMS) the citizen's profile holds a value for."""
    values = profile_claims(citizen)
    # Each item is named after its main claim: no value there, nothing to share.
    return frozenset(item for item in CLAIM_ITEMS if values.get(item) not in (None, "", {}))


# -- one-time "set your password" links (desk registration) ------------------------
# Kept in the database (not the short-lived store): the desk command and the web
# server are different processes, and a link must survive a restart.


def _link_hash(token: object) -> str | None:
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    return digest(token)


#: Purposes of password links: ``set`` (desk registration), ``reset`` (forgot password,
#: sent to a verified contact), ``desk_reset`` (printed at a one-stop desk for a citizen
#: who lost both the password and the second factor).
LINK_PURPOSES = ("set", "reset", "desk_reset")


def create_password_link(db: Session, *, citizen_id: str, ttl: int, purpose: str = "set") -> str:
    """Return a single-use token that lets the citizen choose a password."""
    if purpose not in LINK_PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    token = secrets.token_urlsafe(32)
    db.add(
        PasswordLink(
            token_hash=_link_hash(token),
            citizen_id=citizen_id,
            purpose=purpose,
            expires_at=utcnow() + dt.timedelta(seconds=ttl),
        )
    )
    db.flush()
    return token


def _live_link(token: object, purposes: tuple[str, ...]) -> Any:
    return (
        PasswordLink.token_hash == _link_hash(token),
        PasswordLink.purpose.in_(purposes),
        PasswordLink.used_at.is_(None),
        PasswordLink.expires_at > utcnow(),
    )


def peek_password_link(
    db: Session, token: object, purposes: tuple[str, ...] = ("set",)
) -> PasswordLink | None:
    """Return the live link of this token (one of ``purposes``), without using it."""
    if _link_hash(token) is None:
        return None
    return db.scalar(select(PasswordLink).where(*_live_link(token, purposes)))


def use_password_link(
    db: Session, token: object, purposes: tuple[str, ...] = ("set",)
) -> str | None:
    """Consume a live link atomically (one winner among concurrent uses); return its citizen."""
    link = peek_password_link(db, token, purposes)
    if link is None:
        return None
    citizen_id = link.citizen_id
    result = db.execute(
        update(PasswordLink)
        .where(*_live_link(token, purposes))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return citizen_id if result.rowcount == 1 else None


# -- single sign-on sessions ----------------------------------------------------


@dataclass(frozen=True)
class SignInSession:
    """A citizen's single sign-on session at the provider."""

    sid: str
    citizen_id: str
    auth_time: int
    amr: tuple[str, ...]
    acr: str


def _session_key(sid: str) -> str:
    """Return the store key of a session: the digest only, never the cookie's value.

    Whoever reads the store (a Redis dump, a replica) must not be able to sign in as
    the citizen, as for codes and tokens (stored as digests too).
    """
    return f"sso:{digest(sid)}"


def _valid_sid(sid: object) -> TypeGuard[str]:
    return isinstance(sid, str) and 0 < len(sid) <= 100


def start_session(
    store: Store,
    *,
    citizen_id: str,
    amr: tuple[str, ...],
    acr: str,
    ttl: int,
    replaces: str | None = None,
    about: dict[str, str] | None = None,
) -> SignInSession:
    """Start a new session (a fresh id: the old one, if any, is ended).

    ``about``: what the citizen's sessions page shows of it (the kind of browser, the
    address's network), kept with the session and in the citizen's session index.
    A session replaced by the same citizen's (signing in again, a stronger sign-in) hands
    on the portals used in it, with the ``sid`` each of them knows, so that they are told
    when the new one ends; replaced by someone else's, it ends for its portals at once.
    """
    carried: dict[str, Any] = {}
    if replaces and _valid_sid(replaces):
        old = store.take(_session_key(replaces))
        if old and old.get("citizen_id") == citizen_id:
            carried = {
                "portals": list(old.get("portals") or []),
                "portal_sids": dict(old.get("portal_sids") or {}),
            }
        elif old:
            backchannel.session_ended(store, digest(replaces), old, "signed_out")
    sid = secrets.token_urlsafe(32)
    now = time.time()
    session = SignInSession(sid, citizen_id, int(now), tuple(amr), acr)
    store.put(
        _session_key(sid),
        {
            "citizen_id": citizen_id,
            "auth_time": session.auth_time,
            "amr": list(amr),
            "acr": acr,
            "started": now,
            "expires": now + ttl,
            "last": now,
            "about": dict(about or {}),
            "portals": carried.get("portals", []),
            "portal_sids": carried.get("portal_sids", {}),
        },
        ttl,
    )
    index = store.get(_index_key(citizen_id)) or {}
    index = {ref: until for ref, until in index.items() if float(until) > now}
    index[digest(sid)] = now + ttl
    store.put(_index_key(citizen_id), index, ttl)
    events.emit("session.started", citizen_id=citizen_id)
    return session


#: How often (seconds) a session's "last used" time is written back to the store.
TOUCH_EVERY = 60


def load_session(store: Store, sid: str | None, idle_ttl: int = 0) -> SignInSession | None:
    """Return the live session with this id, or None.

    ``idle_ttl``: a session unused for longer ends (``IDP_SESSION_IDLE_TTL``); its
    absolute lifetime (``IDP_SESSION_TTL``) is the store's expiry.
    """
    if not _valid_sid(sid):
        return None
    data = store.get(_session_key(sid))
    if not data:
        return None
    cut = store.get(_cutoff_key(data["citizen_id"]))
    if cut and float(data.get("started", 0)) <= float(cut["t"]):
        # Ended by end_all_sessions (password changed or reset, "this was not me").
        store.delete(_session_key(sid))
        return None
    now = time.time()
    last = float(data.get("last", data.get("started", now)))
    if idle_ttl and now - last > idle_ttl:
        store.delete(_session_key(sid))
        events.emit("session.idle_ended", citizen_id=data["citizen_id"])
        return None
    if now - last > TOUCH_EVERY and "expires" in data:
        left = int(float(data["expires"]) - now)
        if left > 0:
            data["last"] = now
            store.put(_session_key(sid), data, left)
    return SignInSession(
        sid, data["citizen_id"], int(data["auth_time"]), tuple(data["amr"]), data["acr"]
    )


def note_portal(store: Store, sid: str, portal_name: str, portal_id: str | None = None) -> None:
    """Remember that a portal was signed in to within this session: its name for the
    sessions page, its id for back-channel logout when the session ends."""
    data = store.get(_session_key(sid)) if _valid_sid(sid) else None
    if not data or "expires" not in data:
        return
    names, sids = list(data.get("portals", [])), dict(data.get("portal_sids") or {})
    ref = digest(sid)
    if portal_name in names and (portal_id is None or sids.get(portal_id) == ref):
        return
    left = int(float(data["expires"]) - time.time())
    if left > 0:
        if portal_name not in names:
            data["portals"] = [*names, portal_name][-20:]
        if portal_id is not None and len(sids) < 100:
            sids[portal_id] = ref  # the sid this portal's ID tokens carry
            data["portal_sids"] = sids
        store.put(_session_key(sid), data, left)
        if portal_id is not None:
            _index_portal_session(store, portal_id, ref, data["citizen_id"], left)


def _portal_index_key(portal_id: str) -> str:
    return f"sso-portal:{portal_id}"


def _index_portal_session(
    store: Store, portal_id: str, ref: str, citizen_id: str, left: int
) -> None:
    """Remember, per portal, the sessions that used it (to tell it when it is cut off)."""
    now = time.time()
    index = store.get(_portal_index_key(portal_id)) or {}
    index = {r: v for r, v in index.items() if float(v["u"]) > now}
    index[ref] = {"c": citizen_id, "u": now + left}
    store.put(_portal_index_key(portal_id), index, left)


def portal_sessions(store: Store, portal_id: str) -> list[tuple[str, str]]:
    """Return (citizen id, the sid the portal knows) of each live session that used it."""
    citizens_seen = dict.fromkeys(
        entry.get("c", "") for entry in (store.get(_portal_index_key(portal_id)) or {}).values()
    )
    return [
        (citizen_id, sid)
        for citizen_id in citizens_seen
        if citizen_id
        for sid in sessions_with_portal(store, citizen_id, portal_id)
    ]


def _live_sessions(store: Store, citizen_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (reference, stored data) of each of the citizen's sessions still live."""
    cut = store.get(_cutoff_key(citizen_id))
    for ref in store.get(_index_key(citizen_id)) or {}:
        data = store.get(f"sso:{ref}")
        if not data or data.get("citizen_id") != citizen_id:
            continue
        if cut and float(data.get("started", 0)) <= float(cut["t"]):
            continue
        yield ref, data


def sessions_with_portal(store: Store, citizen_id: str, portal_id: str) -> list[str]:
    """Return the ``sid`` the portal knows for each live session of the citizen that
    used it."""
    found = (
        (d.get("portal_sids") or {}).get(portal_id) for _, d in _live_sessions(store, citizen_id)
    )
    return [sid for sid in found if sid]


@dataclass(frozen=True)
class SessionInfo:
    """One live session as the citizen's sessions page shows it (never its secret)."""

    ref: str  # the digest of the session id (the store key's suffix)
    started: float
    last: float
    about: dict[str, str]
    portals: tuple[str, ...]

    @property
    def started_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.started, dt.UTC)

    @property
    def last_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.last, dt.UTC)


def list_sessions(store: Store, citizen_id: str) -> list[SessionInfo]:
    """Return the citizen's live sessions, newest first."""
    out = []
    for ref, data in _live_sessions(store, citizen_id):
        out.append(
            SessionInfo(
                ref,
                float(data["started"]),
                float(data.get("last", data["started"])),
                dict(data.get("about") or {}),
                tuple(data.get("portals") or ()),
            )
        )
    return sorted(out, key=lambda info: info.started, reverse=True)


def end_session_ref(store: Store, citizen_id: str, ref: str) -> bool:
    """End one of the citizen's sessions by its reference; False if it is not theirs."""
    if not isinstance(ref, str) or len(ref) != 64:
        return False
    data = store.get(f"sso:{ref}")
    if not data or data.get("citizen_id") != citizen_id:
        return False
    store.delete(f"sso:{ref}")
    events.emit("session.ended", citizen_id=citizen_id)
    backchannel.session_ended(store, ref, data, "session_ended")
    return True


def session_ref(sid: str) -> str:
    """Return the public reference of a session (what ID tokens carry as ``sid``)."""
    return digest(sid)


def end_session(store: Store, sid: str | None, reason: str = "signed_out") -> None:
    """End a session; the portals used in it are sent a logout token."""
    if _valid_sid(sid):
        data = store.take(_session_key(sid))
        if data:
            backchannel.session_ended(store, digest(sid), data, reason)


def _cutoff_key(citizen_id: str) -> str:
    return f"sso-cutoff:{citizen_id}"


def _index_key(citizen_id: str) -> str:
    return f"sso-index:{citizen_id}"


def end_all_sessions(
    store: Store, *, citizen_id: str, ttl: int, reason: str = "signed_out_everywhere"
) -> None:
    """End every session of the citizen started until now, on every browser and worker.

    A cut-off time is kept (for ``ttl``, the session lifetime, after which the sessions
    it ends have expired anyway), and ``load_session`` refuses a session started at or
    before it, so that no session is missed, listed or not. A session started
    afterwards (the one the caller starts next) is live. Workers' clocks must agree
    within the time between two such actions (NTP).
    """
    ended = list(_live_sessions(store, citizen_id))
    store.put(_cutoff_key(citizen_id), {"t": time.time()}, ttl)
    events.emit("session.ended_all", citizen_id=citizen_id)
    for ref, data in ended:
        backchannel.session_ended(store, ref, data, reason)


# -- the right of access and erasure ------------------------------------------------


def verify_password(
    db: Session, *, citizen_id: str, password: object, hasher: PasswordHasher
) -> bool:
    """Return whether ``password`` is the citizen's (re-typed to confirm an action)."""
    citizen = get_citizen(db, citizen_id)
    stored = citizen.password_hash if citizen is not None else None
    if not stored or not isinstance(password, str) or not password or len(password) > PASSWORD_MAX:
        return False
    if _verify(hasher, stored, password) is None:
        events.emit("citizen.password_check_failed", citizen_id=citizen_id)
        return False
    return True


def export_profile(citizen: Citizen) -> dict[str, Any]:
    """Return the citizen's stored profile for a data export (never the password hash)."""
    return {
        "family_name": citizen.family_name,
        "middle_name": citizen.middle_name,
        "given_name": citizen.given_name,
        "name": citizen.name,
        "birthdate": citizen.birthdate.isoformat(),
        "gender": citizen.gender,
        "cccd": citizen.cccd,
        "email": citizen.email,
        "email_verified": citizen.email_verified,
        "phone_number": citizen.phone,
        "phone_number_verified": citizen.phone_verified,
        "address": address_claim(citizen.province_code, citizen.ward_code, citizen.street),
        "province_code": citizen.province_code,
        "commune_code": citizen.ward_code,
        "has_password": bool(citizen.password_hash),
        "created_at": iso_utc(citizen.created_at),
        "updated_at": iso_utc(citizen.updated_at),
    }


def delete_account(db: Session, *, citizen_id: str) -> bool:
    """Erase the citizen's profile; return False if there was none.

    The caller withdraws the consent grants first (receipts, tokens revoked). Deleting
    the row cascades to tokens, grants and password links; the release log and the
    receipts keep their rows with ``citizen_id`` set to NULL (docs/privacy.md).
    """
    from sqlalchemy import delete

    if get_citizen(db, citizen_id) is None:
        return False
    result = db.execute(
        delete(Citizen)
        .where(Citizen.id == citizen_id)
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:  # pragma: no cover - deleted concurrently
        return False
    # Rows the database changed on its own (cascades, SET NULL) must be re-read.
    db.expire_all()
    events.emit("citizen.deleted", citizen_id=citizen_id)
    return True
