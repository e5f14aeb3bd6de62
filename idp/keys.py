"""Signing keys: generation on first start, persistence, rotation, the published JWKS.

Keys live in the database so that every worker signs with the same keys. ID tokens are
signed RS256 by default (OIDC Core §15.1) and ES256 for portals that register
``id_token_signed_response_alg=ES256``.

Rotation (``idp keys rotate``): the next key is published in the JWKS at once and signs
only from ``activates_at`` (after an overlap, ``IDP_KEY_OVERLAP``, so that portals that
cache the JWKS see it before its first use); the key it replaces keeps being published
until every token it signed has expired (``retired_at``: its last signature plus the ID
token lifetime), then leaves the JWKS. Retired public keys stay in the database: consent
receipts verify against every key the provider ever signed with (``all_public_jwks``).

At rest, a key's private part is encrypted with AES-GCM under a key derived (HKDF) from
``IDP_KEY_ENCRYPTION_KEY``, bound to the key's ``kid``: a database dump alone does not
give the signing keys. Keys stored in the clear by earlier versions are encrypted at the
next start; a key that cannot be decrypted (the setting changed) is left out, logged,
and a new one is generated.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp import events
from idp.db import Base, UTCDateTime, utcnow

SUPPORTED_ALGS = ("RS256", "ES256")


class SigningKey(Base):
    """One private signing key; the public half is published in the JWKS."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10))
    private_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Signs from then on (published before); None: since it was created.
    activates_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Leaves the JWKS then (no token it signed is still alive); None: published.
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def published(self, now: dt.datetime) -> bool:
        """Return whether the key is in the JWKS at ``now``."""
        return self.retired_at is None or self.retired_at > now

    def signs(self, now: dt.datetime) -> bool:
        """Return whether the key may sign at ``now`` (activated, not yet retiring)."""
        return self.published(now) and (self.activates_at is None or self.activates_at <= now)


log = logging.getLogger("idp.keys")

_SEALED = "enc:v1:"
_KEK: list[str] = []


class KeyUnreadable(ValueError):
    """A stored key that cannot be decrypted with the configured key-encryption key."""


def configure(key_encryption_key: str) -> None:
    """Set the key-encryption key this process seals and opens private keys with."""
    _KEK[:] = [key_encryption_key] if key_encryption_key else []
    _UNREADABLE.clear()


def _aead() -> AESGCM:
    if not _KEK:
        raise KeyUnreadable("no key-encryption key is configured")
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"idp signing keys v1"
    ).derive(_KEK[0].encode("utf-8"))
    return AESGCM(derived)


def _seal(kid: str, private_jwk: str) -> str:
    """Return a private JWK encrypted for storage (clear text if no KEK is configured)."""
    if not _KEK:
        return private_jwk
    nonce = secrets.token_bytes(12)
    sealed = _aead().encrypt(nonce, private_jwk.encode("utf-8"), kid.encode("utf-8"))
    return _SEALED + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def _open(row: SigningKey) -> str:
    """Return a stored key's private JWK (JSON text); raise KeyUnreadable."""
    stored = row.private_jwk
    if not stored.startswith(_SEALED):
        return stored  # stored in the clear by an earlier version
    try:
        raw = base64.urlsafe_b64decode(stored[len(_SEALED) :])
        return _aead().decrypt(raw[:12], raw[12:], row.kid.encode("utf-8")).decode("utf-8")
    except (InvalidTag, ValueError) as exc:
        raise KeyUnreadable(f"signing key {row.kid} cannot be decrypted") from exc


def _generate(alg: str) -> RSAKey | ECKey:
    if alg == "RS256":
        key: RSAKey | ECKey = RSAKey.generate_key(2048, parameters={"alg": alg, "use": "sig"})
    else:
        key = ECKey.generate_key("P-256", parameters={"alg": alg, "use": "sig"})
    key.ensure_kid()
    return key


def ensure_keys(db: Session) -> None:
    """Encrypt keys stored in the clear; generate one active key per algorithm if missing."""
    if _KEK:
        for row in db.scalars(select(SigningKey)).all():
            if not row.private_jwk.startswith(_SEALED):
                row.private_jwk = _seal(row.kid, row.private_jwk)
                events.emit("key.encrypted_at_rest", kid=row.kid)
        db.flush()
    for alg in SUPPORTED_ALGS:
        if _signer(db, alg) is not None or any(
            r.alg == alg and r.retired_at is None for r in _active(db)
        ):
            continue
        key = _generate(alg)
        try:
            with db.begin_nested():
                db.add(
                    SigningKey(
                        kid=key.kid,
                        alg=alg,
                        private_jwk=_seal(key.kid, json.dumps(key.as_dict(private=True))),
                    )
                )
        except IntegrityError:  # pragma: no cover - another worker won the race
            continue
    db.commit()


