"""The data history page and its CSV and JSON exports: newest first, paged, filtered,
claim names only (never values), every release once."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, text

from idp.consent import grants as consent_grants
from idp.consent import notices, releases
from idp.consent.models import Release
from tests.badinput.conftest import body_of, check_clean, check_html, obtain_tokens
from tests.support.factories import CitizenInfo, PortalInfo, new_citizen, new_portal
from tests.support.useragent import sign_in

ROW = re.compile(r'<tr data-channel="([^"]+)" data-client-id="([^"]+)">(.*?)</tr>', re.S)
TIME = re.compile(r"<time [^>]*>([^<]+)</time>")
BASE = dt.datetime(2026, 1, 5, 17, 30, tzinfo=dt.UTC)  # 06/01/2026 00:30 in Vietnam
CHANNELS = ("id_token", "userinfo", "introspection")


def grant(
    db: Any,
    citizen: CitizenInfo,
    portal: PortalInfo,
    items: tuple[str, ...] = ("name", "email", "phone_number", "cccd"),
) -> str:
    row, _ = consent_grants.record_decision(
        db,
        citizen_id=citizen.id,
        portal_id=portal.id,
        notice=notices.current_notice(db, portal.id),
        shown=set(items),
        granted=set(items),
        scopes={"openid"},
    )
    return row.id


def release(
    db: Any,
    citizen_id: str,
    portal: PortalInfo,
    grant_id: str | None,
    minutes: int,
    channel: str = "userinfo",
    claims: tuple[str, ...] = ("sub", "name", "family_name", "email"),
) -> Release:
    row = releases.log_release(
        db,
        citizen_id=citizen_id,
        portal_id=portal.id,
        grant_id=grant_id,
        channel=channel,
        claims=claims,
    )
    row.released_at = BASE + dt.timedelta(minutes=minutes)
    return row


def rows(page: str) -> list[tuple[str, str, str]]:
    return ROW.findall(page)


def values_of(citizen: CitizenInfo) -> list[str]:
    """Profile values that must never appear in the history or the log."""
    p = citizen.profile
    return [
        p["cccd"],
        p["phone"],
        p["email"],
        p["street"],
        p["birthdate"],
        f"{p['family_name']} {p['middle_name']} {p['given_name']}",
    ]


@pytest.fixture
def two_portals(db: Any, citizen: CitizenInfo) -> tuple[PortalInfo, PortalInfo]:
    land = new_portal(db, name="Cổng đất đai")
    tax = new_portal(db, name="Cổng thuế")
    g1, g2 = grant(db, citizen, land), grant(db, citizen, tax)
    for i in range(30):  # land: minutes 0, 2, 4, ... tax: 1, 3, 5, ...
        release(db, citizen.id, land, g1, 2 * i, CHANNELS[i % 3])
        if i < 15:
            release(db, citizen.id, tax, g2, 2 * i + 1, "id_token", ("sub", "cccd"))
    db.commit()
    return land, tax


def test_newest_first_with_labels_purposes_time_channel(client, db, citizen):
    land = new_portal(db, name="Cổng đất đai")
    gid = grant(db, citizen, land)
    release(
        db,
        citizen.id,
        land,
        gid,
        0,
        "id_token",
        ("sub", "name", "family_name", "given_name", "updated_at"),
    )
    release(db, citizen.id, land, gid, 90, "introspection", ("sub",))
    release(db, citizen.id, land, gid, 45, "userinfo", ("sub", "email", "email_verified", "cccd"))
    db.commit()
    sign_in(client, citizen)
    page = check_html(client.get("/account/history"), 200)
    found = rows(page)
    assert [c for c, _, _ in found] == ["introspection", "userinfo", "id_token"]
    assert all(cid == land.client_id for _, cid, _ in found)
    times = [TIME.search(body).group(1) for _, _, body in found]
    assert times == ["06/01/2026 02:00", "06/01/2026 01:15", "06/01/2026 00:30"]
    userinfo_row = found[1][2]
    assert "Cổng đất đai" in userinfo_row
    items = re.findall(r'<li data-claim="([^"]+)"', userinfo_row)
    assert items == ["sub", "email", "cccd"]  # claim names grouped into what was agreed to
    assert "Mục đích thử nghiệm: email" in userinfo_row
    assert "Mục đích thử nghiệm: cccd" in userinfo_row
    name_row = found[2][2]
    assert re.findall(r'<li data-claim="([^"]+)"', name_row) == ["sub", "name"]
    for value in values_of(citizen):
        assert value not in page
    english = check_html(client.get("/account/history?lang=en"), 200)
    assert "Test purpose: email" in english
    assert "ID token" in english
    assert "userinfo" in english
    assert "introspection" in english
    assert "this portal&#39;s own" in english or "this portal's own" in english


def test_pagination(client, db, citizen, two_portals):
    sign_in(client, citizen)
    first = check_html(client.get("/account/history"), 200)
    assert len(rows(first)) == 20
    assert 'rel="next"' in first
    assert 'rel="prev"' not in first
    next_href = re.search(r'rel="next" class="button secondary" href="([^"]+)"', first).group(1)
    assert parse_qs(urlsplit(next_href.replace("&amp;", "&")).query) == {"page": ["2"]}
    second = check_html(client.get("/account/history?page=2"), 200)
    third = check_html(client.get("/account/history?page=3"), 200)
    assert len(rows(second)) == 20
    assert len(rows(third)) == 5
    assert 'rel="prev"' in third
    assert 'rel="next"' not in third
    every = [TIME.search(b).group(1) for p in (first, second, third) for _, _, b in rows(p)]
    stamps = [dt.datetime.strptime(t, "%d/%m/%Y %H:%M") for t in every]
    assert stamps == sorted(stamps, reverse=True)
    assert len(set(stamps)) == 45


@pytest.mark.parametrize(
    "page", ["0", "-1", "abc", "1.5", "1e3", "", " 1", "９", "9" * 40, "\x00", "2%00"]
)
def test_bad_page_numbers(client, db, citizen, two_portals, page):
    sign_in(client, citizen)
    resp = client.get("/account/history", query_string={"page": page})
    body = check_html(resp, 400)
    assert 'id="history-error"' in body
    assert rows(body) == []


def test_page_past_the_end(client, db, citizen, two_portals):
    sign_in(client, citizen)
    body = check_html(client.get("/account/history?page=4"), 404)
    assert 'id="history-error"' in body
    body = check_html(client.get("/account/history?page=999999"), 404)
    assert 'role="alert"' in body


def test_empty_history(client, db, citizen):
    sign_in(client, citizen)
    body = check_html(client.get("/account/history"), 200)
    assert 'id="history-empty"' in body
    assert check_html(client.get("/account/history?page=2"), 404)


def test_filter_by_portal(client, db, citizen, two_portals):
    land, tax = two_portals
    sign_in(client, citizen)
    page = check_html(client.get(f"/account/history?portal={tax.client_id}"), 200)
    found = rows(page)
    assert len(found) == 15
    assert {cid for _, cid, _ in found} == {tax.client_id}
    assert f'<option value="{tax.client_id}" selected>' in page
    # The select offers exactly the portals in the history.
    options = re.findall(r'<option value="([^"]*)"', page)
    assert sorted(options) == sorted(["", land.client_id, tax.client_id])
    # Pages keep the filter.
    page = check_html(client.get(f"/account/history?portal={land.client_id}"), 200)
    assert len(rows(page)) == 20
    href = re.search(r'rel="next" class="button secondary" href="([^"]+)"', page).group(1)
    query = parse_qs(urlsplit(href.replace("&amp;", "&")).query)
    assert query == {"portal": [land.client_id], "page": ["2"]}
    page2 = check_html(client.get(href.replace("&amp;", "&")), 200)
    assert len(rows(page2)) == 10
    assert {cid for _, cid, _ in rows(page2)} == {land.client_id}


@pytest.mark.parametrize("value", ["unknown-portal", "\x00", "x" * 5000, "' OR 1=1 --"])
def test_unknown_portal_filter(client, db, citizen, two_portals, value):
    sign_in(client, citizen)
    resp = client.get("/account/history", query_string={"portal": value})
    body = check_html(resp, 400)
    assert 'id="history-error"' in body
    assert rows(body) == []
    for path in ("/account/history.csv", "/account/history.json"):
        resp = client.get(path, query_string={"portal": value})
        check_clean(resp)
        assert resp.status_code == 400
        assert "Content-Disposition" not in resp.headers


def test_another_citizens_portal_is_not_a_filter(client, db, settings, citizen, two_portals):
    other = new_citizen(db, settings)
    theirs = new_portal(db, name="Cổng của người khác")
    gid = grant(db, other, theirs)
    release(db, other.id, theirs, gid, 5)
    db.commit()
    sign_in(client, citizen)
    body = check_html(client.get(f"/account/history?portal={theirs.client_id}"), 400)
    assert "Cổng của người khác" not in body
    resp = client.get(f"/account/history.json?portal={theirs.client_id}")
    assert resp.status_code == 400
    full = client.get("/account/history.json").get_json()
    assert theirs.client_id not in json.dumps(full)


def _by_key(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Key an English CSV's rows by the machine names of its columns."""
    from idp.consent.exports import HISTORY_COLUMNS

    names = {str(header): key for key, header in HISTORY_COLUMNS}
    return [{names[h]: v for h, v in row.items()} for row in rows]


