"""The 12-digit citizen ID number (CCCD) and its cross-checks with birthdate and gender."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from importlib import resources

import pytest

from idp.citizens.validation import CCCD_PROVINCES, check_cccd

FORMAT = "The citizen ID number (CCCD) must be exactly 12 digits."
PROVINCE = "The first three digits of the citizen ID number are not a known province code."
CENTURY = "The citizen ID number does not match the century of your birth year."
GENDER = "The citizen ID number does not match your gender."
YEAR = "The citizen ID number does not match your birth year."


def messages(errors: dict[str, object]) -> dict[str, str]:
    """Render lazy messages to plain text."""
    return {key: str(value) for key, value in errors.items()}


def test_valid_male_1990_da_nang() -> None:
    assert check_cccd("048090001234", birthdate=dt.date(1990, 5, 1), gender="male") == {}


def test_valid_female_2001() -> None:
    assert check_cccd("079301004321", birthdate=dt.date(2001, 12, 31), gender="female") == {}


def test_valid_female_1975_hanoi() -> None:
    assert check_cccd("001175000001", birthdate=dt.date(1975, 1, 1), gender="female") == {}


def test_cross_checks_skipped_without_birthdate_and_gender() -> None:
    assert check_cccd("048990001234", birthdate=None, gender=None) == {}


def test_wrong_century_digit() -> None:
    # 2 means male born 2000-2099, but the birthdate is in 1990.
    errors = check_cccd("048290001234", birthdate=dt.date(1990, 5, 1), gender="male")
    assert messages(errors) == {"cccd": CENTURY}


def test_wrong_year() -> None:
    errors = check_cccd("048091001234", birthdate=dt.date(1990, 5, 1), gender="male")
    assert messages(errors) == {"cccd": YEAR}


def test_unknown_province() -> None:
    errors = check_cccd("003090001234", birthdate=dt.date(1990, 5, 1), gender="male")
    assert messages(errors) == {"cccd": PROVINCE}


def test_wrong_gender() -> None:
    errors = check_cccd("048090001234", birthdate=dt.date(1990, 5, 1), gender="female")
    assert messages(errors) == {"cccd": GENDER}


def test_gender_checked_without_birthdate() -> None:
    errors = check_cccd("048190001234", birthdate=None, gender="male")
    assert messages(errors) == {"cccd": GENDER}


@pytest.mark.parametrize(
    ("digit", "year", "gender"),
    [
        ("0", 1900, "male"),
        ("1", 1999, "female"),
        ("2", 2000, "male"),
        ("3", 2099, "female"),
        ("4", 2100, "male"),
        ("5", 2199, "female"),
        ("6", 2200, "male"),
        ("7", 2299, "female"),
        # Circular 07/2016/TT-BCA art. 7(2): 8/9 is the 24th century, 2300-2399.
        ("8", 2300, "male"),
        ("9", 2399, "female"),
    ],
)
def test_century_and_gender_digit(digit: str, year: int, gender: str) -> None:
    cccd = f"048{digit}{year % 100:02d}001234"
    assert check_cccd(cccd, birthdate=dt.date(year, 6, 1), gender=gender) == {}


@pytest.mark.parametrize(
    "cccd",
    [
        "04809000123A",
        "04809000123",
        "0480900012345",
        "",
        "048 90001234",
        "０４８０９０００１２３４",  # Full-width digits are digits, but not ASCII.
        "٠٤٨٠٩٠٠٠١٢٣٤",  # Arabic-Indic digits.
    ],
)
def test_format(cccd: str) -> None:
    assert messages(check_cccd(cccd, birthdate=None, gender=None)) == {"cccd": FORMAT}


def test_messages_are_distinct() -> None:
    assert len({FORMAT, PROVINCE, CENTURY, GENDER, YEAR}) == 5


def test_63_province_codes() -> None:
    assert len(CCCD_PROVINCES) == 63
    assert all(len(code) == 3 and code.isdigit() for code in CCCD_PROVINCES)
    assert all(unicodedata.is_normalized("NFC", name) for name in CCCD_PROVINCES.values())
    assert CCCD_PROVINCES["001"] == "Hà Nội"
    assert CCCD_PROVINCES["048"] == "Đà Nẵng"
    assert CCCD_PROVINCES["079"] == "Hồ Chí Minh"
    assert CCCD_PROVINCES["096"] == "Cà Mau"
    assert "003" not in CCCD_PROVINCES


def test_data_file_cites_its_source() -> None:
    data_file = resources.files("idp.citizens").joinpath("data", "cccd_provinces.json")
    document = json.loads(data_file.read_text(encoding="utf-8"))
    assert "07/2016/TT-BCA" in document["source"]
    assert "59/2021/TT-BCA" in document["source"]
    assert document["codes"] == CCCD_PROVINCES
