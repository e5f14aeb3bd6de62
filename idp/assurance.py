"""Levels of assurance (``acr``) and authentication methods (``amr``, RFC 8176).

A leaf module: sign-in records them in the session, the protocol puts them in tokens
and advertises them in discovery, the policy compares them.

Two levels, each named by a URN (documented in docs/integration.md):

- ``urn:vn:idp:loa:1`` — level 1: signed in with a password (``amr`` ``["pwd"]``);
- ``urn:vn:idp:loa:2`` — level 2: a password and a second factor, a TOTP code or a
  recovery code (``amr`` ``["pwd", "otp"]``).

Sessions and tokens issued before the URNs carry ``"1"``: it still reads as level 1.
"""

from __future__ import annotations

import json

#: RFC 8176 §2: a password.
AMR_PASSWORD = "pwd"
#: RFC 8176 §2: a one-time password (TOTP, or a single-use recovery code).
AMR_OTP = "otp"

#: Level 1: signed in with a password.
ACR_PASSWORD = "urn:vn:idp:loa:1"
#: Level 2: a password and a second factor.
ACR_SECOND_FACTOR = "urn:vn:idp:loa:2"
ACR_VALUES_SUPPORTED = (ACR_PASSWORD, ACR_SECOND_FACTOR)

#: The value sessions and tokens carried before the URNs (level 1).
LEGACY_ACR = {"1": ACR_PASSWORD}

#: The login checks about the level (see idp.oauth.policy); the sign-in page reads them.
ACR_BELOW_REQUIRED = "acr_below_required"
SECOND_FACTOR_MISSING = "second_factor_missing"

_LEVELS = {ACR_PASSWORD: 1, ACR_SECOND_FACTOR: 2}
_BY_LEVEL = {level: acr for acr, level in _LEVELS.items()}


def canonical(acr: str | None) -> str:
    """Return the URN of a stored ``acr`` (legacy ``"1"`` and empty read as level 1)."""
    if not acr:
        return ACR_PASSWORD
    return LEGACY_ACR.get(acr, acr)


def level_of(acr: str | None) -> int:
    """Return the level an ``acr`` value proves (0 for a value we do not know)."""
    return _LEVELS.get(canonical(acr), 0)


def acr_of(level: int) -> str:
    """Return the URN of a level (1 or 2)."""
    return _BY_LEVEL[level]


def amr_of(level: int) -> tuple[str, ...]:
    """Return the RFC 8176 methods a sign-in at ``level`` used."""
    return (AMR_PASSWORD, AMR_OTP) if level >= 2 else (AMR_PASSWORD,)


def known(values: list[str] | tuple[str, ...]) -> list[str]:
    """Return the values we support, canonical, in the order given (others ignored)."""
    out: list[str] = []
    for value in values:
        acr = canonical(value) if value in LEGACY_ACR else value
        if acr in _LEVELS and acr not in out:
            out.append(acr)
    return out


def essential_acr_request(claims: object) -> tuple[bool, list[str]] | None:
    """Return (essential, values) of ``claims.id_token.acr`` (OIDC Core §5.5.1.1), or None.

    ``claims`` is the raw parameter, already checked to be a JSON object by the claims
    parser; a malformed ``acr`` member reads as absent.
    """
    if not isinstance(claims, str) or not claims:
        return None
    try:
        data = json.loads(claims)
    except ValueError:
        return None
    spec = data.get("id_token", {}) if isinstance(data, dict) else None
    spec = spec.get("acr") if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return None
    values: list[str] = []
    if isinstance(spec.get("value"), str):
        values.append(spec["value"])
    if isinstance(spec.get("values"), list):
        values.extend(v for v in spec["values"] if isinstance(v, str))
    return spec.get("essential") is True, values
