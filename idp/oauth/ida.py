"""OpenID Connect for Identity Assurance 1.0: ``verified_claims`` built from the
citizen's verification records, only as requested, only what consent allows.

One trust framework, this service's own (documented in docs/integration.md):

- a desk check: evidence ``document`` of type ``idcard`` (the CCCD card), check methods
  ``vpip`` (the card inspected in person) and ``pvp`` (the person compared with its
  photo), by the desk's administrative unit;
- a registry match: evidence ``electronic_record`` of type ``population_register``,
  check method ``data`` (matched against the authoritative record), by its source.

Rules (OIDC4IDA §6): ``trust_framework`` is always returned; other ``verification``
elements only when asked; a ``value``/``values``/``max_age`` in ``verification`` that
the record does not meet drops the whole element; one on a claim drops that claim; what
we do not have is left out, never an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from idp.citizens.identity import DESK, Assurance
from idp.citizens.models import IdentityVerification
from idp.citizens.validation import unit_name
from idp.claims import CLAIMS_IN_VERIFIED_CLAIMS, item_of
from idp.db import iso_utc

TRUST_FRAMEWORK = "urn:vn:idp:tf:1"
TRUST_FRAMEWORKS = (TRUST_FRAMEWORK,)
EVIDENCE = ("document", "electronic_record")
DOCUMENTS = ("idcard",)
DOCUMENT_CHECK_METHODS = ("vpip", "pvp")
ELECTRONIC_RECORDS = ("population_register",)
CARD_ISSUER = {"name": "Bộ Công an", "country_code": "VNM"}


def metadata() -> dict[str, Any]:
    """Return the discovery members of OIDC4IDA §7."""
    return {
        "verified_claims_supported": True,
        "trust_frameworks_supported": list(TRUST_FRAMEWORKS),
        "evidence_supported": list(EVIDENCE),
        "documents_supported": list(DOCUMENTS),
        "documents_check_methods_supported": list(DOCUMENT_CHECK_METHODS),
        "electronic_records_supported": list(ELECTRONIC_RECORDS),
        "claims_in_verified_claims_supported": list(CLAIMS_IN_VERIFIED_CLAIMS),
    }


def _meets(spec: object, actual: str) -> bool:
    """Return whether ``actual`` meets a ``null`` / ``value`` / ``values`` request element."""
    if not isinstance(spec, dict):
        return True
    if "value" in spec and spec["value"] != actual:
        return False
    values = spec.get("values")
    return not (isinstance(values, list) and actual not in values)


def _constrained(spec: object) -> bool:
    return isinstance(spec, dict) and ("value" in spec or "values" in spec)


def _fresh(spec: object, moment: dt.datetime, now: dt.datetime) -> bool:
    max_age = spec.get("max_age") if isinstance(spec, dict) else None
    return max_age is None or (now - moment).total_seconds() <= float(max_age)


def _checks(row: IdentityVerification) -> list[dict[str, str]]:
    when = iso_utc(row.verified_at)
    if row.method == DESK:
        where = unit_name(row.unit_code) or row.unit_code or ""
        return [
            {"check_method": method, "organization": where, "time": when}
            for method in DOCUMENT_CHECK_METHODS
        ]
    return [{"check_method": "data", "organization": row.source or "", "time": when}]


def _evidence(
    wanted: list[dict[str, Any]], row: IdentityVerification, number: str | None
) -> dict[str, Any] | None:
    """Return the record's evidence shaped by the first filter it meets, or None."""
    kind = "document" if row.method == DESK else "electronic_record"
    for spec in wanted:
        if spec.get("type", {}).get("value") != kind:
            continue
        out: dict[str, Any] = {"type": kind}
        if "check_details" in spec:
            filters = spec["check_details"] if isinstance(spec["check_details"], list) else []
            checks = [
                c
                for c in _checks(row)
                if not filters
                or any(_meets((f or {}).get("check_method"), c["check_method"]) for f in filters)
            ]
            if not checks:
                continue
            out["check_details"] = checks
        if "time" in spec:
            out["time"] = iso_utc(row.verified_at)
        if kind == "document" and "document_details" in spec:
            details_spec = (
                spec["document_details"] if isinstance(spec["document_details"], dict) else {}
            )
            if not _meets(details_spec.get("type"), "idcard"):
                continue
            details: dict[str, Any] = {"type": "idcard"}
            if "document_number" in details_spec and number:
                details["document_number"] = number
            if "issuer" in details_spec:
                details["issuer"] = dict(CARD_ISSUER)
            out["document_details"] = details
        if kind == "electronic_record" and "record" in spec:
            out["record"] = {
                "type": "population_register",
                "source": {"name": row.source or "", "country_code": "VNM"},
            }
        return out
    return None


def _element(
    request: dict[str, Any],
    row: IdentityVerification,
    assurance: Assurance,
    values: dict[str, Any],
    allowed: frozenset[str],
    now: dt.datetime,
) -> dict[str, Any] | None:
    asked = request["verification"]
    if not _meets(asked.get("trust_framework"), TRUST_FRAMEWORK):
        return None
    verification: dict[str, Any] = {"trust_framework": TRUST_FRAMEWORK}
    if "time" in asked:
        if not _fresh(asked["time"], row.verified_at, now):
            return None
        verification["time"] = iso_utc(row.verified_at)
    if "verification_process" in asked:
        verification["verification_process"] = row.id
    if "evidence" in asked:
        number = (
            values.get("cccd")
            if "cccd" in allowed and assurance.by_item.get("cccd") is row
            else None
        )
        evidence = _evidence(asked["evidence"], row, number)
        if evidence is None:
            return None
        verification["evidence"] = [evidence]
    claims: dict[str, Any] = {}
    for name, spec in request["claims"].items():
        item = item_of(name)
        if (
            name not in CLAIMS_IN_VERIFIED_CLAIMS
            or item not in allowed
            or assurance.by_item.get(item) is not row
            or name not in values
        ):
            continue
        if _constrained(spec) and not _meets(spec, str(values[name])):
            continue
        claims[name] = values[name]
    if not claims:
        return None
    return {"verification": verification, "claims": claims}


def verified_claims(
    requests: Iterable[dict[str, Any]],
    assurance: Assurance,
    values: dict[str, Any],
    allowed: frozenset[str],
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Return the ``verified_claims`` elements the requests get (possibly none).

    ``values``: the citizen's claim values; ``allowed``: the consent items releasable to
    this portal now. Each request is answered once per verification record that meets it.
    """
    now = now or dt.datetime.now(dt.UTC)
    rows: list[IdentityVerification] = []
    for row in assurance.by_item.values():
        if row is not None and row not in rows:
            rows.append(row)
    out: list[dict[str, Any]] = []
    for request in requests:
        for row in rows:
            element = _element(request, row, assurance, values, allowed, now)
            if element is not None:
                out.append(element)
    return out
