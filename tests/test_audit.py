"""The audit trail: audited events become rows chained by SHA-256; any edit, deletion or
reordering breaks the chain at that row; parallel writers never fork it. Both backends."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from idp import audit, events, migrate
from idp.audit import AuditEvent
from idp.db import make_engine
from tests.conftest import PG_URL, _drop_database, _private_database
from tests.support.factories import new_citizen
from tests.support.useragent import page_csrf


@pytest.fixture
def fresh(backend) -> Any:
    """A database of the test's own (the chain is the whole table)."""
    if backend.name == "server":
        url = _private_database(PG_URL)
    else:
        url = f"sqlite:///{backend.run_prefix.strip(':')}-{uuid.uuid4().hex[:8]}.sqlite3"
        url = url.replace("sqlite:///", "sqlite:////tmp/")
    migrate.upgrade(url, "head")
    engine = make_engine(url)
    yield engine
    engine.dispose()
    if backend.name == "server":
        _drop_database(url)


def _events(n: int, tag: str = "") -> list[tuple[str, dict[str, Any], dt.datetime]]:
    now = dt.datetime.now(dt.UTC)
    return [("portal.updated", {"portal_id": f"p{tag}{i}", "n": i}, now) for i in range(n)]


def test_a_refused_sign_in_is_audited_without_personal_values(client, db, settings):
    citizen = new_citizen(db, settings)
    before = db.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
    token = page_csrf(client, "/signin")
    resp = client.post(
        "/signin",
        data={"identifier": citizen.identifier, "password": "wrong!", "csrf_token": token},
    )
    assert resp.status_code == 401
    rows = db.scalars(select(AuditEvent).where(AuditEvent.seq > before)).all()
    assert "signin.failed" in [r.name for r in rows]
    text_ = json.dumps([r.data for r in rows], ensure_ascii=False)
    for value in (citizen.identifier, citizen.profile["phone"], citizen.profile["family_name"]):
        assert value not in text_
    assert audit.verify(db).ok


def test_only_audited_events_are_kept(fresh):
    with Session(fresh) as db, audit.collecting(db):
        events.emit("claims.released", portal_id="p", claims="sub name")  # routine
        events.emit("portal.disabled", portal_id="p")
    with Session(fresh) as db:
        assert [r.name for r in db.scalars(select(AuditEvent))] == ["portal.disabled"]


def test_the_chain_verifies_and_each_kind_of_tampering_breaks_it(fresh):
    with Session(fresh) as db:
        audit.append(db, _events(6))
        assert audit.verify(db) == audit.Verdict(6)
        # An edited row.
        db.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(data={"n": 99}))
        db.commit()
        assert audit.verify(db).broken_at == 3
        db.execute(
            update(AuditEvent).where(AuditEvent.seq == 3).values(data={"n": 2, "portal_id": "p2"})
        )
        db.commit()
        assert audit.verify(db).ok
        # An edited row whose hash was recomputed: the next row no longer follows it.
        row = db.get(AuditEvent, 4)
        row.data = {"n": 42}
        row.hash = audit.chain_hash(row.prev_hash, row.seq, row.at, row.name, row.data)
        db.commit()
        assert audit.verify(db).broken_at == 5


@pytest.mark.parametrize("tamper", ["delete", "reorder"])
def test_deleting_or_reordering_rows_breaks_the_chain(fresh, tamper):
    with Session(fresh) as db:
        audit.append(db, _events(5))
        if tamper == "delete":
            db.execute(text("DELETE FROM audit_events WHERE seq = 3"))
        else:
            db.execute(text("UPDATE audit_events SET seq = 100 WHERE seq = 2"))
            db.execute(text("UPDATE audit_events SET seq = 2 WHERE seq = 4"))
            db.execute(text("UPDATE audit_events SET seq = 4 WHERE seq = 100"))
        db.commit()
        verdict = audit.verify(db)
        assert not verdict.ok
        assert verdict.broken_at == (3 if tamper == "delete" else 2)


def test_parallel_writers_leave_one_unbroken_chain(fresh):
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for _ in range(10):
                with Session(fresh) as db:
                    audit.append(db, _events(2, tag=f"w{n}-"))
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with Session(fresh) as db:
        assert audit.verify(db) == audit.Verdict(160)
        seqs = db.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
        assert seqs == list(range(1, 161))


def test_commands_are_audited_and_the_cli_verifies_and_exports(tmp_path):
    from click.testing import CliRunner

    from idp.cli import main

    env = {
        "IDP_DATA_DIR": str(tmp_path / "data"),
        "IDP_ARGON2_MEMORY_KIB": "1024",
        "IDP_ARGON2_TIME_COST": "1",
    }
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    assert run("db", "upgrade").exit_code == 0
    assert (
        run("staff", "add", "a@motcua.vn", "--role", "desk_officer", "--unit", "48").exit_code == 0
    )
    ok = run("audit", "verify")
    assert ok.exit_code == 0
    assert "ok: 2 rows" in ok.output  # staff.added, staff.setup_link_issued
    lines = [
        json.loads(x) for x in run("audit", "export", "--from", "2000-01-01").output.splitlines()
    ]
    assert [x["name"] for x in lines] == ["staff.added", "staff.setup_link_issued"]
    assert run("audit", "export", "--to", "2000-01-01").output == ""
    assert run("audit", "export", "--from", "yesterday").exit_code == 2
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'idp.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET name = 'staff.removed' WHERE seq = 1"))
    engine.dispose()
    broken = run("audit", "verify")
    assert broken.exit_code == 1
    assert "broken at row 1" in broken.output


def test_search_filters_by_name_portal_time_and_pages_newest_first(fresh):
    now = dt.datetime.now(dt.UTC)
    old = now - dt.timedelta(days=3)
    with Session(fresh) as db:
        audit.append(
            db,
            [
                ("portal.suspended", {"portal_id": "pa"}, old),
                ("portal.updated", {"portal_id": "pa"}, now),
                ("portal.updated", {"portal_id": "pb"}, now),
                ("signin.failed", {"reason": "password"}, now),
            ],
        )
        db.commit()
    with Session(fresh) as db:
        assert [r["name"] for r in audit.search(db)] == [
            "signin.failed",
            "portal.updated",
            "portal.updated",
            "portal.suspended",
        ]
        assert [r["data"]["portal_id"] for r in audit.search(db, portal_id="pa")] == ["pa", "pa"]
        assert len(audit.search(db, name="portal.updated")) == 2
        assert len(audit.search(db, name="portal.")) == 3
        assert audit.search(db, name="portal%") == []  # a prefix is literal, not a pattern
        recent = audit.search(db, start=now - dt.timedelta(days=1))
        assert "portal.suspended" not in [r["name"] for r in recent]
        assert [r["name"] for r in audit.search(db, end=now - dt.timedelta(days=1))] == [
            "portal.suspended"
        ]
        first = audit.search(db, limit=2)
        rest = audit.search(db, limit=2, before_seq=first[-1]["seq"])
        assert [r["seq"] for r in first + rest] == sorted(
            (r["seq"] for r in first + rest), reverse=True
        )
        assert len({r["seq"] for r in first + rest}) == 4
        assert audit.event_names(db) == ["portal.suspended", "portal.updated", "signin.failed"]
