"""The audit trail and the adoption figures in the console: filters by event, portal and
date, newest first, paging, CSV of the filtered rows; figures per month and portal with a
server-drawn SVG chart (no script) and CSV. Flask test client, both backends."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from sqlalchemy import select

from idp import audit
from idp.admin import chart
from idp.admin.figures import COLUMNS
from idp.audit import AuditEvent
from tests.admin.test_console_portals import staff_events
from tests.consent.helpers import body
from tests.support.factories import new_portal
from tests.support.staff import signed_in_staff

CONSOLE = "/staff/console"
DAY = dt.datetime(2001, 2, 3, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def auditor(client, db, settings, clock) -> str:
    """The test client signed in as an auditor; the account's id."""
    return signed_in_staff(client, db, settings, clock, ("auditor",), email="kiem.toan@so.gov.vn")


def _seqs(page: str) -> list[int]:
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', page)]


def _rows(db, portal_id: str) -> dict[str, int]:
    """Append rows about one portal; return their seq by a label."""
    audit.append(
        db,
        [
            ("portal.suspended", {"portal_id": portal_id}, DAY),
            ("portal.updated", {"portal_id": portal_id, "fields": "name"}, DAY),
            (
                "portal.updated",
                {"portal_id": portal_id, "fields": "scope"},
                DAY + dt.timedelta(days=2),
            ),
            ("portal.updated", {"portal_id": "another-portal"}, DAY),
        ],
    )
    db.commit()
    rows = db.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(4)).all()
    return {f"{r.name}:{r.data.get('fields', r.data['portal_id'])}": r.seq for r in rows}


def test_filters_by_event_portal_and_date_newest_first(client, db, auditor):
    portal = new_portal(db)
    seq = _rows(db, portal.id)
    page = body(client.get(f"{CONSOLE}/audit?portal={portal.client_id}&lang=en"))
    mine = [s for s in _seqs(page) if s in seq.values()]
    assert mine == [
        seq["portal.updated:scope"],
        seq["portal.updated:name"],
        seq["portal.suspended:" + portal.id],
    ]
    assert seq["portal.updated:another-portal"] not in _seqs(page)
    page = body(client.get(f"{CONSOLE}/audit?portal={portal.client_id}&name=portal.updated"))
    assert _seqs(page) == [seq["portal.updated:scope"], seq["portal.updated:name"]]
    page = body(
        client.get(f"{CONSOLE}/audit?portal={portal.client_id}&from=2001-02-03&to=2001-02-03")
    )
    assert _seqs(page) == [seq["portal.updated:name"], seq["portal.suspended:" + portal.id]]
    page = body(client.get(f"{CONSOLE}/audit?portal={portal.client_id}&from=2001-02-04"))
    assert _seqs(page) == [seq["portal.updated:scope"]]
    # The page names the portal, and the event select offers the recorded names.
    assert portal.name in page
    assert '<option value="portal.updated"' in page


def test_pages_on_with_the_before_cursor(client, db, auditor):
    portal = new_portal(db)
    audit.append(db, [("portal.updated", {"portal_id": portal.id, "n": n}, DAY) for n in range(60)])
    db.commit()
    first = body(client.get(f"{CONSOLE}/audit?portal={portal.client_id}"))
    assert len(_seqs(first)) == 50
    older = re.search(r'id="older" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert f"before={_seqs(first)[-1]}" in older
    second = body(client.get(older))
    assert len(_seqs(second)) == 10
    assert set(_seqs(first)).isdisjoint(_seqs(second))
    assert max(_seqs(second)) < min(_seqs(first))
    assert 'id="older"' not in second


def test_csv_export_of_the_filtered_rows(client, db, auditor):
    portal = new_portal(db)
    seq = _rows(db, portal.id)
    resp = client.get(f"{CONSOLE}/audit.csv?portal={portal.client_id}&name=portal.updated")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert resp.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [int(r["seq"]) for r in rows] == [
        seq["portal.updated:scope"],
        seq["portal.updated:name"],
    ]
    assert {r["portal_id"] for r in rows} == {portal.id}
    assert rows[0]["name"] == "portal.updated"
    assert '"fields": "scope"' in rows[0]["data"]
    [exported] = staff_events(db, "staff.audit_exported", auditor)
    assert exported["rows"] == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("name=no.such.event", "name"),
        ("portal=no-such-portal", "portal"),
        ("from=2001-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2001-02-05&to=2001-02-01", "to"),
        ("before=abc", "before"),
    ],
)
def test_bad_filters_are_explained_and_export_nothing(client, auditor, query, field):
    resp = client.get(f"{CONSOLE}/audit?{query}&lang=en")
    assert resp.status_code == 400
    page = body(resp)
    assert f'id="{field}' in page
    assert 'class="error-summary"' in page
    assert _seqs(page) == []
    assert client.get(f"{CONSOLE}/audit.csv?{query}").status_code == 400


def test_figures_page_has_the_table_and_an_svg_chart_without_script(client, auditor):
    resp = client.get(f"{CONSOLE}/figures?lang=en")
    assert resp.status_code == 200
    page = body(resp)
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert 'role="img"' in svg
    assert '<title id="chart-title">Sign-ins and new registrations, last 12 months</title>' in svg
    assert "<desc" in svg
    assert "<script" not in page.lower().replace('<script src="/static/js/password.js"', "")
    assert "javascript:" not in svg
    assert " on" not in re.sub(r"<title.*?</title>|<desc.*?</desc>", "", svg)  # no handlers
    assert len(re.findall(r'<tr data-month="\d{4}-\d{2}"><th', page)) == 12


def test_figures_csv(client, db, auditor):
    resp = client.get(f"{CONSOLE}/figures.csv")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    header = next(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert tuple(header) == COLUMNS
    assert staff_events(db, "staff.figures_exported", auditor)


def test_the_chart_escapes_its_text_and_scales():
    svg = chart.bar_chart(
        title="<b>x</b>",
        desc="a & b",
        labels=["2026-01", "2026-02"],
        series=[("<i>s</i>", [3, 7]), ("t", [0, 1])],
    )
    assert "<b>" not in svg
    assert "&lt;b&gt;x&lt;/b&gt;" in svg
    assert "a &amp; b" in svg
    assert svg.count("<rect") == 4 + 2  # bars and the legend
    assert ">10</text>" in svg  # the axis top: 7 rounded up
    assert chart._nice_top(0) == 1
    assert chart._nice_top(11) == 20
    assert chart._nice_top(501) == 1000