def test_csv_headers_follow_the_page_language(client, db, citizen, two_portals):
    sign_in(client, citizen)
    vietnamese = client.get("/account/history.csv?lang=vi").get_data().decode("utf-8-sig")
    english = client.get("/account/history.csv?lang=en").get_data().decode("utf-8-sig")
    vi_rows = list(csv.reader(io.StringIO(vietnamese)))
    en_rows = list(csv.reader(io.StringIO(english)))
    assert vi_rows[0][:3] == ["Thời gian (giờ Việt Nam, UTC+7)", "Cổng", "Cách gửi"]
    assert en_rows[0][:3] == ["Time (Vietnam, UTC+7)", "Portal", "How it was sent"]
    # The same releases at the same times; only words (headers, purposes) change.
    assert [r[0] for r in vi_rows[1:]] == [r[0] for r in en_rows[1:]]
    assert len(vi_rows) == len(en_rows) == 46


def test_csv_export(client, db, citizen, two_portals):
    land, tax = two_portals
    sign_in(client, citizen)
    resp = client.get("/account/history.csv?lang=en")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert ".csv" in resp.headers["Content-Disposition"]
    assert resp.headers["Cache-Control"] == "no-store"
    text_ = resp.get_data().decode("utf-8-sig")
    table = _by_key(list(csv.DictReader(io.StringIO(text_))))
    assert len(table) == 45
    assert table[0]["time_utc"] >= table[-1]["time_utc"]
    assert [r["time_utc"] for r in table] == sorted((r["time_utc"] for r in table), reverse=True)
    assert {r["portal"] for r in table} == {"Cổng đất đai", "Cổng thuế"}
    assert {r["channel"] for r in table} == set(CHANNELS)
    newest = table[0]
    assert newest["client_id"] == land.client_id
    assert newest["time_vietnam"] == "06/01/2026 01:28:00"  # Vietnam time, to the second
    assert newest["claims"].split() == ["email", "family_name", "name", "sub"]
    assert "Test purpose: email" in newest["purposes"]
    for value in values_of(citizen):
        assert value not in text_

    filtered = client.get(f"/account/history.csv?portal={tax.client_id}&lang=en")
    table = _by_key(list(csv.DictReader(io.StringIO(filtered.get_data().decode("utf-8-sig")))))
    assert len(table) == 15
    assert {r["client_id"] for r in table} == {tax.client_id}


