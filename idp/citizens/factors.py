"""The second factor: a TOTP authenticator (RFC 6238) and single-use recovery codes.

- Enrolment draws the key's ``otpauth://`` URI as a QR code (SVG, segno, drawn here:
  no third party ever sees the key) and shows the key in groups of four for manual
  entry; it completes only after one valid code.
- A code is accepted once: the matched time step is claimed in the shared store with an
  atomic set-if-absent (Redis ``SET NX``), so a replay is refused on every worker
  (RFC 6238 §5.2). One step of clock drift either way is allowed.
- Ten recovery codes (120 random bits each) are shown once and stored as SHA-256
  digests; each is taken by one conditional UPDATE, so it works once even when two
  requests race.
- The TOTP key is stored encrypted with AES-GCM under a key derived (HKDF) from
  IDP_SECRET_KEY, with the citizen's id as associated data; it is never logged.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp import events
from idp.citizens.models import RecoveryCode, SecondFactor
from idp.db import utcnow
from idp.hashing import digest
from idp.store import Store

#: RFC 6238 §5.2: accept the previous and the next time step as well.
DRIFT_STEPS = 1
STEP = 30
#: A used step stays claimed while it could still be accepted (drift included).
REPLAY_TTL = STEP * (2 * DRIFT_STEPS + 2)
RECOVERY_CODES = 10
_RECOVERY_CHARS = 24  # base32: 120 bits, shown as six groups of four
_SEAL_VERSION = "v1"


class FactorError(ValueError):
    """A second-factor operation that cannot be done (the reason is for logs)."""


# -- the key at rest ----------------------------------------------------------------


def _aead(secret_key: str) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"idp second factor key v1"
    ).derive(secret_key.encode("utf-8"))
    return AESGCM(key)


def _seal(secret_key: str, citizen_id: str, totp_key: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = _aead(secret_key).encrypt(nonce, totp_key.encode("ascii"), citizen_id.encode())
    return f"{_SEAL_VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def _unseal(secret_key: str, citizen_id: str, sealed: str) -> str | None:
    version, _, blob = sealed.partition(":")
    if version != _SEAL_VERSION:
        return None
    try:
        raw = base64.urlsafe_b64decode(blob)
        return _aead(secret_key).decrypt(raw[:12], raw[12:], citizen_id.encode()).decode("ascii")
    except (InvalidTag, ValueError):
        # IDP_SECRET_KEY changed, or the row was tampered with: the factor is unusable.
        events.emit("second_factor.unreadable", citizen_id=citizen_id)
        return None


def seal_key(secret_key: str, owner_id: str, totp_key: str) -> str:
    """Return a TOTP key sealed for storage, bound to its owner's id (staff use it too)."""
    return _seal(secret_key, owner_id, totp_key)


def unseal_key(secret_key: str, owner_id: str, sealed: str) -> str | None:
    """Return the TOTP key of a sealed value, or None if it cannot be read."""
    return _unseal(secret_key, owner_id, sealed)


def check_code(store: Store, owner_ref: str, key: str, code: object) -> bool:
    """Return whether ``code`` is a valid TOTP code of ``key`` now, used once only."""
    return _check_totp(store, owner_ref, key, code)


def enrolment_for(key: str, account_name: str, issuer: str) -> Enrolment:
    """Return what an enrolment page shows for ``key``: QR code, grouped key, URI."""
    uri = pyotp.TOTP(key).provisioning_uri(name=account_name, issuer_name=issuer)
    qr = segno.make(uri, error="m")
    svg = qr.svg_inline(scale=5, border=2, dark="#000", light="#fff", omitsize=True)
    return Enrolment(uri, svg, " ".join(key[i : i + 4] for i in range(0, len(key), 4)))


# -- enrolment ----------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the QR code, the key for typing, the URI."""

    uri: str
    qr_svg: str
    grouped_key: str


def has_factor(db: Session, citizen_id: str) -> bool:
    """Return whether the citizen has a confirmed second factor."""
    return (
        db.scalar(
            select(SecondFactor.citizen_id).where(
                SecondFactor.citizen_id == citizen_id, SecondFactor.confirmed_at.is_not(None)
            )
        )
        is not None
    )


def begin_enrolment(
    db: Session, *, citizen_id: str, account_name: str, issuer: str, secret_key: str
) -> Enrolment:
    """Return the pending key's QR code and grouped key (a new key if none is pending).

    Raises FactorError when the citizen already has a confirmed factor.
    """
    row = db.get(SecondFactor, citizen_id)
    if row is not None and row.confirmed_at is not None:
        raise FactorError("already enrolled")
    key = _unseal(secret_key, citizen_id, row.secret_sealed) if row is not None else None
    if key is None:
        key = pyotp.random_base32()  # 160 bits (RFC 4226 §4 recommends 160)
        sealed = _seal(secret_key, citizen_id, key)
        try:
            with db.begin_nested():
                if row is None:
                    db.add(SecondFactor(citizen_id=citizen_id, secret_sealed=sealed))
                else:
                    row.secret_sealed = sealed
        except IntegrityError:
            # Another tab started the enrolment at the same moment: show its key.
            db.expire_all()
            return begin_enrolment(
                db,
                citizen_id=citizen_id,
                account_name=account_name,
                issuer=issuer,
                secret_key=secret_key,
            )
    return enrolment_for(key, account_name, issuer)


