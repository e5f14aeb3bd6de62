"""Declaring purposes from the command line: ``idp clients add --purposes FILE`` and
``idp clients purposes CLIENT_ID FILE``. A new notice version only on a change; bad
declarations exit 2 with a clear message and write nothing. Both backends."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.cli import main
from idp.consent.models import Notice
from idp.portals.models import Portal

PURPOSES: dict[str, Any] = {
    "name": {
        "purpose": {
            "vi": "Để điền sẵn tên người nộp thuế",
            "en": "To pre-fill the taxpayer's name",
        },
        "required": True,
    },
    "email": {
        "purpose": {"vi": "Để gửi biên lai điện tử", "en": "To send e-receipts"},
        "required": False,
    },
    "cccd": {
        "purpose": {"vi": "Để tra mã số thuế cá nhân", "en": "To find your tax code"},
        "required": True,
    },
}


@pytest.fixture
def env(backend, tmp_path) -> dict[str, str]:
    """The CLI pointed at the backend's (already migrated) database."""
    out = {"IDP_DATA_DIR": str(tmp_path / "data"), "IDP_DATABASE_URL": backend.database_url}
    if backend.redis_url:
        out["IDP_REDIS_URL"] = backend.redis_url
    return out


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


def write(tmp_path: Path, data: Any, name: str | None = None) -> str:
    path = tmp_path / (name or f"p-{uuid.uuid4().hex[:6]}.json")
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(
            data if isinstance(data, str) else json.dumps(data, ensure_ascii=False),
            encoding="utf-8",
        )
    return str(path)


def add(env: dict[str, str], tmp_path: Path, purposes: Any = None, name: str = "") -> Any:
    args = [
        "clients",
        "add",
        "--name",
        name or f"Cổng Thuế {uuid.uuid4().hex[:6]}",
        "--redirect-uri",
        "https://thue.example.vn/cb",
        "--scope",
        "openid profile email cccd",
    ]
    if purposes is not None:
        args += ["--purposes", write(tmp_path, purposes)]
    return run(env, *args)


def notices(backend: Any, client_id: str) -> list[Notice]:
    with Session(backend.engine) as db:
        portal_id = db.scalar(select(Portal.id).where(Portal.client_id == client_id))
        return list(
            db.scalars(
                select(Notice).where(Notice.portal_id == portal_id).order_by(Notice.version)
            ).all()
        )


def portals_named(backend: Any, name: str) -> int:
    with Session(backend.engine) as db:
        return int(
            db.scalar(select(func.count()).select_from(Portal).where(Portal.name == name)) or 0
        )


def test_add_with_purposes_publishes_version_1(env, tmp_path, backend):
    result = add(env, tmp_path, PURPOSES)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["notice_version"] == 1
    assert out["purposes"] == PURPOSES
    rows = notices(backend, out["client_id"])
    assert [n.version for n in rows] == [1]
    assert rows[0].purposes == PURPOSES
    assert len(rows[0].hash) == 64
    listed = json.loads(run(env, "clients", "list").stdout)
    mine = next(p for p in listed if p["client_id"] == out["client_id"])
    assert mine["notice_version"] == 1
    assert mine["purposes"] == PURPOSES


def test_add_without_purposes_warns(env, tmp_path, backend):
    result = add(env, tmp_path)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["notice_version"] is None
    assert "no purposes declared" in result.stderr
    assert notices(backend, out["client_id"]) == []


