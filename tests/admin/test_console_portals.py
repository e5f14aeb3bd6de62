"""Portals through the console's pages: register (client_id and secret shown once), change
every field, suspend, resume, delete, rotate the secret; bad input kept on the page with
a clear message and nothing written. Flask test client, both backends."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from idp.audit import AuditEvent
from idp.consent.notices import current_notice
from idp.db import utcnow
from idp.hashing import digest
from idp.portals.models import Portal
from tests.consent.helpers import body
from tests.support.factories import new_portal
from tests.support.forms import csrf_token
from tests.support.staff import signed_in_staff

CONSOLE = "/staff/console"


@pytest.fixture
def manager(client, db, settings, clock) -> str:
    """The test client signed in as a portal manager; the account's id."""
    return signed_in_staff(
        client, db, settings, clock, ("portal_manager",), email="quan.ly@so-tt.gov.vn"
    )


def registration(**over: Any) -> dict[str, Any]:
    """A complete, valid registration form (every field), with overrides."""
    form: dict[str, Any] = {
        "name": "Cổng Dịch vụ công tỉnh",
        "name_en": "Provincial public services",
        "contact_email": "cntt@dvc.example.gov.vn",
        "redirect_uris": "https://dvc.example.gov.vn/callback\r\nhttps://dvc.example.gov.vn/cb2",
        "post_logout_redirect_uris": "https://dvc.example.gov.vn/",
        "web_origins": "https://dvc.example.gov.vn",
        "scope": ["openid", "profile", "email"],
        "purpose_name": "yes",
        "purpose_name_vi": "Điền họ tên vào hồ sơ",
        "purpose_name_en": "To fill in the application",
        "purpose_name_required": "yes",
        "purpose_email": "yes",
        "purpose_email_vi": "Gửi kết quả",
        "purpose_email_en": "To send the result",
        "default_acr": "urn:vn:idp:loa:2",
        "id_token_signed_response_alg": "ES256",
        "subject_type": "pairwise",
        "sector_identifier": "",
        "auth_method": "client_secret_post",
        "backchannel_logout_uri": "https://dvc.example.gov.vn/bcl",
        "backchannel_logout_session_required": "yes",
    }
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def post(client, path: str, form: dict[str, Any], page: str | None = None) -> Any:
    token = csrf_token(body(client.get(CONSOLE + (page or path))))
    return client.post(CONSOLE + path, data={**form, "csrf_token": token})


def portal_count(db) -> int:
    return int(db.scalar(select(func.count()).select_from(Portal)))


def staff_events(db, name: str, staff_id: str) -> list[dict]:
    rows = db.scalars(select(AuditEvent).where(AuditEvent.name == name)).all()
    return [r.data for r in rows if r.data.get("staff_id") == staff_id]


def register(client, **over: Any) -> tuple[str, str]:
    resp = post(client, "/portals/new", registration(**over))
    assert resp.status_code == 200, body(resp)[:2000]
    page = body(resp)
    client_id = re.search(r'id="client-id">([^<]+)<', page).group(1)
    secret = re.search(r'id="client-secret">([^<]+)<', page)
    return client_id, secret.group(1) if secret else ""


def test_register_every_field_shows_the_secret_once(client, db, manager):
    resp = post(client, "/portals/new", registration())
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    page = body(resp)
    client_id = re.search(r'id="client-id">([^<]+)<', page).group(1)
    secret = re.search(r'id="client-secret">([^<]+)<', page).group(1)
    portal = db.scalar(select(Portal).where(Portal.client_id == client_id))
    assert portal.client_secret_hash == digest(secret)
    assert portal.name == "Cổng Dịch vụ công tỉnh"
    assert portal.name_en == "Provincial public services"
    assert portal.contact_email == "cntt@dvc.example.gov.vn"
    assert portal.redirect_uris == [
        "https://dvc.example.gov.vn/callback",
        "https://dvc.example.gov.vn/cb2",
    ]
    assert portal.post_logout_redirect_uris == ["https://dvc.example.gov.vn/"]
    assert portal.web_origins == ["https://dvc.example.gov.vn"]
    assert portal.scope == "openid profile email"
    assert portal.token_endpoint_auth_method == "client_secret_post"
    assert portal.id_token_signed_response_alg == "ES256"
    assert portal.default_acr == "urn:vn:idp:loa:2"
    assert portal.subject_type == "pairwise"
    assert portal.sector_identifier == "dvc.example.gov.vn"
    assert portal.backchannel_logout_uri == "https://dvc.example.gov.vn/bcl"
    assert portal.backchannel_logout_session_required is True
    notice = current_notice(db, portal.id)
    assert notice.purposes == {
        "name": {
            "purpose": {"vi": "Điền họ tên vào hồ sơ", "en": "To fill in the application"},
            "required": True,
        },
        "email": {"purpose": {"vi": "Gửi kết quả", "en": "To send the result"}, "required": False},
    }
    assert staff_events(db, "staff.portal_registered", manager) == [
        {"client_id": client_id, "portal_id": portal.id, "staff_id": manager}
    ]
    assert db.scalar(select(AuditEvent).where(AuditEvent.name == "portal.registered"))
    # The portal's page never shows the secret again.
    shown = body(client.get(f"{CONSOLE}/portals/{client_id}?lang=en"))
    assert secret not in shown
    assert "Provincial public services" in shown
    assert "To fill in the application" in shown


