"""Consent: portals' notices, citizens' grants per claim, the release log, receipts.

Nothing here ever holds a claim's value: only claim names, purposes and ids.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import ID, Base, UTCDateTime, new_id, unique_while_null, utcnow


class ConsentGrant(Base):
    """The scopes one citizen granted one portal; every token carries its id."""

    __tablename__ = "consent_grants"
    __table_args__ = (
        # At most one live grant per citizen and portal.
        unique_while_null(
            "uq_consent_grants_live", "citizen_id", "portal_id", null_column="revoked_at"
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
    # The notice (purposes) the citizen was last shown for this portal.
    notice_id: Mapped[str | None] = mapped_column(
        ForeignKey("consent_notices.id", ondelete="SET NULL")
    )

    @property
    def scopes(self) -> frozenset[str]:
        """Return the granted scopes as a set."""
        return frozenset(self.scope.split())


class Notice(Base):
    """One version of a portal's declared purposes, per claim item.

    ``purposes`` is ``{item: {"purpose": {"vi": …, "en": …}, "required": bool}}``; any
    change of text or of ``required`` makes a new version. ``hash`` is the SHA-256 of the
    canonical JSON, quoted in receipts.
    """

    __tablename__ = "consent_notices"
    __table_args__ = (UniqueConstraint("portal_id", "version"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    # Kept when the portal is deleted: the purposes citizens agreed to stay readable.
    portal_id: Mapped[str | None] = mapped_column(ForeignKey("portals.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer)
    purposes: Mapped[dict] = mapped_column(JSON)
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentClaim(Base):
    """The citizen's decision on one claim item under a grant: granted or declined."""

    __tablename__ = "consent_claims"
    __table_args__ = (
        # At most one live decision per grant and claim item.
        unique_while_null(
            "uq_consent_claims_live", "grant_id", "claim", null_column="withdrawn_at"
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    grant_id: Mapped[str] = mapped_column(
        ForeignKey("consent_grants.id", ondelete="CASCADE"), index=True
    )
    claim: Mapped[str] = mapped_column(String(40))
    granted: Mapped[bool] = mapped_column(Boolean)
    notice_id: Mapped[str | None] = mapped_column(
        ForeignKey("consent_notices.id", ondelete="SET NULL")
    )
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Release(Base):
    """One release of personal data to a portal: claim names, channel, time. No values."""

    __tablename__ = "releases"
    __table_args__ = (Index("ix_releases_citizen_time", "citizen_id", "released_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    # Kept (without the citizen) when an account is deleted: see docs/privacy.md.
    citizen_id: Mapped[str | None] = mapped_column(ForeignKey("citizens.id", ondelete="SET NULL"))
    # Kept (without the link) when the portal is deleted, with its name and client_id as
    # they were: the release log is the citizens' record.
    portal_id: Mapped[str | None] = mapped_column(
        ForeignKey("portals.id", ondelete="SET NULL"), index=True
    )
    client_id: Mapped[str | None] = mapped_column(String(64))
    portal_name: Mapped[str | None] = mapped_column(String(200))
    grant_id: Mapped[str | None] = mapped_column(
        ForeignKey("consent_grants.id", ondelete="SET NULL")
    )
    notice_id: Mapped[str | None] = mapped_column(
        ForeignKey("consent_notices.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(20))
    claims: Mapped[list[str]] = mapped_column(JSON)
    # Per identity item released, whether the value was ``declared`` or verified
    # (``desk_verified``, ``registry_verified``) when it left.
    assurance: Mapped[dict | None] = mapped_column(JSON)
    released_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Receipt(Base):
    """A signed consent receipt (compact JWS) for a grant, change or withdrawal."""

    __tablename__ = "consent_receipts"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    citizen_id: Mapped[str | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"), index=True
    )
    # Kept when the portal is deleted: the signed receipt names it.
    portal_id: Mapped[str | None] = mapped_column(ForeignKey("portals.id", ondelete="SET NULL"))
    grant_id: Mapped[str | None] = mapped_column(
        ForeignKey("consent_grants.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(String(20))
    jws: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
