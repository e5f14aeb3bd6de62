"""Contacts, address and whole-profile validation, against the real 2025 unit data."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idp.citizens.validation import (
    GENDERS,
    Profile,
    ValidationErrors,
    address_claim,
    check_address,
    communes,
    normalize_email,
    normalize_phone,
    provinces,
    validate_contacts,
    validate_profile,
)

DA_NANG = 48
HAI_CHAU = 20242  # Phường Hải Châu, Thành phố Đà Nẵng
HANOI = 1
HOAN_KIEM = 70  # Phường Hoàn Kiếm, Thành phố Hà Nội
TODAY = dt.date(2025, 11, 1)

VALID: dict[str, object] = {
    "family_name": "Nguyễn",
    "middle_name": "Văn",
    "given_name": "An",
    "birthdate": "1990-05-01",
    "gender": "male",
    "cccd": "048090001234",
    "email": "An.Nguyen@Example.VN",
    "phone": "0905 123 456",
    "province": "48",
    "commune": str(HAI_CHAU),
    "street": "  12   Bạch Đằng ",
}


def texts(errors: Mapping[str, object]) -> dict[str, str]:
    """Render lazy messages to plain text."""
    return {key: str(value) for key, value in errors.items()}


# Phone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0905123456", "+84905123456"),
        ("0905 123 456", "+84905123456"),
        ("090-512-3456", "+84905123456"),
        ("+84 905 123 456", "+84905123456"),
        ("84905123456", "+84905123456"),
        ("024 3826 1234", "+842438261234"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0905.123.456", "+84905123456"),
        ("０９０５ １２３ ４５６", "+84905123456"),  # full-width digits (NFKC)
    ],
)
def test_phone_e164(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "090512345", "12345", "not a phone", "0905123456 ext. 12", "+84" + "9" * 40],
)
def test_phone_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="phone number"):
        normalize_phone(raw)


# Email -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("an@example.vn", "an@example.vn"),
        ("  An.Nguyen@Example.VN ", "an.nguyen@example.vn"),
        ("an+tag@mail.gov.vn", "an+tag@mail.gov.vn"),
        ("an@xn--bcher-kva.example", "an@xn--bcher-kva.example"),
    ],
)
def test_email_normalised(raw: str, normalised: str) -> None:
    assert normalize_email(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "an",
        "an@",
        "@example.vn",
        "an@example",
        "an@@example.vn",
        "an@b@example.vn",
        "an nguyen@example.vn",
        "an@example..vn",
        "an@.example.vn",
        "an@example.vn.",
        "an@exa_mple.vn",
        "an\x00@example.vn",
        "a" * 65 + "@example.vn",
        "a@" + "b" * 250 + ".vn",
    ],
)
def test_email_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="email address"):
        normalize_email(raw)


# Address -----------------------------------------------------------------------------


def test_provinces_are_the_34_units_of_2025() -> None:
    units = provinces()
    assert len(units) == 34
    assert (DA_NANG, "Thành phố Đà Nẵng") in units
    assert all(unicodedata.is_normalized("NFC", name) for _, name in units)


def test_provinces_sorted_ignoring_marks_and_prefix() -> None:
    names = [name for _, name in provinces()]
    assert names[0] == "An Giang"
    # Đ follows D and precedes E; "Thành phố" is ignored when sorting.
    assert names.index("Thành phố Đà Nẵng") < names.index("Điện Biên") < names.index("Gia Lai")
    assert names.index("Cao Bằng") < names.index("Thành phố Đà Nẵng")


def test_communes_of_da_nang() -> None:
    units = communes(DA_NANG)
    assert (HAI_CHAU, "Phường Hải Châu") in units
    assert HOAN_KIEM not in {code for code, _ in units}
    units.clear()  # Callers get a copy; the cache is unaffected.
    assert (HAI_CHAU, "Phường Hải Châu") in communes(DA_NANG)


@pytest.mark.parametrize("code", [0, 3, 999, -48, 10**30])
def test_communes_of_unknown_province(code: int) -> None:
    assert communes(code) == []


def test_check_address_valid() -> None:
    assert check_address(DA_NANG, HAI_CHAU, "12 Bạch Đằng") == {}


def test_check_address_commune_of_another_province() -> None:
    errors = texts(check_address(DA_NANG, HOAN_KIEM, "1 Tràng Tiền"))
    assert errors == {"commune": "This commune or ward is not in the chosen province or city."}
    assert check_address(HANOI, HOAN_KIEM, "1 Tràng Tiền") == {}


def test_check_address_all_errors() -> None:
    errors = check_address(None, None, "   ")
    assert set(errors) == {"province", "commune", "street"}
    errors = check_address(3, 1, "x" * 201)
    assert set(errors) == {"province", "commune", "street"}
    assert "200" in str(errors["street"])


def test_check_address_rejects_control_characters_in_street() -> None:
    assert set(check_address(DA_NANG, HAI_CHAU, "12 Bạch\x00Đằng")) == {"street"}


def test_address_claim() -> None:
    assert address_claim(DA_NANG, HAI_CHAU, " 12  Bạch Đằng ") == {
        "formatted": "12 Bạch Đằng, Phường Hải Châu, Thành phố Đà Nẵng",
        "street_address": "12 Bạch Đằng",
        "locality": "Phường Hải Châu",
        "region": "Thành phố Đà Nẵng",
        "country": "VN",
    }


def test_address_claim_rejects_inconsistent_codes() -> None:
    with pytest.raises(ValueError, match="no commune"):
        address_claim(DA_NANG, HOAN_KIEM, "1 Tràng Tiền")


# Whole profile -------------------------------------------------------------------------


def test_full_profile_valid() -> None:
    profile = validate_profile(VALID, today=TODAY)
    assert profile == Profile(
        family_name="Nguyễn",
        middle_name="Văn",
        given_name="An",
        birthdate=dt.date(1990, 5, 1),
        gender="male",
        cccd="048090001234",
        email="an.nguyen@example.vn",
        phone="+84905123456",
        province_code=DA_NANG,
        ward_code=HAI_CHAU,
        street="12 Bạch Đằng",
    )
    assert profile.name == "Nguyễn Văn An"


def test_profile_without_middle_name_or_email() -> None:
    data = {**VALID, "middle_name": "", "email": "  ", "province": DA_NANG, "commune": HAI_CHAU}
    profile = validate_profile(data, today=TODAY)
    assert profile.name == "Nguyễn An"
    assert profile.email is None
    data = {key: value for key, value in data.items() if key not in {"middle_name", "email"}}
    assert validate_profile(data, today=TODAY).name == "Nguyễn An"


def test_all_errors_collected() -> None:
    data = {
        "family_name": "Ng7yen",
        "middle_name": "V@n",
        "given_name": "",
        "birthdate": "1990/05/01",
        "gender": "other",
        "cccd": "12345",
        "email": "not-an-email",
        "phone": "123",
        "province": "999",
        "commune": "abc",
        "street": "",
    }
    with pytest.raises(ValidationErrors) as caught:
        validate_profile(data, today=TODAY)
    assert set(caught.value.errors) == set(data)
    # The exception text names the fields, never the submitted values.
    assert "Ng7yen" not in str(caught.value)


def test_missing_everything() -> None:
    with pytest.raises(ValidationErrors) as caught:
        validate_profile({}, today=TODAY)
    assert set(caught.value.errors) == {
        "family_name",
        "given_name",
        "birthdate",
        "gender",
        "cccd",
        "phone",
        "province",
        "commune",
        "street",
    }


def test_wrong_types_are_field_errors() -> None:
    data = {**VALID, "family_name": 7, "phone": ["0905123456"], "province": True, "street": None}
    with pytest.raises(ValidationErrors) as caught:
        validate_profile(data, today=TODAY)
    errors = texts(caught.value.errors)
    assert set(errors) == {"family_name", "phone", "province", "street"}
    assert errors["family_name"] == "Enter this value as text."


def test_cccd_cross_checked_with_birthdate_and_gender() -> None:
    for changes in ({"gender": "female"}, {"birthdate": "1991-05-01"}, {"cccd": "048290001234"}):
        with pytest.raises(ValidationErrors) as caught:
            validate_profile({**VALID, **changes}, today=TODAY)
        assert set(caught.value.errors) == {"cccd"}


@pytest.mark.parametrize(
    ("birthdate", "message"),
    [
        ("1899-12-31", "before 1900"),
        ("2025-11-01", "in the past"),
        ("2030-01-01", "in the past"),
        ("1990-02-30", "does not exist"),
        ("19900501", "day/month/year"),
        ("1990-W18-2", "day/month/year"),
        ("05/1990", "day/month/year"),
        ("15/05/90", "day/month/year"),
        ("31/02/1990", "does not exist"),
        ("13/13/1990", "does not exist"),
    ],
)
def test_birthdate_rules(birthdate: str, message: str) -> None:
    with pytest.raises(ValidationErrors) as caught:
        validate_profile({**VALID, "birthdate": birthdate}, today=TODAY)
    assert message in str(caught.value.errors["birthdate"])


@pytest.mark.parametrize(
    "typed",
    [
        "1990-05-01",
        "01/05/1990",
        "1/5/1990",
        "01.05.1990",
        "01-05-1990",
        " 01 / 05 / 1990 ",
        "０１/０５/１９９０",
        "１９９０-０５-０１",
    ],
)
def test_birthdate_as_people_write_it(typed: str) -> None:
    """Day/month/year (Vietnamese order; slashes, dots or dashes; full-width digits) or
    YYYY-MM-DD: all the same date."""
    data = {**VALID, "birthdate": typed}
    assert validate_profile(data, today=TODAY).birthdate == dt.date(1990, 5, 1)


def test_first_day_allowed() -> None:
    data = {**VALID, "birthdate": "1900-01-01", "cccd": "048000001234"}
    assert validate_profile(data, today=TODAY).birthdate == dt.date(1900, 1, 1)


def test_not_a_mapping() -> None:
    with pytest.raises(ValidationErrors) as caught:
        validate_profile(["not", "a", "mapping"], today=TODAY)  # type: ignore[arg-type]
    assert set(caught.value.errors) == {"form"}


def test_genders() -> None:
    assert GENDERS == ("male", "female")


# Contacts ----------------------------------------------------------------------------


def test_validate_contacts() -> None:
    data = {"email": "", "phone": "+84905123456", "province": 48, "commune": HAI_CHAU}
    assert validate_contacts({**data, "street": " 1  Lê Duẩn "}) == {
        "email": None,
        "phone": "+84905123456",
        "province_code": DA_NANG,
        "ward_code": HAI_CHAU,
        "street": "1 Lê Duẩn",
    }


def test_validate_contacts_errors() -> None:
    data = {"email": "x@", "phone": "1", "province": "1", "commune": "20242", "street": ""}
    with pytest.raises(ValidationErrors) as caught:
        validate_contacts(data)
    assert set(caught.value.errors) == {"email", "phone", "commune", "street"}


# Property: any mapping gives a Profile or ValidationErrors, never another exception.

_KEYS = [*VALID, "extra"]
_VALUES = st.one_of(
    st.none(),
    st.text(),
    st.integers(),
    st.booleans(),
    st.floats(),
    st.lists(st.text(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from([*VALID.values(), "1990-02-30", "0", "-1", "  ", "99999999999999999999"]),
)
_DATA = st.dictionaries(st.one_of(st.sampled_from(_KEYS), st.text()), _VALUES)


@settings(max_examples=300, deadline=None, database=None)
@given(_DATA)
def test_validate_profile_only_raises_validation_errors(data: dict[str, object]) -> None:
    errors: dict[str, object] = {}
    try:
        profile = validate_profile(data, today=TODAY)
    except ValidationErrors as exc:
        errors = exc.errors
    else:
        assert isinstance(profile, Profile)
        return
    assert errors
    assert all(isinstance(str(message), str) for message in errors.values())


@settings(max_examples=300, deadline=None, database=None)
@given(st.dictionaries(st.sampled_from(_KEYS), _VALUES).map(lambda d: {**VALID, **d}))
def test_near_valid_profiles_only_raise_validation_errors(data: dict[str, object]) -> None:
    errors: dict[str, object] = {}
    try:
        validate_profile(data, today=TODAY)
        validate_contacts(data)
    except ValidationErrors as exc:
        errors = exc.errors
    assert all(isinstance(str(message), str) for message in errors.values())


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("079099000123", "079099000123"),
        (" 079 099 000 123 ", "079099000123"),
        ("079.099.000.123", "079099000123"),
        ("079-099-000-123", "079099000123"),
        ("０７９０９９０００１２３", "079099000123"),  # full-width digits
        ("079\u00a0099\u2009000\u2011123", "079099000123"),  # no-break space, thin space, dash
        ("07909900012a", "07909900012a"),  # not digits: left for check_cccd to refuse
        ("079_099_000_123", "079_099_000_123"),
    ],
)
def test_cccd_typed_with_separators_is_normalised(raw: str, clean: str) -> None:
    from idp.citizens.validation import normalize_cccd

    assert normalize_cccd(raw) == clean
