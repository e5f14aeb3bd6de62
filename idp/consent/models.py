"""Consent grants: what a citizen agreed to share with one portal."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import ID, Base, UTCDateTime, new_id, utcnow


class ConsentGrant(Base):
    """The scopes one citizen granted one portal; every token carries its id."""

    __tablename__ = "consent_grants"
    __table_args__ = (
        # At most one live grant per citizen and portal.
        Index(
            "uq_consent_grants_live",
            "citizen_id",
            "portal_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    portal_id: Mapped[str] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    # Space-separated granted scopes (RFC 6749 §3.3 syntax).
    scope: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))

    @property
    def scopes(self) -> frozenset[str]:
        """Return the granted scopes as a set."""
        return frozenset(self.scope.split())
