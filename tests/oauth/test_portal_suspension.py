"""Cutting a portal off in one action: from that instant its access tokens are refused at
userinfo and introspection and its refresh tokens at the token endpoint, on every worker;
its sign-in requests meet a "suspended" page (no redirect); every live session that used
it is sent a back-channel logout; resuming restores new sign-ins only."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy.orm import Session
from werkzeug.test import Client

from idp import backchannel, runtime
from idp.admin.service import resume_portal, suspend_portal
from tests.consent.helpers import Browser, body
from tests.oauth.test_stateless_workers import workers  # noqa: F401 - the fixture
from tests.support.factories import new_citizen, new_portal
from tests.support.receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def _suspend(app: Any, db: Any, client_id: str) -> dict[str, Any]:
    with app.test_request_context():
        done = suspend_portal(db, runtime.store(), client_id=client_id)
        db.commit()
    return done


def test_suspending_cuts_the_portal_off_at_once(app, db, client, settings, receiver):
    citizen = new_citizen(db, settings)
    portal = new_portal(
        db,
        scope="openid profile offline_access",
        backchannel_logout_uri=receiver.url,
        backchannel_private=True,
    )
    browser = Browser(client, citizen)
    _, token, id_claims = browser.sign_in_flow(
        portal, scope="openid profile offline_access", prompt="consent"
    )
    assert browser.userinfo(token["access_token"]).status_code == 200

    done = _suspend(app, db, portal.client_id)
    assert done["tokens_revoked"] >= 1
    assert done["sessions_told"] == 1

    assert browser.userinfo(token["access_token"]).status_code == 401
    refreshed = browser.refresh(portal, token["refresh_token"])
    assert refreshed.status_code in (400, 401)
    assert refreshed.get_json()["error"] in ("invalid_grant", "invalid_client")
    page = client.get(
        "/authorize",
        query_string={
            "client_id": portal.client_id,
            "redirect_uri": portal.redirect_uri,
            "response_type": "code",
            "scope": "openid",
            "ui_locales": "en",
        },
    )
    assert page.status_code == 403
    assert "Location" not in page.headers
    assert "suspended" in body(page)
    # Its live session is told through the back channel.
    with app.app_context():
        assert backchannel.run_due(now=time.time() + 60) == ["delivered"]
    assert len(receiver.tokens()) == 1

    # Resuming lets new sign-ins in; the old tokens stay dead.
    with app.test_request_context():
        resume_portal(db, client_id=portal.client_id)
        db.commit()
    assert browser.userinfo(token["access_token"]).status_code == 401
    assert browser.refresh(portal, token["refresh_token"]).status_code in (400, 401)
    _, fresh, _ = browser.sign_in_flow(portal, scope="openid profile")
    assert browser.userinfo(fresh["access_token"]).status_code == 200


def test_suspending_an_unknown_portal_is_a_clear_error(app, db):
    from idp.portals.service import RegistrationError

    with app.test_request_context(), pytest.raises(RegistrationError):
        suspend_portal(db, runtime.store(), client_id="no-such-portal")


def test_every_worker_refuses_at_once(backend, workers):  # noqa: F811
    """Two app instances sharing only PostgreSQL and Redis: suspended on one, refused on both."""
    apps = workers
    with Session(backend.engine, expire_on_commit=False) as db:
        citizen = new_citizen(db, apps[0].extensions["idp.settings"])
        portal = new_portal(db, scope="openid profile offline_access")
    first = apps[0].test_client()
    browser = Browser(first, citizen)
    _, token, _ = browser.sign_in_flow(
        portal, scope="openid profile offline_access", prompt="consent"
    )
    with apps[1].test_request_context(), Session(backend.engine) as db:
        suspend_portal(db, runtime.store(), client_id=portal.client_id)
        db.commit()
    for app in apps:
        http = Client(app)
        info = http.get("/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert info.status_code == 401
        seen = app.test_client().post(
            "/introspect",
            data={"token": token["access_token"]},
            auth=(portal.client_id, portal.secret),
        )
        assert seen.status_code == 401 or seen.get_json().get("active") is False
        refreshed = app.test_client().post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
            auth=(portal.client_id, portal.secret),
        )
        assert refreshed.status_code in (400, 401)


@pytest.mark.parametrize("grace", [0, 3600])
def test_a_rotated_secret_and_its_grace_period(app, db, client, settings, grace):
    import datetime as dt

    from sqlalchemy import update

    from idp.portals.models import Portal
    from idp.portals.service import rotate_secret

    portal = new_portal(db, scope="openid profile")
    new = rotate_secret(db, client_id=portal.client_id, grace=grace)
    db.commit()

    def introspect(secret: str) -> int:
        resp = client.post("/introspect", data={"token": "x" * 43}, auth=(portal.client_id, secret))
        return resp.status_code

    assert introspect(new) == 200
    assert introspect(portal.secret) == (200 if grace else 401)
    if grace:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        db.execute(
            update(Portal).where(Portal.id == portal.id).values(previous_secret_expires_at=past)
        )
        db.commit()
        assert introspect(portal.secret) == 401
        assert introspect(new) == 200
