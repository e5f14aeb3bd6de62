"""Identity assurance: which of a citizen's identity data is declared, and which verified.

Three levels per identity item (``name``, ``birthdate``, ``gender``, ``cccd``):

- ``declared`` — typed online by the citizen; nobody checked it;
- ``desk_verified`` — an officer at a one-stop desk compared it with the physical CCCD
  card, the person in front of them (``identity_verifications``: officer, unit, time);
- ``registry_verified`` — it matched a record of the national population database
  (source, record reference, time). That proves the data right, not who holds the
  account: a desk check (the person with the card) outranks it.

A verification row keeps a digest of each value it verified, so a value changed
afterwards (by any path) no longer matches and reads as ``declared`` again. Rows are
never rewritten but to end them: they are the history of who verified what, when.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp import events
from idp.citizens.models import Citizen, IdentityVerification
from idp.citizens.validation import (
    check_cccd,
    normalize_name,
    normalize_optional_name,
    validate_identity,
)
from idp.claims import VERIFIABLE_ITEMS
from idp.db import utcnow

#: The consent items whose values can be verified (the data on the CCCD card).
IDENTITY_ITEMS = VERIFIABLE_ITEMS

DECLARED = "declared"
DESK_VERIFIED = "desk_verified"
REGISTRY_VERIFIED = "registry_verified"
LEVELS = (DECLARED, DESK_VERIFIED, REGISTRY_VERIFIED)

DESK = "desk"
REGISTRY = "registry"
_LEVEL_OF_METHOD = {DESK: DESK_VERIFIED, REGISTRY: REGISTRY_VERIFIED}
#: A desk check (the person, with the card) outranks a registry match (the data only).
_RANK = {DESK: 0, REGISTRY: 1}

#: Evidence kinds (OIDC4IDA): the CCCD card shown at a desk; a population register record.
EVIDENCE_IDCARD = "idcard"
EVIDENCE_POPULATION_REGISTER = "population_register"
DEFAULT_REGISTRY = "national_population_database"

_MAX_REF = 100


class VerificationError(ValueError):
    """A verification that cannot be recorded (nothing was written)."""


def _canonical(citizen: Citizen, item: str) -> str | None:
    if item == "name":
        return "\x1f".join((citizen.family_name, citizen.middle_name or "", citizen.given_name))
    if item == "birthdate":
        return citizen.birthdate.isoformat() if citizen.birthdate else None
    if item == "gender":
        return citizen.gender or None
    if item == "cccd":
        return citizen.cccd or None
    raise KeyError(item)


def value_digest(citizen: Citizen, item: str) -> str | None:
    """Return the digest of the citizen's current value of ``item`` (None: no value).

    Bound to the account id, so equal values on two accounts give different digests.
    """
    value = _canonical(citizen, item)
    if value is None:
        return None
    raw = f"{citizen.id}\x00{item}\x00{value}".encode()
    return hashlib.sha256(raw).hexdigest()


def _live_rows(db: Session, citizen_id: str) -> list[IdentityVerification]:
    return list(
        db.scalars(
            select(IdentityVerification)
            .where(
                IdentityVerification.citizen_id == citizen_id,
                IdentityVerification.ended_at.is_(None),
            )
            .order_by(IdentityVerification.verified_at.desc(), IdentityVerification.id)
        ).all()
    )


@dataclass(frozen=True)
class Assurance:
    """The assurance of each identity item of one citizen, with the verifying rows."""

    by_item: dict[str, IdentityVerification | None] = field(default_factory=dict)

    def level(self, item: str) -> str:
        """Return ``declared``, ``desk_verified`` or ``registry_verified`` for an item."""
        row = self.by_item.get(item)
        return _LEVEL_OF_METHOD[row.method] if row is not None else DECLARED

    def verified(self, item: str) -> bool:
        """Return whether the item's current value is verified."""
        return self.by_item.get(item) is not None

    def verified_items(self) -> frozenset[str]:
        """Return the identity items whose current value is verified."""
        return frozenset(i for i, row in self.by_item.items() if row is not None)

    def levels(self, items: Iterable[str] | None = None) -> dict[str, str]:
        """Return {item: level} for identity items (all of them by default)."""
        wanted = IDENTITY_ITEMS if items is None else [i for i in items if i in IDENTITY_ITEMS]
        return {item: self.level(item) for item in wanted}


