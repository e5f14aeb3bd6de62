"""Exports of the citizen's consent records: the history as CSV, everything as JSON."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.consent import receipts as receipts_service
from idp.consent.display import Lookup, vietnam_time
from idp.consent.models import ConsentClaim, ConsentGrant
from idp.consent.releases import HistoryEntry, _entries, history
from idp.db import iso_utc

#: The CSV's columns: (key, header shown to the citizen). Headers follow the page's
#: language; the JSON export keeps machine names.
HISTORY_COLUMNS = (
    ("time_vietnam", _l("Time (Vietnam, UTC+7)")),
    ("portal", _l("Portal")),
    ("channel", _l("How it was sent")),
    ("items", _l("Data shared")),
    ("purposes", _l("Purposes")),
    ("assurance", _l("Declared or verified")),
    ("claims", _l("Claim names (OpenID Connect)")),
    ("client_id", _l("Portal identifier (client_id)")),
    ("notice_version", _l("Notice version")),
    ("time_utc", _l("Time (UTC, ISO 8601)")),
)


def history_csv(entries: Iterable[HistoryEntry]) -> str:
    """Return the history as CSV text (one line per release; names, never values), with
    headers in the page's language and times in Vietnam time to the second."""

    def cell(value: str) -> str:
        # OWASP CSV injection: text a spreadsheet would run as a formula is quoted.
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([str(header) for _, header in HISTORY_COLUMNS])
    for e in entries:
        row = {
            "time_vietnam": vietnam_time(e.released_at, "%d/%m/%Y %H:%M:%S"),
            "portal": cell(e.portal_name),
            "channel": e.channel,
            "items": " ".join(e.items),
            "purposes": cell(" | ".join(f"{i}: {p}" for i, p in e.purposes.items())),
            "assurance": " ".join(f"{i}:{level}" for i, level in e.assurance.items()),
            "claims": " ".join(e.claims),
            "client_id": cell(e.client_id),
            "notice_version": "" if e.notice_version is None else str(e.notice_version),
            "time_utc": iso_utc(e.released_at),
        }
        writer.writerow([row[key] for key, _ in HISTORY_COLUMNS])
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
