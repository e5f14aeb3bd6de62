"""The claim vocabulary: scopes, the claims they release, consent items, ``claims`` requests.

OIDC Core §5.4 maps ``profile``, ``email``, ``address`` and ``phone`` to standard claims;
``cccd`` is ours: the 12-digit citizen ID number, released only under its own scope.
A leaf module: the consent, citizen and protocol packages all speak this vocabulary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

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


def parse_claims_request(value: object) -> dict[str, dict[str, bool]]:
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
        wanted: dict[str, bool] = {}
        for claim, spec in members.items():
            if spec is not None and not isinstance(spec, dict):
                raise ClaimsRequestError(f"'claims.{target}.{claim}' must be null or an object")
            if item_of(claim) is None:
                continue
            wanted[claim] = bool(spec and spec.get("essential") is True)
        out[target] = wanted
    return out


def requested_items(
    scopes: set[str] | frozenset[str], claims_request: dict[str, dict[str, bool]]
) -> set[str]:
    """Return the consent items an authorization request asks for (scopes and claims)."""
    items: set[str] = set()
    for scope in scopes:
        items.update(SCOPE_ITEMS.get(scope, ()))
    for members in claims_request.values():
        items.update(i for i in (item_of(c) for c in members) if i)
    return items


def essential_items(claims_request: dict[str, dict[str, bool]]) -> set[str]:
    """Return the items holding a claim requested with ``essential: true``."""
    return {
        i
        for members in claims_request.values()
        for c, ess in members.items()
        if ess and (i := item_of(c))
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
    }
    for claims in SCOPE_CLAIMS.values():
        names.update(claims)
    return sorted(names)
