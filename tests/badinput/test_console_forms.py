"""Bad input on every console form and filter: a clear page (never a 500, never a trace),
and a refused submission writes nothing (no portal, no notice, no changed registration,
no new secret)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from idp.consent.models import Notice
from idp.portals.models import Portal
from tests.admin.test_console_portals import registration
from tests.badinput.conftest import FUZZ, check_clean, check_html, form_value, nasty_text
from tests.support.factories import make_portal, new_portal
from tests.support.staff import signed_in_staff
from tests.support.useragent import page_csrf

CONSOLE = "/staff/console"
PORTAL_FIELDS = (
    "name",
    "name_en",
    "contact_email",
    "redirect_uris",
    "post_logout_redirect_uris",
    "web_origins",
    "scope",
    "default_acr",
    "id_token_signed_response_alg",
    "subject_type",
    "sector_identifier",
    "auth_method",
    "jwks",
    "jwks_uri",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "backchannel_private",
    *(
        f"purpose_{item}{part}"
        for item in ("name", "email", "cccd", "address")
        for part in ("", "_vi", "_en", "_required", "_verified")
    ),
)


@pytest.fixture
def admin(client, db, settings, clock) -> str:
    return signed_in_staff(client, db, settings, clock, ("admin",), email="qtv@so-tt.gov.vn")


def _written(db: Any) -> tuple[int, int]:
    portals = db.scalar(select(func.count()).select_from(Portal))
    notices = db.scalar(select(func.count()).select_from(Notice))
    return int(portals), int(notices)


def _row(db: Any, portal_id: str) -> tuple:
    return tuple(
        db.execute(
            text(
                "SELECT name, name_en, contact_email, redirect_uris, post_logout_redirect_uris, "
                "web_origins, scope, token_endpoint_auth_method, id_token_signed_response_alg, "
                "default_acr, backchannel_logout_uri, jwks, jwks_uri, client_secret_hash "
                "FROM portals WHERE id = :id"
            ),
            {"id": portal_id},
        ).one()
    )


def _refused_clearly(page: str) -> None:
    assert 'role="alert"' in page
    assert 'class="error-summary"' in page


@FUZZ
@given(bad=st.dictionaries(st.sampled_from(PORTAL_FIELDS), form_value, min_size=1, max_size=4))
def test_register_form_fuzz(client, db, admin, bad):
    form = {**registration(), **bad, "csrf_token": page_csrf(client, f"{CONSOLE}/portals/new")}
    before = _written(db)
    resp = client.post(f"{CONSOLE}/portals/new", data=form)
    page = check_html(resp, 200, 400)
    if resp.status_code == 400:
        _refused_clearly(page)
        assert _written(db) == before
    else:
        assert 'id="client-id"' in page


@pytest.mark.parametrize("field", PORTAL_FIELDS)
@pytest.mark.parametrize("value", ["\x00", "x" * 5000, "{", "<script>"])
def test_register_each_field_refuses_or_accepts_cleanly(client, db, admin, field, value):
    form = {
        **registration(),
        field: value,
        "csrf_token": page_csrf(client, f"{CONSOLE}/portals/new"),
    }
    before = _written(db)
    resp = client.post(f"{CONSOLE}/portals/new", data=form)
    page = check_html(resp, 200, 400)
    assert "<script>" not in page.split("<main", 1)[1]
    if resp.status_code == 400:
        _refused_clearly(page)
        assert _written(db) == before


@FUZZ
@given(bad=st.dictionaries(st.sampled_from(PORTAL_FIELDS), form_value, min_size=1, max_size=4))
def test_edit_form_fuzz(client, db, admin, bad):
    portal, _secret = make_portal(db, redirect_uris=["https://dvc.example.gov.vn/callback"])
    db.commit()
    portal_id, path = portal.id, f"{CONSOLE}/portals/{portal.client_id}/edit"
    stored = _row(db, portal_id)
    before = _written(db)
    resp = client.post(path, data={**registration(), **bad, "csrf_token": page_csrf(client, path)})
    check_clean(resp)
    assert resp.status_code in (303, 400), resp.status_code
    if resp.status_code == 400:
        _refused_clearly(check_html(resp))
        db.expire_all()
        assert _row(db, portal_id) == stored
        assert _written(db) == before


@FUZZ
@given(grace=form_value, unit=form_value)
def test_rotate_form_fuzz(client, db, admin, grace, unit):
    portal = new_portal(db)
    path = f"{CONSOLE}/portals/{portal.client_id}/rotate"
    resp = client.post(
        path, data={"grace": grace, "unit": unit, "csrf_token": page_csrf(client, path)}
    )
    page = check_html(resp, 200, 400)
    db.expire_all()
    row = db.get(Portal, portal.id)
    if resp.status_code == 400:
        assert 'id="grace-error"' in page
        assert row.check_client_secret(portal.secret)
        assert row.previous_secret_hash is None


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(("name", "portal", "from", "to", "before", "lang")), form_value
    )
)
def test_audit_filters_fuzz(client, admin, params):
    resp = client.get(f"{CONSOLE}/audit", query_string=params)
    check_html(resp, 200, 400)
    resp = client.get(f"{CONSOLE}/audit.csv", query_string=params)
    check_clean(resp)
    assert resp.status_code in (200, 400)


@FUZZ
@given(
    client_id=nasty_text, action=st.sampled_from(("", "/edit", "/suspend", "/delete", "/rotate"))
)
def test_unknown_or_garbage_client_ids(client, db, admin, client_id, action):
    # As a browser sends it: percent-encoded (a raw control character is no URL).
    safe = quote(client_id.replace("/", "_"), safe="")
    if safe in ("", "new", ".", ".."):  # a page of its own, or a path that folds away
        safe = "x"
    path = f"{CONSOLE}/portals/{safe}{action}"
    before = _written(db)
    check_html(client.get(path), 404)
    for post_action in ("/suspend", "/resume", "/delete", "/rotate", "/edit"):
        resp = client.post(
            f"{CONSOLE}/portals/{safe}{post_action}",
            data={"csrf_token": page_csrf(client, f"{CONSOLE}/portals"), "grace": "0"},
        )
        check_html(resp, 404)
    assert _written(db) == before
