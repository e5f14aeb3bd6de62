"""Exports of the citizen's consent records: the history as CSV, everything as JSON."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.consent import receipts as receipts_service
from idp.consent.display import Lookup, vietnam_time
from idp.consent.models import ConsentClaim, ConsentGrant
from idp.consent.releases import HistoryEntry, _entries, history
from idp.db import iso_utc


def history_csv(entries: Iterable[HistoryEntry]) -> str:
    """Return the history as CSV text (one line per release; names, never values)."""

    def cell(value: str) -> str:
        # OWASP CSV injection: text a spreadsheet would run as a formula is quoted.
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(
        [
            "time_utc",
            "time_vietnam",
            "portal",
            "client_id",
            "channel",
            "claims",
            "items",
            "purposes",
            "notice_version",
            "assurance",
        ]
    )
    for e in entries:
        writer.writerow(
            [
                iso_utc(e.released_at),
                vietnam_time(e.released_at),
                cell(e.portal_name),
                cell(e.client_id),
                e.channel,
                " ".join(e.claims),
                " ".join(e.items),
                cell(" | ".join(f"{i}: {p}" for i, p in e.purposes.items())),
                "" if e.notice_version is None else str(e.notice_version),
                " ".join(f"{i}:{level}" for i, level in e.assurance.items()),
            ]
        )
    return buf.getvalue()


def citizen_record(db: Session, *, citizen_id: str, lang: str) -> dict[str, Any]:
    """Return everything consent holds about the citizen: grants (every decision, with
    the notice it was made under), receipts (with the JWS) and the release history."""

    look = Lookup(db)
    grants = list(
        db.scalars(
            select(ConsentGrant)
            .where(ConsentGrant.citizen_id == citizen_id)
            .order_by(ConsentGrant.created_at.desc())
        ).all()
    )
    out_grants = []
    for grant in grants:
        portal = look.portal(grant.portal_id)
        decisions = db.scalars(
            select(ConsentClaim)
            .where(ConsentClaim.grant_id == grant.id)
            .order_by(ConsentClaim.decided_at, ConsentClaim.claim)
        ).all()
        out_claims = []
        for r in decisions:
            notice = look.notice(r.notice_id)
            spec = (notice.purposes if notice else {}).get(r.claim, {})
            out_claims.append(
                {
                    "claim": r.claim,
                    "granted": r.granted,
                    "decided_at": iso_utc(r.decided_at),
                    "withdrawn_at": iso_utc(r.withdrawn_at),
                    "purpose": spec.get("purpose", {}),
                    "required": bool(spec.get("required")),
                    "notice": {"version": notice.version, "hash": notice.hash} if notice else None,
                }
            )
        out_grants.append(
            {
                "grant_id": grant.id,
                "client_id": portal.client_id if portal else None,
                "portal": portal.name if portal else None,
                "scopes": sorted(grant.scopes),
                "created_at": iso_utc(grant.created_at),
                "updated_at": iso_utc(grant.updated_at),
                "withdrawn_at": iso_utc(grant.revoked_at),
                "withdrawn_reason": grant.revoked_reason,
                "claims": out_claims,
            }
        )
    out_receipts = []
    for rec in receipts_service.receipts_of(db, citizen_id):
        portal = look.portal(rec.portal_id)
        out_receipts.append(
            {
                "id": rec.id,
                "action": rec.action,
                "time": iso_utc(rec.created_at),
                "grant_id": rec.grant_id,
                "client_id": portal.client_id if portal else None,
                "jws": rec.jws,
            }
        )
    rows, _ = history(db, citizen_id=citizen_id, limit=None)
    return {
        "grants": out_grants,
        "receipts": out_receipts,
        "history": [e.as_dict() for e in _entries(look, rows, lang)],
    }
