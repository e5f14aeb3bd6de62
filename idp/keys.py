"""Signing keys: generation on first start, persistence, the published JWKS.

Keys live in the database so that every worker signs with the same keys. ID tokens are
signed RS256 by default (OIDC Core §15.1) and ES256 for portals that register
``id_token_signed_response_alg=ES256``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.db import Base, UTCDateTime, utcnow

SUPPORTED_ALGS = ("RS256", "ES256")


class SigningKey(Base):
    """One private signing key; the public half is published in the JWKS."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10))
    private_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def _generate(alg: str) -> RSAKey | ECKey:
    if alg == "RS256":
        key: RSAKey | ECKey = RSAKey.generate_key(2048, parameters={"alg": alg, "use": "sig"})
    else:
        key = ECKey.generate_key("P-256", parameters={"alg": alg, "use": "sig"})
    key.ensure_kid()
    return key


def ensure_keys(db: Session) -> None:
    """Generate and persist one active key per supported algorithm if missing."""
    for alg in SUPPORTED_ALGS:
        exists = db.scalar(
            select(SigningKey.kid).where(SigningKey.alg == alg, SigningKey.retired_at.is_(None))
        )
        if exists:
            continue
        key = _generate(alg)
        try:
            with db.begin_nested():
                db.add(
                    SigningKey(
                        kid=key.kid, alg=alg, private_jwk=json.dumps(key.as_dict(private=True))
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
        data = json.loads(row.private_jwk)
        key = (RSAKey if row.alg == "RS256" else ECKey).import_key(data)
        if len(_IMPORTED) > 64:
            _IMPORTED.clear()
        _IMPORTED[cache_key] = key
    return key


def _active(db: Session) -> list[SigningKey]:
    rows = db.scalars(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc())
    ).all()
    return list(rows)


def private_key_set(db: Session) -> KeySet:
    """Return the active private keys (newest first within each algorithm)."""
    return KeySet([_import(r) for r in _active(db)])


def signing_key(db: Session, alg: str) -> RSAKey | ECKey:
    """Return the newest active private key for ``alg``."""
    for row in _active(db):
        if row.alg == alg:
            return _import(row)
    raise LookupError(f"no active signing key for {alg}")


def public_jwks(db: Session) -> dict[str, Any]:
    """Return the JWKS document (RFC 7517) of every published key."""
    return {"keys": [_import(row).as_dict(private=False) for row in _active(db)]}
