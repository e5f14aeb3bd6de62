"""Notices: what each portal declares it needs each claim item for, versioned.

A portal declares, per claim item, a purpose (vi, en) and whether it is required; any
change publishes a new notice version (hash-identified), and citizens are asked again
for the items whose purpose changed. Undeclared items are never released.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import events
from idp.claims import CLAIM_ITEMS, VERIFIABLE_ITEMS
from idp.consent.models import Notice

PURPOSE_MAX = 500


class PurposeError(ValueError):
    """A portal's purpose declaration that cannot be accepted."""


def validate_purposes(data: object) -> dict[str, dict[str, Any]]:
    """Return a clean purposes declaration or raise PurposeError.

    Shape: ``{item: {"purpose": {"vi": str, "en": str}, "required": bool,
    "verified": bool}}`` (``verified``: the portal accepts only data verified at a desk or
    against the population register; for name, birthdate, gender, cccd) with items
    from CLAIM_ITEMS (``name``, ``birthdate``, ``gender``, ``email``, ``phone_number``,
    ``address``, ``cccd``).
    """
    if not isinstance(data, dict):
        raise PurposeError("purposes must be a JSON object keyed by claim")
    clean: dict[str, dict[str, Any]] = {}
    for item, spec in data.items():
        if item not in CLAIM_ITEMS:
            raise PurposeError(f"unknown claim {item!r}; use one of {', '.join(CLAIM_ITEMS)}")
        if not isinstance(spec, dict):
            raise PurposeError(f"{item}: must be an object with 'purpose' and 'required'")
        purpose = spec.get("purpose")
        if not isinstance(purpose, dict):
            raise PurposeError(f"{item}: 'purpose' must be an object with 'vi' and 'en' texts")
        texts = {}
        for lang in ("vi", "en"):
            text = purpose.get(lang)
            if not isinstance(text, str) or not text.strip() or len(text) > PURPOSE_MAX:
                raise PurposeError(f"{item}: purpose.{lang} must be 1 to {PURPOSE_MAX} characters")
            texts[lang] = " ".join(text.split())
        required = spec.get("required", False)
        if not isinstance(required, bool):
            raise PurposeError(f"{item}: 'required' must be true or false")
        clean[item] = {"purpose": texts, "required": required}
        verified = spec.get("verified", False)
        if not isinstance(verified, bool):
            raise PurposeError(f"{item}: 'verified' must be true or false")
        if verified:
            if item not in VERIFIABLE_ITEMS:
                raise PurposeError(
                    f"{item}: only {', '.join(VERIFIABLE_ITEMS)} can be required verified"
                )
            clean[item]["verified"] = True
        unknown = set(spec) - {"purpose", "required", "verified"}
        if unknown:
            raise PurposeError(f"{item}: unknown member {sorted(unknown)[0]!r}")
    return clean


def _hash(purposes: dict[str, Any]) -> str:
    canonical = json.dumps(purposes, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def current_notice(db: Session, portal_id: str) -> Notice | None:
    """Return the portal's newest notice, or None if it declared nothing."""
    return db.scalar(
        select(Notice).where(Notice.portal_id == portal_id).order_by(Notice.version.desc()).limit(1)
    )


def get_notice(db: Session, notice_id: str | None) -> Notice | None:
    """Return a notice by id."""
    return db.get(Notice, notice_id) if notice_id else None


def declare_purposes(db: Session, *, portal_id: str, purposes: object) -> Notice:
    """Record the portal's purposes; a new notice version only when anything changed."""
    clean = validate_purposes(purposes)
    digest = _hash(clean)
    notice = current_notice(db, portal_id)
    if notice is not None and notice.hash == digest:
        return notice
    version = (notice.version + 1) if notice else 1
    notice = Notice(portal_id=portal_id, version=version, purposes=clean, hash=digest)
    db.add(notice)
    db.flush()
    events.emit("notice.published", portal_id=portal_id, version=version)
    return notice