def assurance_of(db: Session, citizen: Citizen) -> Assurance:
    """Return, per identity item, the verification that vouches for its current value.

    The best one: a desk check before a registry match, then the newest.
    """
    rows = sorted(_live_rows(db, citizen.id), key=lambda r: _RANK.get(r.method, 9))
    by_item: dict[str, IdentityVerification | None] = {}
    for item in IDENTITY_ITEMS:
        current = value_digest(citizen, item)
        by_item[item] = next(
            (r for r in rows if current is not None and (r.claims or {}).get(item) == current),
            None,
        )
    return Assurance(by_item)


def history(db: Session, citizen_id: str) -> list[IdentityVerification]:
    """Return every verification of the citizen (live and ended), newest first."""
    return list(
        db.scalars(
            select(IdentityVerification)
            .where(IdentityVerification.citizen_id == citizen_id)
            .order_by(IdentityVerification.verified_at.desc(), IdentityVerification.id)
        ).all()
    )


def record_verification(
    db: Session,
    citizen: Citizen,
    *,
    method: str,
    items: Iterable[str] = IDENTITY_ITEMS,
    officer_id: str | None = None,
    unit_code: str | None = None,
    source: str | None = None,
    record_ref: str | None = None,
) -> IdentityVerification:
    """Record that the citizen's current values of ``items`` were verified now."""
    if method not in _LEVEL_OF_METHOD:
        raise VerificationError(f"unknown verification method {method!r}")
    if method == DESK and (not officer_id or not unit_code):
        raise VerificationError("a desk verification names the officer and the desk's unit")
    claims = {i: d for i in items if i in IDENTITY_ITEMS and (d := value_digest(citizen, i))}
    if not claims:
        raise VerificationError("nothing to verify")
    row = IdentityVerification(
        citizen_id=citizen.id,
        method=method,
        claims=claims,
        verified_at=utcnow(),
        officer_id=officer_id,
        unit_code=unit_code,
        evidence=EVIDENCE_IDCARD if method == DESK else EVIDENCE_POPULATION_REGISTER,
        source=(source or DEFAULT_REGISTRY)[:_MAX_REF] if method == REGISTRY else None,
        record_ref=(record_ref or None) and str(record_ref)[:_MAX_REF],
    )
    db.add(row)
    db.flush()
    events.emit(
        f"identity.{_LEVEL_OF_METHOD[method]}",
        citizen_id=citizen.id,
        verification_id=row.id,
        officer_id=officer_id or "",
        unit=unit_code or "",
        items=" ".join(sorted(claims)),
    )
    return row


def apply_corrections(citizen: Citizen, data: Mapping[str, object]) -> list[str]:
    """Set names, birthdate and gender from the card; return the fields that changed.

    Raises ValidationErrors (nothing changed) when a value is not valid or does not
    agree with the citizen's CCCD.
    """
    clean = validate_identity(data, cccd=citizen.cccd)
    changed = [k for k, v in clean.items() if getattr(citizen, k) != v]
    for key in changed:
        setattr(citizen, key, clean[key])
    return changed


def desk_verify(
    db: Session,
    citizen: Citizen,
    *,
    officer_id: str,
    unit_code: str,
    corrections: Mapping[str, object] | None = None,
) -> IdentityVerification:
    """An officer compared the card with the person and the profile: verify it.

    ``corrections`` (names, birthdate, gender as printed on the card) are applied first.
    """
    if not citizen.cccd:
        raise VerificationError("the account has no citizen ID number to compare")
    changed = apply_corrections(citizen, corrections) if corrections else []
    if changed:
        events.emit(
            "identity.corrected_at_desk",
            citizen_id=citizen.id,
            officer_id=officer_id,
            unit=unit_code,
            fields=" ".join(changed),
        )
    db.flush()
    return record_verification(db, citizen, method=DESK, officer_id=officer_id, unit_code=unit_code)


