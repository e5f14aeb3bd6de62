"""The citizen's connected portals: what each portal holds, since when, with receipts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from idp.consent import receipts as receipts_service
from idp.consent.display import Lookup, purpose_text
from idp.consent.grants import claim_decisions, live_grants, past_grants
from idp.consent.models import ConsentGrant
from idp.consent.releases import last_release


@dataclass(frozen=True)
class ClaimEntry:
    """One claim item of a grant as the citizen sees it."""

    item: str
    granted: bool
    purpose: str
    decided_at: dt.datetime
    withdrawn_at: dt.datetime | None = None


@dataclass
class Connection:
    """One grant to one portal, with what it holds and its receipts."""

    grant: ConsentGrant
    client_id: str
    portal_name: str
    claims: list[ClaimEntry]
    last_release: dt.datetime | None
    receipts: list[Any]

    @property
    def offline(self) -> bool:
        """Return whether the portal keeps access while the citizen is away."""
        return "offline_access" in self.grant.scopes


def connections(db: Session, *, citizen_id: str, lang: str, live: bool = True) -> list[Connection]:
    """Return the citizen's connected portals (or past connections), newest first."""

    look = Lookup(db)
    out: list[Connection] = []
    grants = live_grants(db, citizen_id) if live else past_grants(db, citizen_id)
    for grant in grants:
        portal = look.portal(grant.portal_id)
        if portal is None:  # pragma: no cover - portals cascade to their grants
            continue
        claims = (
            []
            if not live
            else [
                ClaimEntry(
                    r.claim,
                    r.granted,
                    purpose_text(look.notice(r.notice_id), r.claim, lang),
                    r.decided_at,
                )
                for r in claim_decisions(db, grant.id)
            ]
        )
        out.append(
            Connection(
                grant=grant,
                client_id=portal.client_id,
                portal_name=portal.display_name,
                claims=claims,
                last_release=last_release(db, citizen_id=citizen_id, portal_id=grant.portal_id),
                receipts=receipts_service.receipts_of(db, citizen_id, grant.id),
            )
        )
    return out