def test_a_public_client_and_a_private_key_jwt_portal_get_no_secret(client, db, manager):
    client_id, secret = register(client, auth_method="none", subject_type="public")
    portal = db.scalar(select(Portal).where(Portal.client_id == client_id))
    assert secret == ""
    assert portal.client_secret_hash is None
    assert portal.subject_type == "public"
    jwks = '{"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}'  # noqa: E501
    client_id, secret = register(client, auth_method="private_key_jwt", jwks=jwks)
    portal = db.scalar(select(Portal).where(Portal.client_id == client_id))
    assert secret == ""
    assert portal.jwks["keys"][0]["kty"] == "EC"
    client_id, _ = register(
        client, auth_method="private_key_jwt", jwks_uri="https://dvc.example.gov.vn/jwks"
    )
    portal = db.scalar(select(Portal).where(Portal.client_id == client_id))
    assert portal.jwks_uri == "https://dvc.example.gov.vn/jwks"


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("https://dvc.example.gov.vn/cb#frag", "fragment"),
        ("https://*.example.gov.vn/cb", "wildcard"),
        ("http://dvc.example.gov.vn/cb", "https"),
    ],
)
def test_a_fragment_wildcard_or_plain_http_redirect_uri_is_refused_clearly(
    client, db, manager, uri, says
):
    before = portal_count(db)
    form = registration(redirect_uris=f"https://dvc.example.gov.vn/ok\r\n{uri}")
    token = csrf_token(body(client.get(f"{CONSOLE}/portals/new?lang=en")))
    resp = client.post(f"{CONSOLE}/portals/new", data={**form, "csrf_token": token})
    assert resp.status_code == 400
    page = body(resp)
    error = re.search(r'id="redirect_uris-error" role="alert">([^<]+)<', page).group(1)
    assert uri.replace("&", "&amp;") in error
    assert says in error
    # Everything typed is still there.
    assert (
        "https://dvc.example.gov.vn/ok\r\n" + uri in page
        or "https://dvc.example.gov.vn/ok\n" + uri in page
    )
    assert 'value="Provincial public services"' in page
    assert 'value="Gửi kết quả"' in page
    assert 'value="profile" checked' in page
    assert portal_count(db) == before


def test_http_on_loopback_is_accepted(client, db, manager):
    client_id, _ = register(client, redirect_uris="http://127.0.0.1:8080/cb", web_origins="")
    portal = db.scalar(select(Portal).where(Portal.client_id == client_id))
    assert portal.redirect_uris == ["http://127.0.0.1:8080/cb"]


def test_errors_are_vietnamese_by_default(client, db, manager):
    resp = post(client, "/portals/new", registration(name="", redirect_uris=""))
    assert resp.status_code == 400
    page = body(resp)
    assert '<html lang="vi">' in page
    assert "Vui lòng sửa các mục được đánh dấu bên dưới." in page


def test_a_purpose_needs_its_scope_and_both_texts(client, db, manager):
    before = portal_count(db)
    form = registration(scope=["openid", "profile"], purpose_email_en="")
    token = csrf_token(body(client.get(f"{CONSOLE}/portals/new?lang=en")))
    resp = client.post(f"{CONSOLE}/portals/new", data={**form, "csrf_token": token})
    assert resp.status_code == 400
    page = body(resp)
    assert 'id="purpose_email-error"' in page
    assert "“email” scope" in page
    assert 'id="purpose_email_en-error"' in page
    assert portal_count(db) == before


