"""A signed-in member of staff takes a personal admin token from /staff/api-token."""

from __future__ import annotations

import re

from idp.admin import apitokens
from tests.admin.helpers import API, bearer
from tests.consent.helpers import body
from tests.support.forms import csrf_token
from tests.support.staff import add_officer, set_up, staff_sign_in


def _signed_in(client, db, settings, clock, *roles):
    staff_id, link = add_officer(db, settings, roles=roles)
    key = set_up(client, link, clock)
    assert staff_sign_in(client, key, clock).status_code == 303
    return staff_id


def _issue(client):
    page = client.get("/staff/api-token?lang=en")
    assert page.status_code == 200
    return client.post("/staff/api-token?lang=en", data={"csrf_token": csrf_token(body(page))})


def test_the_token_is_shown_once_with_the_roles_scopes(client, db, settings, clock):
    _signed_in(client, db, settings, clock, "auditor")
    page = client.get("/staff/api-token?lang=en")
    assert "admin:audit admin:figures" in body(page)
    assert 'id="api-token"' not in body(page)
    issued = _issue(client)
    assert issued.status_code == 200
    assert issued.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="api-token">([^<]+)<', body(issued)).group(1)
    assert client.get(f"{API}/audit", headers=bearer(token)).status_code == 200
    assert client.get(f"{API}/portals", headers=bearer(token)).status_code == 403
    # Shown once: the page does not show it again, and the database holds its digest only.
    assert token not in body(client.get("/staff/api-token?lang=en"))
    row = db.scalar(
        apitokens.select(apitokens.AdminToken).where(
            apitokens.AdminToken.token_hash == apitokens.digest(token)
        )
    )
    assert row is not None
    assert (row.expires_at - row.issued_at).total_seconds() <= min(
        apitokens.STAFF_TOKEN_TTL, settings.staff_session_ttl
    )


def test_issuing_needs_the_pages_csrf_token(client, db, settings, clock):
    _signed_in(client, db, settings, clock, "admin")
    refused = client.post("/staff/api-token?lang=en", data={})
    assert refused.status_code == 400
    assert 'id="api-token"' not in body(refused)


def test_a_desk_officer_gets_a_clear_403(client, db, settings, clock):
    _signed_in(client, db, settings, clock, "desk_officer")
    assert client.get("/staff/api-token?lang=en").status_code == 403


def test_without_a_staff_session_it_is_the_sign_in_page(client):
    resp = client.get("/staff/api-token")
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/staff/signin")
