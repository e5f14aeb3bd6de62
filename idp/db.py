"""SQLAlchemy 2.0 engine, sessions and the declarative ``Base``.

The schema exists only through Alembic migrations (``idp db upgrade``); nothing here
creates tables.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import DateTime, Engine, Index, MetaData, String, create_engine, event, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model, with a constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def unique_while_null(name: str, *columns: str, null_column: str) -> Index:
    """Return a partial unique index: unique among rows where ``null_column`` IS NULL.

    The shape of "at most one live row" (e.g. one live grant per citizen and portal).
    """
    where = text(f"{null_column} IS NULL")
    return Index(name, *columns, unique=True, sqlite_where=where, postgresql_where=where)


def utcnow() -> dt.datetime:
    """Return the current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def iso_utc(when: dt.datetime | None) -> str | None:
    """Return a datetime as RFC 3339 UTC text (``2026-11-29T19:09:00Z``), None for None."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def new_id() -> str:
    """Return a new random primary key (UUID4 text)."""
    return str(uuid.uuid4())


ID = String(36)


def make_engine(url: str, **kw: Any) -> Engine:
    """Create an engine; SQLite gets real transactions, WAL and foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL":
            # let SQLAlchemy emit BEGIN itself so savepoints work.
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock at the start: a transaction that reads and
            # then writes can otherwise fail at once with "database is locked" (WAL cannot
            # upgrade a stale snapshot) instead of waiting for the busy timeout. SQLite is
            # the single-process development default; production runs on PostgreSQL.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kw)


def init_app(app: Flask, engine: Engine, factory: sessionmaker[Session] | None = None) -> None:
    """Attach a session factory to the app; one session per request, closed after it."""
    app.extensions["idp.db"] = factory or sessionmaker(engine, expire_on_commit=False)
    app.extensions["idp.engine"] = engine

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("idp_db", None)
        if session is not None:
            session.rollback()
            session.close()


def get_db() -> Session:
    """Return this request's session."""
    if "idp_db" not in g:
        g.idp_db = current_app.extensions["idp.db"]()
    return g.idp_db