# Importing a private JWK validates it (tens of milliseconds for RSA): import each key once.
_IMPORTED: dict[tuple[str, str], RSAKey | ECKey] = {}


def _import(row: SigningKey) -> RSAKey | ECKey:
    cache_key = (row.kid, row.private_jwk)
    key = _IMPORTED.get(cache_key)
    if key is None:
        data = json.loads(_open(row))
        key = (RSAKey if row.alg == "RS256" else ECKey).import_key(data)
        if len(_IMPORTED) > 64:
            _IMPORTED.clear()
        _IMPORTED[cache_key] = key
    return key


_UNREADABLE: set[tuple[str, str]] = set()


def _readable(row: SigningKey) -> bool:
    if (row.kid, row.private_jwk) in _UNREADABLE:
        return False
    try:
        _import(row)
    except KeyUnreadable:
        log.error("signing key %s cannot be decrypted (IDP_KEY_ENCRYPTION_KEY?)", row.kid)
        _UNREADABLE.add((row.kid, row.private_jwk))
        return False
    return True


def _active(db: Session) -> list[SigningKey]:
    """Return the published keys that can be read, newest first."""
    now = utcnow()
    rows = db.scalars(
        select(SigningKey)
        .where((SigningKey.retired_at.is_(None)) | (SigningKey.retired_at > now))
        .order_by(SigningKey.created_at.desc())
    ).all()
    return [row for row in rows if _readable(row)]


def private_key_set(db: Session) -> KeySet:
    """Return the published private keys (to verify what we signed, e.g. ID token hints)."""
    return KeySet([_import(r) for r in _active(db)])


def _signer(db: Session, alg: str) -> SigningKey | None:
    now = utcnow()
    # The newest key that may sign: a rotation's key is always newer than the one it
    # replaces, and signs once activated.
    return next((r for r in _active(db) if r.alg == alg and r.signs(now)), None)


def signing_key(db: Session, alg: str) -> RSAKey | ECKey:
    """Return the key that signs for ``alg`` now: the newest activated one."""
    row = _signer(db, alg)
    if row is None:
        raise LookupError(f"no active signing key for {alg}")
    return _import(row)


def public_jwks(db: Session) -> dict[str, Any]:
    """Return the JWKS document (RFC 7517) of every published key."""
    return {"keys": [_import(row).as_dict(private=False) for row in _active(db)]}


def all_public_jwks(db: Session) -> dict[str, Any]:
    """Return every public key ever used, retired ones included (receipts verify against
    the key that signed them, however long ago)."""
    rows = db.scalars(select(SigningKey).order_by(SigningKey.created_at.desc())).all()
    return {"keys": [_import(row).as_dict(private=False) for row in rows if _readable(row)]}


def rotate(db: Session, *, alg: str, overlap: int, token_lifetime: int) -> SigningKey:
    """Publish the next key for ``alg`` now, signing after ``overlap`` seconds; the key it
    replaces leaves the JWKS ``token_lifetime`` seconds after it stops signing."""
    if alg not in SUPPORTED_ALGS:
        raise ValueError(f"alg must be one of {', '.join(SUPPORTED_ALGS)}")
    now = utcnow()
    starts = now + dt.timedelta(seconds=overlap)
    for row in _active(db):
        if row.alg == alg and row.retired_at is None:
            row.retired_at = starts + dt.timedelta(seconds=token_lifetime)
    key = _generate(alg)
    row = SigningKey(
        kid=key.kid,
        alg=alg,
        private_jwk=_seal(key.kid, json.dumps(key.as_dict(private=True))),
        activates_at=starts,
    )
    db.add(row)
    db.flush()
    events.emit("key.rotated", kid=key.kid, alg=alg, activates_in=overlap)
    return row


def describe(db: Session) -> list[dict[str, Any]]:
    """Return every key's state for operators (never the private part)."""
    now = utcnow()
    rows = db.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
    signers = {alg: _signer(db, alg) for alg in SUPPORTED_ALGS}
    out = []
    for row in rows:
        if signers.get(row.alg) is row:
            state = "signing"
        elif row.published(now) and not row.signs(now):
            state = "next"
        elif row.published(now):
            state = "published (retiring)"
        else:
            state = "retired"
        out.append(
            {
                "kid": row.kid,
                "alg": row.alg,
                "state": state,
                "created_at": row.created_at.isoformat() if row.created_at else None,
                "activates_at": row.activates_at.isoformat() if row.activates_at else None,
                "retired_at": row.retired_at.isoformat() if row.retired_at else None,
            }
        )
    return out