def confirm_enrolment(
    db: Session, store: Store, *, citizen_id: str, code: object, secret_key: str
) -> list[str] | None:
    """Complete the enrolment with one valid code; return the ten recovery codes.

    Returns None when the code is not valid (or already used); nothing is written.
    """
    row = db.get(SecondFactor, citizen_id)
    if row is None or row.confirmed_at is not None:
        return None
    key = _unseal(secret_key, citizen_id, row.secret_sealed)
    if key is None or not _check_totp(store, citizen_id, key, code):
        events.emit("second_factor.enrolment_failed", citizen_id=citizen_id)
        return None
    done = db.execute(
        update(SecondFactor)
        .where(SecondFactor.citizen_id == citizen_id, SecondFactor.confirmed_at.is_(None))
        .values(confirmed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # confirmed by a concurrent request
        return None
    db.expire(row)
    codes = regenerate_recovery_codes(db, citizen_id=citizen_id)
    events.emit("second_factor.enrolled", citizen_id=citizen_id)
    return codes


def remove_factor(db: Session, *, citizen_id: str) -> None:
    """Remove the citizen's second factor and recovery codes (after re-authentication)."""
    db.execute(delete(RecoveryCode).where(RecoveryCode.citizen_id == citizen_id))
    db.execute(delete(SecondFactor).where(SecondFactor.citizen_id == citizen_id))
    db.expire_all()
    events.emit("second_factor.removed", citizen_id=citizen_id)


# -- codes --------------------------------------------------------------------------


def normalize_code(code: object) -> str:
    """Return a typed code without spaces and dashes, upper-cased ('' if unusable)."""
    if not isinstance(code, str) or len(code) > 64:
        return ""
    return "".join(code.split()).replace("-", "").upper()


def well_formed(code: object) -> bool:
    """Return whether ``code`` has the shape of a TOTP or a recovery code.

    Only such codes are checked, and counted against the limit on guessing: a typing
    slip ("12345", letters in a TOTP) is not a guess.
    """
    typed = normalize_code(code)
    if len(typed) == 6:
        return typed.isascii() and typed.isdigit()
    return len(typed) == _RECOVERY_CHARS and typed.isascii() and typed.isalnum()


def _check_totp(store: Store, citizen_id: str, key: str, code: object, now: float | None = None):
    """Return whether ``code`` is valid now (±1 step) and was not used before."""
    typed = normalize_code(code)
    if len(typed) != 6 or not typed.isascii() or not typed.isdigit():
        return False
    totp = pyotp.TOTP(key, interval=STEP)
    current = int((time.time() if now is None else now) // STEP)
    matched = None
    for counter in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Compare every candidate (constant time), keep the match.
        if hmac.compare_digest(totp.generate_otp(counter), typed):
            matched = counter
    if matched is None:
        return False
    # RFC 6238 §5.2: accept a code once. SET NX is atomic across workers.
    if not store.add(f"totp-used:{citizen_id}:{matched}", {}, REPLAY_TTL):
        events.emit("second_factor.replayed", citizen_id=citizen_id)
        return False
    return True


def verify_totp(
    db: Session,
    store: Store,
    *,
    citizen_id: str,
    code: object,
    secret_key: str,
    now: float | None = None,
) -> bool:
    """Return whether ``code`` is a valid, unused TOTP code of the confirmed factor."""
    row = db.get(SecondFactor, citizen_id)
    if row is None or row.confirmed_at is None:
        return False
    key = _unseal(secret_key, citizen_id, row.secret_sealed)
    return key is not None and _check_totp(store, citizen_id, key, code, now)


def regenerate_recovery_codes(db: Session, *, citizen_id: str) -> list[str]:
    """Replace the citizen's recovery codes with ten new ones; return them (shown once)."""
    db.execute(delete(RecoveryCode).where(RecoveryCode.citizen_id == citizen_id))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(_RECOVERY_CHARS))
        codes.append("-".join(raw[i : i + 4] for i in range(0, len(raw), 4)))
        db.add(RecoveryCode(code_hash=digest(raw), citizen_id=citizen_id))
    db.flush()
    events.emit("recovery_codes.generated", citizen_id=citizen_id)
    return codes


def recovery_codes_left(db: Session, citizen_id: str) -> int:
    """Return how many unused recovery codes the citizen has."""
    return int(
        db.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.citizen_id == citizen_id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def use_recovery_code(db: Session, *, citizen_id: str, code: object) -> int | None:
    """Consume a recovery code atomically; return how many are left, or None if invalid."""
    typed = normalize_code(code)
    if len(typed) != _RECOVERY_CHARS or not typed.isascii() or not typed.isalnum():
        return None
    taken = db.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.code_hash == digest(typed),
            RecoveryCode.citizen_id == citizen_id,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        events.emit("recovery_code.refused", citizen_id=citizen_id)
        return None
    left = recovery_codes_left(db, citizen_id)
    events.emit("recovery_code.used", citizen_id=citizen_id, left=left)
    return left


@dataclass(frozen=True)
class FactorCheck:
    """The outcome of a second-factor check: which kind of code, codes left."""

    ok: bool
    recovery_codes_left: int | None = None  # set when a recovery code was used


def verify_second_factor(
    db: Session, store: Store, *, citizen_id: str, code: object, secret_key: str
) -> FactorCheck:
    """Check a TOTP code or, failing that, a recovery code of a confirmed factor."""
    if not has_factor(db, citizen_id):
        return FactorCheck(False)
    typed = normalize_code(code)
    if len(typed) == 6:
        return FactorCheck(
            verify_totp(db, store, citizen_id=citizen_id, code=typed, secret_key=secret_key)
        )
    left = use_recovery_code(db, citizen_id=citizen_id, code=typed)
    return FactorCheck(left is not None, left)
