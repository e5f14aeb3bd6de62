"""Two console actions at once on one portal, over real HTTP on PostgreSQL: one documented
outcome each, never a 500.

- two rotations: both answer with a new secret, and both secrets work during the grace
  period (the portal's row is locked: the second rotation keeps the first's secret as
  its previous one);
- an edit and a deletion of a suspended portal: the deletion wins or waits; the edit
  then meets no portal and says so (404/409), never a 500;
- two deletions: both end on the list, the portal is gone.
"""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from idp.portals.models import Portal
from tests.admin.test_console_portals import registration
from tests.support.forms import csrf_token
from tests.support.staff import live_staff

pytestmark = pytest.mark.live

CONSOLE = "/staff/console"


@pytest.fixture
def http(live: Any, backend: Any, clock: Any) -> Any:
    if backend.name != "server":
        pytest.skip("concurrency is a PostgreSQL matter (SQLite serialises every writer)")
    return live_staff(live, clock, ("portal_manager",), f"pm.{uuid.uuid4().hex[:8]}@so.gov.vn")


def _twice(http: Any, url: str, forms: list[dict[str, Any]]) -> list[Any]:
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(http.post, url, data=form, timeout=30, allow_redirects=False)
            for form in forms
        ]
        return [f.result() for f in futures]


def test_two_rotations_at_once_both_hand_out_working_secrets(live, http):
    reg = live.register_portal()
    url = f"{live.url}{CONSOLE}/portals/{reg['client_id']}/rotate"
    token = csrf_token(http.get(url, timeout=10).text)
    form = {"grace": "10", "unit": "minutes", "csrf_token": token}
    for _round in range(6):  # a race: several rounds, so that a lost update shows
        answers = _twice(http, url, [form, form])
        assert [a.status_code for a in answers] == [200, 200]
        secrets = [re.search(r'id="client-secret">([^<]+)<', a.text).group(1) for a in answers]
        assert secrets[0] != secrets[1]
        with live.session() as db:
            portal = db.scalar(select(Portal).where(Portal.client_id == reg["client_id"]))
            assert all(portal.check_client_secret(s) for s in secrets)


def test_an_edit_meeting_a_deletion_is_refused_cleanly(live, http):
    reg = live.register_portal(redirect_uris=["https://dvc.example.gov.vn/callback"])
    base = f"{live.url}{CONSOLE}/portals/{reg['client_id']}"
    token = csrf_token(http.get(base, timeout=10).text)
    http.post(f"{base}/suspend", data={"csrf_token": token}, timeout=10)
    with ThreadPoolExecutor(2) as pool:
        edit = pool.submit(
            http.post,
            f"{base}/edit",
            data={**registration(), "csrf_token": token},
            timeout=30,
            allow_redirects=False,
        )
        delete = pool.submit(
            http.post,
            f"{base}/delete",
            data={"csrf_token": token},
            timeout=30,
            allow_redirects=False,
        )
        edited, deleted = edit.result(), delete.result()
    assert deleted.status_code in (303, 404), deleted.status_code
    assert edited.status_code in (303, 404, 409), edited.status_code
    with live.session() as db:
        assert db.scalar(select(Portal).where(Portal.client_id == reg["client_id"])) is None


def test_two_deletions_at_once(live, http):
    reg = live.register_portal()
    base = f"{live.url}{CONSOLE}/portals/{reg['client_id']}"
    token = csrf_token(http.get(base, timeout=10).text)
    http.post(f"{base}/suspend", data={"csrf_token": token}, timeout=10)
    answers = _twice(http, f"{base}/delete", [{"csrf_token": token}] * 2)
    assert sorted(a.status_code for a in answers) in ([303, 303], [303, 404])
    with live.session() as db:
        assert db.scalar(select(Portal).where(Portal.client_id == reg["client_id"])) is None
