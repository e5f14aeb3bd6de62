"""How consent records read for people: item order, purposes, Vietnam time, lookups."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from idp.claims import CLAIM_ITEMS, item_of
from idp.consent.models import Notice
from idp.consent.notices import get_notice
from idp.portals import service as portals

_ITEM_RANK = {item: n for n, item in enumerate(CLAIM_ITEMS)}


def item_rank(item: str) -> int:
    """Return an item's place in the canonical order (pages, receipts, exports)."""
    return _ITEM_RANK.get(item, len(_ITEM_RANK))


#: Vietnam has kept UTC+7 without daylight saving since 1975; the fixed offset is the
#: fallback where the system has no time zone database.
try:
    from zoneinfo import ZoneInfo

    VIETNAM_TZ: dt.tzinfo = ZoneInfo("Asia/Ho_Chi_Minh")
except (ImportError, KeyError, ValueError):  # pragma: no cover - no tz database
    VIETNAM_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")


def vietnam_time(when: dt.datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """Return a UTC time as Vietnam local time text (dd/mm/yyyy HH:MM), '' for None."""
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(VIETNAM_TZ).strftime(fmt)


def items_of_claims(claims: Iterable[str]) -> list[str]:
    """Return the consent items released claim names belong to (``sub`` first)."""

    names = set(claims)
    items = {item_of(c) for c in names}
    return (["sub"] if "sub" in names else []) + [i for i in CLAIM_ITEMS if i in items]


class Lookup:
    """Memoised notices and portals for building many rows."""

    def __init__(self, db: Session):
        self.db = db
        self._notices: dict[str | None, Notice | None] = {}
        self._portals: dict[str, Any] = {}

    def notice(self, notice_id: str | None) -> Notice | None:
        if notice_id not in self._notices:
            self._notices[notice_id] = get_notice(self.db, notice_id)
        return self._notices[notice_id]

    def portal(self, portal_id: str) -> Any:
        if portal_id not in self._portals:
            self._portals[portal_id] = portals.get_portal(self.db, portal_id)
        return self._portals[portal_id]


def purpose_text(notice: Notice | None, item: str, lang: str) -> str:
    """Return the purpose a notice declares for one item in ``lang`` ('' if none)."""
    spec = (notice.purposes if notice else {}).get(item)
    if not spec:
        return ""
    texts = spec.get("purpose") or {}
    return texts.get(lang) or texts.get("vi") or ""
