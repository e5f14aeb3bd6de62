"""Signing keys at rest: the private parts are stored encrypted (AES-GCM under
IDP_KEY_ENCRYPTION_KEY, bound to the kid); keys stored in the clear by earlier versions
are encrypted at the next start; a key that cannot be decrypted is left out and replaced."""

from __future__ import annotations

import json

from sqlalchemy import select, text

from idp import keys
from idp.keys import SigningKey
from tests.conftest import TEST_KEK


def test_private_parts_are_encrypted(db):
    rows = db.scalars(select(SigningKey)).all()
    assert rows
    for row in rows:
        assert row.private_jwk.startswith("enc:v1:")
        assert '"d"' not in row.private_jwk
    # Still usable: the JWKS is built from them, never with a private member.
    jwks = keys.public_jwks(db)
    assert jwks["keys"]
    assert all("d" not in k for k in jwks["keys"])


def test_a_key_stored_in_the_clear_is_encrypted_at_the_next_start(db):
    clear = keys._generate("ES256")
    db.add(
        SigningKey(kid=clear.kid, alg="ES256", private_jwk=json.dumps(clear.as_dict(private=True)))
    )
    db.flush()
    assert clear.kid in {k["kid"] for k in keys.public_jwks(db)["keys"]}  # still readable
    keys.ensure_keys(db)
    stored = db.scalar(select(SigningKey.private_jwk).where(SigningKey.kid == clear.kid))
    assert stored.startswith("enc:v1:")
    assert clear.kid in {k["kid"] for k in keys.public_jwks(db)["keys"]}


def test_a_key_sealed_under_another_kek_is_left_out_and_replaced(db):
    try:
        keys.configure("a-different-key-encryption-key")
        other = keys.rotate(db, alg="RS256", overlap=0, token_lifetime=0)
        other_kid = other.kid
        db.flush()
    finally:
        keys.configure(TEST_KEK)
    db.expire_all()
    published = {k["kid"] for k in keys.public_jwks(db)["keys"]}
    assert other_kid not in published
    keys.ensure_keys(db)  # an RS256 key that signs exists again
    assert keys.signing_key(db, "RS256").kid != other_kid


def test_tampering_with_the_kid_binding_is_refused(db):
    row = db.scalars(select(SigningKey).where(SigningKey.alg == "RS256")).first()
    sealed = row.private_jwk
    db.execute(
        text("UPDATE signing_keys SET private_jwk = :p WHERE kid != :k"),
        {"p": sealed, "k": row.kid},
    )
    db.expire_all()
    for other in db.scalars(select(SigningKey).where(SigningKey.kid != row.kid)).all():
        assert other.kid not in {k["kid"] for k in keys.public_jwks(db)["keys"]}
