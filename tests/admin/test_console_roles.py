"""The console's role checks: every page and action asks for its role (``admin`` passes
every check), others get a clear 403 page and nothing changes. Flask test client, both
backends."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.portals.models import Portal
from tests.admin.test_console_portals import staff_events
from tests.consent.helpers import body
from tests.support.factories import new_portal
from tests.support.forms import csrf_token
from tests.support.staff import signed_in_staff

PORTAL_PAGES = ("/portals", "/portals/new", "/portals/{c}", "/portals/{c}/edit")
PORTAL_ACTIONS = ("suspend", "resume", "delete", "rotate", "edit")
AUDITOR_PAGES = ("/audit", "/audit.csv", "/figures", "/figures.csv")


def _sign_in(client, db, settings, clock, role: str) -> str:
    return signed_in_staff(client, db, settings, clock, (role,), email=f"{role}@so-tt.gov.vn")


def _token(client) -> str:
    return csrf_token(body(client.get("/staff/console/")))


@pytest.mark.parametrize("path", AUDITOR_PAGES)
def test_a_portal_manager_cannot_read_the_audit_trail_or_the_figures(
    client, db, settings, clock, path
):
    _sign_in(client, db, settings, clock, "portal_manager")
    resp = client.get(f"/staff/console{path}?lang=en")
    assert resp.status_code == 403
    assert resp.mimetype == "text/html"
    page = body(resp)
    assert "does not have the role this page needs" in page
    assert 'id="forbidden"' in page
    assert "seq" not in page  # no audit row, no CSV


@pytest.mark.parametrize("action", PORTAL_ACTIONS)
def test_an_auditor_cannot_suspend_or_change_a_portal(client, db, settings, clock, action):
    portal = new_portal(db)
    _sign_in(client, db, settings, clock, "auditor")
    token = _token(client)
    form = {"csrf_token": token, "name": "Đổi tên", "grace": "0", "unit": "seconds"}
    resp = client.post(f"/staff/console/portals/{portal.client_id}/{action}?lang=en", data=form)
    assert resp.status_code == 403
    assert "does not have the role this page needs" in body(resp)
    db.expire_all()
    row = db.scalar(select(Portal).where(Portal.client_id == portal.client_id))
    assert row is not None
    assert row.disabled_at is None
    assert row.name == portal.name


@pytest.mark.parametrize("path", PORTAL_PAGES)
def test_an_auditor_cannot_open_the_portal_pages(client, db, settings, clock, path):
    portal = new_portal(db)
    _sign_in(client, db, settings, clock, "auditor")
    resp = client.get("/staff/console" + path.format(c=portal.client_id))
    assert resp.status_code == 403


def test_an_auditor_cannot_register_a_portal(client, db, settings, clock):
    _sign_in(client, db, settings, clock, "auditor")
    before = db.scalar(select(Portal.id).order_by(Portal.created_at.desc()).limit(1))
    resp = client.post(
        "/staff/console/portals/new",
        data={
            "csrf_token": _token(client),
            "name": "Cổng mới",
            "redirect_uris": "https://moi.example.gov.vn/cb",
        },
    )
    assert resp.status_code == 403
    assert db.scalar(select(Portal.id).order_by(Portal.created_at.desc()).limit(1)) == before


@pytest.mark.parametrize(
    "path", [*AUDITOR_PAGES, "/portals", "/portals/new", "/portals/{c}", "/portals/{c}/suspend"]
)
def test_a_desk_officer_opens_none_of_the_console(client, db, settings, clock, path):
    portal = new_portal(db)
    _sign_in(client, db, settings, clock, "desk_officer")
    assert client.get("/staff/console" + path.format(c=portal.client_id)).status_code == 403


def test_a_refusal_is_audited_with_the_staff_account(client, db, settings, clock):
    staff_id = _sign_in(client, db, settings, clock, "portal_manager")
    client.get("/staff/console/audit")
    assert staff_events(db, "staff.forbidden", staff_id) == [
        {"role": "auditor", "staff_id": staff_id}
    ]


@pytest.mark.parametrize("path", [*AUDITOR_PAGES, "/", "/portals", "/portals/new"])
def test_without_a_staff_session_the_console_sends_to_the_staff_sign_in(client, path):
    resp = client.get("/staff/console" + path)
    assert resp.status_code == 303
    assert resp.location.endswith("/staff/signin")


@pytest.mark.parametrize("path", [*AUDITOR_PAGES, "/portals", "/portals/new", "/portals/{c}"])
def test_an_admin_opens_every_page(client, db, settings, clock, path):
    portal = new_portal(db)
    _sign_in(client, db, settings, clock, "admin")
    assert client.get("/staff/console" + path.format(c=portal.client_id)).status_code == 200


@pytest.mark.parametrize(
    ("role", "sections"),
    [
        ("admin", {"portals", "audit", "figures", "desk"}),
        ("portal_manager", {"portals"}),
        ("auditor", {"audit", "figures"}),
        ("desk_officer", {"desk"}),
    ],
)
def test_the_home_page_and_the_navigation_show_what_the_role_may_do(
    client, db, settings, clock, role, sections
):
    resp = client.get("/staff/console/?lang=en")
    assert resp.status_code == 303
    _sign_in(client, db, settings, clock, role)
    page = body(client.get("/staff/console/?lang=en"))
    shown = {s for s in ("portals", "audit", "figures", "desk") if f'data-section="{s}"' in page}
    assert shown == sections
    nav = page.split('<nav class="staff"')[1].split("</nav>")[0]
    assert ("/staff/console/audit" in nav) == ("audit" in sections)
    assert ("/staff/console/portals" in nav) == ("portals" in sections)


@pytest.mark.parametrize(
    ("role", "landing"),
    [
        ("desk_officer", "/staff/desk"),
        ("portal_manager", "/staff/console/"),
        ("auditor", "/staff/console/"),
        ("admin", "/staff/console/"),
    ],
)
def test_staff_land_where_their_role_works(client, db, settings, clock, role, landing):
    from tests.support.staff import add_officer, set_up, staff_sign_in

    email = f"{role}@so-tt.gov.vn"
    _, token = add_officer(db, settings, (role,), email=email)
    key = set_up(client, token, clock)
    resp = staff_sign_in(client, key, clock, email=email)
    assert resp.status_code == 303
    assert resp.location.endswith(landing)


@pytest.mark.parametrize(("role", "linked"), [("admin", True), ("desk_officer", False)])
def test_the_desk_page_links_to_the_console_for_roles_that_have_it(
    client, db, settings, clock, role, linked
):
    _sign_in(client, db, settings, clock, role)
    assert ('href="/staff/console/"' in body(client.get("/staff/desk"))) == linked