def test_purposes_new_version_only_on_change(env, tmp_path, backend):
    client_id = json.loads(add(env, tmp_path, PURPOSES).stdout)["client_id"]

    def declare(data: Any) -> dict[str, Any]:
        result = run(env, "clients", "purposes", client_id, write(tmp_path, data))
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    # The same declaration (keys in another order, spaces around words): no new version.
    same = {k: PURPOSES[k] for k in reversed(list(PURPOSES))}
    same["email"] = {
        "required": False,
        "purpose": {"en": "  To send   e-receipts ", "vi": "Để gửi biên lai điện tử"},
    }
    out = declare(same)
    assert out["notice_version"] == 1
    assert [n.version for n in notices(backend, client_id)] == [1]

    changed = json.loads(json.dumps(PURPOSES))
    changed["email"]["purpose"]["vi"] = "Để gửi thông báo nộp thuế"
    out = declare(changed)
    assert out["notice_version"] == 2
    assert out["purposes"]["email"]["purpose"]["vi"] == "Để gửi thông báo nộp thuế"

    changed["email"]["required"] = True
    assert declare(changed)["notice_version"] == 3
    del changed["cccd"]
    assert declare(changed)["notice_version"] == 4
    assert declare(changed)["notice_version"] == 4

    rows = notices(backend, client_id)
    assert [n.version for n in rows] == [1, 2, 3, 4]
    assert len({n.hash for n in rows}) == 4
    assert rows[0].purposes == PURPOSES  # earlier versions are kept as they were

    # From stdin as well.
    changed["email"]["purpose"]["en"] = "To send tax notices"
    result = run(env, "clients", "purposes", client_id, "-", stdin=json.dumps(changed))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["notice_version"] == 5


def _spec(**over: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"purpose": {"vi": "Mục đích", "en": "Purpose"}, "required": False}
    spec.update(over)
    return spec


BAD = [
    pytest.param("{not json", "not valid JSON", id="bad-json"),
    pytest.param(b"\xff\xfe{}", "not valid JSON", id="not-utf8"),
    pytest.param([{"name": _spec()}], "JSON object", id="array"),
    pytest.param("null", "JSON object", id="null"),
    pytest.param({"nickname": _spec()}, "nickname", id="unknown-claim"),
    pytest.param({"profile": _spec()}, "profile", id="scope-not-claim"),
    pytest.param({"family_name": _spec()}, "family_name", id="claim-not-item"),
    pytest.param({"name": _spec(purpose={"en": "Purpose"})}, "vi", id="missing-vi"),
    pytest.param({"name": _spec(purpose={"vi": "Mục đích"})}, "en", id="missing-en"),
    pytest.param({"name": _spec(purpose={"vi": "  ", "en": "Purpose"})}, "vi", id="blank-vi"),
    pytest.param({"name": _spec(purpose={"vi": 5, "en": "Purpose"})}, "vi", id="number-vi"),
    pytest.param({"name": _spec(purpose={"vi": "x" * 501, "en": "P"})}, "vi", id="long-vi"),
    pytest.param({"name": _spec(purpose="Để điền hồ sơ")}, "purpose", id="purpose-string"),
    pytest.param({"name": _spec(required="yes")}, "required", id="required-string"),
    pytest.param({"name": _spec(required=1)}, "required", id="required-number"),
    pytest.param({"name": _spec(required=None)}, "required", id="required-null"),
    pytest.param({"name": "required"}, "name", id="spec-string"),
    pytest.param({"email": _spec(), "cccd": _spec(required="no")}, "required", id="one-bad-of-two"),
    # The registration (openid profile email cccd) is the upper bound of any purpose.
    pytest.param(
        {"name": _spec(), "address": _spec()},
        "'address' needs the 'address' scope",
        id="outside-registered-scopes",
    ),
    pytest.param(
        {"phone_number": _spec()}, "'phone_number' needs the 'phone' scope", id="needs-phone"
    ),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_bad_declarations_exit_2_and_write_nothing(env, tmp_path, backend, data, message):
    # On an existing portal: the notice stays as it was.
    client_id = json.loads(add(env, tmp_path, PURPOSES).stdout)["client_id"]
    result = run(env, "clients", "purposes", client_id, write(tmp_path, data))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error:")
    assert message in result.stderr
    assert [n.version for n in notices(backend, client_id)] == [1]

    # At registration: no portal is registered.
    name = f"Cổng hỏng {uuid.uuid4().hex[:6]}"
    result = add(env, tmp_path, data, name=name)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "client_secret" not in result.output
    assert portals_named(backend, name) == 0


def test_purposes_for_an_unknown_portal_exits_2(env, tmp_path):
    result = run(env, "clients", "purposes", "no-such-client", write(tmp_path, PURPOSES))
    assert result.exit_code == 2
    assert "client_id" in result.stderr


def test_purposes_file_missing_exits_2(env, tmp_path):
    client_id = json.loads(add(env, tmp_path, PURPOSES).stdout)["client_id"]
    result = run(env, "clients", "purposes", client_id, str(tmp_path / "missing.json"))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
