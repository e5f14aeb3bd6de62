"""Identity assurance: declared versus verified data, desk verification, no CCCD
squatting, and OpenID Connect for Identity Assurance ``verified_claims``.

Flask test client, both backends. The ``verified_claims`` released are checked against
the working group's JSON schemas (tests/data/oidc4ida, see SOURCE.md there).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from sqlalchemy import select, text, update

from idp import events
from idp.citizens import identity
from idp.citizens.models import Citizen, IdentityVerification
from idp.citizens.service import make_hasher
from idp.citizens.validation import ValidationErrors, validate_profile
from idp.consent.models import Release
from idp.staff import desk
from idp.staff import service as staff
from tests.consent.helpers import ISSUER, Browser, body, counts
from tests.support.factories import new_citizen, new_portal, profile_data

SCHEMAS = Path(__file__).parent.parent / "data" / "oidc4ida"
_loaded = {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
REGISTRY = Registry().with_contents([(s["$id"], s) for s in _loaded.values()])
RESPONSE = Draft202012Validator(_loaded["verified_claims.json"], registry=REGISTRY)
REQUEST = Draft202012Validator(_loaded["verified_claims_request.json"], registry=REGISTRY)

TF = "urn:vn:idp:tf:1"
IDENTITY_SCOPE = "openid profile cccd"


def purposes(verified=(), required=("name", "cccd")):
    return {
        item: {
            "purpose": {"vi": f"Mục đích {item}", "en": f"Purpose {item}"},
            "required": item in required,
            **({"verified": True} if item in verified else {}),
        }
        for item in ("name", "birthdate", "gender", "cccd")
    }


@pytest.fixture
def officer(db):
    account = staff.add_staff(
        db, email="officer@motcua.danang.gov.vn", roles=["desk_officer"], unit_code="48"
    )
    db.commit()
    return account.id


def _officer(db, officer_id):
    return staff.get_staff(db, officer_id)


@pytest.fixture
def citizen(db, settings):
    return new_citizen(db, settings)


@pytest.fixture
def browser(client, citizen):
    return Browser(client, citizen)


@pytest.fixture
def seen():
    got = []

    def listen(name, payload):
        got.append((name, dict(payload)))

    events.subscribe(listen)
    yield got
    events.unsubscribe(listen)


def _verify_at_desk(app, db, citizen_id, officer, **corrections):
    with app.test_request_context():
        row = db.get(Citizen, citizen_id)
        result = desk.verify_in_person(
            db, citizen=row, officer=_officer(db, officer), corrections=corrections or None
        )
        db.commit()
    return result


def _levels(db, citizen_id):
    return identity.assurance_of(db, db.get(Citizen, citizen_id)).levels()


def _verified_request(**verification):
    spec = {"verification": {"trust_framework": None, **verification}}
    spec["claims"] = {"given_name": None, "family_name": None, "birthdate": None, "cccd": None}
    return {"userinfo": {"verified_claims": spec}}


def _releases(db, citizen_id):
    return db.scalars(select(Release).where(Release.citizen_id == citizen_id)).all()


# -- assurance recorded per profile -----------------------------------------------------


def test_online_data_is_declared_and_a_desk_check_verifies_it(app, db, citizen, officer, inbox):
    assert set(_levels(db, citizen.id).values()) == {"declared"}
    result = _verify_at_desk(app, db, citizen.id, officer)
    assert _levels(db, citizen.id) == dict.fromkeys(identity.IDENTITY_ITEMS, "desk_verified")
    row = result.verification
    assert (row.method, row.officer_id, row.unit_code, row.evidence) == (
        "desk",
        officer,
        "48",
        "idcard",
    )
    assert inbox.last(citizen.profile["phone"], "identity_verified")


def test_a_value_changed_after_verification_reads_as_declared_again(app, db, citizen, officer):
    _verify_at_desk(app, db, citizen.id, officer)
    row = db.get(Citizen, citizen.id)
    row.given_name = "Khác"
    db.commit()
    levels = _levels(db, citizen.id)
    assert levels["name"] == "declared"
    assert levels["birthdate"] == levels["cccd"] == "desk_verified"
    # The history keeps who verified what, when.
    assert len(identity.history(db, citizen.id)) == 1


def test_a_desk_correction_from_the_card_is_applied_then_verified(app, db, citizen, officer, seen):
    fields = {k: citizen.profile[k] for k in ("family_name", "middle_name", "birthdate", "gender")}
    _verify_at_desk(app, db, citizen.id, officer, given_name="Hoà", **fields)
    assert db.get(Citizen, citizen.id).given_name == "Hoà"
    assert _levels(db, citizen.id)["name"] == "desk_verified"
    names = [n for n, _ in seen]
    assert "identity.corrected_at_desk" in names
    assert "identity.desk_verified" in names
    logged = dict(seen)["identity.desk_verified"]
    assert (logged["officer_id"], logged["unit"], logged["citizen_id"]) == (
        officer,
        "48",
        citizen.id,
    )


def test_a_correction_that_disagrees_with_the_card_number_writes_nothing(app, db, citizen, officer):
    wrong_year = str(int(citizen.profile["birthdate"][:4]) + 1) + citizen.profile["birthdate"][4:]
    fields = {k: citizen.profile[k] for k in ("family_name", "middle_name", "given_name", "gender")}
    with app.test_request_context(), pytest.raises(ValidationErrors) as err:
        desk.verify_in_person(
            db,
            citizen=db.get(Citizen, citizen.id),
            officer=_officer(db, officer),
            corrections={**fields, "birthdate": wrong_year},
        )
    assert "birthdate" in err.value.errors
    db.rollback()
    assert (
        db.scalar(
            select(IdentityVerification.id).where(IdentityVerification.citizen_id == citizen.id)
        )
        is None
    )
    assert db.get(Citizen, citizen.id).birthdate.isoformat() == citizen.profile["birthdate"]


def test_only_an_active_desk_officer_records_a_desk_check(app, db, citizen, officer):
    staff.disable_staff(db, _officer(db, officer))
    db.commit()
    with app.test_request_context(), pytest.raises(desk.DeskError):
        desk.verify_in_person(
            db, citizen=db.get(Citizen, citizen.id), officer=_officer(db, officer)
        )


# -- no squatting ------------------------------------------------------------------------


def test_desk_registration_takes_the_number_from_a_squatter(
    app, db, client, settings, officer, inbox, seen
):
    victim = profile_data()
    same = {k: victim[k] for k in ("cccd", "birthdate", "gender", "family_name", "given_name")}
    squatter = new_citizen(db, settings, **same)
    portal = new_portal(db, scope=f"{IDENTITY_SCOPE} offline_access", purposes=purposes())
    thief = Browser(client, squatter)
    out, token, _ = thief.sign_in_flow(
        portal, scope=f"{IDENTITY_SCOPE} offline_access", prompt="consent"
    )
    assert thief.userinfo(token["access_token"]).get_json()["cccd"] == victim["cccd"]

    profile = validate_profile(victim)
    with app.test_request_context():
        before = counts(db, ("citizens", "identity_verifications"))
        with pytest.raises(desk.DeskError):  # the officer must confirm who holds the card
            desk.register_in_person(
                db, profile=profile, officer=_officer(db, officer), hasher=make_hasher(settings)
            )
        db.rollback()
        assert counts(db, ("citizens", "identity_verifications")) == before
        result = desk.register_in_person(
            db,
            profile=profile,
            officer=_officer(db, officer),
            hasher=make_hasher(settings),
            owner_confirmed=True,
        )
        db.commit()

    assert result.took_from == squatter.id
    assert db.get(Citizen, squatter.id).cccd is None
    assert db.get(Citizen, result.citizen.id).cccd == victim["cccd"]
    assert _levels(db, result.citizen.id)["cccd"] == "desk_verified"
    # The squatter's tokens die (offline ones too) and their sessions end.
    assert thief.userinfo(token["access_token"]).status_code == 401
    assert thief.refresh(portal, token["refresh_token"]).status_code == 400
    silent, _, _ = thief.start(portal, scope=IDENTITY_SCOPE, prompt="none")
    assert parse_qs(urlsplit(silent.location).query)["error"] == ["login_required"]
    # Both are told through their own contacts; the move is an audit event.
    assert inbox.last(squatter.profile["phone"], "cccd_removed")
    assert inbox.last(squatter.profile["email"], "cccd_removed")
    assert inbox.last(victim["phone"], "identity_verified")
    moved = dict(seen)["identity.cccd_reassigned"]
    assert (moved["from_citizen_id"], moved["officer_id"], moved["unit"]) == (
        squatter.id,
        officer,
        "48",
    )
    # The number never again goes to a second account, online or at a desk.
    with app.test_request_context(), pytest.raises(desk.DeskError):
        desk.register_in_person(
            db,
            profile=validate_profile(profile_data(**same)),
            officer=_officer(db, officer),
            hasher=make_hasher(settings),
            owner_confirmed=True,
        )
    db.rollback()


def test_online_registration_with_a_declared_number_creates_nothing_and_points_to_a_desk(
    client, db, settings, citizen, inbox
):
    from tests.support.useragent import register_through_pages

    before = counts(db, ("citizens",))
    client.get("/register?lang=en")
    same = {k: citizen.profile[k] for k in ("cccd", "birthdate", "gender", "given_name")}
    data, resp = register_through_pages(client, settings, **same)
    assert counts(db, ("citizens",)) == before
    sms = inbox.last(data["phone"], "registration_taken").body
    assert "one-stop desk" in sms
    assert "citizen ID card" in sms


# -- what portals receive ------------------------------------------------------------------


def test_a_portal_requiring_verified_data_stops_a_declared_citizen(db, browser, citizen):
    portal = new_portal(db, scope=IDENTITY_SCOPE, purposes=purposes(verified=("cccd",)))
    first, _, _ = browser.start(portal, scope=IDENTITY_SCOPE, state="s-1", ui_locales="en")
    page = browser.follow(first, portal)
    assert page.status_code == 403
    html = body(page)
    assert 'data-item="cccd"' in html
    assert 'id="desks"' in html
    assert "Da Nang City Public Administration Service Centre" in html
    assert "What your data is for" not in html  # no consent page: nothing was asked
    back = html.split('id="back-to-portal"')[0].rsplit('href="', 1)[1].split('"')[0]
    query = parse_qs(urlsplit(back.replace("&amp;", "&")).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["s-1"]
    assert query["iss"] == [ISSUER]
    assert not _releases(db, citizen.id)
    # prompt=none cannot show the page: interaction_required.
    silent, _, _ = browser.start(portal, scope=IDENTITY_SCOPE, prompt="none")
    assert parse_qs(urlsplit(silent.location).query)["error"] == ["interaction_required"]


def test_a_verified_citizen_passes_and_receives_verified_claims(app, db, browser, citizen, officer):
    _verify_at_desk(app, db, citizen.id, officer)
    portal = new_portal(db, scope=IDENTITY_SCOPE, purposes=purposes(verified=("cccd", "name")))
    claims = _verified_request(
        time=None,
        verification_process=None,
        evidence=[
            {
                "type": {"value": "document"},
                "check_details": [{"check_method": None}],
                "document_details": {"type": None, "document_number": None, "issuer": None},
            }
        ],
    )
    REQUEST.validate(claims["userinfo"]["verified_claims"])
    out, token, _ = browser.sign_in_flow(portal, scope=IDENTITY_SCOPE, claims=json.dumps(claims))
    info = browser.userinfo(token["access_token"]).get_json()
    RESPONSE.validate(info)
    assert info["cccd"] == citizen.profile["cccd"]  # plain claims stay available
    vc = info["verified_claims"]
    assert vc["verification"]["trust_framework"] == TF
    assert vc["claims"] == {
        "given_name": citizen.profile["given_name"],
        "family_name": citizen.profile["family_name"],
        "birthdate": citizen.profile["birthdate"],
        "cccd": citizen.profile["cccd"],
    }
    evidence = vc["verification"]["evidence"]
    assert evidence[0]["type"] == "document"
    assert evidence[0]["document_details"]["type"] == "idcard"
    assert evidence[0]["document_details"]["document_number"] == citizen.profile["cccd"]
    assert {c["check_method"] for c in evidence[0]["check_details"]} == {"vpip", "pvp"}
    assert "Đà Nẵng" in evidence[0]["check_details"][0]["organization"]
    # The release log records that verified values left.
    last = _releases(db, citizen.id)[-1]
    assert "verified_claims" in last.claims
    assert last.assurance["cccd"] == "desk_verified"


def test_the_consent_page_says_verified_or_declared(app, db, browser, citizen, officer):
    _verify_at_desk(app, db, citizen.id, officer)
    row = db.get(Citizen, citizen.id)
    row.gender = "female" if row.gender == "male" else "male"  # changed online: declared
    db.commit()
    portal = new_portal(db, scope=IDENTITY_SCOPE, purposes=purposes())
    first, _, _ = browser.start(portal, scope=IDENTITY_SCOPE, ui_locales="en")
    html = body(browser.follow(first, portal))
    marks = {
        item: html.split(f'data-assurance="{item}">')[1].split("<")[0]
        for item in ("name", "birthdate", "gender", "cccd")
    }
    assert marks["gender"] == "declared by you"
    assert marks["cccd"].startswith("verified at the one-stop desk of Thành phố Đà Nẵng on ")


def test_receipts_record_whether_verified_or_declared_values_are_shared(
    app, db, browser, citizen, officer
):
    from idp.consent.models import Receipt

    _verify_at_desk(app, db, citizen.id, officer)
    row = db.get(Citizen, citizen.id)
    row.given_name = "Khác"
    db.commit()
    portal = new_portal(db, scope=IDENTITY_SCOPE, purposes=purposes())
    browser.sign_in_flow(portal, scope=IDENTITY_SCOPE)
    receipt = db.scalars(select(Receipt).where(Receipt.citizen_id == citizen.id)).all()[-1]
    payload = json.loads(
        __import__("base64").urlsafe_b64decode(receipt.jws.split(".")[1] + "==").decode()
    )
    levels = {c["claim"]: c.get("assurance") for c in payload["claims"]}
    assert levels["name"] == "declared"
    assert levels["cccd"] == levels["birthdate"] == "desk_verified"


def test_an_item_unverified_since_the_sign_in_is_withheld(app, db, browser, citizen, officer):
    _verify_at_desk(app, db, citizen.id, officer)
    portal = new_portal(db, scope=IDENTITY_SCOPE, purposes=purposes(verified=("name",)))
    out, token, _ = browser.sign_in_flow(portal, scope=IDENTITY_SCOPE)
    assert "given_name" in browser.userinfo(token["access_token"]).get_json()
    db.get(Citizen, citizen.id).given_name = "Khác"
    db.commit()
    info = browser.userinfo(token["access_token"]).get_json()
    assert "given_name" not in info
    assert "name" not in info
    assert info["cccd"] == citizen.profile["cccd"]


@pytest.mark.parametrize(
    ("verification", "present"),
    [
        ({"trust_framework": {"value": TF}}, True),
        ({"trust_framework": {"values": ["de_aml", TF]}}, True),
        ({"trust_framework": {"value": "de_aml"}}, False),  # unknown: ignored, no error
        ({"trust_framework": None, "time": {"max_age": 3 * 86400}}, True),
        ({"trust_framework": None, "time": {"max_age": 86400}}, False),
        ({"trust_framework": None, "evidence": [{"type": {"value": "electronic_record"}}]}, False),
        ({"trust_framework": None, "evidence": [{"type": {"value": "document"}}]}, True),
    ],
)
def test_verification_constraints_are_honoured(
    app, db, browser, citizen, officer, verification, present
):
    _verify_at_desk(app, db, citizen.id, officer)
    two_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    db.execute(update(IdentityVerification).values(verified_at=two_days_ago))
    db.commit()
    portal = new_portal(db, scope=IDENTITY_SCOPE, purposes=purposes())
    claims = {
        "userinfo": {
            "verified_claims": {"verification": verification, "claims": {"birthdate": None}}
        }
    }
    REQUEST.validate(claims["userinfo"]["verified_claims"])
    out, token, _ = browser.sign_in_flow(portal, scope=IDENTITY_SCOPE, claims=json.dumps(claims))
    info = browser.userinfo(token["access_token"]).get_json()
    RESPONSE.validate(info)
    assert ("verified_claims" in info) is present
    if present:
        assert info["verified_claims"]["claims"] == {"birthdate": citizen.profile["birthdate"]}


def test_verified_claims_in_the_id_token_only_when_asked_there(app, db, browser, citizen, officer):
    _verify_at_desk(app, db, citizen.id, officer)
    portal = new_portal(db, scope=IDENTITY_SCOPE, purposes=purposes())
    spec = {"verification": {"trust_framework": None}, "claims": {"given_name": None}}
    claims = {"id_token": {"verified_claims": spec}}
    out, token, id_claims = browser.sign_in_flow(portal, scope="openid", claims=json.dumps(claims))
    RESPONSE.validate(id_claims)
    assert id_claims["verified_claims"]["claims"] == {"given_name": citizen.profile["given_name"]}
    assert "verified_claims" not in browser.userinfo(token["access_token"]).get_json()


def test_a_declared_citizen_gets_no_verified_claims(db, browser, citizen):
    portal = new_portal(db, scope=IDENTITY_SCOPE, purposes=purposes())
    claims = _verified_request()
    out, token, _ = browser.sign_in_flow(portal, scope=IDENTITY_SCOPE, claims=json.dumps(claims))
    info = browser.userinfo(token["access_token"]).get_json()
    assert "verified_claims" not in info
    assert info["cccd"] == citizen.profile["cccd"]
    assert _releases(db, citizen.id)[-1].assurance["cccd"] == "declared"


def test_verified_claims_never_carry_what_the_citizen_did_not_agree_to(
    app, db, browser, citizen, officer
):
    _verify_at_desk(app, db, citizen.id, officer)
    portal = new_portal(db, scope=IDENTITY_SCOPE, purposes=purposes(required=("name",)))
    claims = _verified_request()
    out, token, _ = browser.sign_in_flow(
        portal, scope=IDENTITY_SCOPE, claims=json.dumps(claims), untick={"birthdate", "cccd"}
    )
    info = browser.userinfo(token["access_token"]).get_json()
    assert set(info["verified_claims"]["claims"]) == {"given_name", "family_name"}


@pytest.mark.parametrize(
    "spec",
    [
        "not an object",
        [],
        {"claims": {"given_name": None}},
        {"verification": {"trust_framework": None}},
        {"verification": {"trust_framework": None}, "claims": {}},
        {"verification": {"trust_framework": 5}, "claims": {"given_name": None}},
        {
            "verification": {"trust_framework": None, "time": {"max_age": "x"}},
            "claims": {"x": None},
        },
        {
            "verification": {"trust_framework": None, "evidence": [{"type": "document"}]},
            "claims": {"x": None},
        },
    ],
)
def test_a_malformed_verified_claims_request_is_an_invalid_request(db, browser, spec):
    portal = new_portal(db, scope=IDENTITY_SCOPE, purposes=purposes())
    claims = json.dumps({"userinfo": {"verified_claims": spec}})
    first, _, _ = browser.start(portal, scope=IDENTITY_SCOPE, state="s-bad", claims=claims)
    query = parse_qs(urlsplit(first.location).query)
    assert query["error"] == ["invalid_request"]
    assert query["state"] == ["s-bad"]


def test_discovery_advertises_identity_assurance(client):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["verified_claims_supported"] is True
    assert meta["trust_frameworks_supported"] == [TF]
    assert set(meta["evidence_supported"]) == {"document", "electronic_record"}
    assert meta["documents_supported"] == ["idcard"]
    assert {"given_name", "birthdate", "cccd"} <= set(meta["claims_in_verified_claims_supported"])
    assert "verified_claims" in meta["claims_supported"]


def test_purposes_accept_verified_only_for_identity_items(db):
    from idp.portals.service import RegistrationError

    bad = {"email": {"purpose": {"vi": "a", "en": "b"}, "required": False, "verified": True}}
    with pytest.raises(RegistrationError):
        new_portal(db, scope="openid email", purposes=bad)
    odd = purposes()
    odd["cccd"]["verified"] = "yes"
    with pytest.raises(RegistrationError):
        new_portal(db, scope=IDENTITY_SCOPE, purposes=odd)


# -- registry matches ----------------------------------------------------------------------


def test_registry_import_verifies_exact_matches_only(db, settings):
    exact = new_citizen(db, settings)
    other = new_citizen(db, settings)
    record = {k: exact.profile[k] for k in ("cccd", "family_name", "middle_name", "given_name")}
    record |= {"birthdate": exact.profile["birthdate"], "gender": exact.profile["gender"]}
    wrong = {k: other.profile[k] for k in ("cccd", "family_name", "middle_name", "birthdate")}
    wrong |= {"given_name": "Người Khác", "gender": other.profile["gender"]}
    lines = [
        json.dumps({**record, "record_ref": "CSDLQG-1"}),
        json.dumps(wrong),
        json.dumps({**record, "cccd": profile_data()["cccd"]}),
        "not json",
        json.dumps({**record, "birthdate": "1-1-1990"}),
        "",
    ]
    before = db.execute(text("SELECT id, given_name, updated_at FROM citizens")).all()
    report = identity.import_registry_matches(db, lines, source="CSDLQG về dân cư").as_dict()
    db.commit()
    assert report["verified"] == 1
    assert report["mismatched"] == [{"line": 2, "citizen_id": other.id, "fields": ["given_name"]}]
    assert report["not_found"] == [{"line": 3}]
    assert [i["line"] for i in report["invalid"]] == [4, 5]
    assert "Người Khác" not in json.dumps(report, ensure_ascii=False)
    assert _levels(db, exact.id) == dict.fromkeys(identity.IDENTITY_ITEMS, "registry_verified")
    assert set(_levels(db, other.id).values()) == {"declared"}
    assert db.execute(text("SELECT id, given_name, updated_at FROM citizens")).all() == before
    row = identity.history(db, exact.id)[0]
    assert (row.source, row.record_ref, row.evidence) == (
        "CSDLQG về dân cư",
        "CSDLQG-1",
        "population_register",
    )


def test_a_registry_match_gives_electronic_record_evidence(app, db, browser, citizen):
    record = {k: citizen.profile[k] for k in ("cccd", "family_name", "middle_name", "given_name")}
    record |= {"birthdate": citizen.profile["birthdate"], "gender": citizen.profile["gender"]}
    identity.import_registry_matches(db, [json.dumps(record)])
    db.commit()
    portal = new_portal(db, scope=IDENTITY_SCOPE, purposes=purposes(verified=("cccd",)))
    evidence = [{"type": {"value": "electronic_record"}, "check_details": None, "record": None}]
    claims = _verified_request(evidence=evidence)
    out, token, _ = browser.sign_in_flow(portal, scope=IDENTITY_SCOPE, claims=json.dumps(claims))
    info = browser.userinfo(token["access_token"]).get_json()
    RESPONSE.validate(info)
    ev = info["verified_claims"]["verification"]["evidence"][0]
    assert ev["type"] == "electronic_record"
    assert ev["record"]["type"] == "population_register"
    assert ev["check_details"][0]["check_method"] == "data"


# -- corrections online, and what the citizen sees ------------------------------------------


def _identity_form(citizen, **changes):
    form = {k: citizen.profile[k] for k in ("family_name", "middle_name", "given_name")}
    form |= {"birthdate": citizen.profile["birthdate"], "gender": citizen.profile["gender"]}
    return {**form, **changes}


def test_an_online_correction_of_a_verified_detail_makes_it_declared(
    app, db, client, citizen, officer, inbox, seen
):
    from tests.support.forms import csrf_token
    from tests.support.useragent import sign_in

    _verify_at_desk(app, db, citizen.id, officer)
    sign_in(client, citizen)
    page = body(client.get("/account?lang=en"))
    assert 'data-assurance="name">verified at a one-stop desk' in page
    token = csrf_token(page)
    form = _identity_form(citizen, given_name="Hoà")
    wrong = client.post(
        "/account/identity", data={**form, "identity_password": "not it", "csrf_token": token}
    )
    assert wrong.status_code == 400
    mismatch = client.post(
        "/account/identity",
        data={
            **_identity_form(
                citizen, gender="female" if citizen.profile["gender"] == "male" else "male"
            ),
            "identity_password": citizen.password,
            "csrf_token": token,
        },
    )
    assert mismatch.status_code == 400  # the CCCD's gender digit disagrees
    assert _levels(db, citizen.id)["name"] == "desk_verified"
    done = client.post(
        "/account/identity",
        data={**form, "identity_password": citizen.password, "csrf_token": token},
    )
    assert done.status_code == 200
    assert db.get(Citizen, citizen.id).given_name == "Hoà"
    levels = _levels(db, citizen.id)
    assert levels["name"] == "declared"
    assert levels["birthdate"] == levels["cccd"] == "desk_verified"
    assert inbox.last(citizen.profile["phone"], "identity_changed")
    assert dict(seen)["citizen.identity_corrected"]["now_declared"] == "name"
    assert "Hoà" not in json.dumps([p for _, p in seen], ensure_ascii=False)


def test_the_data_history_says_whether_a_verified_value_left(app, db, browser, citizen, officer):
    _verify_at_desk(app, db, citizen.id, officer)
    portal = new_portal(db, scope=IDENTITY_SCOPE, purposes=purposes())
    out, token, _ = browser.sign_in_flow(portal, scope=IDENTITY_SCOPE)
    browser.userinfo(token["access_token"])
    page = body(browser.client.get("/account/history?lang=en"))
    assert 'data-assurance="desk_verified"' in page
    exported = browser.client.get("/account/history.json").get_json()["releases"]
    assert exported[0]["assurance"]["cccd"] == "desk_verified"
    assert "cccd:desk_verified" in body(browser.client.get("/account/history.csv"))
