"""The short-lived state store on both backends: TTLs, atomic take, counters."""

from __future__ import annotations

import threading
import time


def test_put_get_delete(store):
    store.put("k", {"a": 1}, 60)
    assert store.get("k") == {"a": 1}
    store.delete("k")
    assert store.get("k") is None


def test_take_is_single_use(store):
    store.put("code", {"v": "x"}, 60)
    assert store.take("code") == {"v": "x"}
    assert store.take("code") is None


def test_take_is_atomic_under_concurrency(store):
    store.put("race", {"v": 1}, 60)
    winners = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        if store.take("race") is not None:
            winners.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert winners == [1]


def test_add_only_if_absent(store):
    assert store.add("once", {}, 60) is True
    assert store.add("once", {}, 60) is False


def test_values_expire(store):
    store.put("short", {"v": 1}, 1)
    deadline = time.monotonic() + 5
    while store.get("short") is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert store.get("short") is None


def test_incr_counts(store):
    assert [store.incr("n", 60) for _ in range(3)] == [1, 2, 3]


def test_ping(store):
    assert store.ping() is True


def test_queued_jobs_come_out_when_due_in_order(store):
    now = time.time()
    store.schedule("q", "b", {"n": 2}, now + 1, 60)
    store.schedule("q", "a", {"n": 1}, now - 5, 60)
    store.schedule("q", "c", {"n": 3}, now + 100, 60)
    assert store.claim_due("q", now, 10) == [{"n": 1}]
    assert store.claim_due("q", now + 2, 10) == [{"n": 2}]
    assert store.claim_due("q", now + 2, 10) == []
    assert store.claim_due("other", now + 200, 10) == []
    # Scheduling the same job id again moves it (a retry keeps its id).
    store.schedule("q", "c", {"n": 4}, now, 60)
    assert store.claim_due("q", now, 10) == [{"n": 4}]


def test_a_due_job_goes_to_one_claimer_only(store):
    now = time.time()
    for n in range(40):
        store.schedule("race", f"j{n}", {"n": n}, now, 60)
    got: list[int] = []

    def claim() -> None:
        for _ in range(5):
            got.extend(job["n"] for job in store.claim_due("race", now, 7))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(40))
