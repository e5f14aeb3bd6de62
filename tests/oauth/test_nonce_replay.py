"""OIDC Core §3.1.2.1 / §15.5.2: a ``nonce`` used in an issued code is not accepted again.

A replayed authorization request (same portal, same nonce) gets no code, so an ID token
cannot be made to carry a nonce the portal has already seen.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.badinput.conftest import auth_params, location_params, run_authorization
from tests.support.factories import (
    CitizenInfo,
    PortalInfo,
    new_citizen,
    new_portal,
)
from tests.support.useragent import sign_in


@pytest.fixture
def citizen(db: Any, settings: Any) -> CitizenInfo:
    return new_citizen(db, settings)


def authorize_again(client: Any, portal: PortalInfo, nonce: str) -> dict[str, list[str]]:
    """Ask a signed-in, consented browser for a code; return the portal's redirect query."""
    resp = client.get("/authorize", query_string=auth_params(portal, nonce=nonce))
    assert resp.status_code == 302, resp.status_code
    target, query = location_params(resp)
    assert target == portal.redirect_uri
    return query


def test_a_nonce_gets_one_code_per_portal(client, db, citizen):
    portal = new_portal(db)
    sign_in(client, citizen)
    first, _ = run_authorization(client, portal, citizen, nonce="nonce-once")
    assert "code" in first
    # Consent is given now: a fresh nonce gets a code at once ...
    assert "code" in authorize_again(client, portal, "another-nonce")
    # ... the used one does not.
    replay = authorize_again(client, portal, "nonce-once")
    assert "code" not in replay
    assert replay["error"] == ["invalid_request"]
    assert replay["state"] == ["st-1"]


def test_the_guard_is_per_portal(client, db, citizen):
    one, two = new_portal(db), new_portal(db)
    sign_in(client, citizen)
    assert "code" in run_authorization(client, one, citizen, nonce="shared-nonce")[0]
    assert "code" in run_authorization(client, two, citizen, nonce="shared-nonce")[0]
