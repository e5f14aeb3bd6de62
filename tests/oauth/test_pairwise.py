"""Pairwise subjects (OIDC Core §8.1): one stable `sub` per sector, unlinkable across sectors."""

from __future__ import annotations

from idp.subjects import pairwise_subject


def test_same_sector_same_citizen_is_stable():
    a = pairwise_subject(sector_identifier="land.danang.gov.vn", local_id="c1", salt="s")
    b = pairwise_subject(sector_identifier="land.danang.gov.vn", local_id="c1", salt="s")
    assert a == b


def test_sectors_see_different_subjects():
    land = pairwise_subject(sector_identifier="land.danang.gov.vn", local_id="c1", salt="s")
    tax = pairwise_subject(sector_identifier="tax.danang.gov.vn", local_id="c1", salt="s")
    assert land != tax


def test_citizens_differ_within_a_sector():
    one = pairwise_subject(sector_identifier="land", local_id="c1", salt="s")
    two = pairwise_subject(sector_identifier="land", local_id="c2", salt="s")
    assert one != two


def test_salt_changes_every_subject():
    assert pairwise_subject(sector_identifier="land", local_id="c1", salt="s1") != (
        pairwise_subject(sector_identifier="land", local_id="c1", salt="s2")
    )


def test_no_ambiguity_between_sector_and_id():
    # "ab"+"c" must not collide with "a"+"bc": the separator keeps the parts apart.
    assert pairwise_subject(sector_identifier="ab", local_id="c", salt="s") != (
        pairwise_subject(sector_identifier="a", local_id="bc", salt="s")
    )


def test_subject_is_url_safe_and_opaque():
    sub = pairwise_subject(sector_identifier="land", local_id="citizen-id-123", salt="s")
    assert "citizen-id-123" not in sub
    assert sub.replace("-", "").replace("_", "").isalnum()
    assert len(sub) == 43  # 256-bit HMAC, base64url without padding


def test_portals_of_one_sector_share_subject(db, settings, app_ctx):
    from idp.subjects import subject_for
    from tests.support.factories import make_citizen, make_portal

    citizen = make_citizen(db, settings)
    one, _ = make_portal(db, sector_identifier="land.demo")
    two, _ = make_portal(db, sector_identifier="land.demo")
    other, _ = make_portal(db, sector_identifier="tax.demo")
    assert subject_for(citizen.id, one) == subject_for(citizen.id, two)
    assert subject_for(citizen.id, one) != subject_for(citizen.id, other)


def test_default_sector_is_the_redirect_host(db):
    from tests.support.factories import make_portal

    portal, _ = make_portal(
        db, redirect_uris=["https://dat-dai.danang.gov.vn/cb", "https://dat-dai.danang.gov.vn/cb2"]
    )
    assert portal.sector_identifier == "dat-dai.danang.gov.vn"


def test_public_subject_type_is_shared_and_still_opaque(db, settings, app_ctx):
    from idp.subjects import subject_for
    from tests.support.factories import make_citizen, make_portal

    citizen = make_citizen(db, settings)
    one, _ = make_portal(db, sector_identifier="land.demo", subject_type="public")
    two, _ = make_portal(db, sector_identifier="tax.demo", subject_type="public")
    pairwise, _ = make_portal(db, sector_identifier="land.demo")
    assert subject_for(citizen.id, one) == subject_for(citizen.id, two)
    assert subject_for(citizen.id, one) != subject_for(citizen.id, pairwise)
    assert citizen.id not in subject_for(citizen.id, one)
