"""An unknown account, a wrong password and a locked account take the same time to
refuse: argon2 runs on every path, with the production parameters (not the cheap ones
of the other tests), so that timing does not tell which accounts exist or are locked."""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import replace

from idp import create_app
from idp.citizens import service
from idp.config import DEFAULT_LIMITS, Settings
from idp.ratelimit import Limiter
from tests.support.factories import new_citizen
from tests.support.useragent import page_csrf

TRIES = 50
#: The same timing class: medians within this many seconds, or within this share of the
#: fastest median on a loaded machine (skipping the hash would make one kind about 100
#: times faster, far outside either).
SAME_CLASS = 0.020
SAME_SHARE = 0.25


def _app(settings: Settings, db, store, account_rule: str):
    rules = {**DEFAULT_LIMITS, "signin_account": account_rule, "signin_ip": "100000/minute"}
    tuned = replace(
        settings,
        limits=tuple(rules.items()),
        signin_delay_after=10_000,
        argon2_time_cost=Settings.argon2_time_cost,
        argon2_memory_kib=Settings.argon2_memory_kib,
        argon2_parallelism=Settings.argon2_parallelism,
    )
    app = create_app(
        tuned,
        engine=db.get_bind(),
        session_factory=lambda: db,
        store=store,
        limiter=Limiter(settings.redis_url, f"idp-test-timing-{uuid.uuid4().hex[:8]}:", rules),
    )
    app.config["TESTING"] = True
    return app, tuned


def test_unknown_wrong_and_locked_take_the_same_time(db, settings, store):
    open_app, tuned = _app(settings, db, store, "100000/15 minutes")
    locked_app, _ = _app(settings, db, store, "1/15 minutes")
    hasher = service.make_hasher(tuned)
    wrong_one, locked_one = new_citizen(db, settings), new_citizen(db, settings)
    for info in (wrong_one, locked_one):  # hashes with the production parameters
        service.get_citizen(db, info.id).password_hash = service.hash_password(
            hasher, info.password
        )
    db.commit()
    clients = {"open": open_app.test_client(), "locked": locked_app.test_client()}
    tokens = {name: page_csrf(client) for name, client in clients.items()}

    def attempt(kind: str) -> float:
        client = clients["locked" if kind == "locked" else "open"]
        identifier, password = {
            "unknown": (f"{uuid.uuid4().hex[:10]}@example.vn", "a wrong password here"),
            "wrong": (wrong_one.identifier, "a wrong password here"),
            "locked": (locked_one.identifier, locked_one.password),  # right, but locked
        }[kind]
        data = {"identifier": identifier, "password": password}
        data["csrf_token"] = tokens["locked" if kind == "locked" else "open"]
        start = time.perf_counter()
        resp = client.post("/signin", data=data)
        elapsed = time.perf_counter() - start
        assert resp.status_code == 401, (kind, resp.status_code)
        return elapsed

    first = clients["locked"].post(
        "/signin",
        data={
            "identifier": locked_one.identifier,
            "password": "a wrong password here",
            "csrf_token": tokens["locked"],
        },
    )
    assert first.status_code == 401  # the one failure the rule allows: locked from now on
    times: dict[str, list[float]] = {"unknown": [], "wrong": [], "locked": []}
    for _ in range(TRIES):
        for kind in times:  # interleaved, so that machine noise hits all alike
            times[kind].append(attempt(kind))
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    spread = max(medians.values()) - min(medians.values())
    assert spread < max(SAME_CLASS, SAME_SHARE * min(medians.values())), medians
    # The class is argon2's: each refusal did hash with the production parameters.
    assert min(medians.values()) > 0.005, medians
