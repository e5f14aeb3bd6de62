"""The release log: every release of personal data (claim names, never values) and
the citizen's data history built from it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp import events
from idp.consent.display import Lookup, items_of_claims, purpose_text, vietnam_time
from idp.consent.grants import get_grant
from idp.consent.models import Release
from idp.db import iso_utc, utcnow
from idp.portals import service as portals


def log_release(
    db: Session,
    *,
    citizen_id: str,
    portal_id: str,
    grant_id: str | None,
    channel: str,
    claims: Iterable[str],
    assurance: dict[str, str] | None = None,
) -> Release:
    """Record that these claims (names only) left the provider for this portal, and for
    identity items whether their values were declared or verified."""
    grant = get_grant(db, grant_id) if grant_id else None
    portal = portals.get_portal(db, portal_id)
    row = Release(
        citizen_id=citizen_id,
        portal_id=portal_id,
        client_id=portal.client_id if portal else None,
        portal_name=portal.name if portal else None,
        grant_id=grant_id,
        notice_id=grant.notice_id if grant else None,
        channel=channel,
        claims=sorted(set(claims)),
        assurance=dict(sorted((assurance or {}).items())) or None,
        released_at=utcnow(),
    )
    db.add(row)
    db.flush()
    events.emit(
        "claims.released",
        channel=channel,
        portal_id=portal_id,
        grant_id=grant_id,
        claims=" ".join(row.claims),
    )
    return row


def history(
    db: Session,
    *,
    citizen_id: str,
    portal_id: str | None = None,
    offset: int = 0,
    limit: int | None = 20,
) -> tuple[list[Release], int]:
    """Return the citizen's releases newest first (one page) and the total count."""
    where = [Release.citizen_id == citizen_id]
    if portal_id:
        where.append(Release.portal_id == portal_id)
    total = db.scalar(select(func.count()).select_from(Release).where(*where)) or 0
    query = (
        select(Release)
        .where(*where)
        .order_by(Release.released_at.desc(), Release.id.desc())
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(db.scalars(query).all()), int(total)


def last_release(db: Session, *, citizen_id: str, portal_id: str) -> Any:
    """Return the time of the latest release to a portal, or None."""
    return db.scalar(
        select(func.max(Release.released_at)).where(
            Release.citizen_id == citizen_id, Release.portal_id == portal_id
        )
    )


HISTORY_PAGE_SIZE = 20


@dataclass(frozen=True)
class HistoryEntry:
    """One release as the citizen sees it: names, purposes, channel, time. No values."""

    id: str
    released_at: dt.datetime
    client_id: str
    portal_name: str
    channel: str
    claims: list[str]
    items: list[str]
    purposes: dict[str, str]
    notice_version: int | None
    #: Per identity item released: ``declared``, ``desk_verified`` or ``registry_verified``.
    assurance: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the entry for the JSON and CSV exports."""
        return {
            "id": self.id,
            "time": iso_utc(self.released_at),
            "time_vietnam": vietnam_time(self.released_at),
            "portal": self.portal_name,
            "client_id": self.client_id,
            "channel": self.channel,
            "claims": list(self.claims),
            "items": list(self.items),
            "purposes": dict(self.purposes),
            "notice_version": self.notice_version,
            "assurance": dict(self.assurance),
        }


def _entries(look: Lookup, rows: Iterable[Release], lang: str) -> list[HistoryEntry]:
    out = []
    for row in rows:
        portal = look.portal(row.portal_id) if row.portal_id else None
        notice = look.notice(row.notice_id)
        items = items_of_claims(row.claims or [])
        purposes = {i: p for i in items if (p := purpose_text(notice, i, lang))}
        out.append(
            HistoryEntry(
                id=row.id,
                released_at=row.released_at,
                # A deleted portal is named as it was when the data left.
                client_id=portal.client_id if portal else (row.client_id or ""),
                portal_name=portal.name if portal else (row.portal_name or ""),
                channel=row.channel,
                claims=list(row.claims or []),
                items=items,
                purposes=purposes,
                notice_version=notice.version if notice else None,
                assurance=dict(row.assurance or {}),
            )
        )
    return out


def history_portals(db: Session, citizen_id: str) -> list[tuple[str, str]]:
    """Return (client_id, name) of every portal in the citizen's history, by name."""
    look = Lookup(db)
    ids = db.scalars(
        select(Release.portal_id).where(Release.citizen_id == citizen_id).distinct()
    ).all()
    found = [p for p in (look.portal(i) for i in ids if i) if p is not None]
    return sorted(((p.client_id, p.name) for p in found), key=lambda cp: (cp[1], cp[0]))


def history_portal_id(db: Session, *, citizen_id: str, client_id: str) -> str | None:
    """Return the portal id of a client_id that appears in the citizen's history."""
    look = Lookup(db)
    for portal_id in db.scalars(
        select(Release.portal_id).where(Release.citizen_id == citizen_id).distinct()
    ).all():
        portal = look.portal(portal_id) if portal_id else None
        if portal is not None and portal.client_id == client_id:
            return portal_id
    return None


def history_entries(
    db: Session,
    *,
    citizen_id: str,
    lang: str,
    portal_id: str | None = None,
    page: int | None = 1,
    per_page: int = HISTORY_PAGE_SIZE,
) -> tuple[list[HistoryEntry], int]:
    """Return one page of the citizen's history (all of it if ``page`` is None), newest
    first, and the total number of releases."""
    if page is None:
        rows, total = history(db, citizen_id=citizen_id, portal_id=portal_id, limit=None)
    else:
        rows, total = history(
            db,
            citizen_id=citizen_id,
            portal_id=portal_id,
            offset=(page - 1) * per_page,
            limit=per_page,
        )
    return _entries(Lookup(db), rows, lang), total
