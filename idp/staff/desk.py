"""One-stop desk work, shared by the desk pages and the ``idp`` command: verify a
citizen's identity data against the CCCD card, register a citizen in person, and give a
number back to its owner when another account had only declared it.

Runs inside the app (its store, outbox and message templates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from idp import events, runtime
from idp.citizens import identity, messages
from idp.citizens import service as citizens
from idp.citizens.models import Citizen, IdentityVerification
from idp.citizens.validation import Profile, unit_name
from idp.staff.models import StaffAccount
from idp.staff.service import ADMIN, DESK_OFFICER
from idp.tokens import service as tokens


class DeskError(ValueError):
    """Desk work that cannot be done (nothing was written)."""


def officer_unit(officer: StaffAccount, unit_code: str | None = None) -> str:
    """Return the unit a verification is recorded under; refuse who may not verify."""
    roles = officer.roles or []
    if officer.disabled_at is not None or (DESK_OFFICER not in roles and ADMIN not in roles):
        raise DeskError("this staff account is not an active desk officer")
    unit = (unit_code or officer.unit_code or "").strip()
    if not unit or unit_name(unit) is None:
        raise DeskError("name the desk's unit: a province or commune code")
    return unit


def _cut_off(db: Session, holder_id: str) -> Citizen | None:
    """End every session and token of an account that lost its number; tell its holder."""
    holder = citizens.get_citizen(db, holder_id)
    if holder is None:  # pragma: no cover - the row was just updated
        return None
    settings = runtime.settings()
    citizens.end_all_sessions(
        runtime.store(), citizen_id=holder_id, ttl=settings.session_ttl, reason="cccd_reassigned"
    )
    # All of them, offline ones too: they carried an identity that was not the holder's.
    count = tokens.revoke_citizen_tokens(db, holder_id, "cccd_reassigned")
    events.emit("identity.holder_cut_off", citizen_id=holder_id, tokens=count)
    return holder


def _unit_text(unit_code: str) -> str:
    return unit_name(unit_code) or unit_code


@dataclass(frozen=True)
class DeskResult:
    """What a desk action did: the verification, and who lost the number (if anyone)."""

    citizen: Citizen
    verification: IdentityVerification
    set_password_token: str | None = None
    took_from: str | None = None


def register_in_person(
    db: Session,
    *,
    profile: Profile,
    officer: StaffAccount,
    hasher: PasswordHasher,
    unit_code: str | None = None,
    owner_confirmed: bool = False,
) -> DeskResult:
    """Register the citizen in front of the officer, verified from the card.

    When the number is on an account that only declared it, ``owner_confirmed`` (the
    officer checked the card and the person) gives it to this citizen: the other
    account loses it, its sessions and tokens end, its holder is told. Raises DeskError
    or ValidationErrors, writing nothing.
    """
    unit = officer_unit(officer, unit_code)
    taken = None
    holder = db.query(Citizen).filter(Citizen.cccd == profile.cccd).one_or_none()
    if holder is not None:
        if not owner_confirmed:
            raise DeskError(
                "this number is on another account; confirm that the person in front of "
                "you holds the card to give it to them"
            )
        try:
            taken = identity.release_cccd_for_owner(
                db, profile.cccd, officer_id=officer.id, unit_code=unit
            )
        except identity.VerificationError as exc:
            raise DeskError(str(exc)) from None
    citizen = citizens.register_citizen(db, profile=profile, password=None, hasher=hasher)
    row = identity.record_verification(
        db, citizen, method=identity.DESK, officer_id=officer.id, unit_code=unit
    )
    token = citizens.create_password_link(
        db, citizen_id=citizen.id, ttl=runtime.settings().set_password_ttl
    )
    if taken is not None:
        _after_reassignment(db, taken, citizen, unit)
    return DeskResult(citizen, row, token, taken.holder_id if taken else None)


def verify_in_person(
    db: Session,
    *,
    citizen: Citizen,
    officer: StaffAccount,
    corrections: dict[str, Any] | None = None,
    unit_code: str | None = None,
) -> DeskResult:
    """Verify an existing account's identity data against the card (corrected first)."""
    unit = officer_unit(officer, unit_code)
    try:
        row = identity.desk_verify(
            db, citizen, officer_id=officer.id, unit_code=unit, corrections=corrections
        )
    except identity.VerificationError as exc:
        raise DeskError(str(exc)) from None
    messages.notify(
        citizen,
        "identity_verified",
        unit=_unit_text(unit),
        when=messages.when_text(row.verified_at),
    )
    return DeskResult(citizen, row)


def _after_reassignment(db: Session, taken: identity.Reassigned, owner: Citizen, unit: str) -> None:
    holder = _cut_off(db, taken.holder_id)
    when = messages.when_text()
    if holder is not None:
        messages.notify(holder, "cccd_removed", unit=_unit_text(unit), when=when)
    messages.notify(
        owner, "identity_verified", unit=_unit_text(unit), when=when, number_recovered=True
    )
