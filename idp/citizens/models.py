"""The citizen: a profile declared once, and the password credential."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
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
    cccd: Mapped[str] = mapped_column(String(12), unique=True)
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
