"""An interaction belongs to the browser that started it.

Its id travels in URLs (history, logs, a shared link): copied into another browser it
is unknown there, at every step, and stays usable by its own browser. The store keeps
only digests of the id and of the browser binding.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.badinput.conftest import auth_params, check_error_page, location_params
from tests.support.factories import (
    CitizenInfo,
    PortalInfo,
    new_citizen,
    new_portal,
)
from tests.support.forms import csrf_token
from tests.support.useragent import UserAgent, page_csrf, sign_in


@pytest.fixture
def portal(db: Any) -> PortalInfo:
    return new_portal(db)


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
    ua = UserAgent.over(client)
    resp = ua.follow(resp, on_consent=lambda page: ua.submit_consent(page, claims=["profile"]))
    assert resp.status_code in (302, 303), (ua.path(resp), resp.status_code)
    target, query = location_params(resp)
    assert target == portal.redirect_uri, target
    return query


def test_login_interaction_copied_to_another_browser(app, client, portal, victim, attacker):
    target, iid = start(client, portal)
    assert target == "/signin"
    thief = app.test_client()
    sign_in(thief, attacker)
    token = page_csrf(thief, "/signin")
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
            "csrf_token": csrf_token(page.get_data(as_text=True)),
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
