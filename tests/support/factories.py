"""Test data: valid, unique citizen profiles and portals."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import secrets
from dataclasses import dataclass
from typing import Any

from idp.citizens.validation import CCCD_PROVINCES, communes

_counter = itertools.count(1)
_rng = random.Random()  # noqa: S311 - test data, not secrets
# Counter-based serials (from a random start) keep CCCDs and phones unique within a run.
_OFFSET = secrets.randbelow(10**6)

PASSWORD = "mật khẩu đủ dài 2025"
REDIRECT_URI = "https://portal.example.vn/callback"
ALL_SCOPES = "openid profile email phone address cccd offline_access"


def _cccd(birthdate: dt.date, gender: str, n: int) -> str:
    province = _rng.choice(sorted(CCCD_PROVINCES))
    century = (birthdate.year // 100) - 19
    digit = century * 2 + (1 if gender == "female" else 0)
    serial = f"{(_OFFSET + n) % 10**6:06d}"
    return f"{province}{digit}{birthdate.year % 100:02d}{serial}"


def profile_data(**overrides: Any) -> dict[str, str]:
    """Return a valid registration form (unique CCCD, phone, email)."""
    n = next(_counter)
    gender = overrides.get("gender", _rng.choice(["male", "female"]))
    birthdate = dt.date(_rng.randint(1950, 2005), _rng.randint(1, 12), _rng.randint(1, 28))
    if "birthdate" in overrides:
        birthdate = dt.date.fromisoformat(overrides["birthdate"])
    unique = (_OFFSET + n) % 10**7
    data = {
        "family_name": "Nguyễn",
        "middle_name": "Thị" if gender == "female" else "Văn",
        "given_name": _rng.choice(["An", "Bình", "Chi", "Dũng", "Hoa", "Lan", "Minh"]),
        "birthdate": birthdate.isoformat(),
        "gender": gender,
        "cccd": _cccd(birthdate, gender, n),
        "email": f"citizen{n}.{unique}@example.vn",
        "phone": f"+8490{unique:07d}",
        "province": "48",
        "commune": str(communes(48)[n % len(communes(48))][0]),
        "street": f"{n} Bạch Đằng",
    }
    data.update({k: v for k, v in overrides.items() if k != "birthdate"})
    if "birthdate" in overrides:
        data["birthdate"] = overrides["birthdate"]
    return data


def make_citizen(db: Any, settings: Any, password: str | None = PASSWORD, **overrides: Any) -> Any:
    """Register a citizen through the service; return the Citizen row."""
    from idp.citizens.service import make_hasher, register_citizen
    from idp.citizens.validation import validate_profile

    profile = validate_profile(profile_data(**overrides))
    citizen = register_citizen(db, profile=profile, password=password, hasher=make_hasher(settings))
    db.flush()
    return citizen


def make_portal(db: Any, **overrides: Any) -> tuple[Any, str | None]:
    """Register a portal; return (portal, client_secret)."""
    from idp.admin.service import register_portal

    kw: dict[str, Any] = {
        "name": f"Cổng thử nghiệm {next(_counter)}",
        "redirect_uris": [REDIRECT_URI],
        "scope": ALL_SCOPES,
        "auth_method": "client_secret_basic",
    }
    kw.update(overrides)
    if "purposes" not in kw:
        kw["purposes"] = default_purposes(kw["scope"])
    reg = register_portal(db, **kw)
    db.flush()
    return reg.portal, reg.client_secret


@dataclass
class PortalInfo:
    """What a test needs of a committed portal."""

    client_id: str
    secret: str | None
    redirect_uri: str
    id: str
    name: str


def new_portal(db: Any, *, purposes: Any = None, **overrides: Any) -> PortalInfo:
    """Register and commit a portal redirecting to REDIRECT_URI.

    Without ``purposes`` it declares one for every item its scope can ask for.
    """
    if purposes is not None:
        overrides["purposes"] = purposes
    portal, secret = make_portal(db, redirect_uris=[REDIRECT_URI], **overrides)
    info = PortalInfo(portal.client_id, secret, REDIRECT_URI, portal.id, portal.name)
    db.commit()
    return info


@dataclass
class CitizenInfo:
    """What a test needs of a committed citizen: the sign-in identifier and password."""

    id: str
    identifier: str
    password: str
    profile: dict[str, str]


def new_citizen(db: Any, settings: Any, **overrides: Any) -> CitizenInfo:
    """Register and commit a citizen with a password."""
    data = profile_data(**overrides)
    row = make_citizen(db, settings, **data)
    info = CitizenInfo(row.id, data["cccd"], PASSWORD, data)
    db.commit()
    return info


def default_purposes(scope: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Declare a purpose for every claim item the scopes can ask for."""
    from idp.claims import SCOPE_ITEMS

    items = [i for s in scope.split() for i in SCOPE_ITEMS.get(s, ())]
    return {
        i: {
            "purpose": {"vi": f"Mục đích thử nghiệm: {i}", "en": f"Test purpose: {i}"},
            "required": i in required,
        }
        for i in items
    }