def test_json_export(client, db, citizen, two_portals):
    land, tax = two_portals
    sign_in(client, citizen)
    resp = client.get("/account/history.json")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(body_of(resp))
    releases = data["releases"]
    assert len(releases) == 45
    assert [r["time"] for r in releases] == sorted((r["time"] for r in releases), reverse=True)
    assert set(releases[0]) >= {
        "time",
        "time_vietnam",
        "portal",
        "client_id",
        "channel",
        "claims",
        "items",
        "purposes",
    }
    assert releases[-1]["time"] == "2026-01-05T17:30:00Z"
    assert releases[-1]["time_vietnam"] == "06/01/2026 00:30"
    assert releases[-1]["items"] == ["sub", "name", "email"]
    for value in values_of(citizen):
        assert value not in body_of(resp)
    filtered = client.get(f"/account/history.json?portal={land.client_id}").get_json()
    assert len(filtered["releases"]) == 30
    assert {r["client_id"] for r in filtered["releases"]} == {land.client_id}


def test_real_releases_appear_once_and_hold_no_values(client, db, citizen):
    portal = new_portal(db, name="Cổng bảo hiểm xã hội")
    tokens = obtain_tokens(client, portal, citizen, scope="openid profile email phone cccd")
    for _ in range(2):
        resp = client.get(
            "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert resp.status_code == 200
    intro = client.post(
        "/introspect",
        data={"token": tokens["access_token"]},
        auth=(portal.client_id, portal.secret),
    )
    assert intro.get_json()["active"] is True
    logged = db.execute(
        select(Release.id, Release.channel).where(Release.citizen_id == citizen.id)
    ).all()
    channels = sorted(r.channel for r in logged)
    assert channels.count("userinfo") == 2
    assert "id_token" in channels

    export = client.get("/account/history.json").get_json()["releases"]
    assert sorted(r["id"] for r in export) == sorted(r.id for r in logged)
    page = check_html(client.get("/account/history"), 200)
    assert len(rows(page)) == len(logged)

    # No claim values anywhere in the log table's rows, in any column.
    raw = db.execute(text("SELECT * FROM releases")).all()
    dump = json.dumps([[str(v) for v in r] for r in raw], ensure_ascii=False)
    for value in values_of(citizen):
        assert value not in dump
    for body in (
        json.dumps(export, ensure_ascii=False),
        page,
        client.get("/account/history.csv").get_data().decode("utf-8-sig"),
    ):
        for value in values_of(citizen):
            assert value not in body
