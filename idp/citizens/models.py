"""The citizen: a profile declared once, and the password credential."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import ID, Base, UTCDateTime, new_id, utcnow


class Citizen(Base):
    """One person, identified by their 12-digit citizen ID number (CCCD)."""

    __tablename__ = "citizens"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    # Names NFC-normalised; Vietnamese order is family, middle, given.
    family_name: Mapped[str] = mapped_column(String(50))
    middle_name: Mapped[str] = mapped_column(String(50), default="")
    given_name: Mapped[str] = mapped_column(String(50))
    birthdate: Mapped[dt.date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(8))
    # Empty only when a one-stop desk gave the number to its verified owner (an account
    # that had declared someone else's number keeps its other data).
    cccd: Mapped[str | None] = mapped_column(String(12), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    province_code: Mapped[int] = mapped_column(Integer)
    ward_code: Mapped[int] = mapped_column(Integer)
    street: Mapped[str] = mapped_column(String(200))
    # argon2id PHC string; empty until the citizen sets a password (desk registration).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # The language messages to the citizen are written in (vi, en); the page language
    # at registration, then at each sign-in.
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def name(self) -> str:
        """Return the full name, family name first."""
        return " ".join(p for p in (self.family_name, self.middle_name, self.given_name) if p)


class PasswordLink(Base):
    """A single-use "choose your password" link, stored hashed.

    ``purpose``: ``set`` (desk registration), ``reset`` (forgot password, sent to a
    verified contact), ``desk_reset`` (printed at a one-stop desk for a citizen who lost
    both the password and the second factor).
    """

    __tablename__ = "password_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    citizen_id: Mapped[str] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16), default="set", server_default="set")
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SecondFactor(Base):
    """A citizen's TOTP authenticator (RFC 6238): one per citizen.

    The shared key is stored encrypted (AES-GCM under a key derived from
    IDP_SECRET_KEY, bound to the citizen's id): a database dump alone does not give the
    codes. ``confirmed_at`` stays empty until the citizen typed one valid code.
    """

    __tablename__ = "second_factors"

    citizen_id: Mapped[str] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True
    )
    secret_sealed: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """A single-use recovery code, stored as its SHA-256 digest (120 random bits)."""

    __tablename__ = "recovery_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    citizen_id: Mapped[str] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class KnownBrowser(Base):
    """A browser a citizen signed in from (a random cookie value, stored as its digest).

    A sign-in from a browser not on this list sends the citizen a notice.
    """

    __tablename__ = "known_browsers"

    citizen_id: Mapped[str] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True
    )
    browser_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdentityVerification(Base):
    """One verification of a citizen's identity data, kept as history (never updated but
    to end it).

    ``method``: ``desk`` (an officer at a one-stop desk checked the physical CCCD card:
    ``officer_id``, ``unit_code``) or ``registry`` (matched against a record of the
    national population database: ``source``, ``record_ref``). ``claims`` holds, per
    identity item verified (``name``, ``birthdate``, ``gender``, ``cccd``), a digest of
    the value verified, never the value: a value changed afterwards no longer matches, so
    it reads as declared again. ``ended_at`` is set when the verification stops applying
    (the number was given to its verified owner).
    """

    __tablename__ = "identity_verifications"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    citizen_id: Mapped[str] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(16))
    claims: Mapped[dict] = mapped_column(JSON)
    verified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    officer_id: Mapped[str | None] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="SET NULL")
    )
    unit_code: Mapped[str | None] = mapped_column(String(20))
    evidence: Mapped[str] = mapped_column(String(30))
    source: Mapped[str | None] = mapped_column(String(100))
    record_ref: Mapped[str | None] = mapped_column(String(100))
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(40))
