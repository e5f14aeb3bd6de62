"""Signing-key rotation: the next key is published before it signs; tokens signed before
verify during the overlap; the old key leaves the JWKS once its tokens have expired; an
old consent receipt still verifies. Both algorithms, both backends."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from idp import keys
from idp.keys import SigningKey
from tests.consent.helpers import Browser
from tests.support.factories import new_citizen, new_portal


def _kid(token: str) -> str:
    header = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[0] + "==").decode())
    return header["kid"]


def _jwks_kids(client) -> set[str]:
    return {k["kid"] for k in client.get("/jwks").get_json()["keys"]}


def _shift(db, kid: str, **columns) -> None:
    db.execute(update(SigningKey).where(SigningKey.kid == kid).values(**columns))
    db.commit()


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_rotation_publishes_first_then_signs_then_retires(app, db, client, settings, alg):
    citizen = new_citizen(db, settings)
    portal = new_portal(db, scope="openid profile", id_token_signed_response_alg=alg)
    browser = Browser(client, citizen)
    _, before, _ = browser.sign_in_flow(portal, scope="openid")
    old_kid = _kid(before["id_token"])

    new_kid = keys.rotate(db, alg=alg, overlap=600, token_lifetime=660).kid
    db.commit()
    # Published before its first use; the old key still signs during the overlap.
    assert {old_kid, new_kid} <= _jwks_kids(client)
    _, during, _ = browser.sign_in_flow(portal, scope="openid", prompt="login")
    assert _kid(during["id_token"]) == old_kid

    # The overlap is over: the new key signs; a token signed before still verifies.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    _shift(db, new_kid, activates_at=past)
    _, after, _ = browser.sign_in_flow(portal, scope="openid", prompt="login")
    assert _kid(after["id_token"]) == new_kid
    jwks = KeySet.import_key_set(client.get("/jwks").get_json())
    jwt.decode(before["id_token"], jwks, algorithms=[alg])

    # Once every token the old key signed has expired, it leaves the JWKS.
    _shift(db, old_kid, retired_at=past)
    assert old_kid not in _jwks_kids(client)
    assert new_kid in _jwks_kids(client)
    states = {k["kid"]: k["state"] for k in keys.describe(db)}
    assert states[old_kid] == "retired"
    assert states[new_kid] == "signing"


def test_an_old_receipt_verifies_after_its_key_retired(app, db, client, settings, tmp_path):

    from idp.consent.models import Receipt

    citizen = new_citizen(db, settings)
    portal = new_portal(db, scope="openid profile")
    Browser(client, citizen).sign_in_flow(portal, scope="openid profile")
    jws = db.scalars(select(Receipt).where(Receipt.citizen_id == citizen.id)).first().jws
    signed_by = _kid(jws)
    new_kid = keys.rotate(db, alg="RS256", overlap=0, token_lifetime=0).kid
    db.commit()
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    _shift(db, signed_by, retired_at=past)
    assert signed_by not in _jwks_kids(client)
    assert signed_by in {k["kid"] for k in keys.all_public_jwks(db)["keys"]}
    from idp.consent.receipts import public_jwks, verify_receipt

    assert verify_receipt(jws, public_jwks(db))["sub"]
    assert new_kid != signed_by


def test_the_commands_rotate_and_list(tmp_path, backend):
    from click.testing import CliRunner

    from idp.cli import main

    env = {"IDP_DATA_DIR": str(tmp_path / "d"), "IDP_KEY_OVERLAP": "120"}
    if backend.name == "server":
        pytest.skip("the command's own SQLite database is enough")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    from sqlalchemy.orm import Session

    from idp.config import Settings
    from idp.db import make_engine

    engine = make_engine(Settings.from_env(env).database_url)
    with Session(engine) as db:
        keys.ensure_keys(db)
    engine.dispose()
    listed = json.loads(runner.invoke(main, ["keys", "list"], env=env).stdout)
    assert {k["state"] for k in listed} == {"signing"}
    assert all("d" not in k and "private_jwk" not in k for k in listed)
    rotated = runner.invoke(main, ["keys", "rotate", "--alg", "ES256"], env=env)
    assert rotated.exit_code == 0, rotated.output
    states = [(k["alg"], k["state"]) for k in json.loads(rotated.stdout)]
    assert ("ES256", "next") in states
    assert ("ES256", "signing") in states
    bad = runner.invoke(main, ["keys", "rotate", "--alg", "HS256"], env=env)
    assert bad.exit_code == 2
