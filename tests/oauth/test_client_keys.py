"""Registering a private_key_jwt portal: public keys only, exactly one of jwks or
jwks_uri, and no secret issued; other methods take no keys."""

from __future__ import annotations

import json

import pytest
from joserfc.jwk import ECKey, RSAKey

from idp.portals.service import RegistrationError
from tests.support.factories import make_portal

RSA = RSAKey.generate_key(2048, parameters={"kid": "a"})
EC = ECKey.generate_key("P-256", parameters={"kid": "b"})


def test_public_keys_register_and_no_secret_is_issued(db):
    jwks = {"keys": [RSA.as_dict(private=False), EC.as_dict(private=False)]}
    portal, secret = make_portal(db, auth_method="private_key_jwt", jwks=jwks)
    assert secret is None
    assert portal.client_secret_hash is None
    assert [k["kid"] for k in portal.jwks["keys"]] == ["a", "b"]
    by_uri, _ = make_portal(
        db, auth_method="private_key_jwt", jwks_uri="https://portal.example.vn/jwks.json"
    )
    assert by_uri.jwks_uri == "https://portal.example.vn/jwks.json"


@pytest.mark.parametrize(
    "kw",
    [
        {"jwks": {"keys": [RSA.as_dict(private=True)]}},  # a private key
        {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
        {"jwks": {"keys": []}},
        {"jwks": ["not", "a", "set"]},
        {"jwks": {"keys": [{"kty": "RSA", "n": "x"}]}},
        {"jwks": {"keys": [RSA.as_dict(private=False)] * 11}},
        {"jwks_uri": "http://portal.example.vn/jwks.json"},
        {"jwks_uri": "https://portal.example.vn/jwks.json#k"},
        {"jwks": {"keys": [RSA.as_dict(private=False)]}, "jwks_uri": "https://p.vn/j"},
        {},
    ],
)
def test_bad_keys_are_refused(db, kw):
    with pytest.raises(RegistrationError):
        make_portal(db, auth_method="private_key_jwt", **kw)


def test_other_methods_take_no_keys(db):
    with pytest.raises(RegistrationError):
        make_portal(db, jwks={"keys": [RSA.as_dict(private=False)]})


def test_the_command_reads_a_jwks_file(tmp_path, backend):
    from click.testing import CliRunner

    from idp.cli import main

    env = {"IDP_DATA_DIR": str(tmp_path / "d")}
    if backend.name == "server":
        env |= {"IDP_DATABASE_URL": backend.database_url}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [RSA.as_dict(private=False)]}))
    args = ["clients", "add", "--name", "P", "--redirect-uri", "https://p.vn/cb"]
    args += ["--auth-method", "private_key_jwt", "--jwks", str(path)]
    result = runner.invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["token_endpoint_auth_method"] == "private_key_jwt"
    assert "client_secret" not in out
    path.write_text(json.dumps({"keys": [RSA.as_dict(private=True)]}))
    refused = runner.invoke(main, args, env=env)
    assert refused.exit_code == 2
    assert "public keys only" in refused.output
    assert '"d"' not in refused.output
