"""The province's adoption figures: counts per portal and per month, never a person.

Computed by SQL aggregates (never by loading rows into Python) from records that
outlive accounts and portals where possible:

- sign-ins: releases on the ``id_token`` channel (one per sign-in at a portal); distinct
  citizens among them (a deleted account no longer counts, its releases are unlinked);
- sign-ins at each level of assurance: the first token of each sign-in (tokens are
  deleted with the citizen or the portal: recent months are exact);
- consents granted and withdrawn: the signed receipts (``granted``, ``withdrawn``);
- new registrations: accounts created (accounts deleted since are not counted).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.orm import Session

from idp.assurance import ACR_PASSWORD, ACR_SECOND_FACTOR, canonical
from idp.citizens.models import Citizen
from idp.consent.models import Receipt, Release
from idp.portals.models import Portal
from idp.tokens.models import Token

COLUMNS = (
    "month",
    "client_id",
    "portal",
    "citizens",
    "sign_ins",
    "sign_ins_level_1",
    "sign_ins_level_2",
    "consents_granted",
    "consents_withdrawn",
)


def _month(db: Session, column: Any) -> Any:
    """Return a SQL expression 'YYYY-MM' of a timestamp, on SQLite or PostgreSQL."""
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _since(months: int, today: dt.date | None = None) -> dt.datetime:
    today = today or dt.datetime.now(dt.UTC).date()
    year, month = today.year, today.month - (months - 1)
    while month <= 0:
        month += 12
        year -= 1
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)


def _rows(db: Session, query: Select) -> dict[tuple[str, str | None], Any]:
    return {(r[0], r[1]): r[2:] for r in db.execute(query).all()}


def monthly(db: Session, *, months: int = 12, today: dt.date | None = None) -> dict[str, Any]:
    """Return the figures of the last ``months`` months (this one included)."""
    start = _since(months, today)
    m_rel = _month(db, Release.released_at)
    signins = _rows(
        db,
        select(m_rel, Release.portal_id, func.count(), func.count(distinct(Release.citizen_id)))
        .where(Release.channel == "id_token", Release.released_at >= start)
        .group_by(m_rel, Release.portal_id),
    )
    first = (
        select(
            Token.chain_id,
            Token.portal_id,
            func.min(Token.issued_at).label("issued_at"),
            func.min(Token.acr).label("acr"),
        )
        .where(Token.issued_at >= start)
        .group_by(Token.chain_id, Token.portal_id)
        .subquery()
    )
    m_tok = _month(db, first.c.issued_at)
    levels: dict[tuple[str, str | None], dict[int, int]] = {}
    for month, portal_id, acr, count in db.execute(
        select(m_tok, first.c.portal_id, first.c.acr, func.count()).group_by(
            m_tok, first.c.portal_id, first.c.acr
        )
    ).all():
        level = 2 if canonical(acr) == ACR_SECOND_FACTOR else 1
        bucket = levels.setdefault((month, portal_id), {1: 0, 2: 0})
        bucket[level] += int(count)
    m_rec = _month(db, Receipt.created_at)
    consents = _rows(
        db,
        select(
            m_rec,
            Receipt.portal_id,
            func.count().filter(Receipt.action == "granted"),
            func.count().filter(Receipt.action == "withdrawn"),
        )
        .where(Receipt.created_at >= start)
        .group_by(m_rec, Receipt.portal_id),
    )
    names = {p.id: (p.client_id, p.name) for p in db.scalars(select(Portal)).all()}
    keys = sorted(set(signins) | set(levels) | set(consents), key=lambda k: (k[0], str(k[1])))
    portals = []
    for month, portal_id in keys:
        client_id, name = names.get(portal_id, ("", "(deleted portal)"))
        sign_ins, citizens = signins.get((month, portal_id), (0, 0))
        granted, withdrawn = consents.get((month, portal_id), (0, 0))
        by_level = levels.get((month, portal_id), {1: 0, 2: 0})
        portals.append(
            {
                "month": month,
                "client_id": client_id,
                "portal": name,
                "citizens": int(citizens),
                "sign_ins": int(sign_ins),
                "sign_ins_level_1": by_level[1],
                "sign_ins_level_2": by_level[2],
                "consents_granted": int(granted),
                "consents_withdrawn": int(withdrawn),
            }
        )
    m_cit = _month(db, Citizen.created_at)
    registrations = [
        {"month": month, "registrations": int(count)}
        for month, count in db.execute(
            select(m_cit, func.count())
            .where(Citizen.created_at >= start)
            .group_by(m_cit)
            .order_by(m_cit)
        ).all()
    ]
    return {
        "from": start.date().isoformat(),
        "levels": {"1": ACR_PASSWORD, "2": ACR_SECOND_FACTOR},
        "portals": portals,
        "registrations": registrations,
    }


def as_csv(figures: dict[str, Any]) -> str:
    """Return the per-portal figures as CSV (one line per portal and month)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in figures["portals"]:
        name = row["portal"]
        safe = "'" + name if name[:1] in ("=", "+", "-", "@") else name
        writer.writerow({**row, "portal": safe})
    return buf.getvalue()