@dataclass(frozen=True)
class Reassigned:
    """A number taken from an account that had only declared it."""

    holder_id: str
    was: str


def release_cccd_for_owner(
    db: Session, cccd: str, *, officer_id: str, unit_code: str, owner_id: str | None = None
) -> Reassigned | None:
    """Free ``cccd`` for its owner, verified at a desk; return who lost it (or None).

    The account holding it keeps everything else, loses the number and any verification
    that vouched for it. Refused (VerificationError) when that account's number was
    itself checked at a desk: two cards with one number is a case for the police, not
    for this service. The caller ends the holder's sessions and tokens and tells them.
    """
    holder = db.scalar(select(Citizen).where(Citizen.cccd == cccd))
    if holder is None or holder.id == owner_id:
        return None
    if assurance_of(db, holder).level("cccd") == DESK_VERIFIED:
        raise VerificationError("the number belongs to an account verified at a desk")
    now = utcnow()
    db.execute(
        update(IdentityVerification)
        .where(
            IdentityVerification.citizen_id == holder.id,
            IdentityVerification.ended_at.is_(None),
        )
        .values(ended_at=now, ended_reason="cccd_reassigned")
        .execution_options(synchronize_session=False)
    )
    holder.cccd = None
    db.flush()
    events.emit(
        "identity.cccd_reassigned",
        from_citizen_id=holder.id,
        to_citizen_id=owner_id or "",
        officer_id=officer_id,
        unit=unit_code,
    )
    return Reassigned(holder.id, cccd)


# -- registry matches ------------------------------------------------------------------


@dataclass
class ImportReport:
    """The outcome of importing registry matches: verified, mismatched, unmatched, bad."""

    verified: list[dict[str, Any]] = field(default_factory=list)
    mismatched: list[dict[str, Any]] = field(default_factory=list)
    not_found: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON data (line numbers and field names, no values)."""
        return {
            "verified": len(self.verified),
            "mismatched": self.mismatched,
            "not_found": self.not_found,
            "invalid": self.invalid,
        }


_REGISTRY_FIELDS = ("family_name", "middle_name", "given_name", "birthdate", "gender")


def _registry_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the record's values normalised like the profile's; raise ValueError(field)."""
    out: dict[str, Any] = {}
    for key, normalize in (
        ("family_name", normalize_name),
        ("middle_name", normalize_optional_name),
        ("given_name", normalize_name),
    ):
        value = data.get(key, "" if key == "middle_name" else None)
        if value is None and key == "middle_name":
            value = ""
        if not isinstance(value, str):
            raise ValueError(key)
        try:
            out[key] = normalize(value)
        except ValueError:
            raise ValueError(key) from None
    birthdate = data.get("birthdate")
    if not isinstance(birthdate, str) or len(birthdate) != 10:
        raise ValueError("birthdate")
    try:
        out["birthdate"] = dt.date.fromisoformat(birthdate)
    except ValueError:
        raise ValueError("birthdate") from None
    if data.get("gender") not in ("male", "female"):
        raise ValueError("gender")
    out["gender"] = data["gender"]
    return out


