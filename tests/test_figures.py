"""The province's adoption figures: per portal and month, counts only, from SQL
aggregates; both backends, on a database of the test's own."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy.orm import Session

from idp.admin import figures
from idp.consent.models import ConsentGrant, Receipt, Release
from idp.tokens.models import Token
from tests.support.factories import make_citizen, make_portal
from tests.test_audit import fresh  # noqa: F401 - the fixture

MAY = dt.datetime(2026, 5, 10, 8, 0, tzinfo=dt.UTC)
JUNE = dt.datetime(2026, 6, 3, 9, 0, tzinfo=dt.UTC)


def _signin(db, citizen, portal, grant, when, acr) -> None:
    chain = uuid.uuid4().hex
    db.add(
        Release(
            citizen_id=citizen.id,
            portal_id=portal.id,
            grant_id=grant.id,
            channel="id_token",
            claims=["sub"],
            released_at=when,
        )
    )
    for n in range(2):  # the sign-in's token, then a refresh in the same chain
        db.add(
            Token(
                access_token_hash=uuid.uuid4().hex,
                portal_id=portal.id,
                citizen_id=citizen.id,
                grant_id=grant.id,
                chain_id=chain,
                scope="openid",
                issued_at=when + dt.timedelta(minutes=n),
                access_expires_at=when + dt.timedelta(minutes=10 + n),
                acr=acr,
            )
        )


def test_monthly_counts_per_portal(fresh, settings):  # noqa: F811
    with Session(fresh, expire_on_commit=False) as db:
        land, _ = make_portal(db, name="Đất đai")
        tax, _ = make_portal(db, name="Thuế")
        a = make_citizen(db, settings)
        b = make_citizen(db, settings)
        grants = {}
        for citizen in (a, b):
            for portal in (land, tax):
                grant = ConsentGrant(citizen_id=citizen.id, portal_id=portal.id, scope="openid")
                db.add(grant)
                db.flush()
                grants[citizen.id, portal.id] = grant
        _signin(db, a, land, grants[a.id, land.id], MAY, "urn:vn:idp:loa:1")
        _signin(db, a, land, grants[a.id, land.id], MAY + dt.timedelta(days=1), "urn:vn:idp:loa:2")
        _signin(db, b, land, grants[b.id, land.id], MAY, "1")  # legacy acr: level 1
        _signin(db, b, tax, grants[b.id, tax.id], JUNE, "urn:vn:idp:loa:2")
        db.add(  # a userinfo call is a release, not a sign-in
            Release(
                citizen_id=a.id,
                portal_id=land.id,
                channel="userinfo",
                claims=["sub", "name"],
                released_at=MAY,
            )
        )
        for action, when in (("granted", MAY), ("granted", MAY), ("withdrawn", JUNE)):
            db.add(
                Receipt(
                    citizen_id=a.id,
                    portal_id=land.id,
                    grant_id=None,
                    action=action,
                    jws="x",
                    created_at=when,
                )
            )
        db.commit()
        data = figures.monthly(db, months=12, today=dt.date(2026, 6, 30))
    rows = {(r["month"], r["portal"]): r for r in data["portals"]}
    may_land = rows["2026-05", "Đất đai"]
    assert (may_land["sign_ins"], may_land["citizens"]) == (3, 2)
    assert (may_land["sign_ins_level_1"], may_land["sign_ins_level_2"]) == (2, 1)
    assert (may_land["consents_granted"], may_land["consents_withdrawn"]) == (2, 0)
    june_tax = rows["2026-06", "Thuế"]
    assert (june_tax["sign_ins"], june_tax["sign_ins_level_2"]) == (1, 1)
    assert rows["2026-06", "Đất đai"]["consents_withdrawn"] == 1
    assert data["from"] == "2025-07-01"
    # Counts only: no person anywhere.
    text = json.dumps(data, ensure_ascii=False)
    assert a.id not in text
    assert a.cccd not in text
    csv_text = figures.as_csv(data)
    assert csv_text.splitlines()[0] == ",".join(figures.COLUMNS)
    assert f"2026-05,{land.client_id},Đất đai,2,3,2,1,2,0" in csv_text
    # An older window leaves May out.
    later = figures.monthly(Session(fresh), months=1, today=dt.date(2026, 6, 30))
    assert {r["month"] for r in later["portals"]} == {"2026-06"}


@pytest.mark.parametrize("months", ["0", "121", "x"])
def test_the_command_validates_its_options(tmp_path, months):
    from click.testing import CliRunner

    from idp.cli import main

    env = {"IDP_DATA_DIR": str(tmp_path / "d")}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(main, ["figures", "--months", months], env=env).exit_code == 2
    ok = runner.invoke(main, ["figures", "--csv"], env=env)
    assert ok.exit_code == 0
    assert ok.output.startswith("month,client_id,portal")