def test_edit_changes_fields_and_purposes_and_keeps_the_fixed_ones(client, db, manager):
    client_id, secret = register(client)
    page = body(client.get(f"{CONSOLE}/portals/{client_id}/edit"))
    assert "Provincial public services" in page
    assert 'name="subject_type"' not in page  # fixed at registration
    form = registration(
        name_en="Public services",
        redirect_uris="https://dvc.example.gov.vn/new-callback",
        scope=["openid", "profile", "phone"],
        purpose_email=None,
        purpose_phone_number="yes",
        purpose_phone_number_vi="Gọi khi cần",
        purpose_phone_number_en="To call when needed",
        auth_method="client_secret_basic",
        subject_type="public",  # ignored: fixed
        backchannel_logout_uri="",
    )
    resp = post(client, f"/portals/{client_id}/edit", form)
    assert resp.status_code == 303, body(resp)[:3000]
    assert resp.location.endswith(f"/portals/{client_id}?done=updated")
    db.expire_all()
    portal = db.scalar(select(Portal).where(Portal.client_id == client_id))
    assert portal.name_en == "Public services"
    assert portal.redirect_uris == ["https://dvc.example.gov.vn/new-callback"]
    assert portal.scope == "openid profile phone"
    assert portal.token_endpoint_auth_method == "client_secret_basic"
    assert portal.subject_type == "pairwise"
    assert portal.backchannel_logout_uri is None
    assert portal.client_secret_hash == digest(secret)
    notice = current_notice(db, portal.id)
    assert set(notice.purposes) == {"name", "phone_number"}
    assert notice.version == 2
    [event] = staff_events(db, "staff.portal_updated", manager)
    assert "purposes" in event["fields"]
    assert "name_en" in event["fields"]


def test_a_refused_edit_writes_nothing_and_keeps_the_input(client, db, manager):
    client_id, _ = register(client)
    db.expire_all()
    portal = db.scalar(select(Portal).where(Portal.client_id == client_id))
    stored = (portal.name_en, list(portal.redirect_uris), portal.scope)
    form = registration(
        name_en="Changed name", redirect_uris="https://other.example.gov.vn/cb"
    )  # leaves the sector's host: refused
    token = csrf_token(body(client.get(f"{CONSOLE}/portals/{client_id}/edit?lang=en")))
    resp = client.post(f"{CONSOLE}/portals/{client_id}/edit", data={**form, "csrf_token": token})
    assert resp.status_code == 400
    page = body(resp)
    assert "dvc.example.gov.vn" in re.search(r'id="redirect_uris-error"[^>]*>([^<]+)<', page).group(
        1
    )
    assert 'value="Changed name"' in page
    db.expire_all()
    portal = db.scalar(select(Portal).where(Portal.client_id == client_id))
    assert (portal.name_en, list(portal.redirect_uris), portal.scope) == stored


def test_suspend_asks_then_cuts_off_resume_then_delete(client, db, manager):
    portal = new_portal(db)
    path = f"/portals/{portal.client_id}"
    confirm = client.get(f"{CONSOLE}{path}/suspend?lang=en")
    assert confirm.status_code == 200
    assert "Suspend" in body(confirm)
    assert db.scalar(select(Portal.disabled_at).where(Portal.id == portal.id)) is None
    # Deleting an active portal is refused.
    assert client.get(f"{CONSOLE}{path}/delete").status_code == 409
    assert post(client, f"{path}/delete", {}, page=path).status_code == 409
    resp = post(client, f"{path}/suspend", {}, page=f"{path}/suspend")
    assert resp.status_code == 303
    db.expire_all()
    assert db.scalar(select(Portal.disabled_at).where(Portal.id == portal.id)) is not None
    assert "status-suspended" in body(client.get(CONSOLE + path))
    assert staff_events(db, "staff.portal_suspended", manager)[0]["portal_id"] == portal.id
    # Resume.
    assert post(client, f"{path}/resume", {}, page=path).status_code == 303
    db.expire_all()
    assert db.scalar(select(Portal.disabled_at).where(Portal.id == portal.id)) is None
    assert staff_events(db, "staff.portal_resumed", manager)
    # Suspend again, then delete (after its confirmation page).
    post(client, f"{path}/suspend", {}, page=f"{path}/suspend")
    assert client.get(f"{CONSOLE}{path}/delete").status_code == 200
    resp = post(client, f"{path}/delete", {}, page=f"{path}/delete")
    assert resp.status_code == 303
    assert resp.location.endswith("/portals?done=deleted")
    db.expire_all()
    assert db.get(Portal, portal.id) is None
    assert staff_events(db, "staff.portal_deleted", manager)[0]["portal_id"] == portal.id
    assert client.get(CONSOLE + path).status_code == 404


