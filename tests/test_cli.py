"""The `idp` command: database, portals, desk registration; exit status 2 on bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from idp.cli import main
from tests.support.factories import profile_data


@pytest.fixture
def cli_env(tmp_path, backend):
    env = {
        "IDP_DATA_DIR": str(tmp_path / "data"),
        "IDP_ARGON2_MEMORY_KIB": "1024",
        "IDP_ARGON2_TIME_COST": "1",
    }
    if backend.name == "server":
        env["IDP_DATABASE_URL"] = backend.database_url
        env["IDP_REDIS_URL"] = backend.redis_url
    return env


def run(env, *args, stdin=None):
    return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


@pytest.fixture
def migrated(cli_env):
    result = run(cli_env, "db", "upgrade")
    assert result.exit_code == 0, result.output
    return cli_env


def test_clients_add_prints_secret_once_and_list_never(migrated):
    result = run(
        migrated,
        "clients",
        "add",
        "--name",
        "Cổng Thuế",
        "--redirect-uri",
        "https://thue.example.vn/cb",
        "--redirect-uri",
        "https://thue.example.vn/cb2",
        "--post-logout-redirect-uri",
        "https://thue.example.vn/",
        "--scope",
        "openid profile email",
        "--auth-method",
        "client_secret_post",
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["client_secret"]
    assert out["client_id"]
    assert out["redirect_uris"] == ["https://thue.example.vn/cb", "https://thue.example.vn/cb2"]
    assert out["token_endpoint_auth_method"] == "client_secret_post"
    listed = json.loads(run(migrated, "clients", "list").stdout)
    mine = [p for p in listed if p["client_id"] == out["client_id"]]
    assert mine
    assert "client_secret" not in mine[0]
    assert out["client_secret"] not in run(migrated, "clients", "list").output


def test_public_client_gets_no_secret(migrated):
    result = run(
        migrated,
        "clients",
        "add",
        "--name",
        "App",
        "--redirect-uri",
        "http://127.0.0.1:8000/cb",
        "--auth-method",
        "none",
    )
    assert result.exit_code == 0
    assert "client_secret" not in json.loads(result.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ["--name", "X", "--redirect-uri", "http://evil.example/cb"],  # http off loopback
        ["--name", "X", "--redirect-uri", "https://a.example/cb#frag"],
        ["--name", "X", "--redirect-uri", "https://a.example/cb", "--scope", "openid bogus"],
        ["--name", "", "--redirect-uri", "https://a.example/cb"],
        [
            "--name",
            "X",
            "--redirect-uri",
            "https://a.example/cb",
            "--redirect-uri",
            "https://b.example/cb",
        ],  # two hosts, no sector identifier
        ["--name", "X", "--redirect-uri", "https://a.example/cb", "--auth-method", "bogus"],
        ["--name", "X", "--redirect-uri", "https://a.example/cb", "--default-acr", "2"],
    ],
)
def test_clients_add_bad_input_exits_2(migrated, args):
    result = run(migrated, "clients", "add", *args)
    assert result.exit_code == 2
    assert "error" in result.output.lower()
    assert "Traceback" not in result.output


def test_clients_default_acr_add_and_update(migrated):
    added = run(
        migrated,
        "clients",
        "add",
        "--name",
        "Cổng BHXH",
        "--redirect-uri",
        "https://bhxh.example.vn/cb",
        "--default-acr",
        "urn:vn:idp:loa:2",
    )
    assert added.exit_code == 0, added.output
    out = json.loads(added.stdout)
    assert out["default_acr_values"] == ["urn:vn:idp:loa:2"]
    client_id = out["client_id"]
    updated = run(migrated, "clients", "update", client_id, "--default-acr", "urn:vn:idp:loa:1")
    assert json.loads(updated.stdout)["default_acr_values"] == ["urn:vn:idp:loa:1"]
    cleared = run(migrated, "clients", "update", client_id, "--default-acr", "none")
    assert json.loads(cleared.stdout)["default_acr_values"] == []
    for args in (
        [client_id, "--default-acr", "urn:vn:idp:loa:9"],
        ["no-such-client", "--default-acr", "urn:vn:idp:loa:2"],
        [client_id],
    ):
        bad = run(migrated, "clients", "update", *args)
        assert bad.exit_code == 2, bad.output
        assert "Traceback" not in bad.output
    listed = json.loads(run(migrated, "clients", "list").stdout)
    assert [p["default_acr_values"] for p in listed if p["client_id"] == client_id] == [[]]


def test_clients_every_field_at_add_and_update(migrated):
    added = run(
        migrated,
        "clients",
        "add",
        "--name",
        "Cổng Đất đai",
        "--name-en",
        "Land portal",
        "--contact-email",
        "it@dat.example.vn",
        "--redirect-uri",
        "https://dat.example.vn/cb",
        "--web-origin",
        "https://app.dat.example.vn",
        "--subject-type",
        "public",
        "--auth-method",
        "none",
    )
    assert added.exit_code == 0, added.output
    out = json.loads(added.stdout)
    client_id = out["client_id"]
    assert out["client_name#en"] == "Land portal"
    assert out["subject_type"] == "public"
    assert out["web_origins"] == ["https://app.dat.example.vn"]
    assert "client_secret" not in out
    updated = run(
        migrated,
        "clients",
        "update",
        client_id,
        "--name",
        "Cổng Đất đai Đà Nẵng",
        "--name-en",
        "none",
        "--web-origin",
        "https://a.dat.example.vn",
        "--web-origin",
        "https://b.dat.example.vn",
        "--redirect-uri",
        "https://dat.example.vn/cb2",
    )
    assert updated.exit_code == 0, updated.output
    out = json.loads(updated.stdout)
    assert out["client_name#en"] == "Cổng Đất đai Đà Nẵng"  # no English name: the name
    assert out["web_origins"] == ["https://a.dat.example.vn", "https://b.dat.example.vn"]
    assert out["redirect_uris"] == ["https://dat.example.vn/cb2"]
    assert set(out["changed"]) == {"name", "name_en", "web_origins", "redirect_uris"}
    cleared = run(migrated, "clients", "update", client_id, "--web-origin", "none")
    assert json.loads(cleared.stdout)["web_origins"] == []


@pytest.mark.parametrize(
    "args",
    [
        ["--web-origin", "https://x.example.vn/path"],
        ["--web-origin", "*"],
        ["--redirect-uri", "https://*.dat.example.vn/cb"],
        ["--redirect-uri", "http://dat.example.vn/cb"],
        ["--redirect-uri", "https://elsewhere.example.vn/cb"],  # leaves the sector
        ["--contact-email", "nobody"],
        ["--name", ""],
        ["--scope", "openid admin:portals"],
        ["--auth-method", "client_secret_post", "--jwks-uri", "https://k.example.vn/jwks"],
    ],
)
def test_clients_update_bad_input_exits_2_and_writes_nothing(migrated, args):
    added = run(
        migrated, "clients", "add", "--name", "X", "--redirect-uri", "https://dat.example.vn/cb"
    )
    client_id = json.loads(added.stdout)["client_id"]
    before = run(migrated, "clients", "show", client_id).stdout
    bad = run(migrated, "clients", "update", client_id, *args)
    assert bad.exit_code == 2, bad.output
    assert "error" in bad.output
    assert "Traceback" not in bad.output
    assert run(migrated, "clients", "show", client_id).stdout == before


def test_clients_add_automation(migrated):
    added = run(
        migrated, "clients", "add", "--automation", "--name", "CI", "--scope", "admin:portals"
    )
    assert added.exit_code == 0, added.output
    out = json.loads(added.stdout)
    assert out["grant_types"] == ["client_credentials"]
    assert out["client_secret"]
    for args in (
        ["--automation", "--name", "CI"],  # no admin scope
        ["--automation", "--name", "CI", "--scope", "openid"],
        [
            "--automation",
            "--name",
            "CI",
            "--scope",
            "admin:portals",
            "--redirect-uri",
            "https://a.vn/cb",
        ],
        ["--name", "Portal", "--scope", "admin:portals", "--redirect-uri", "https://a.vn/cb"],
        ["--name", "Portal"],  # a portal needs a redirect URI
    ):
        bad = run(migrated, "clients", "add", *args)
        assert bad.exit_code == 2, (args, bad.output)
        assert "Traceback" not in bad.output


@pytest.fixture
def officer(migrated):
    # The server leg keeps one database for the whole run: every test its own officer.
    email = f"can.bo.{uuid.uuid4().hex[:8]}@motcua.danang.gov.vn"
    result = run(migrated, "staff", "add", email, "--role", "desk_officer", "--unit", "48")
    assert result.exit_code == 0, result.output
    return email


def test_staff_add_prints_a_setup_link_once_and_list_never(migrated):
    tag = uuid.uuid4().hex[:8]
    result = run(
        migrated,
        "staff",
        "add",
        f"Can.Bo.{tag}@Example.VN",
        "--role",
        "desk_officer",
        "--unit",
        "20275",
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    email = f"can.bo.{tag}@example.vn"
    assert out["email"] == email
    assert out["roles"] == ["desk_officer"]
    assert out["unit_name"].startswith("Phường An Hải")
    assert "/staff/setup/" in out["setup_url"]
    assert out["ready"] is False
    token = out["setup_url"].rsplit("/", 1)[1]
    listed = run(migrated, "staff", "list").stdout
    assert token not in listed
    assert email in listed
    # A new link replaces the old one.
    again = json.loads(run(migrated, "staff", "link", email).stdout)
    assert again["setup_url"] != out["setup_url"]
    disabled = json.loads(run(migrated, "staff", "disable", email).stdout)
    assert disabled["disabled"] is True


@pytest.mark.parametrize(
    "args",
    [
        ["not-an-email", "--role", "desk_officer", "--unit", "48"],
        ["a@example.vn", "--role", "emperor", "--unit", "48"],
        ["a@example.vn", "--role", "desk_officer"],
        ["a@example.vn", "--role", "desk_officer", "--unit", "999999"],
        ["a@example.vn", "--role", "desk_officer", "--unit", "48", "--name", "x" * 101],
    ],
)
def test_staff_add_bad_input_exits_2(migrated, args):
    result = run(migrated, "staff", "add", *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    emails = {a["email"] for a in json.loads(run(migrated, "staff", "list").stdout)}
    assert not emails & {"not-an-email", "a@example.vn"}


def test_staff_add_refuses_a_second_account_for_one_email(officer, migrated):
    result = run(migrated, "staff", "add", officer, "--role", "desk_officer", "--unit", "48")
    assert result.exit_code == 2
    assert "already" in result.output


def test_citizens_add_from_json(officer, migrated):
    data = profile_data()
    result = run(migrated, "citizens", "add", "--officer", officer, stdin=json.dumps(data))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["id"]
    assert out["assurance"] == "desk_verified"
    assert "/set-password/" in out["set_password_url"]
    # One CCCD, one account: a second desk registration of a desk-verified number fails.
    again = run(
        migrated,
        "citizens",
        "add",
        "--officer",
        officer,
        "--owner-confirmed",
        stdin=json.dumps(
            profile_data(cccd=data["cccd"], birthdate=data["birthdate"], gender=data["gender"])
        ),
    )
    assert again.exit_code == 2
    assert "verified at a desk" in again.output


def test_citizens_add_needs_an_officer_with_the_role(migrated):
    data = json.dumps(profile_data())
    missing = run(migrated, "citizens", "add", stdin=data)
    assert missing.exit_code == 2
    unknown = run(migrated, "citizens", "add", "--officer", "nobody@example.vn", stdin=data)
    assert unknown.exit_code == 2
    assert "no staff account" in unknown.output
    gone = f"x.{uuid.uuid4().hex[:8]}@example.vn"
    run(migrated, "staff", "add", gone, "--role", "desk_officer", "--unit", "48")
    run(migrated, "staff", "disable", gone)
    disabled = run(migrated, "citizens", "add", "--officer", gone, stdin=data)
    assert disabled.exit_code == 2
    assert "not an active desk officer" in disabled.output


@pytest.mark.parametrize("stdin", ["not json", "[1, 2]", "", json.dumps({"cccd": "123"})])
def test_citizens_add_bad_input_exits_2(officer, migrated, stdin):
    result = run(migrated, "citizens", "add", "--officer", officer, stdin=stdin)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_citizens_add_reports_cccd_mismatch_in_english(officer, migrated):
    data = profile_data(gender="male", birthdate="1990-01-01")
    data["cccd"] = data["cccd"][:3] + "1" + data["cccd"][4:]  # female digit
    result = run(migrated, "citizens", "add", "--officer", officer, stdin=json.dumps(data))
    assert result.exit_code == 2
    assert "gender" in result.output


def test_commands_refuse_an_unmigrated_database(cli_env, tmp_path):
    empty = {**cli_env, "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    result = run(empty, "clients", "list")
    assert result.exit_code == 2
    assert "idp db upgrade" in result.output


def test_bad_setting_exits_2(cli_env):
    result = run({**cli_env, "IDP_ISSUER": "not a url"}, "clients", "list")
    assert result.exit_code == 2
    assert "IDP_ISSUER" in result.output


def test_demo_is_idempotent(migrated):
    assert run(migrated, "demo").exit_code == 0
    first = json.loads((Path(migrated["IDP_DATA_DIR"]) / "demo-portals.json").read_text())
    assert run(migrated, "demo").exit_code == 0
    second = json.loads((Path(migrated["IDP_DATA_DIR"]) / "demo-portals.json").read_text())
    assert first["land"]["client_secret"] == second["land"]["client_secret"]
    assert first["land"]["client_id"] != first["business"]["client_id"]


def test_console_script_works_from_any_folder(tmp_path):
    exe = shutil.which("idp", path=str(Path(sys.executable).parent))
    assert exe, "the idp console script is installed"
    env = {**os.environ, "IDP_DATA_DIR": str(tmp_path / "d")}
    env.pop("IDP_DATABASE_URL", None)
    up = subprocess.run(
        [exe, "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert up.returncode == 0, up.stderr
    listed = subprocess.run(
        [exe, "clients", "list"],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


def test_citizens_verify_imports_registry_matches(officer, migrated, tmp_path):
    data = profile_data()
    added = json.loads(
        run(migrated, "citizens", "add", "--officer", officer, stdin=json.dumps(data)).stdout
    )
    record = {k: data[k] for k in ("cccd", "family_name", "middle_name", "given_name")}
    record |= {"birthdate": data["birthdate"], "gender": data["gender"], "record_ref": "R-1"}
    lines = [
        json.dumps(record),
        json.dumps({**record, "given_name": "Người Khác"}),
        json.dumps({**record, "cccd": profile_data()["cccd"]}),
        "{not json",
    ]
    path = tmp_path / "matches.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(migrated, "citizens", "verify", "--from", str(path), "--source", "CSDLQG")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verified"] == 1
    assert report["mismatched"] == [
        {"line": 2, "citizen_id": added["id"], "fields": ["given_name"]}
    ]
    assert report["not_found"] == [{"line": 3}]
    assert report["invalid"][0]["line"] == 4
    assert "Người Khác" not in result.output
    assert data["cccd"] not in result.output


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--from", "/nonexistent/file.jsonl"],
        ["--from", "-", "--source", " "],
        ["--from", "-", "--source", "x" * 101],
    ],
)
def test_citizens_verify_bad_options_exit_2(migrated, args):
    result = run(migrated, "citizens", "verify", *args, stdin="")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_citizens_verify_refuses_a_file_that_is_not_utf8(migrated, tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"family_name": "Nguy\xe9n"}\n'.encode("latin-1"))
    result = run(migrated, "citizens", "verify", "--from", str(path))
    assert result.exit_code == 2
    assert "UTF-8" in result.output


def test_clients_backchannel_options(migrated):
    result = run(
        migrated,
        "clients",
        "add",
        "--name",
        "Cổng Thuế",
        "--redirect-uri",
        "https://thue.example.vn/cb",
        "--backchannel-logout-uri",
        "https://thue.example.vn/backchannel-logout",
        "--backchannel-logout-session-required",
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["backchannel_logout_uri"] == "https://thue.example.vn/backchannel-logout"
    assert out["backchannel_logout_session_required"] is True
    client_id = out["client_id"]
    loopback = "http://127.0.0.1:5009/backchannel-logout"
    refused = run(migrated, "clients", "update", client_id, "--backchannel-logout-uri", loopback)
    assert refused.exit_code == 2
    assert "--backchannel-private" in refused.output
    allowed = run(
        migrated,
        "clients",
        "update",
        client_id,
        "--backchannel-logout-uri",
        loopback,
        "--backchannel-private",
        "yes",
        "--backchannel-logout-session-required",
        "no",
    )
    assert allowed.exit_code == 0, allowed.output
    updated = json.loads(allowed.stdout)
    assert updated["backchannel_logout_uri"] == loopback
    assert updated["backchannel_private"] is True
    assert updated["backchannel_logout_session_required"] is False
    cleared = run(migrated, "clients", "update", client_id, "--backchannel-logout-uri", "none")
    assert json.loads(cleared.stdout)["backchannel_logout_uri"] is None
    deliveries = run(migrated, "clients", "deliveries", client_id)
    assert deliveries.exit_code == 0
    assert json.loads(deliveries.stdout) == []


@pytest.mark.parametrize(
    "args",
    [
        ["clients", "update", "no-such-client", "--backchannel-logout-uri", "https://a.vn/b"],
        ["clients", "deliveries", "no-such-client"],
        ["clients", "deliveries", "x", "--limit", "0"],
        [
            "clients",
            "add",
            "--name",
            "X",
            "--redirect-uri",
            "https://x.vn/cb",
            "--backchannel-logout-uri",
            "https://x.vn/b#frag",
        ],
    ],
)
def test_clients_backchannel_bad_input_exits_2(migrated, args):
    result = run(migrated, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_worker_needs_redis(cli_env, backend):
    if backend.name == "server":
        pytest.skip("the refusal is about the embedded store")
    result = run(cli_env, "worker")
    assert result.exit_code == 2
    assert "IDP_REDIS_URL" in result.output


def test_clients_show_suspend_resume(migrated):
    added = run(
        migrated,
        "clients",
        "add",
        "--name",
        "Cổng BHXH",
        "--redirect-uri",
        "https://bhxh.example.vn/cb",
    )
    client_id = json.loads(added.stdout)["client_id"]
    shown = json.loads(run(migrated, "clients", "show", client_id).stdout)
    assert shown["client_id"] == client_id
    assert "client_secret" not in shown
    assert shown["disabled"] is False
    suspended = run(migrated, "clients", "suspend", client_id)
    assert suspended.exit_code == 0, suspended.output
    assert json.loads(suspended.stdout)["client_id"] == client_id
    assert json.loads(run(migrated, "clients", "show", client_id).stdout)["disabled"] is True
    resumed = json.loads(run(migrated, "clients", "resume", client_id).stdout)
    assert resumed["disabled"] is False
    for command in ("show", "suspend", "resume"):
        bad = run(migrated, "clients", command, "no-such-client")
        assert bad.exit_code == 2, (command, bad.output)
        assert "Traceback" not in bad.output


def test_clients_rotate_secret(migrated):
    added = json.loads(
        run(
            migrated, "clients", "add", "--name", "Cổng X", "--redirect-uri", "https://x.vn/cb"
        ).stdout
    )
    rotated = run(migrated, "clients", "rotate-secret", added["client_id"], "--grace", "600")
    assert rotated.exit_code == 0, rotated.output
    out = json.loads(rotated.stdout)
    assert out["client_secret"] != added["client_secret"]
    assert out["previous_works_for"] == 600
    for args in (["no-such"], [added["client_id"], "--grace", "-1"]):
        bad = run(migrated, "clients", "rotate-secret", *args)
        assert bad.exit_code == 2
    assert added["client_secret"] not in run(migrated, "clients", "list").stdout


def test_staff_roles(migrated):
    email = f"admin.{uuid.uuid4().hex[:8]}@tinh.gov.vn"
    added = run(migrated, "staff", "add", email, "--role", "admin", "--role", "auditor")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["roles"] == ["admin", "auditor"]
    assert json.loads(added.stdout)["unit"] is None  # only desk officers name a desk
    needs_unit = run(migrated, "staff", "roles", email, "--role", "desk_officer")
    assert needs_unit.exit_code == 2
    assert "unit" in needs_unit.output
    changed = run(migrated, "staff", "roles", email, "--role", "desk_officer", "--unit", "48")
    assert changed.exit_code == 0, changed.output
    assert json.loads(changed.stdout)["roles"] == ["desk_officer"]
    for args in (
        [email, "--role", "emperor"],
        ["nobody@x.vn", "--role", "auditor"],
        [email, "--role", "desk_officer", "--unit", "999999"],
    ):
        bad = run(migrated, "staff", "roles", *args)
        assert bad.exit_code == 2, bad.output
