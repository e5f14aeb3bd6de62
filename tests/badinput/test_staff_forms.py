"""Bad input at the staff and desk pages, the identity correction form and the
``verified_claims`` request: a clear page or a standard error, never a 500, and a refused
submission writes nothing (no account, no verification, no change of identity data)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from tests.badinput.conftest import (
    FUZZ,
    auth_params,
    check_clean,
    check_html,
    form_value,
    location_params,
    nasty_text,
    row_counts,
)
from tests.support.factories import new_citizen
from tests.support.staff import EMAIL, add_officer, set_up, staff_sign_in
from tests.support.useragent import page_csrf

IDENTITY = ("family_name", "middle_name", "given_name", "birthdate", "gender")
PROFILE = (*IDENTITY, "cccd", "email", "phone", "province", "commune", "street")


def _counts(db: Any) -> dict[str, int]:
    extra = ("identity_verifications", "staff_accounts", "staff_links")
    out = row_counts(db)
    for t in extra:
        out[t] = int(db.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())  # noqa: S608
    return out


def _identity_row(db: Any, citizen_id: str) -> tuple:
    return tuple(
        db.execute(
            text(
                "SELECT family_name, middle_name, given_name, birthdate, gender, cccd "
                "FROM citizens WHERE id = :id"
            ),
            {"id": citizen_id},
        ).one()
    )


@pytest.fixture
def officer(client, db, settings, clock):
    _, token = add_officer(db, settings)
    key = set_up(client, token, clock)
    assert staff_sign_in(client, key, clock).status_code == 303
    return EMAIL


@FUZZ
@given(email=form_value, password=form_value, pending=st.one_of(st.none(), form_value))
def test_staff_signin_fuzz(client, db, email, password, pending):
    data = {"csrf_token": page_csrf(client, "/staff/signin"), "email": email}
    data["password"] = password
    if pending is not None:
        data |= {"pending": pending, "code": password}
    before = _counts(db)
    resp = client.post("/staff/signin", data=data)
    check_clean(resp)
    assert resp.status_code in (303, 401)
    assert _counts(db) == before


@FUZZ
@given(token=nasty_text, step=form_value, password=form_value)
def test_staff_setup_link_fuzz(client, db, token, step, password):
    path = "/staff/setup/" + token.replace("/", "_").replace("?", "_").replace("#", "_")
    resp = client.get(path)
    check_clean(resp)
    before = _counts(db)
    resp = client.post(path, data={"step": step, "password": password})
    check_clean(resp)
    assert _counts(db) == before


@FUZZ
@given(cccd=form_value)
def test_desk_find_fuzz(client, db, officer, cccd):
    resp = client.post(
        "/staff/desk/find", data={"cccd": cccd, "csrf_token": page_csrf(client, "/staff/desk")}
    )
    check_html(resp, 200, 400)


@FUZZ
@given(bad=st.dictionaries(st.sampled_from((*IDENTITY, "card_checked")), form_value, min_size=1))
def test_desk_verify_fuzz(client, db, settings, officer, bad):
    citizen = new_citizen(db, settings)
    form = {k: citizen.profile[k] for k in IDENTITY} | {"card_checked": "yes"}
    stored = _identity_row(db, citizen.id)
    before = _counts(db)
    resp = client.post(
        f"/staff/desk/citizen/{citizen.id}/verify",
        data={**form, **bad, "csrf_token": page_csrf(client, "/staff/desk")},
    )
    check_html(resp, 200, 400)
    if resp.status_code == 400:
        assert _counts(db) == before
        assert _identity_row(db, citizen.id) == stored


@FUZZ
@given(citizen_id=nasty_text)
def test_desk_verify_unknown_account(client, db, officer, citizen_id):
    safe = citizen_id.replace("/", "_").replace("?", "_").replace("#", "_") or "x"
    resp = client.post(
        f"/staff/desk/citizen/{safe}/verify",
        data={"card_checked": "yes", "csrf_token": page_csrf(client, "/staff/desk")},
    )
    check_html(resp, 404)


@FUZZ
@given(
    bad=st.dictionaries(
        st.sampled_from((*PROFILE, "card_checked", "owner_confirmed", "start")),
        form_value,
        min_size=1,
        max_size=4,
    )
)
def test_desk_register_fuzz(client, db, officer, bad):
    from tests.support.factories import profile_data

    form = profile_data() | {"card_checked": "yes"}
    before = _counts(db)
    resp = client.post(
        "/staff/desk/register",
        data={**form, **bad, "csrf_token": page_csrf(client, "/staff/desk")},
    )
    page = check_html(resp, 200, 400, 409)
    if 'id="set-password-link"' not in page:
        assert _counts(db) == before


@FUZZ
@given(
    bad=st.dictionaries(st.sampled_from((*IDENTITY, "identity_password")), form_value, min_size=1)
)
def test_identity_correction_fuzz(client, db, signed_in, bad):
    form = {k: signed_in.profile[k] for k in IDENTITY} | {"identity_password": signed_in.password}
    stored = _identity_row(db, signed_in.id)
    before = _counts(db)
    resp = client.post(
        "/account/identity",
        data={**form, **bad, "csrf_token": page_csrf(client, "/account")},
    )
    check_html(resp, 200, 400)
    assert _counts(db) == before
    if resp.status_code == 400:
        assert _identity_row(db, signed_in.id) == stored


VERIFIED_SHAPES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), nasty_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "verification",
                    "claims",
                    "trust_framework",
                    "time",
                    "max_age",
                    "evidence",
                    "type",
                    "value",
                    "values",
                    "check_details",
                    "document_details",
                    "given_name",
                    "cccd",
                    "essential",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@FUZZ
@given(spec=VERIFIED_SHAPES)
def test_verified_claims_request_fuzz(client, db, portal, signed_in, spec):
    claims = json.dumps({"userinfo": {"verified_claims": spec}})
    if len(claims) > 4000:
        return
    resp = client.get("/authorize", query_string=auth_params(portal, claims=claims))
    check_clean(resp)
    assert resp.status_code in (302, 303)
    if resp.status_code == 302:
        _, params = location_params(resp)
        assert params.get("error", ["invalid_request"]) == ["invalid_request"]