def test_rotate_shows_the_new_secret_once_and_the_old_one_keeps_working(client, db, manager):
    portal = new_portal(db)
    path = f"/portals/{portal.client_id}/rotate"
    resp = post(client, path, {"grace": "5", "unit": "minutes"})
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    new = re.search(r'id="client-secret">([^<]+)<', body(resp)).group(1)
    db.expire_all()
    row = db.get(Portal, portal.id)
    assert row.check_client_secret(new)
    assert row.check_client_secret(portal.secret)  # the grace period
    left = row.previous_secret_expires_at - utcnow()
    assert dt.timedelta(minutes=4) < left <= dt.timedelta(minutes=5)
    assert staff_events(db, "staff.secret_rotated", manager)[0]["grace"] == 300
    # With no grace, the previous one stops at once.
    resp = post(client, path, {"grace": "0", "unit": "seconds"})
    newer = re.search(r'id="client-secret">([^<]+)<', body(resp)).group(1)
    db.expire_all()
    row = db.get(Portal, portal.id)
    assert row.check_client_secret(newer)
    assert not row.check_client_secret(new)


@pytest.mark.parametrize(
    ("grace", "unit"), [("-1", "seconds"), ("abc", "minutes"), ("1", "hours"), ("50000", "minutes")]
)
def test_a_bad_grace_period_is_refused_and_the_secret_kept(client, db, manager, grace, unit):
    portal = new_portal(db)
    resp = post(client, f"/portals/{portal.client_id}/rotate", {"grace": grace, "unit": unit})
    assert resp.status_code == 400
    assert 'id="grace-error"' in body(resp)
    db.expire_all()
    assert db.get(Portal, portal.id).check_client_secret(portal.secret)


def test_a_portal_without_a_secret_cannot_rotate(client, db, manager):
    portal = new_portal(db, auth_method="none")
    assert client.get(f"{CONSOLE}/portals/{portal.client_id}/rotate").status_code == 409


def test_the_list_and_the_page_show_grants_sign_ins_and_deliveries(client, db, manager):
    from idp.portals.models import LogoutDelivery

    portal = new_portal(db)
    db.add(
        LogoutDelivery(
            portal_id=portal.id, jti="j1", reason="signout", attempt=1, outcome="delivered"
        )
    )
    db.commit()
    listing = body(client.get(f"{CONSOLE}/portals?lang=en"))
    row = listing.split(f'data-client-id="{portal.client_id}"')[1].split("</tr>")[0]
    assert "Active" in row
    assert "never" in row
    page = body(client.get(f"{CONSOLE}/portals/{portal.client_id}?lang=en"))
    assert 'id="live-grants">0<' in page
    assert 'data-outcome="delivered">delivered: 1<' in page
    assert 'id="recent-deliveries"' in page


def test_every_console_form_needs_the_csrf_token(client, db, manager):
    portal = new_portal(db)
    before = portal_count(db)
    resp = client.post(f"{CONSOLE}/portals/new", data=registration())
    assert resp.status_code == 400
    assert portal_count(db) == before
    for action in ("suspend", "rotate", "edit"):
        resp = client.post(
            f"{CONSOLE}/portals/{portal.client_id}/{action}", data={"grace": "0", "unit": "seconds"}
        )
        assert resp.status_code == 400
    db.expire_all()
    row = db.get(Portal, portal.id)
    assert row.disabled_at is None
    assert row.check_client_secret(portal.secret)


def test_unknown_portals_are_a_clear_404(client, db, manager):
    for path in ("/portals/nope", "/portals/nope/edit", "/portals/nope/suspend"):
        resp = client.get(CONSOLE + path)
        assert resp.status_code == 404
        assert 'role="alert"' in body(resp)


@pytest.mark.parametrize(
    "path", ["/", "/portals", "/portals/new", "/portals/{c}", "/portals/{c}/edit", "/audit"]
)
def test_console_pages_are_vietnamese_with_english_on_request(client, db, settings, clock, path):
    from babel.messages.pofile import read_po

    from tests.test_translations import TRANSLATIONS

    portal = new_portal(db)
    signed_in_staff(client, db, settings, clock, ("admin",), email="admin@so-tt.gov.vn")
    url = CONSOLE + path.format(c=portal.client_id)
    page = body(client.get(url))
    assert '<html lang="vi">' in page
    with (TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as fileobj:
        catalog = read_po(fileobj, locale="vi")
    text = html.unescape(page)
    leaks = [
        m.id
        for m in catalog
        if isinstance(m.id, str) and " " in m.id and m.id != m.string and m.id in text
    ]
    assert leaks == []
    assert '<html lang="en">' in body(client.get(url + "?lang=en"))
