"""Staff accounts and their one-time set-up links."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import ID, Base, UTCDateTime, new_id, utcnow


class StaffAccount(Base):
    """A member of staff: an email, roles, the desk's administrative unit, credentials.

    The password is an argon2id hash; the TOTP key is sealed like citizens' keys
    (AES-GCM under a key derived from IDP_SECRET_KEY, bound to the account id). The
    account signs in only once both are set (``totp_confirmed_at``).
    """

    __tablename__ = "staff_accounts"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The administrative unit (province or commune code) of the officer's desk.
    unit_code: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_sealed: Mapped[str | None] = mapped_column(String(255))
    totp_confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def ready(self) -> bool:
        """Return whether the account finished its set-up and is not disabled."""
        return (
            self.disabled_at is None
            and bool(self.password_hash)
            and self.totp_confirmed_at is not None
        )


class StaffLink(Base):
    """A single-use set-up link (stored as its digest): choose a password, add the app."""

    __tablename__ = "staff_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
