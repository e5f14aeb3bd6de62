"""Verifiable consent receipts, over real HTTP against the live provider (both backends).

Every grant, change and withdrawal produces a compact JWS receipt signed with a key of the
published JWKS. It verifies with joserfc against /jwks, fails after one byte of its
payload changes, carries what it must, and ``idp receipts verify`` says so.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import time
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select

from idp.cli import main
from idp.consent.models import Notice, Receipt
from idp.consent.receipts import ReceiptError, verify_receipt
from tests.support.forms import withdraw_grant_id
from tests.support.useragent import UserAgent, auth_request

pytestmark = pytest.mark.live

TIMEOUT = 30
PURPOSES = {
    "name": {
        "purpose": {
            "vi": "Để điền sẵn hồ sơ đăng ký đất đai",
            "en": "To pre-fill the land registration file",
        },
        "required": True,
    },
    "birthdate": {
        "purpose": {"vi": "Để xác minh tuổi", "en": "To check your age"},
        "required": False,
    },
    "gender": {"purpose": {"vi": "Để thống kê", "en": "For statistics"}, "required": False},
    "email": {"purpose": {"vi": "Để gửi thông báo", "en": "To send notices"}, "required": False},
}


def _b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tamper(token: str, index: int | None = None) -> str:
    """Change one byte of the receipt's payload (re-encoded, signature kept)."""
    header, payload, signature = token.split(".")
    raw = bytearray(_b64d(payload))
    if index is None:
        # A digit of the timestamp: the JSON stays valid, only the meaning changes.
        index = raw.index(b'"iat":') + len(b'"iat":') + 3
    raw[index] = raw[index] ^ 0x01
    return ".".join((header, _b64e(bytes(raw)), signature))


@pytest.fixture
def jwks_json(live: Any) -> dict[str, Any]:
    resp = requests.get(f"{live.url}/jwks", timeout=TIMEOUT)
    assert resp.status_code == 200
    return resp.json()


