"""Two administrators' writes to one portal at once, on PostgreSQL over real HTTP: one
documented outcome each, never a 500 (a row lock serialises them)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.admin.helpers import bearer, staff_token
from tests.interop.conftest import TIMEOUT

pytestmark = pytest.mark.live


@pytest.fixture
def api(live: Any, backend: Any) -> Callable[..., requests.Response]:
    if backend.name != "server":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises every writer)")
    with live.session() as db:
        token, _ = staff_token(db, "admin")

    def call(method: str, path: str, **kw: Any) -> requests.Response:
        return requests.request(
            method, f"{live.url}/admin/api{path}", headers=bearer(token), timeout=TIMEOUT, **kw
        )

    return call


def _at_once(*calls: Callable[[], requests.Response]) -> list[requests.Response]:
    """Run the calls in threads released together; return their responses in order."""
    gate = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], requests.Response]) -> None:
        gate.wait()
        out[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return out


def _portal(live: Any) -> str:
    return live.register_portal(scope="openid profile")["client_id"]


@pytest.mark.parametrize("round_", range(3))
def test_two_suspends_both_succeed_once(live, api, round_):
    cid = _portal(live)
    first, second = _at_once(
        lambda: api("POST", f"/portals/{cid}/suspend"),
        lambda: api("POST", f"/portals/{cid}/suspend"),
    )
    assert (first.status_code, second.status_code) == (200, 200)
    assert sorted([first.json()["already"], second.json()["already"]]) == [False, True]


@pytest.mark.parametrize("round_", range(3))
def test_two_deletes_one_deletes_the_other_finds_nothing(live, api, round_):
    cid = _portal(live)
    assert api("POST", f"/portals/{cid}/suspend").status_code == 200
    answers = _at_once(
        lambda: api("DELETE", f"/portals/{cid}"), lambda: api("DELETE", f"/portals/{cid}")
    )
    assert sorted(r.status_code for r in answers) == [200, 404]
    assert api("GET", f"/portals/{cid}").status_code == 404


@pytest.mark.parametrize("round_", range(3))
def test_a_delete_racing_a_suspend(live, api, round_):
    cid = _portal(live)
    suspend, delete = _at_once(
        lambda: api("POST", f"/portals/{cid}/suspend"), lambda: api("DELETE", f"/portals/{cid}")
    )
    assert suspend.status_code == 200
    # Suspended first: deleted; deleted first: refused (it was active), still suspended.
    assert delete.status_code in (200, 409)
    after = api("GET", f"/portals/{cid}")
    if delete.status_code == 200:
        assert after.status_code == 404
    else:
        assert delete.json()["field"] == "client_id"
        assert after.json()["disabled"] is True


def test_two_updates_both_apply_in_turn(live, api):
    cid = _portal(live)
    answers = _at_once(
        lambda: api("PATCH", f"/portals/{cid}", json={"name_en": "First"}),
        lambda: api("PATCH", f"/portals/{cid}", json={"name_en": "Second"}),
    )
    assert [r.status_code for r in answers] == [200, 200]
    assert api("GET", f"/portals/{cid}").json()["client_name#en"] in ("First", "Second")


def test_two_secret_rotations_leave_one_secret_and_its_predecessor(live, api):
    cid = _portal(live)
    answers = _at_once(
        lambda: api("POST", f"/portals/{cid}/rotate-secret", json={"grace": 600}),
        lambda: api("POST", f"/portals/{cid}/rotate-secret", json={"grace": 600}),
    )
    assert [r.status_code for r in answers] == [200, 200]
    secrets = [r.json()["client_secret"] for r in answers]
    # Serialised: both secrets work (the later one, and the earlier within its grace).
    for secret in secrets:
        resp = requests.post(
            f"{live.url}/token",
            data={"grant_type": "refresh_token", "refresh_token": "x"},
            auth=(cid, secret),
            timeout=TIMEOUT,
        )
        assert resp.json()["error"] == "invalid_grant"
