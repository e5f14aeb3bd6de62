"""An interaction belongs to the browser that started it.

Its id travels in URLs (history, logs, a shared link): copied into another browser it
is unknown there, at every step, and stays usable by its own browser. The store keeps
only digests of the id and of the browser binding.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest

from tests.badinput.conftest import (
    REDIRECT_URI,
    CitizenInfo,
    PortalInfo,
    auth_params,
    check_error_page,
    csrf_from,
    csrf_token,
    location_params,
    sign_in,
)
from tests.consent.conftest import new_citizen
from tests.support.factories import make_portal

INTERACTION = re.compile(r'name="interaction" value="([^"]+)"')


@pytest.fixture
def portal(db: Any) -> PortalInfo:
    row, secret = make_portal(db, redirect_uris=[REDIRECT_URI])
    db.commit()
    return PortalInfo(row.client_id, secret, REDIRECT_URI, row.id)


@pytest.fixture
def victim(db: Any, settings: Any) -> CitizenInfo:
    return new_citizen(db, settings)


@pytest.fixture
def attacker(db: Any, settings: Any) -> CitizenInfo:
    return new_citizen(db, settings)


def start(client: Any, portal: PortalInfo) -> tuple[str, str]:
    """Start an authorization; return (the page it sends the browser to, interaction id)."""
    resp = client.get("/authorize", query_string=auth_params(portal))
    assert resp.status_code == 303, resp.status_code
    target, query = location_params(resp)
    return target, query["interaction"][0]


def finish(client: Any, portal: PortalInfo, resp: Any) -> dict[str, list[str]]:
    """Follow the provider's redirects and approve consent; return the portal's query."""
    for _ in range(6):
        if resp.status_code in (302, 303):
            target, query = location_params(resp)
            if target == portal.redirect_uri:
                return query
            resp = client.get(resp.headers["Location"])
            continue
        assert resp.request.path == "/consent", resp.request.path
        inter = INTERACTION.search(resp.get_data(as_text=True))
        assert inter
        resp = client.post(
            "/consent",
            data={
                "csrf_token": csrf_from(resp),
                "interaction": inter.group(1),
                "decision": "approve",
                "claim": ["profile"],
            },
        )
    raise AssertionError("too many steps")


def test_login_interaction_copied_to_another_browser(app, client, portal, victim, attacker):
    target, iid = start(client, portal)
    assert target == "/signin"
    thief = app.test_client()
    sign_in(thief, attacker)
    token = csrf_token(thief, "/signin")
    check_error_page(thief.get("/signin", query_string={"interaction": iid}), 400)
    check_error_page(
        thief.post(
            "/signin",
            data={
                "csrf_token": token,
                "interaction": iid,
                "identifier": attacker.identifier,
                "password": attacker.password,
            },
        ),
        400,
    )
    check_error_page(thief.get(f"/authorize/resume/{iid}"), 400)
    check_error_page(thief.get("/consent", query_string={"interaction": iid}), 400)
    # The rightful browser signs in and gets its code, for its own citizen.
    page = client.get("/signin", query_string={"interaction": iid})
    assert page.status_code == 200
    resp = client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page),
            "interaction": iid,
            "identifier": victim.identifier,
            "password": victim.password,
        },
    )
    assert resp.status_code == 303
    assert "code" in finish(client, portal, resp)


def test_consent_interaction_copied_to_another_browser(app, client, portal, victim, attacker):
    sign_in(client, victim)
    target, iid = start(client, portal)
    assert target == "/consent"
    thief = app.test_client()
    sign_in(thief, attacker)
    check_error_page(thief.get(f"/authorize/resume/{iid}"), 400)
    check_error_page(thief.get("/consent", query_string={"interaction": iid}), 400)
    # Untouched: still waiting for the victim's decision.
    page = client.get("/consent", query_string={"interaction": iid})
    assert page.status_code == 200
    assert "code" in finish(client, portal, page)


def test_store_keeps_only_a_digest_of_the_interaction_id(client, store, portal):
    _, iid = start(client, portal)
    assert store.get(f"interaction:{iid}") is None
    record = store.get(f"interaction:{hashlib.sha256(iid.encode()).hexdigest()}")
    assert record is not None
    assert iid not in json.dumps(record)
    assert client.get("/signin", query_string={"interaction": iid}).status_code == 200
