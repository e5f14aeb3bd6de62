"""The audit trail: security events and administrators' actions, appended as a hash chain.

Every named event (``idp.events``) whose name is audited (``AUDITED``) becomes a row of
``audit_events``: its sequence number, time, name and payload (ids, claim names and
outcomes, never personal values), the SHA-256 of the previous row (``prev_hash``) and
its own (``hash``, over the previous hash and the row's canonical JSON). Changing,
deleting or reordering a row breaks the chain at that row: ``verify`` (``idp audit
verify``) finds the first broken link.

Events are collected during a request (or a command, or a worker round) and written
when it ends, in a transaction of their own, after the request's own work was committed
or rolled back: a refused sign-in is audited although nothing else was written. Writers
are serialised (a PostgreSQL transaction-level advisory lock; SQLite's write lock), so
concurrent writers never fork the chain.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask, g, has_app_context
from sqlalchemy import JSON, Integer, String, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp import events
from idp.db import Base, UTCDateTime, get_db, iso_utc, utcnow


class AuditEvent(Base):
    """One audited event, chained to the previous one by its hash."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    name: Mapped[str] = mapped_column(String(60), index=True)
    data: Mapped[dict] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


#: Event names audited: exact names, or a prefix ending in ".".
AUDITED = (
    "signin.failed",
    "signin.locked",
    "code.locked",
    "second_factor.enrolled",
    "second_factor.removed",
    "second_factor.replayed",
    "recovery_code.used",
    "recovery_codes.generated",
    "recovery.completed",
    "citizen.password_set",
    "citizen.desk_reset",
    "citizen.deleted",
    "citizen.identity_corrected",
    "consent.",
    "notice.published",
    "portal.",
    "refresh_token.reused",
    "authorization_code.replayed",
    "backchannel.gave_up",
    "backchannel.refused",
    "staff.",
    "identity.",
    "session.ended_all",
    "session.not_me",
    "key.",
    "audit.",
    # Administrators' actions through the admin API, naming the acting staff account or
    # automation client; admin tokens issued and revoked.
    "admin.",
)

log = logging.getLogger("idp.audit")

GENESIS = "0" * 64
_LOCK_KEY = 727_001  # the advisory lock serialising audit writers on PostgreSQL
_MAX_VALUE = 200

#: Events collected outside an app context (commands): set by ``collecting``.
_pending: contextvars.ContextVar[list[tuple[str, dict[str, Any], dt.datetime]] | None] = (
    contextvars.ContextVar("idp_audit_pending", default=None)
)


def audited(name: str) -> bool:
    """Return whether events named ``name`` go into the audit trail."""
    return any(name == a or (a.endswith(".") and name.startswith(a)) for a in AUDITED)


