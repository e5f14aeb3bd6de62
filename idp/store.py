"""Short-lived shared state: sign-in sessions, interactions, codes, rate limits, guards.

Redis when ``IDP_REDIS_URL`` is set, an in-process dictionary otherwise (development and
tests, one process). Values are JSON objects. ``take`` is an atomic get-and-delete
(Redis GETDEL), the primitive behind single-use codes (RFC 6749 §4.1.2).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Protocol

JSON = dict[str, Any]


class Store(Protocol):
    """What every store backend offers."""

    def put(self, key: str, value: JSON, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds."""

    def add(self, key: str, value: JSON, ttl: int) -> bool:
        """Store only if ``key`` is absent; return whether it was stored."""

    def get(self, key: str) -> JSON | None:
        """Return the value under ``key`` or None."""

    def take(self, key: str) -> JSON | None:
        """Atomically return and delete the value under ``key``."""

    def delete(self, key: str) -> None:
        """Delete ``key`` if present."""

    def incr(self, key: str, ttl: int) -> int:
        """Increment a counter that expires ``ttl`` seconds after its first increment."""

    def ping(self) -> bool:
        """Return whether the backend answers."""

    def schedule(self, queue: str, job_id: str, value: JSON, due: float, ttl: int) -> None:
        """Queue a job to run at ``due`` (epoch seconds); it is dropped after ``ttl``."""

    def claim_due(self, queue: str, now: float, limit: int) -> list[JSON]:
        """Take up to ``limit`` jobs due by ``now``: each is handed to one caller only."""


class MemoryStore:
    """In-process store for one process; thread-safe, expiring lazily."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, Any]] = {}
        self._queues: dict[str, dict[str, tuple[float, float, str]]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> Any | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[0] <= time.monotonic():
            del self._data[key]
            return None
        return item[1]

    def _sweep(self) -> None:
        if len(self._data) > 10000:
            now = time.monotonic()
            for k in [k for k, (exp, _) in self._data.items() if exp <= now]:
                del self._data[k]

    def put(self, key: str, value: JSON, ttl: int) -> None:
        blob = json.dumps(value)
        with self._lock:
            self._sweep()
            self._data[key] = (time.monotonic() + ttl, blob)

    def add(self, key: str, value: JSON, ttl: int) -> bool:
        blob = json.dumps(value)
        with self._lock:
            if self._live(key) is not None:
                return False
            self._data[key] = (time.monotonic() + ttl, blob)
            return True

    def get(self, key: str) -> JSON | None:
        with self._lock:
            blob = self._live(key)
        return None if blob is None else json.loads(blob)

    def take(self, key: str) -> JSON | None:
        with self._lock:
            blob = self._live(key)
            self._data.pop(key, None)
        return None if blob is None else json.loads(blob)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def incr(self, key: str, ttl: int) -> int:
        with self._lock:
            current = self._live(key)
            if current is None:
                self._data[key] = (time.monotonic() + ttl, 1)
                return 1
            exp, _ = self._data[key]
            self._data[key] = (exp, current + 1)
            return current + 1

    def ping(self) -> bool:
        return True

    def schedule(self, queue: str, job_id: str, value: JSON, due: float, ttl: int) -> None:
        blob = json.dumps(value)
        with self._lock:
            self._queues.setdefault(queue, {})[job_id] = (due, time.monotonic() + ttl, blob)

    def claim_due(self, queue: str, now: float, limit: int) -> list[JSON]:
        out: list[JSON] = []
        with self._lock:
            jobs = self._queues.get(queue, {})
            alive = time.monotonic()
            for job_id, (due, expires, blob) in sorted(jobs.items(), key=lambda kv: kv[1][0]):
                if len(out) >= limit or due > now:
                    break
                del jobs[job_id]
                if expires > alive:
                    out.append(json.loads(blob))
        return out


class RedisStore:
    """Redis-backed store shared by every worker."""

    def __init__(self, url: str, prefix: str = "idp:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = prefix

    def _k(self, key: str) -> str:
        return self._prefix + key

    def put(self, key: str, value: JSON, ttl: int) -> None:
        self._redis.set(self._k(key), json.dumps(value), ex=ttl)

    def add(self, key: str, value: JSON, ttl: int) -> bool:
        return bool(self._redis.set(self._k(key), json.dumps(value), ex=ttl, nx=True))

    def get(self, key: str) -> JSON | None:
        blob = self._redis.get(self._k(key))
        return None if blob is None else json.loads(blob)

    def take(self, key: str) -> JSON | None:
        blob = self._redis.getdel(self._k(key))
        return None if blob is None else json.loads(blob)

    def delete(self, key: str) -> None:
        self._redis.delete(self._k(key))

    def incr(self, key: str, ttl: int) -> int:
        pipe = self._redis.pipeline()
        pipe.incr(self._k(key))
        pipe.expire(self._k(key), ttl, nx=True)
        count, _ = pipe.execute()
        return int(count)

    def ping(self) -> bool:
        return bool(self._redis.ping())

    def schedule(self, queue: str, job_id: str, value: JSON, due: float, ttl: int) -> None:
        pipe = self._redis.pipeline()
        pipe.set(self._k(f"job:{queue}:{job_id}"), json.dumps(value), ex=ttl)
        pipe.zadd(self._k(f"queue:{queue}"), {job_id: due})
        pipe.execute()

    def claim_due(self, queue: str, now: float, limit: int) -> list[JSON]:
        key = self._k(f"queue:{queue}")
        out: list[JSON] = []
        for raw in self._redis.zrangebyscore(key, "-inf", now, start=0, num=limit):
            job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
            # ZREM succeeds for one worker only: that worker owns the job.
            if self._redis.zrem(key, job_id) != 1:
                continue
            blob = self._redis.getdel(self._k(f"job:{queue}:{job_id}"))
            if blob is not None:
                out.append(json.loads(blob))
        return out


def make_store(redis_url: str, prefix: str = "idp:") -> Store:
    """Return a Redis store when a URL is given, the in-process store otherwise."""
    if redis_url:
        return RedisStore(redis_url, prefix)
    return MemoryStore()
