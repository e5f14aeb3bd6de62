"""Deleting a portal: its registration, secrets, grants and tokens go; the citizens'
record stays — the release log (with the portal's name as it was), the signed receipts
and the purposes they agreed to. Only a suspended portal can be deleted."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from idp import runtime
from idp.admin.service import suspend_portal
from idp.consent.models import ConsentGrant, Notice, Receipt, Release
from idp.consent.receipts import public_jwks, verify_receipt
from idp.portals.models import Portal
from idp.portals.service import RegistrationError, delete_portal
from idp.tokens.models import Token
from tests.consent.helpers import Browser
from tests.support.factories import new_citizen, new_portal
from tests.support.useragent import sign_in


def _count(db, model, **where) -> int:
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return int(db.scalar(query))


def test_deleting_keeps_the_citizens_record(app, db, client, settings):
    citizen = new_citizen(db, settings)
    portal = new_portal(db, name="Cổng sẽ bị xoá", scope="openid profile")
    browser = Browser(client, citizen)
    _, token, _ = browser.sign_in_flow(portal, scope="openid profile")
    browser.userinfo(token["access_token"])
    rows = db.scalars(select(Receipt).where(Receipt.portal_id == portal.id)).all()
    receipts, receipt_ids = [r.jws for r in rows], [r.id for r in rows]
    assert receipts
    releases = _count(db, Release, portal_id=portal.id)
    assert releases >= 2

    with pytest.raises(RegistrationError):  # an active portal: suspend it first
        delete_portal(db, client_id=portal.client_id)
    with app.test_request_context():
        suspend_portal(db, runtime.store(), client_id=portal.client_id)
        delete_portal(db, client_id=portal.client_id)
        db.commit()

    assert db.get(Portal, portal.id) is None
    assert _count(db, ConsentGrant, portal_id=portal.id) == 0
    assert _count(db, Token, portal_id=portal.id) == 0
    kept = db.scalars(select(Release).where(Release.citizen_id == citizen.id)).all()
    assert len(kept) == releases
    assert {(r.portal_id, r.portal_name, r.client_id) for r in kept} == {
        (None, "Cổng sẽ bị xoá", portal.client_id)
    }
    assert _count(db, Receipt, citizen_id=citizen.id) == len(receipts)
    for jws in receipts:
        assert verify_receipt(jws, public_jwks(db))["client_id"] == portal.client_id
    assert db.scalar(select(func.count()).select_from(Notice).where(Notice.portal_id.is_(None)))

    sign_in(client, citizen)
    history = client.get("/account/history.json").get_json()["releases"]
    assert {(h["portal"], h["client_id"]) for h in history} == {
        ("Cổng sẽ bị xoá", portal.client_id)
    }
    assert all(h["purposes"] for h in history if set(h["items"]) - {"sub"})
    page = client.get("/account/history?lang=en").get_data(as_text=True)
    assert "Cổng sẽ bị xoá" in page
    # The citizen still downloads each signed receipt.
    for receipt_id, jws in zip(receipt_ids, receipts, strict=True):
        download = client.get(f"/account/receipts/{receipt_id}.jwt")
        assert download.status_code == 200
        assert download.get_data(as_text=True) == jws


def test_the_command_deletes_only_with_yes_and_only_a_suspended_portal(tmp_path):
    from click.testing import CliRunner

    from idp.cli import main

    env = {"IDP_DATA_DIR": str(tmp_path / "d")}
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    assert run("db", "upgrade").exit_code == 0
    added = json.loads(
        run("clients", "add", "--name", "X", "--redirect-uri", "https://x.vn/cb").stdout
    )
    cid = added["client_id"]
    assert run("clients", "delete", cid).exit_code == 2  # no --yes
    active = run("clients", "delete", cid, "--yes")
    assert active.exit_code == 2
    assert "suspend" in active.output
    assert run("clients", "suspend", cid).exit_code == 0
    done = run("clients", "delete", cid, "--yes")
    assert done.exit_code == 0, done.output
    assert run("clients", "show", cid).exit_code == 2
    assert run("clients", "delete", "no-such", "--yes").exit_code == 2
