"""Every registration field: validated at registration and at update, all checked before
anything is written; automation clients; the operators' overview of a portal."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from idp.admin import service as admin
from idp.db import utcnow
from idp.portals.models import Portal
from idp.portals.service import RegistrationError
from tests.support.factories import REDIRECT_URI, make_portal

OK = "https://land.example.gov.vn/cb"


def _count(db) -> int:
    return db.scalar(select(func.count()).select_from(Portal))


def _register(db, **kw):
    base = {"name": "Cổng đất đai", "redirect_uris": [OK], "scope": "openid profile"}
    base.update(kw)
    return admin.register_portal(db, **base)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("redirect_uris", ["https://land.example.gov.vn/cb#x"], "fragment"),
        ("redirect_uris", ["https://*.example.gov.vn/cb"], "wildcard"),
        ("redirect_uris", ["https://land.example.gov.vn/*"], "wildcard"),
        ("redirect_uris", ["http://land.example.gov.vn/cb"], "https"),
        ("redirect_uris", ["https://land.example.gov.vn:99999/cb"], "not a valid URL"),
        ("redirect_uris", ["https://land.example.gov.vn/c b"], "spaces"),
        ("redirect_uris", [], "at least one"),
        ("redirect_uris", "https://land.example.gov.vn/cb", "list"),
        ("post_logout_redirect_uris", ["http://example.gov.vn/bye"], "https"),
        ("web_origins", ["https://app.example.gov.vn/path"], "scheme://host"),
        ("web_origins", ["https://*.example.gov.vn"], "wildcard"),
        ("web_origins", ["http://app.example.gov.vn"], "https"),
        ("web_origins", ["https://app.example.gov.vn?x=1"], "scheme://host"),
        ("web_origins", ["null"], "scheme://host"),
        ("web_origins", "https://app.example.gov.vn", "list"),
        ("name", "", "1 to 200"),
        ("name", "x" * 201, "1 to 200"),
        ("name", "a\x00b", "control"),
        ("name_en", 5, "text"),
        ("contact_email", "not-an-email", "email"),
        ("contact_email", "a@b", "email"),
        ("contact_email", "a b@example.vn", "email"),
        ("subject_type", "secret", "pairwise, public"),
        ("id_token_signed_response_alg", "HS256", "RS256, ES256"),
        ("auth_method", "client_secret_jwt", "client_secret_basic"),
        ("scope", "openid admin:portals", "unknown scope"),
        ("scope", 7, "space-separated"),
        ("default_acr", "urn:vn:idp:loa:9", "must be one of"),
        ("client_id", "-starts-with-dash", "not starting with '-'"),
        ("client_id", "has space", "without spaces"),
        ("kind", "robot", "portal, automation"),
    ],
)
def test_bad_field_refused_with_a_clear_message_and_nothing_written(
    db, app_ctx, field, value, message
):
    before = _count(db)
    with pytest.raises(RegistrationError) as raised:
        _register(db, **{field: value})
    assert message in raised.value.message
    assert _count(db) == before


def test_every_field_registered_and_described(db, app_ctx):
    reg = _register(
        db,
        name=" Cổng  đất đai ",
        name_en="Land portal",
        contact_email="it@land.example.gov.vn",
        web_origins=["https://App.Example.gov.vn:443", "http://127.0.0.1:8080"],
        subject_type="public",
        id_token_signed_response_alg="ES256",
        default_acr="urn:vn:idp:loa:2",
        auth_method="client_secret_post",
    )
    out = admin.describe_portal(db, reg.portal)
    assert out["client_name"] == "Cổng đất đai"
    assert out["client_name#en"] == "Land portal"
    assert out["contacts"] == ["it@land.example.gov.vn"]
    # Origins as a browser sends them: lower case, no default port.
    assert out["web_origins"] == ["https://app.example.gov.vn", "http://127.0.0.1:8080"]
    assert out["subject_type"] == "public"
    assert out["id_token_signed_response_alg"] == "ES256"
    assert out["token_endpoint_auth_method"] == "client_secret_post"
    assert reg.client_secret


def test_automation_client_has_admin_scopes_only_and_no_redirect(db, app_ctx):
    reg = _register(db, kind="automation", redirect_uris=None, scope="admin:portals admin:audit")
    portal = reg.portal
    assert portal.grant_types == ["client_credentials"]
    assert portal.scope == "admin:portals admin:audit"
    assert portal.redirect_uris == []
    assert reg.client_secret
    assert not portal.check_response_type("code")
    for field, value in (
        ("redirect_uris", [OK]),
        ("web_origins", ["https://a.example.gov.vn"]),
        ("scope", "openid"),
        ("scope", ""),
        ("auth_method", "none"),
    ):
        with pytest.raises(RegistrationError):
            _register(
                db,
                kind="automation",
                **{"redirect_uris": None, "scope": "admin:portals", field: value},
            )


def test_a_service_portal_cannot_take_admin_scopes(db, app_ctx):
    portal, _ = make_portal(db)
    with pytest.raises(RegistrationError, match="unknown scope"):
        admin.update_portal(db, client_id=portal.client_id, scope="openid admin:keys")


def test_update_changes_only_the_fields_given(db, app_ctx):
    portal, _ = make_portal(db, scope="openid profile")
    client_id = portal.client_id
    before = admin.describe_portal(db, portal)
    changed_portal, changed = admin.update_portal(
        db,
        client_id=client_id,
        name_en="Land",
        contact_email="ops@example.gov.vn",
        web_origins=["https://app.example.gov.vn"],
        redirect_uris=[REDIRECT_URI, REDIRECT_URI + "/2"],
        post_logout_redirect_uris=[REDIRECT_URI + "/bye"],
        id_token_signed_response_alg="ES256",
        default_acr="urn:vn:idp:loa:2",
    )
    assert sorted(changed) == sorted(
        [
            "name_en",
            "contact_email",
            "web_origins",
            "redirect_uris",
            "post_logout_redirect_uris",
            "id_token_signed_response_alg",
            "default_acr",
        ]
    )
    after = admin.describe_portal(db, changed_portal)
    assert after["client_name"] == before["client_name"]
    assert after["scope"] == before["scope"]
    assert after["redirect_uris"] == [REDIRECT_URI, REDIRECT_URI + "/2"]
    # Nothing changes when the same values come again.
    assert admin.update_portal(db, client_id=client_id, name_en="Land")[1] == []


@pytest.mark.parametrize(
    "changes",
    [
        {"subject_type": "public"},
        {"sector_identifier": "other.example"},
        {"kind": "automation"},
        {"client_secret_hash": "x"},
        {"auth_method": "none"},
        {"auth_method": "private_key_jwt"},
        {"name": "ok", "web_origins": ["https://x.example/path"]},
        {"contact_email": "ok@example.vn", "redirect_uris": ["https://elsewhere.example/cb"]},
        {"name_en": "ok", "redirect_uris": []},
        {"jwks_uri": "https://keys.example.gov.vn/jwks"},
        {"backchannel_logout_uri": "https://127.0.0.1/logout"},
    ],
)
def test_refused_update_writes_nothing(db, app_ctx, changes):
    portal, _ = make_portal(db)
    client_id = portal.client_id
    before = admin.describe_portal(db, portal)
    with pytest.raises(RegistrationError):
        admin.update_portal(db, client_id=client_id, **changes)
    db.expire_all()
    assert admin.describe_portal(db, admin.portals.by_client_id(db, client_id)) == before


def test_narrower_scope_must_still_cover_the_declared_purposes(db, app_ctx):
    portal, _ = make_portal(db)  # declares a purpose for every item of every scope
    with pytest.raises(RegistrationError, match="needs the .phone. scope.*declare fewer"):
        admin.update_portal(db, client_id=portal.client_id, scope="openid profile email address")
    # Declaring fewer purposes at the same time makes the narrower scope possible.
    purposes = {"name": {"purpose": {"vi": "Xưng hô", "en": "To address you"}, "required": True}}
    _, changed = admin.update_portal(
        db, client_id=portal.client_id, scope="openid profile", purposes=purposes
    )
    assert set(changed) == {"scope", "purposes"}


def test_secret_methods_interchange(db, app_ctx):
    portal, secret = make_portal(db)
    _, changed = admin.update_portal(
        db, client_id=portal.client_id, auth_method="client_secret_post"
    )
    assert changed == ["token_endpoint_auth_method"]
    assert portal.check_client_secret(secret)


def test_overview_counts_grants_sign_ins_and_deliveries(db, app_ctx):
    from idp.portals.models import LogoutDelivery

    portal, _ = make_portal(db)
    earlier = utcnow() - dt.timedelta(seconds=5)
    for attempt, outcome, at in ((1, "failed", earlier), (2, "delivered", utcnow())):
        db.add(
            LogoutDelivery(
                portal_id=portal.id,
                jti="j1",
                reason="r",
                attempt=attempt,
                outcome=outcome,
                attempted_at=at,
            )
        )
    db.flush()
    out = admin.portal_overview(db, portal)
    assert out["live_grants"] == 0
    assert out["last_sign_in"] is None
    assert out["deliveries"] == {"failed": 1, "delivered": 1}
    assert [d["attempt"] for d in out["recent_deliveries"]] == [2, 1]
    assert out["kind"] == "portal"
