"""Validate and normalise the citizen profile: names, CCCD, contacts and address.

Pure functions: nothing here reads the Flask request. User-facing messages are English
msgids made lazy with ``lazy_gettext`` so they render in the request's locale.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeGuard, TypeVar

import phonenumbers
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from vietnam_provinces import Province, ProvinceCode, Ward, WardCode

# A user-facing message: usually a lazy msgid, rendered in the request's locale.
Message = str | LazyString

T = TypeVar("T")

GENDERS = ("male", "female")

NAME_MAX = 50  # Matches String(50) on the citizens table.
STREET_MAX = 200  # Matches String(200) on the citizens table.
PHONE_MAX = 32  # Raw input limit before parsing; E.164 itself is at most 15 digits.
# RFC 5321 §4.5.3.1: 64 octets for the local part; 254 is the usable path limit (RFC 3696
# erratum 1690) and matches String(254) on the citizens table.
EMAIL_MAX = 254
EMAIL_LOCAL_MAX = 64
_RAW_TEXT_MAX = 1000  # Reject absurdly long input before normalising it.
_CODE_DIGITS_MAX = 9  # Province and commune codes are at most 5 digits.

# Vietnam uses Indochina Time, UTC+7, with no daylight saving time.
_VIETNAM_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")
_EARLIEST_BIRTHDATE = dt.date(1900, 1, 1)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# As Vietnamese write a date: day, month, year (15/05/1990, 15.5.1990, 15-05-1990).
_DMY_DATE = re.compile(r"([0-9]{1,2})\s*[/.-]\s*([0-9]{1,2})\s*[/.-]\s*([0-9]{4})")

# Apostrophe as typed (U+0027) and as typeset (U+2019), e.g. in transliterated names.
_NAME_PUNCTUATION = frozenset(" -'\u2019")

_MSG_NOT_TEXT = _l("Enter this value as text.")
_MSG_NAME_REQUIRED = _l("Enter a name.")
_MSG_NAME_CHARS = _l("Use only letters, spaces, hyphens and apostrophes.")
_MSG_NAME_START = _l("Start the name with a letter.")
_MSG_BIRTHDATE_REQUIRED = _l("Enter your date of birth.")
_MSG_BIRTHDATE_FORMAT = _l("Enter the date of birth as day/month/year, for example 15/05/1990.")
_MSG_BIRTHDATE_INVALID = _l("This date does not exist.")
_MSG_BIRTHDATE_FUTURE = _l("The date of birth must be in the past.")
_MSG_BIRTHDATE_TOO_EARLY = _l("The date of birth cannot be before 1900.")
_MSG_GENDER = _l("Choose male or female.")
_MSG_CCCD_REQUIRED = _l("Enter your citizen ID number (CCCD).")
_MSG_CCCD_FORMAT = _l("The citizen ID number (CCCD) must be exactly 12 digits.")
_MSG_CCCD_PROVINCE = _l(
    "The first three digits of the citizen ID number are not a known province code."
)
_MSG_CCCD_CENTURY = _l("The citizen ID number does not match the century of your birth year.")
_MSG_CCCD_GENDER = _l("The citizen ID number does not match your gender.")
_MSG_CCCD_YEAR = _l("The citizen ID number does not match your birth year.")
_MSG_PHONE_REQUIRED = _l("Enter a phone number.")
_MSG_PHONE_TOO_LONG = _l("The phone number is too long.")
_MSG_PHONE_INVALID = _l("Enter a valid phone number, for example 0905 123 456.")
_MSG_EMAIL_REQUIRED = _l("Enter an email address.")
_MSG_EMAIL_INVALID = _l("Enter a valid email address, for example name@example.com.")
_MSG_PROVINCE_REQUIRED = _l("Choose a province or city.")
_MSG_PROVINCE_UNKNOWN = _l("Choose a province or city from the list.")
_MSG_COMMUNE_REQUIRED = _l("Choose a commune or ward.")
_MSG_COMMUNE_UNKNOWN = _l("Choose a commune or ward from the list.")
_MSG_COMMUNE_MISMATCH = _l("This commune or ward is not in the chosen province or city.")
_MSG_STREET_REQUIRED = _l("Enter your street address.")
_MSG_STREET_CHARS = _l("The street address contains characters that are not allowed.")
_MSG_INVALID_DATA = _l("The submitted data could not be read.")


def _msg_too_long(limit: int) -> Message:
    """Return the message for a value over ``limit`` characters."""
    return _l("Use at most %(max)d characters.", max=limit)


class ValidationErrors(Exception):
    """Carry every field error found, keyed by field name."""

    def __init__(self, errors: Mapping[str, Message]) -> None:
        """Keep a copy of the field errors; the exception text names the fields only."""
        self.errors: dict[str, Message] = dict(errors)
        # Field names only, never values: exception text ends up in logs.
        super().__init__("invalid fields: " + ", ".join(sorted(self.errors)))


def _collapse(value: str) -> str:
    """Return ``value`` NFC-normalised, stripped, with whitespace runs as single spaces."""
    # NFC first: the same Vietnamese letter may arrive precomposed or decomposed (UAX #15).
    return " ".join(unicodedata.normalize("NFC", value).split())


# ---------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------


def normalize_name(value: str) -> str:
    """Return a required name part normalised, or raise ValueError with a lazy message."""
    if not isinstance(value, str):
        raise ValueError(_MSG_NOT_TEXT)
    if len(value) > _RAW_TEXT_MAX:
        raise ValueError(_msg_too_long(NAME_MAX))
    name = _collapse(value)
    if not name:
        raise ValueError(_MSG_NAME_REQUIRED)
    if len(name) > NAME_MAX:
        raise ValueError(_msg_too_long(NAME_MAX))
    previous = " "
    for char in name:
        category = unicodedata.category(char)
        # Letters of any script (L*); combining marks (M*) only right after a letter or
        # mark, for scripts that keep marks separate even after NFC (Unicode §2.11).
        is_letter = category.startswith("L")
        is_mark = category.startswith("M") and unicodedata.category(previous)[0] in "LM"
        if not (is_letter or is_mark or char in _NAME_PUNCTUATION):
            raise ValueError(_MSG_NAME_CHARS)
        previous = char
    if not unicodedata.category(name[0]).startswith("L"):
        raise ValueError(_MSG_NAME_START)
    return name


def normalize_optional_name(value: str) -> str:
    """Return an optional name part (the middle name) normalised, or "" if blank."""
    if isinstance(value, str) and not value.strip():
        return ""
    return normalize_name(value)


# ---------------------------------------------------------------------------------------
# Citizen ID number (CCCD)
# ---------------------------------------------------------------------------------------


def _load_cccd_provinces() -> dict[str, str]:
    """Load the birth-registration province codes shipped as package data."""
    data_file = resources.files("idp.citizens").joinpath("data", "cccd_provinces.json")
    document = json.loads(data_file.read_text(encoding="utf-8"))
    codes = {str(code): str(name) for code, name in document["codes"].items()}
    if not all(len(code) == 3 and code.isdigit() for code in codes):
        raise RuntimeError("cccd_provinces.json: every code must be three digits")
    return codes


# Circular 07/2016/TT-BCA, Appendix: code of the province where the birth was registered
# (63 pre-2025 provinces), kept by Circular 59/2021/TT-BCA. The 2025 mergers kept one old
# code per merged province, so these remain a superset of the codes in use.
CCCD_PROVINCES: dict[str, str] = _load_cccd_provinces()


def check_cccd(
    cccd: str,
    *,
    birthdate: dt.date | None = None,
    gender: str | None = None,
) -> dict[str, Message]:
    """Return field errors (key "cccd") for the ID number; empty if it is consistent."""
    # Decree 137/2015/ND-CP art. 7 and Circular 07/2016/TT-BCA art. 7 (kept by Circular
    # 59/2021/TT-BCA): 3 digits birth-registration province, 1 digit century and gender,
    # 2 digits birth year, 6 random digits.
    if not (isinstance(cccd, str) and len(cccd) == 12 and cccd.isascii() and cccd.isdigit()):
        return {"cccd": _MSG_CCCD_FORMAT}
    if cccd[:3] not in CCCD_PROVINCES:
        return {"cccd": _MSG_CCCD_PROVINCE}
    # Circular 07/2016/TT-BCA art. 7(2): 20th century (1900-1999) male 0, female 1;
    # 21st (2000-2099) 2/3; 22nd (2100-2199) 4/5; 23rd (2200-2299) 6/7;
    # 24th (2300-2399) 8/9. Even digits are male, odd digits female.
    code = int(cccd[3])
    century_start = 1900 + 100 * (code // 2)
    is_male = code % 2 == 0
    if birthdate is not None and birthdate.year // 100 * 100 != century_start:
        return {"cccd": _MSG_CCCD_CENTURY}
    if gender in GENDERS and (gender == "male") != is_male:
        return {"cccd": _MSG_CCCD_GENDER}
    if birthdate is not None and birthdate.year % 100 != int(cccd[4:6]):
        return {"cccd": _MSG_CCCD_YEAR}
    return {}


# ---------------------------------------------------------------------------------------
# Phone and email
# ---------------------------------------------------------------------------------------


def normalize_phone(value: str) -> str:
    """Return the phone number in E.164 form, or raise ValueError with a lazy message."""
    if not isinstance(value, str):
        raise ValueError(_MSG_NOT_TEXT)
    value = unicodedata.normalize("NFKC", value).strip()
    if not value:
        raise ValueError(_MSG_PHONE_REQUIRED)
    if len(value) > PHONE_MAX:
        raise ValueError(_MSG_PHONE_TOO_LONG)
    try:
        # National numbers ("0905 123 456") are read as Vietnamese (ITU-T E.164, +84).
        number = phonenumbers.parse(value, "VN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(_MSG_PHONE_INVALID) from exc
    # E.164 has no extensions: refuse rather than silently drop one.
    if number.extension or not phonenumbers.is_valid_number(number):
        raise ValueError(_MSG_PHONE_INVALID)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str) -> str:
    """Return the email address lower-cased, or raise ValueError."""
    if not isinstance(value, str):
        raise ValueError(_MSG_NOT_TEXT)
    value = value.strip()
    if not value:
        raise ValueError(_MSG_EMAIL_REQUIRED)
    if (
        len(value) > EMAIL_MAX
        or value.count("@") != 1
        or any(char.isspace() or not char.isprintable() for char in value)
    ):
        raise ValueError(_MSG_EMAIL_INVALID)
    local, domain = value.split("@")
    labels = domain.split(".")
    if (
        not local
        or len(local) > EMAIL_LOCAL_MAX
        or len(labels) < 2
        # RFC 1035 §2.3.1 labels (letters, digits, hyphens), letters widened to Unicode
        # for internationalised domain names (RFC 5890).
        or not all(label and all(c.isalnum() or c == "-" for c in label) for label in labels)
    ):
        raise ValueError(_MSG_EMAIL_INVALID)
    # RFC 5321 §2.4 lets a local part be case-sensitive, but no mail provider citizens
    # use treats it so: one address, one account, whatever the capitals typed.
    return f"{local.lower()}@{domain.lower()}"


# ---------------------------------------------------------------------------------------
# Address: the 2025 administrative units (34 provinces, communes directly under them)
# ---------------------------------------------------------------------------------------

# Units as reorganised on 1 July 2025 (Resolution 202/2025/QH15: 34 provincial units, no
# district level), from the data shipped by the vietnam_provinces package.
# Division-type prefixes in unit names are ignored when sorting ("Thành phố Đà Nẵng" sorts
# under Đ).
_UNIT_PREFIX = re.compile(r"^(?:Thành phố|Tỉnh|Phường|Xã|Đặc khu)\s+")


def _sort_key(name: str) -> tuple[str, str]:
    """Return a sort key for a unit name, close to Vietnamese dictionary order."""
    bare = _UNIT_PREFIX.sub("", unicodedata.normalize("NFC", name), count=1)
    # Drop tone and vowel marks (NFD then combining characters), as the brief allows.
    folded = "".join(
        c for c in unicodedata.normalize("NFD", bare) if not unicodedata.combining(c)
    ).casefold()
    # Đ has no decomposition; in the Vietnamese alphabet it follows D and precedes E.
    return folded.replace("đ", "d\x7f"), name


def _is_code(value: object) -> TypeGuard[int]:
    """Return whether ``value`` is an int usable as an administrative unit code."""
    return isinstance(value, int) and not isinstance(value, bool)


def _province(code: object) -> Province | None:
    """Return the province with this code, or None if there is none."""
    if not _is_code(code):
        return None
    try:
        return Province.from_code(ProvinceCode(code))
    except ValueError:
        return None


def _ward(code: object) -> Ward | None:
    """Return the commune (ward) with this code, or None if there is none."""
    if not _is_code(code):
        return None
    try:
        return Ward.from_code(WardCode(code))
    except ValueError:
        return None


@functools.lru_cache(maxsize=1)
def _provinces() -> tuple[tuple[int, str], ...]:
    """Return every province as (code, name), sorted by name."""
    units = ((int(p.code), p.name) for p in Province.iter_all())
    return tuple(sorted(units, key=lambda unit: _sort_key(unit[1])))


def provinces() -> list[tuple[int, str]]:
    """Return every province as (code, name), sorted by name."""
    return list(_provinces())


@functools.lru_cache(maxsize=64)
def _communes(province_code: int) -> tuple[tuple[int, str], ...]:
    """Return the communes of one province as (code, name), sorted by name."""
    province = _province(province_code)
    if province is None:
        return ()
    units = ((int(w.code), w.name) for w in Ward.iter_by_province(province.code))
    return tuple(sorted(units, key=lambda unit: _sort_key(unit[1])))


def communes(province_code: int) -> list[tuple[int, str]]:
    """Return the communes of a province as (code, name), sorted; [] if it is unknown."""
    if not _is_code(province_code):
        return []
    # A fresh list per call: the cached tuple stays immutable.
    return list(_communes(int(province_code)))


def _normalize_street(value: str) -> str:
    """Return the street address normalised, or raise ValueError with a lazy message."""
    if not isinstance(value, str):
        raise ValueError(_MSG_NOT_TEXT)
    if len(value) > _RAW_TEXT_MAX:
        raise ValueError(_msg_too_long(STREET_MAX))
    street = _collapse(value)
    if not street:
        raise ValueError(_MSG_STREET_REQUIRED)
    if len(street) > STREET_MAX:
        raise ValueError(_msg_too_long(STREET_MAX))
    # Control characters survive whitespace collapsing (and PostgreSQL rejects NUL).
    if not street.isprintable():
        raise ValueError(_MSG_STREET_CHARS)
    return street


def check_address(
    province_code: int | None, ward_code: int | None, street: str
) -> dict[str, Message]:
    """Return field errors ("province", "commune", "street"); empty if the address is fine."""
    errors: dict[str, Message] = {}
    province = _province(province_code)
    if province_code is None:
        errors["province"] = _MSG_PROVINCE_REQUIRED
    elif province is None:
        errors["province"] = _MSG_PROVINCE_UNKNOWN
    ward = _ward(ward_code)
    if ward_code is None:
        errors["commune"] = _MSG_COMMUNE_REQUIRED
    elif ward is None:
        errors["commune"] = _MSG_COMMUNE_UNKNOWN
    elif province is not None and ward.province_code != province.code:
        errors["commune"] = _MSG_COMMUNE_MISMATCH
    try:
        _normalize_street(street)
    except ValueError as exc:
        errors["street"] = exc.args[0]
    return errors


def address_claim(province_code: int, ward_code: int, street: str) -> dict[str, str]:
    """Return the OpenID Connect Core 1.0 §5.1.1 address claim; ValueError if inconsistent."""
    province = _province(province_code)
    ward = _ward(ward_code)
    if province is None or ward is None or ward.province_code != province.code:
        raise ValueError(f"no commune {ward_code!r} in province {province_code!r}")
    street_address = _collapse(street)
    return {
        "formatted": ", ".join(p for p in (street_address, ward.name, province.name) if p),
        "street_address": street_address,
        "locality": ward.name,
        "region": province.name,
        "country": "VN",
    }


# ---------------------------------------------------------------------------------------
# Whole profile
# ---------------------------------------------------------------------------------------


#: The fields of the registration form, in form order.
PROFILE_FIELDS = (
    "family_name",
    "middle_name",
    "given_name",
    "birthdate",
    "gender",
    "cccd",
    "email",
    "phone",
    "province",
    "commune",
    "street",
)


@dataclass(frozen=True)
class Profile:
    """A validated, normalised citizen profile."""

    family_name: str
    middle_name: str
    given_name: str
    birthdate: dt.date
    gender: str
    cccd: str
    email: str | None
    phone: str
    province_code: int
    ward_code: int
    street: str

    @property
    def name(self) -> str:
        """Return the full name in Vietnamese order: family, middle, given."""
        parts = (self.family_name, self.middle_name, self.given_name)
        return " ".join(part for part in parts if part)


def _text(data: Mapping[str, object], key: str, errors: dict[str, Message]) -> str | None:
    """Return the field as text ("" if absent), or record a type error and return None."""
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    errors[key] = _MSG_NOT_TEXT
    return None


def _field(
    data: Mapping[str, object],
    key: str,
    errors: dict[str, Message],
    normalize: Callable[[str], T],
) -> T | None:
    """Return the normalised field, or record its error and return None."""
    raw = _text(data, key, errors)
    if raw is None:
        return None
    try:
        return normalize(raw)
    except ValueError as exc:
        errors[key] = exc.args[0]
        return None


def _optional_email(value: str) -> str | None:
    """Return the normalised email address, or None if blank."""
    return normalize_email(value) if value.strip() else None


def _code(data: Mapping[str, object], key: str, errors: dict[str, Message]) -> int | None:
    """Return a unit code given as int or digit string; None if absent or unreadable."""
    value = data.get(key)
    if value is None:
        return None
    if _is_code(value):
        return value
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        if len(value) <= _CODE_DIGITS_MAX and value.isascii() and value.isdigit():
            return int(value)
    errors[key] = _MSG_PROVINCE_UNKNOWN if key == "province" else _MSG_COMMUNE_UNKNOWN
    return None


def format_birthdate(value: dt.date) -> str:
    """Return a date of birth as the forms show it: day/month/year."""
    return value.strftime("%d/%m/%Y")


def _birthdate(value: str, today: dt.date) -> dt.date:
    """Return the parsed date of birth, or raise ValueError with a lazy message."""
    value = unicodedata.normalize("NFKC", value).strip()
    if not value:
        raise ValueError(_MSG_BIRTHDATE_REQUIRED)
    # Day/month/year as people write it, or YYYY-MM-DD (what machines send); nothing
    # else: fromisoformat alone also takes "19900501" and week dates.
    dmy = _DMY_DATE.fullmatch(value)
    if not dmy and not _ISO_DATE.fullmatch(value):
        raise ValueError(_MSG_BIRTHDATE_FORMAT)
    try:
        if dmy:
            birthdate = dt.date(int(dmy[3]), int(dmy[2]), int(dmy[1]))
        else:
            birthdate = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(_MSG_BIRTHDATE_INVALID) from exc
    if birthdate >= today:
        raise ValueError(_MSG_BIRTHDATE_FUTURE)
    if birthdate < _EARLIEST_BIRTHDATE:
        raise ValueError(_MSG_BIRTHDATE_TOO_EARLY)
    return birthdate


def _gender(value: str) -> str:
    """Return the gender if it is one of GENDERS, or raise ValueError."""
    value = value.strip()
    if value not in GENDERS:
        raise ValueError(_MSG_GENDER)
    return value


#: What people type between the digits of a number: spaces (any kind), dots, dashes.
_SEPARATORS = frozenset(" .-\u00a0\u2009\u202f\u2010\u2011\u2012\u2013\u2212\t")


def normalize_cccd(value: str) -> str:
    """Return the ID number as typed, made canonical: full-width digits (NFKC) read as
    ASCII, and spaces, dots and dashes between digits removed ("079 099.000-123" →
    "079099000123"). Anything else is left for ``check_cccd`` to refuse."""
    if not isinstance(value, str) or len(value) > 64:
        return value
    value = unicodedata.normalize("NFKC", value).strip()
    stripped = "".join(ch for ch in value if ch not in _SEPARATORS)
    return stripped if stripped.isascii() and stripped.isdigit() else value


def _cccd(value: str) -> str:
    """Return the ID number (normalised) if present, or raise ValueError."""
    value = normalize_cccd(value)
    if not value:
        raise ValueError(_MSG_CCCD_REQUIRED)
    return value


def _contacts(
    data: Mapping[str, object], errors: dict[str, Message]
) -> tuple[str | None, str | None, int | None, int | None, str | None]:
    """Return email, phone, province, commune and street, recording errors."""
    email = _field(data, "email", errors, _optional_email)
    phone = _field(data, "phone", errors, normalize_phone)
    province_code = _code(data, "province", errors)
    ward_code = _code(data, "commune", errors)
    street = _field(data, "street", errors, _normalize_street)
    raw_street = data.get("street")
    address_errors = check_address(
        province_code, ward_code, raw_street if isinstance(raw_street, str) else ""
    )
    for key, message in address_errors.items():
        errors.setdefault(key, message)  # A type error already recorded takes precedence.
    return email, phone, province_code, ward_code, street


def _require_mapping(data: object) -> Mapping[str, object]:
    """Return ``data`` if it is a mapping; raise ValidationErrors otherwise (e.g. JSON list)."""
    if not isinstance(data, Mapping):
        raise ValidationErrors({"form": _MSG_INVALID_DATA})
    return data


def _identity(
    data: Mapping[str, object], errors: dict[str, Message], today: dt.date
) -> tuple[str | None, str | None, str | None, dt.date | None, str | None]:
    """Return names, birthdate and gender normalised (None where invalid), recording errors."""
    return (
        _field(data, "family_name", errors, normalize_name),
        _field(data, "middle_name", errors, normalize_optional_name),
        _field(data, "given_name", errors, normalize_name),
        _field(data, "birthdate", errors, lambda value: _birthdate(value, today)),
        _field(data, "gender", errors, _gender),
    )


def validate_profile(data: Mapping[str, object], *, today: dt.date | None = None) -> Profile:
    """Return the normalised profile, or raise ValidationErrors with every field error."""
    data = _require_mapping(data)
    if today is None:
        today = dt.datetime.now(_VIETNAM_TZ).date()
    errors: dict[str, Message] = {}
    family_name, middle_name, given_name, birthdate, gender = _identity(data, errors, today)
    cccd = _field(data, "cccd", errors, _cccd)
    if cccd is not None:
        # Cross-check only against a birthdate and gender that are themselves valid.
        errors.update(check_cccd(cccd, birthdate=birthdate, gender=gender))
    email, phone, province_code, ward_code, street = _contacts(data, errors)
    if (
        errors
        or family_name is None
        or middle_name is None
        or given_name is None
        or birthdate is None
        or gender is None
        or cccd is None
        or phone is None
        or province_code is None
        or ward_code is None
        or street is None
    ):
        raise ValidationErrors(errors)
    return Profile(
        family_name=family_name,
        middle_name=middle_name,
        given_name=given_name,
        birthdate=birthdate,
        gender=gender,
        cccd=cccd,
        email=email,
        phone=phone,
        province_code=province_code,
        ward_code=ward_code,
        street=street,
    )


def validate_contacts(data: Mapping[str, object]) -> dict[str, object]:
    """Return normalised email, phone and address, or raise ValidationErrors."""
    data = _require_mapping(data)
    errors: dict[str, Message] = {}
    email, phone, province_code, ward_code, street = _contacts(data, errors)
    if errors:
        raise ValidationErrors(errors)
    return {
        "email": email,
        "phone": phone,
        "province_code": province_code,
        "ward_code": ward_code,
        "street": street,
    }


#: The identity fields an officer compares with the CCCD card (and may correct).
IDENTITY_FIELDS = ("family_name", "middle_name", "given_name", "birthdate", "gender")


def validate_identity(
    data: Mapping[str, object], *, cccd: str | None, today: dt.date | None = None
) -> dict[str, Any]:
    """Return normalised names, birthdate and gender, checked against ``cccd``.

    Raises ValidationErrors with every field error (the card's number must agree with
    the birthdate and gender, as at registration).
    """
    data = _require_mapping(data)
    if today is None:
        today = dt.datetime.now(_VIETNAM_TZ).date()
    errors: dict[str, Message] = {}
    family_name, middle_name, given_name, birthdate, gender = _identity(data, errors, today)
    if cccd is not None and not errors:
        mismatch = check_cccd(cccd, birthdate=birthdate, gender=gender)
        if mismatch:
            errors["birthdate"] = mismatch["cccd"]
    if errors:
        raise ValidationErrors(errors)
    return {
        "family_name": family_name,
        "middle_name": middle_name,
        "given_name": given_name,
        "birthdate": birthdate,
        "gender": gender,
    }


def unit_name(code: object) -> str | None:
    """Return the name of an administrative unit (province or commune code), or None."""
    if not isinstance(code, str) or not code.isascii() or not code.isdigit() or len(code) > 6:
        return None
    number = int(code)
    ward = _ward(number)
    if ward is not None and len(code) > 2:
        return f"{ward.name}, {_province(int(ward.province_code)).name}"
    province = _province(number)
    return province.name if province is not None else None
