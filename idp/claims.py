"""The claim vocabulary: scopes, the claims they release, consent items, ``claims`` requests.

OIDC Core §5.4 maps ``profile``, ``email``, ``address`` and ``phone`` to standard claims;
``cccd`` is ours: the 12-digit citizen ID number, released only under its own scope.
A leaf module: the consent, citizen and protocol packages all speak this vocabulary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": (
        "name",
        "family_name",
        "middle_name",
        "given_name",
        "birthdate",
        "gender",
        "updated_at",
    ),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    "cccd": ("cccd",),
    # OIDC Core §11: asks for a refresh token; releases no claim.
    "offline_access": (),
}

SUPPORTED_SCOPES = tuple(SCOPE_CLAIMS)

# The units a citizen consents to, each with the OIDC claims it releases. A citizen agrees
# to "my name" (all its parts), not to ``middle_name`` alone; portals declare a purpose
# per item.
CLAIM_ITEMS: dict[str, tuple[str, ...]] = {
    "name": ("name", "family_name", "middle_name", "given_name", "updated_at"),
    "birthdate": ("birthdate",),
    "gender": ("gender",),
    "email": ("email", "email_verified"),
    "phone_number": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    "cccd": ("cccd",),
}

SCOPE_ITEMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "birthdate", "gender"),
    "email": ("email",),
    "phone": ("phone_number",),
    "address": ("address",),
    "cccd": ("cccd",),
}

_ITEM_OF_CLAIM = {claim: item for item, claims in CLAIM_ITEMS.items() for claim in claims}
_SCOPE_OF_ITEM = {item: scope for scope, items in SCOPE_ITEMS.items() for item in items}

# Targets of the OIDC Core §5.5 ``claims`` request parameter.
CLAIMS_TARGETS = ("id_token", "userinfo")

#: The consent items whose values a one-stop desk or the population register can verify.
VERIFIABLE_ITEMS = ("name", "birthdate", "gender", "cccd")
#: OpenID Connect for Identity Assurance 1.0: the container of verified claims, and the
#: claims it can hold here (discovery's ``claims_in_verified_claims_supported``).
VERIFIED_CLAIMS = "verified_claims"
CLAIMS_IN_VERIFIED_CLAIMS = tuple(
    claim for item in VERIFIABLE_ITEMS for claim in CLAIM_ITEMS[item] if claim != "updated_at"
)
_MAX_VERIFIED_REQUESTS = 8


def item_of(claim: str) -> str | None:
    """Return the consent item a claim belongs to, or None for protocol claims."""
    return _ITEM_OF_CLAIM.get(claim)


def scope_of_item(item: str) -> str | None:
    """Return the scope value whose consent items include ``item``, or None."""
    return _SCOPE_OF_ITEM.get(item)


def items_of_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """Return the consent items the given scope values cover (a portal's upper bound)."""
    return frozenset(i for s in scopes for i in SCOPE_ITEMS.get(s, ()))


def claims_of_items(items: set[str] | frozenset[str]) -> set[str]:
    """Return the OIDC claim names the given consent items release."""
    names: set[str] = set()
    for item in items:
        names.update(CLAIM_ITEMS.get(item, ()))
    return names


class ClaimsRequestError(ValueError):
    """The ``claims`` parameter is not a JSON object of the §5.5 shape."""


def parse_claims_request(value: object) -> dict[str, dict[str, Any]]:
    """Parse the ``claims`` parameter to {target: {claim: essential}}; unknown claims ignored.

    OIDC Core §5.5: members other than ``id_token`` and ``userinfo`` and claims the
    provider does not understand are ignored; a malformed value is an invalid request.
    """
    if value is None or value == "":
        return {}
    if not isinstance(value, str) or len(value) > 4096:
        raise ClaimsRequestError("'claims' must be a JSON object")
    try:
        data = json.loads(value)
    except ValueError:
        raise ClaimsRequestError("'claims' is not valid JSON") from None
    if not isinstance(data, dict):
        raise ClaimsRequestError("'claims' must be a JSON object")
    out: dict[str, dict[str, bool]] = {}
    for target in CLAIMS_TARGETS:
        members = data.get(target)
        if members is None:
            continue
        if not isinstance(members, dict):
            raise ClaimsRequestError(f"'claims.{target}' must be a JSON object")
        wanted: dict[str, Any] = {}
        for claim, spec in members.items():
            if claim == VERIFIED_CLAIMS:
                wanted[claim] = _parse_verified(spec, target)
                continue
            if spec is not None and not isinstance(spec, dict):
                raise ClaimsRequestError(f"'claims.{target}.{claim}' must be null or an object")
            if item_of(claim) is None:
                continue
            wanted[claim] = bool(spec and spec.get("essential") is True)
        out[target] = wanted
    return out


def _constraint(spec: object, where: str, *, of: type = str) -> None:
    """Check a ``null`` / ``{"value": x}`` / ``{"values": [x, ...]}`` request element."""
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise ClaimsRequestError(f"'{where}' must be null or an object")
    if "value" in spec and not isinstance(spec["value"], of):
        raise ClaimsRequestError(f"'{where}.value' must be a {of.__name__}")
    values = spec.get("values")
    if values is not None and (
        not isinstance(values, list) or not all(isinstance(v, of) for v in values)
    ):
        raise ClaimsRequestError(f"'{where}.values' must be an array")


def _parse_verified(spec: object, target: str) -> list[dict[str, Any]]:
    """Check a ``verified_claims`` request (OIDC4IDA §5); return it as a list of requests.

    Its shape is checked (an error is an invalid request); what it asks for that this
    provider does not have (another trust framework, evidence, claims) is simply not
    returned, as the specification says.
    """
    where = f"claims.{target}.{VERIFIED_CLAIMS}"
    entries = spec if isinstance(spec, list) else [spec]
    if not entries or len(entries) > _MAX_VERIFIED_REQUESTS:
        raise ClaimsRequestError(f"'{where}' must be an object or a short array of objects")
    out: list[dict[str, Any]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ClaimsRequestError(f"'{where}' must be an object or an array of objects")
        verification = entry.get("verification")
        claims = entry.get("claims")
        if not isinstance(verification, dict):
            raise ClaimsRequestError(f"'{where}.verification' must be an object")
        if not isinstance(claims, dict) or not claims:
            raise ClaimsRequestError(f"'{where}.claims' must be a non-empty object")
        for name, claim_spec in claims.items():
            if claim_spec is not None and not isinstance(claim_spec, dict):
                raise ClaimsRequestError(f"'{where}.claims.{name}' must be null or an object")
        _constraint(verification.get("trust_framework"), f"{where}.verification.trust_framework")
        time_spec = verification.get("time")
        if time_spec is not None and (
            not isinstance(time_spec, dict)
            or not isinstance(time_spec.get("max_age", 0), int | float)
            or isinstance(time_spec.get("max_age"), bool)
            or time_spec.get("max_age", 0) < 0
        ):
            raise ClaimsRequestError(
                f"'{where}.verification.time' must be null or an object with a 'max_age' number"
            )
        evidence = verification.get("evidence")
        if evidence is not None:
            if not isinstance(evidence, list) or not evidence:
                raise ClaimsRequestError(f"'{where}.verification.evidence' must be an array")
            for ev in evidence:
                kind = ev.get("type") if isinstance(ev, dict) else None
                if not isinstance(kind, dict) or not isinstance(kind.get("value"), str):
                    raise ClaimsRequestError(
                        f"each '{where}.verification.evidence' entry needs 'type': {{'value': ...}}"
                    )
        out.append({"verification": verification, "claims": claims})
    return out


def verified_requests(
    claims_request: dict[str, dict[str, Any]], target: str
) -> list[dict[str, Any]]:
    """Return the ``verified_claims`` requests for one target (empty if none)."""
    found = (claims_request or {}).get(target, {}).get(VERIFIED_CLAIMS)
    return list(found) if isinstance(found, list) else []


def requested_items(
    scopes: set[str] | frozenset[str], claims_request: dict[str, dict[str, bool]]
) -> set[str]:
    """Return the consent items an authorization request asks for (scopes and claims)."""
    items: set[str] = set()
    for scope in scopes:
        items.update(SCOPE_ITEMS.get(scope, ()))
    for members in claims_request.values():
        items.update(i for i in (item_of(c) for c in members) if i)
        for entry in members.get(VERIFIED_CLAIMS) or ():
            items.update(i for i in (item_of(c) for c in entry["claims"]) if i)
    return items


def essential_items(claims_request: dict[str, dict[str, bool]]) -> set[str]:
    """Return the items holding a claim requested with ``essential: true``."""
    return {
        i
        for members in claims_request.values()
        for c, ess in members.items()
        if ess is True and (i := item_of(c))
    }


def requested_claims(
    scopes: set[str] | frozenset[str], claims_request: dict[str, dict[str, bool]], target: str
) -> set[str]:
    """Return the claim names requested for one target.

    OIDC Core §5.4: claims requested by scope values are returned from userinfo; the ID
    token carries only what ``claims.id_token`` asks for (§5.5).
    """
    names = claims_for_scopes(scopes) - {"sub"} if target == "userinfo" else set()
    names.update(claims_request.get(target, {}))
    return names


def claims_for_scopes(scopes: set[str] | frozenset[str]) -> set[str]:
    """Return the claim names the given scopes release."""
    names: set[str] = set()
    for scope in scopes:
        names.update(SCOPE_CLAIMS.get(scope, ()))
    return names


def supported_claims() -> list[str]:
    """Return every claim name the provider can release (for discovery)."""
    names = {
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "at_hash",
        "sid",
        VERIFIED_CLAIMS,
    }
    for claims in SCOPE_CLAIMS.values():
        names.update(claims)
    return sorted(names)
