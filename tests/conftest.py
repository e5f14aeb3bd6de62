"""Fixtures: the backend matrix, a migrated schema, a savepoint per test, live servers.

Every test that takes ``backend`` (directly or through ``db``, ``app``, ``client``,
``live``) runs twice: ``embedded`` (SQLite file + in-process store) and ``server``
(PostgreSQL + Redis). The server leg skips with its reason when the servers are absent,
unless IDP_TEST_REQUIRE_SERVER=1 (CI), where their absence is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from idp import create_app, keys, migrate
from idp.config import Settings
from idp.db import make_engine
from idp.ratelimit import Limiter
from idp.store import MemoryStore, RedisStore, Store

PG_URL = os.environ.get(
    "IDP_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVER = os.environ.get("IDP_TEST_REQUIRE_SERVER") == "1"
#: One key-encryption key for the whole run: every app, command and server the tests
#: start opens the signing keys of the shared databases with it.
TEST_KEK = os.environ.setdefault("IDP_KEY_ENCRYPTION_KEY", "test-key-encryption-key")
BACKENDS = [
    b.strip()
    for b in os.environ.get("IDP_TEST_BACKENDS", "embedded,server").split(",")
    if b.strip()
]


@dataclass
class Backend:
    """One leg of the matrix: where data and short-lived state live."""

    name: str
    database_url: str
    redis_url: str
    engine: Engine
    run_prefix: str

    def new_store(self) -> Store:
        """Return an empty store (a fresh key prefix on Redis)."""
        if self.redis_url:
            return RedisStore(self.redis_url, f"{self.run_prefix}{uuid.uuid4().hex[:8]}:")
        return MemoryStore()

    def new_limiter(self, settings: Settings) -> Limiter:
        """Return limits with no attempt counted yet (a fresh key prefix on Redis)."""
        prefix = f"{self.run_prefix}{uuid.uuid4().hex[:8]}:"
        return Limiter(self.redis_url, prefix, dict(settings.limits))


def _server_unavailable() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        return f"Redis at {REDIS_URL} unreachable ({exc.__class__.__name__})"
    try:
        engine = make_engine(PG_URL)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {PG_URL} unreachable ({exc.__class__.__name__})"
    return None


def _private_database(url: str) -> str:
    """Create a database of this run's own next to ``url`` (runs never share rows)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"idp_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = make_engine(
        target.set(database=make_url(PG_URL).database).render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def base_settings(data_dir: Path, **kw: Any) -> Settings:
    """Settings for tests: cheap argon2 parameters, fixed issuer."""
    defaults: dict[str, Any] = {
        "issuer": "http://127.0.0.1:5000",
        "data_dir": data_dir,
        "secret_key": "test-secret-key-" + uuid.uuid4().hex,
        "pairwise_salt": "test-pairwise-salt",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        "key_encryption_key": TEST_KEK,
    }
    defaults.update(kw)
    return Settings(**defaults).resolved()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """Yield a migrated backend (the schema built by ``alembic upgrade head``)."""
    name = request.param
    if name == "server":
        reason = _server_unavailable()
        if reason:
            if REQUIRE_SERVER:
                pytest.fail(f"server backend required but {reason}")
            pytest.skip(f"server backend skipped: {reason}")
        url, redis_url = _private_database(PG_URL), REDIS_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'idp.sqlite3'}"
        redis_url = ""
    migrate.upgrade(url, "head")
    engine = make_engine(url)
    keys.configure(TEST_KEK)
    with Session(engine) as session:
        keys.ensure_keys(session)
    prefix = f"idptest:{uuid.uuid4().hex[:8]}:"
    yield Backend(name, url, redis_url, engine, prefix)
    engine.dispose()
    if name == "server":
        _drop_database(url)
    if redis_url:
        import redis

        r = redis.Redis.from_url(redis_url)
        for key in r.scan_iter(f"{prefix}*"):
            r.delete(key)


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    """Settings pointing at the backend."""
    return base_settings(tmp_path, database_url=backend.database_url, redis_url=backend.redis_url)


@pytest.fixture
def db(backend: Backend) -> Iterator[Session]:
    """A session inside a transaction rolled back after the test (savepoint per commit)."""
    connection = backend.engine.connect()
    trans = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()
    trans.rollback()
    connection.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    """An empty short-lived state store of the backend's kind."""
    return backend.new_store()


@pytest.fixture
def app(settings: Settings, db: Session, store: Store, backend: Backend) -> Any:
    """The provider app, every request sharing the test's rolled-back session."""
    application = create_app(
        settings,
        engine=backend.engine,
        session_factory=lambda: db,
        store=store,
        limiter=backend.new_limiter(settings),
    )
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Any) -> Any:
    """A Flask test client."""
    return app.test_client()


@pytest.fixture
def app_ctx(app: Any) -> Iterator[Any]:
    """An application context (for calling service functions that need one)."""
    with app.test_request_context():
        yield app


@pytest.fixture
def inbox(settings: Settings) -> Any:
    """What the provider sent to citizens (its file outbox), see tests/support/inbox.py."""
    from tests.support.inbox import Inbox

    return Inbox(settings)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fixed clock for TOTP checks (``tests.support.totp.Clock``), moved by hand."""
    from idp.citizens import factors
    from tests.support.totp import Clock

    fixed = Clock()
    monkeypatch.setattr(factors, "time", fixed)
    return fixed


# -- live servers over real HTTP -------------------------------------------------------


from tests.support.live import LiveServer, start_live_server  # noqa: E402


@pytest.fixture(scope="session")
def live(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A provider served over real HTTP on a free loopback port, committed data."""
    server = start_live_server(backend, tmp_path_factory.mktemp("live"))
    yield server
    server.stop()