def import_registry_matches(
    db: Session, lines: Iterable[str], *, source: str = DEFAULT_REGISTRY
) -> ImportReport:
    """Verify the accounts whose data exactly matches a registry record (JSON lines).

    Each line: ``{"cccd", "family_name", "middle_name", "given_name", "birthdate",
    "gender", "record_ref"?}``. Only an exact match (after the same normalisation as at
    registration) verifies; a mismatch is reported with the fields that differ and
    changes nothing. Values never appear in the report.
    """
    report = ImportReport()
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            report.invalid.append({"line": number, "reason": "not JSON"})
            continue
        if not isinstance(data, dict):
            report.invalid.append({"line": number, "reason": "not a JSON object"})
            continue
        cccd = data.get("cccd")
        if not isinstance(cccd, str) or check_cccd(cccd):
            report.invalid.append({"line": number, "reason": "cccd is not a valid number"})
            continue
        try:
            values = _registry_values(data)
        except ValueError as exc:
            report.invalid.append(
                {"line": number, "reason": f"{exc.args[0]} is missing or not valid"}
            )
            continue
        ref = data.get("record_ref")
        if ref is not None and (not isinstance(ref, str) or len(ref) > _MAX_REF):
            report.invalid.append({"line": number, "reason": "record_ref is not valid"})
            continue
        citizen = db.scalar(select(Citizen).where(Citizen.cccd == cccd))
        if citizen is None:
            report.not_found.append({"line": number})
            continue
        differ = [k for k in _REGISTRY_FIELDS if getattr(citizen, k) != values[k]]
        if differ:
            report.mismatched.append({"line": number, "citizen_id": citizen.id, "fields": differ})
            events.emit(
                "identity.registry_mismatch", citizen_id=citizen.id, fields=" ".join(differ)
            )
            continue
        record_verification(db, citizen, method=REGISTRY, source=source, record_ref=ref)
        report.verified.append({"line": number, "citizen_id": citizen.id})
    return report


# -- what people are shown -------------------------------------------------------------

_LEVEL_TEXT = {
    DECLARED: _l("declared (not verified)"),
    DESK_VERIFIED: _l("verified at a one-stop desk"),
    REGISTRY_VERIFIED: _l("verified against the national population database"),
}


def level_text(level: str) -> str:
    """Return the short phrase the pages show for a level."""
    return str(_LEVEL_TEXT.get(level, _LEVEL_TEXT[DECLARED]))


# -- where citizens get their data verified ------------------------------------------


@dataclass(frozen=True)
class Desk:
    """A one-stop desk where a citizen can have their data verified."""

    name: dict[str, str]
    address: str
    hours: dict[str, str]

    def name_in(self, lang: str) -> str:
        """Return the desk's name in ``lang`` (Vietnamese when missing)."""
        return self.name.get(lang) or self.name.get("vi") or ""

    def hours_in(self, lang: str) -> str:
        """Return the desk's opening hours in ``lang`` (Vietnamese when missing)."""
        return self.hours.get(lang) or self.hours.get("vi") or ""


def _texts(value: object, where: str) -> dict[str, str]:
    if isinstance(value, str):
        return {"vi": value}
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return dict(value)
    raise ValueError(f"{where} must be a text or an object of texts by language")


def parse_desks(text: str) -> tuple[Desk, ...]:
    """Return the desks of a JSON list; raise ValueError naming what is wrong."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("the desks file is not valid JSON") from None
    if not isinstance(data, list) or not data:
        raise ValueError("the desks file must hold a non-empty JSON list")
    out = []
    for n, entry in enumerate(data, start=1):
        if not isinstance(entry, dict):
            raise ValueError(f"desk {n} must be a JSON object")
        name = _texts(entry.get("name"), f"desk {n}: name")
        if not any(v.strip() for v in name.values()):
            raise ValueError(f"desk {n}: name is empty")
        address = entry.get("address", "")
        if not isinstance(address, str):
            raise ValueError(f"desk {n}: address must be a text")
        hours = _texts(entry.get("hours", ""), f"desk {n}: hours")
        out.append(Desk(name, address, hours))
    return tuple(out)


_DESKS: dict[str, tuple[Desk, ...]] = {}


def desks(path: Any = None) -> tuple[Desk, ...]:
    """Return the configured desks (IDP_DESKS_FILE), else the list shipped with us."""
    key = str(path or "")
    if key not in _DESKS:
        if path:
            from pathlib import Path

            text = Path(path).read_text(encoding="utf-8")
        else:
            from importlib import resources

            text = (resources.files("idp.citizens") / "data" / "desks.json").read_text("utf-8")
        _DESKS[key] = parse_desks(text)
    return _DESKS[key]