class Journey:
    """A citizen, a portal and the citizen's browser, over real HTTP."""

    def __init__(self, live: Any, **portal_kw: Any):
        self.live = live
        self.portal = live.register_portal(
            scope="openid profile email phone offline_access", purposes=PURPOSES, **portal_kw
        )
        self.citizen = live.make_citizen()
        self.ua = UserAgent(live.url)

    def authorize(self, scope: str, untick: Any = frozenset(), **extra: Any) -> dict[str, Any]:
        """Sign in (and consent); exchange the code; return the token response."""
        params, verifier = auth_request(
            self.portal["client_id"], self.portal["redirect_uri"], scope=scope, state="s", **extra
        )
        out = self.ua.authorize(
            self.ua.auth_url(**params),
            identifier=self.citizen["identifier"],
            password=self.citizen["password"],
            untick=untick,
        )
        assert out.code, out.params
        resp = requests.post(
            f"{self.live.url}/token",
            timeout=TIMEOUT,
            data={
                "grant_type": "authorization_code",
                "code": out.code,
                "redirect_uri": self.portal["redirect_uri"],
                "code_verifier": verifier,
            },
            auth=(self.portal["client_id"], self.portal["client_secret"]),
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    def receipts(self) -> list[Receipt]:
        with self.live.session() as db:
            return list(
                db.scalars(
                    select(Receipt)
                    .where(
                        Receipt.citizen_id == self.citizen["id"],
                        Receipt.portal_id == self.portal["id"],
                    )
                    .order_by(Receipt.created_at)
                ).all()
            )

    def notice(self) -> Notice:
        with self.live.session() as db:
            return db.scalar(
                select(Notice)
                .where(Notice.portal_id == self.portal["id"])
                .order_by(Notice.version.desc())
                .limit(1)
            )

    def grant_id(self) -> str:
        page = self.ua.http.get(f"{self.live.url}/account/portals", timeout=TIMEOUT)
        assert page.status_code == 200
        return withdraw_grant_id(page.text, self.portal["client_id"])

    def account_post(self, action: str) -> None:
        # Withdrawing a whole grant is asked on a page of its own.
        grant = action.endswith("/withdraw") and "/claims/" not in action
        where = action + "/confirm" if grant else "/account/portals"
        page = self.ua.http.get(f"{self.live.url}{where}", timeout=TIMEOUT)
        resp = self.ua.post_form(page, action)
        assert resp.status_code == 303, (resp.status_code, resp.text[:300])

    def download(self, receipt_id: str) -> str:
        resp = self.ua.http.get(
            f"{self.live.url}/account/receipts/{receipt_id}.jwt", timeout=TIMEOUT
        )
        assert resp.status_code == 200
        return resp.text


def test_a_receipt_for_every_grant_change_and_withdrawal(live, jwks_json):
    journey = Journey(live)
    started = int(time.time())
    token = journey.authorize("openid profile", untick={"gender"})
    sub = jwt.decode(token["id_token"], KeySet.import_key_set(jwks_json)).claims["sub"]
    assert [r.action for r in journey.receipts()] == ["granted"]

    journey.authorize("openid profile email")  # only email is asked: a change
    assert [r.action for r in journey.receipts()] == ["granted", "changed"]

    grant_id = journey.grant_id()
    journey.account_post(f"/account/portals/{grant_id}/claims/birthdate/withdraw")
    journey.account_post(f"/account/portals/{grant_id}/withdraw")
    rows = journey.receipts()
    assert [r.action for r in rows] == ["granted", "changed", "claim_withdrawn", "withdrawn"]
    assert {r.grant_id for r in rows} == {grant_id}
    finished = int(time.time())

    keys = KeySet.import_key_set(jwks_json)
    notice = journey.notice()
    expected_decisions = [
        {"name": True, "birthdate": True, "gender": False},
        {"name": True, "birthdate": True, "gender": False, "email": True},
        {"name": True, "birthdate": False, "gender": False, "email": True},
        # After the whole withdrawal nothing is granted (birthdate went before).
        {"name": False, "gender": False, "email": False},
    ]
    for row, decisions in zip(rows, expected_decisions, strict=True):
        token_text = journey.download(row.id)
        assert token_text == row.jws  # the citizen downloads exactly what was signed
        obj = jws.deserialize_compact(token_text, keys, algorithms=["RS256"])
        header = obj.headers()
        assert header["typ"] == "consent-receipt+jwt"
        assert header["alg"] == "RS256"
        assert header["kid"] in {k["kid"] for k in jwks_json["keys"]}
        payload = json.loads(obj.payload)
        assert payload["jti"] == row.id
        assert payload["iss"] == live.url
        assert payload["client_id"] == journey.portal["client_id"]
        assert payload["portal_name"] == journey.portal["name"]
        assert payload["sub"] == sub
        assert payload["action"] == row.action
        assert payload["notice"] == {"version": notice.version, "hash": notice.hash}
        assert started - 1 <= payload["iat"] <= finished + 1
        assert dt.datetime.fromisoformat(
            payload["time"].replace("Z", "+00:00")
        ) == dt.datetime.fromtimestamp(payload["iat"], dt.UTC)
        listed = {c["claim"]: c for c in payload["claims"]}
        got = {k: v["granted"] for k, v in listed.items()}
        if row.action == "withdrawn":
            assert not any(got.values())
            assert set(decisions) <= set(got) <= set(PURPOSES)
        else:
            assert got == decisions
        for item, entry in listed.items():
            assert entry["purpose"] == PURPOSES[item]["purpose"]
            assert entry["required"] == PURPOSES[item]["required"]
        # The provider's own check agrees.
        assert verify_receipt(token_text, jwks_json)["jti"] == row.id

    # The notice hash is the SHA-256 of the canonical declared purposes.
    canonical = json.dumps(
        notice.purposes, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    assert notice.hash == hashlib.sha256(canonical.encode()).hexdigest()

    # Signing in again after the withdrawal is a new grant with its own receipt.
    journey.authorize("openid profile")
    rows = journey.receipts()
    assert [r.action for r in rows][-1] == "granted"
    assert rows[-1].grant_id != grant_id


def test_repeated_sign_in_issues_no_new_receipt(live):
    journey = Journey(live)
    journey.authorize("openid profile")
    journey.authorize("openid profile")  # nothing asked
    journey.authorize("openid")
    assert [r.action for r in journey.receipts()] == ["granted"]
    # A withdrawal of an item already withdrawn (or never granted) issues nothing.
    grant_id = journey.grant_id()
    journey.account_post(f"/account/portals/{grant_id}/claims/email/withdraw")
    assert [r.action for r in journey.receipts()] == ["granted"]


def test_tampered_receipt_fails(live, jwks_json):
    journey = Journey(live)
    journey.authorize("openid profile")
    token = journey.receipts()[0].jws
    keys = KeySet.import_key_set(jwks_json)
    jws.deserialize_compact(token, keys, algorithms=["RS256"])  # the original verifies
    payload_len = len(_b64d(token.split(".")[1]))
    for index in (None, 0, payload_len // 2, payload_len - 1):
        bad = tamper(token, index)
        assert bad != token
        with pytest.raises(BadSignatureError):
            jws.deserialize_compact(bad, keys, algorithms=["RS256"])
        with pytest.raises(ReceiptError):
            verify_receipt(bad, jwks_json)
    # A changed header or signature fails too.
    header, payload, signature = token.split(".")
    other_header = _b64e(json.dumps({**json.loads(_b64d(header)), "kid": "other"}).encode())
    with pytest.raises(JoseError):
        jws.deserialize_compact(
            ".".join((other_header, payload, signature)), keys, algorithms=["RS256"]
        )
    sig = bytearray(_b64d(signature))
    sig[-1] ^= 0x01
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(
            ".".join((header, payload, _b64e(bytes(sig)))), keys, algorithms=["RS256"]
        )
    # Against someone else's keys it does not verify.
    stranger = {
        "keys": [
            {
                **RSAKey.generate_key(2048).as_dict(private=False),
                "kid": json.loads(_b64d(header))["kid"],
            }
        ]
    }
    with pytest.raises(ReceiptError):
        verify_receipt(token, stranger)


def test_sign_in_with_openid_alone_has_a_receipt_too(live, jwks_json):
    journey = Journey(live)
    token = journey.authorize("openid")
    sub = jwt.decode(token["id_token"], KeySet.import_key_set(jwks_json)).claims["sub"]
    rows = journey.receipts()
    assert [r.action for r in rows] == ["granted"]
    payload = verify_receipt(rows[0].jws, jwks_json)
    assert payload["claims"] == []
    assert payload["sub"] == sub
    assert payload["scopes"] == ["openid"]
    # Withdrawing it is receipted as well.
    journey.account_post(f"/account/portals/{journey.grant_id()}/withdraw")
    assert [r.action for r in journey.receipts()] == ["granted", "withdrawn"]


def test_an_id_token_is_not_a_receipt(live, jwks_json):
    journey = Journey(live)
    token = journey.authorize("openid profile")
    with pytest.raises(ReceiptError, match="typ"):
        verify_receipt(token["id_token"], jwks_json)


# -- idp receipts verify -----------------------------------------------------------------


@pytest.fixture
def cli_env(live: Any, tmp_path: Any) -> dict[str, str]:
    env = {
        "IDP_DATA_DIR": str(tmp_path / "data"),
        "IDP_DATABASE_URL": live.backend.database_url,
        "IDP_ISSUER": live.url,
    }
    if live.backend.redis_url:
        env["IDP_REDIS_URL"] = live.backend.redis_url
    return env


def verify_cli(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(main, ["receipts", "verify", *args], env=env, catch_exceptions=False)


def test_cli_verifies_a_receipt(live, jwks_json, tmp_path, cli_env):
    journey = Journey(live)
    token = journey.authorize("openid profile", untick={"gender"})
    sub = jwt.decode(token["id_token"], KeySet.import_key_set(jwks_json)).claims["sub"]
    row = journey.receipts()[0]
    receipt = tmp_path / "receipt.jwt"
    receipt.write_text(journey.download(row.id) + "\n")
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(jwks_json))

    for source in (["--jwks", str(jwks_file)], ["--jwks", f"{live.url}/jwks"], []):
        result = verify_cli(cli_env, str(receipt), *source)
        assert result.exit_code == 0, (source, result.output)
        out = result.stdout
        assert out.startswith("VALID")
        assert row.id in out
        assert journey.portal["client_id"] in out
        assert journey.portal["name"] in out
        assert sub in out
        assert "granted" in out
        assert re.search(r"granted:\s+name, birthdate", out)
        assert re.search(r"declined:\s+gender", out)
        assert "To pre-fill the land registration file (required)" in out
        assert f"sha256 {journey.notice().hash}" in out

    # One byte of the payload changed: INVALID, exit status 1.
    bad = tmp_path / "tampered.jwt"
    bad.write_text(tamper(row.jws))
    result = verify_cli(cli_env, str(bad), "--jwks", str(jwks_file))
    assert result.exit_code == 1, result.output
    assert "INVALID" in result.output
    assert "VALID consent receipt" not in result.output
    # Not a receipt at all (an ID token, or garbage): INVALID too.
    idt = tmp_path / "id_token.jwt"
    idt.write_text(token["id_token"])
    for path in (idt, tmp_path / "garbage.jwt"):
        if not path.exists():
            path.write_text("hello, inspector")
        result = verify_cli(cli_env, str(path), "--jwks", str(jwks_file))
        assert result.exit_code == 1, result.output
        assert "INVALID" in result.output


def test_cli_bad_input_exits_2(live, jwks_json, tmp_path, cli_env):
    journey = Journey(live)
    journey.authorize("openid")
    receipt = tmp_path / "receipt.jwt"
    receipt.write_text(journey.receipts()[0].jws)
    not_json = tmp_path / "keys.txt"
    not_json.write_text("this is not JSON")
    not_jwks = tmp_path / "list.json"
    not_jwks.write_text("[1, 2, 3]")
    bad_keys = tmp_path / "bad-keys.json"
    bad_keys.write_text('{"keys": "none"}')
    cases = [
        [str(tmp_path / "missing.jwt"), "--jwks", str(not_json)],
        [str(receipt), "--jwks", str(tmp_path / "missing.json")],
        [str(receipt), "--jwks", str(not_json)],
        [str(receipt), "--jwks", str(not_jwks)],
        [str(receipt), "--jwks", str(bad_keys)],
        [str(receipt), "--jwks", "http://127.0.0.1:9/jwks"],  # nothing listens there
        [str(receipt), "--jwks", f"{live.url}/no-such-jwks"],
    ]
    for args in cases:
        result = verify_cli(cli_env, *args)
        assert result.exit_code == 2, (args, result.exit_code, result.output)
        assert "Traceback" not in result.output
        assert "VALID" not in result.output
        assert result.output.strip()
