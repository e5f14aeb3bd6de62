"""Scopes, the claims they release, and subjects (pairwise by default).

OIDC Core §5.4 maps ``profile``, ``email``, ``address`` and ``phone`` to standard claims;
``cccd`` is ours: the 12-digit citizen ID number, released only under its own scope.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": (
        "name", "family_name", "middle_name", "given_name", "birthdate", "gender", "updated_at",
    ),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    "cccd": ("cccd",),
    # OIDC Core §11: asks for a refresh token; releases no claim.
    "offline_access": (),
}

SUPPORTED_SCOPES = tuple(SCOPE_CLAIMS)


def claims_for_scopes(scopes: set[str] | frozenset[str]) -> set[str]:
    """Return the claim names the given scopes release."""
    names: set[str] = set()
    for scope in scopes:
        names.update(SCOPE_CLAIMS.get(scope, ()))
    return names


def supported_claims() -> list[str]:
    """Return every claim name the provider can release (for discovery)."""
    names = {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash",
             "sid"}
    for claims in SCOPE_CLAIMS.values():
        names.update(claims)
    return sorted(names)


def pairwise_subject(*, sector_identifier: str, local_id: str, salt: str) -> str:
    """Return the pairwise ``sub`` (OIDC Core §8.1): one value per sector and citizen."""
    mac = hmac.new(salt.encode(), f"{sector_identifier}\x00{local_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def filter_claims(all_claims: dict[str, Any], scopes: set[str] | frozenset[str]) -> dict[str, Any]:
    """Return only the claims the granted scopes release."""
    allowed = claims_for_scopes(scopes)
    return {k: v for k, v in all_claims.items() if k in allowed}