def _clean(payload: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in sorted(payload.items()):
        if value is None or isinstance(value, bool | int | float):
            out[key] = value
        else:
            out[key] = str(value)[:_MAX_VALUE]
    return out


def _collect(name: str, payload: dict[str, Any]) -> None:
    if not audited(name):
        return
    item = (name, _clean(payload), utcnow())
    outside = _pending.get()
    if outside is not None:
        outside.append(item)
    elif has_app_context():
        g.setdefault("idp_audit", []).append(item)


events.subscribe(_collect)


def canonical(seq: int, at: dt.datetime, name: str, data: dict[str, Any]) -> str:
    """Return the canonical JSON of a row (what its hash covers, with the previous hash)."""
    body = {"seq": seq, "at": iso_utc(at), "name": name, "data": data}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chain_hash(prev_hash: str, seq: int, at: dt.datetime, name: str, data: dict[str, Any]) -> str:
    """Return a row's hash: SHA-256 over the previous row's hash and its canonical form."""
    raw = prev_hash + "\n" + canonical(seq, at, name, data)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def append(db: Session, items: Iterable[tuple[str, dict[str, Any], dt.datetime]]) -> int:
    """Append events to the chain in one transaction of their own; return how many."""
    rows = list(items)
    if not rows:
        return 0
    db.rollback()  # never commit anybody else's unfinished work
    if db.get_bind().dialect.name == "postgresql":
        # Waiting is bounded: a writer stuck behind a lock for this long fails (logged,
        # and the request's own answer is unaffected) rather than hold a worker.
        db.execute(text("SET LOCAL lock_timeout = '10s'"))
        db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = db.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    for name, data, at in rows:
        seq += 1
        digest = chain_hash(prev, seq, at, name, data)
        db.add(AuditEvent(seq=seq, at=at, name=name, data=data, prev_hash=prev, hash=digest))
        prev = digest
    db.commit()
    return len(rows)


def init_app(app: Flask) -> None:
    """Write the events a request (or a worker's round) collected when it ends."""

    @app.teardown_appcontext
    def _write(_exc: BaseException | None) -> None:
        pending = g.pop("idp_audit", None)
        if not pending:
            return
        if "idp_db" in g:
            db = get_db()  # the request's session (idp.db closes it)
        else:
            # A session of its own (after commit it holds no connection).
            db = app.extensions["idp.db"]()
            if db.in_transaction():
                # The work here ran on a session somebody else manages (a test driving
                # services directly): never roll back or commit their work.
                log.debug("audit: %d event(s) not written: the session is not ours", len(pending))
                return
        try:
            append(db, pending)
        except SQLAlchemyError:
            db.rollback()
            log.exception("audit: %d event(s) could not be written", len(pending))


@contextmanager
def collecting(db: Session) -> Iterator[None]:
    """Collect the events of a command (no app context) and append them at the end."""
    token = _pending.set([])
    try:
        yield
    finally:
        pending = _pending.get() or []
        _pending.reset(token)
        if pending:
            append(db, pending)


@dataclass(frozen=True)
class Verdict:
    """The outcome of walking the chain: rows checked, and the first broken one."""

    rows: int
    broken_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(db: Session, batch: int = 1000) -> Verdict:
    """Walk the chain from the first row; return where it first breaks, if anywhere."""
    expected_seq, prev, checked, after = 1, GENESIS, 0, 0
    while True:
        rows = db.scalars(
            select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return Verdict(checked)
        for row in rows:
            if row.seq != expected_seq:
                return Verdict(checked, expected_seq, f"row {expected_seq} is missing")
            if row.prev_hash != prev:
                return Verdict(checked, row.seq, "it does not follow the previous row")
            if chain_hash(prev, row.seq, row.at, row.name, row.data or {}) != row.hash:
                return Verdict(checked, row.seq, "its content does not match its hash")
            prev, expected_seq, after = row.hash, row.seq + 1, row.seq
            checked += 1


def export(
    db: Session, *, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Yield the rows (oldest first) between two times, as JSON data."""
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if start is not None:
        query = query.where(AuditEvent.at >= start)
    if end is not None:
        query = query.where(AuditEvent.at < end)
    for row in db.scalars(query.execution_options(yield_per=500)):
        yield _as_dict(row)


def search(
    db: Session,
    *,
    name: str | None = None,
    portal_id: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: int = 100,
    before_seq: int | None = None,
) -> list[dict[str, Any]]:
    """Return audited events, newest first, filtered by event name (exact, or a prefix
    ending in "."), portal (its internal id in the event's data), and time; page on with
    ``before_seq`` (the last row's ``seq``). ``limit`` is capped at 1000."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc())
    if name:
        if name.endswith("."):
            query = query.where(AuditEvent.name.startswith(name, autoescape=True))
        else:
            query = query.where(AuditEvent.name == name)
    if portal_id:
        query = query.where(AuditEvent.data["portal_id"].as_string() == portal_id)
    if start is not None:
        query = query.where(AuditEvent.at >= start)
    if end is not None:
        query = query.where(AuditEvent.at < end)
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    rows = db.scalars(query.limit(max(1, min(int(limit), 1000)))).all()
    return [_as_dict(row) for row in rows]


def event_names(db: Session) -> list[str]:
    """Return the names of the events recorded so far, sorted (for filters)."""
    return sorted(db.scalars(select(AuditEvent.name).distinct()).all())


def _as_dict(row: AuditEvent) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": iso_utc(row.at),
        "name": row.name,
        "data": row.data,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }
