"""Digests under which bearer secrets are stored (client secrets, tokens, session ids)."""

from __future__ import annotations

import hashlib


def digest(secret: str) -> str:
    """Return the hex SHA-256 digest under which a secret or token is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
