"""Verifiable consent receipts: compact JWS signed with the provider's published key.

A receipt is issued for every grant, change and withdrawal. Anyone holding the JWKS can
check it with any JOSE library; ``idp receipts verify FILE`` does so from the command line.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import events, keys
from idp.consent.models import ConsentGrant, Notice, Receipt
from idp.db import iso_utc

RECEIPT_TYP = "consent-receipt+jwt"
RECEIPT_ALG = "RS256"
ACTIONS = ("granted", "changed", "claim_withdrawn", "withdrawn")


class ReceiptError(ValueError):
    """A receipt that does not verify or does not have the receipt shape."""


def claims_listing(
    notice: Notice | None, decisions: dict[str, bool], assurance: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Return the receipt's claim entries: each item, its purpose, required, granted, and
    for identity items whether the value is declared or verified (``assurance``)."""
    declared = notice.purposes if notice else {}
    out = []
    for item, granted in decisions.items():
        spec = declared.get(item, {})
        entry = {
            "claim": item,
            "purpose": spec.get("purpose", {}),
            "required": bool(spec.get("required")),
            "granted": granted,
        }
        if assurance and item in assurance:
            entry["assurance"] = assurance[item]
        out.append(entry)
    return out


def issue_receipt(
    db: Session,
    *,
    issuer: str,
    grant: ConsentGrant,
    notice: Notice | None,
    client_id: str,
    portal_name: str,
    subject: str,
    action: str,
    decisions: dict[str, bool],
    assurance: dict[str, str] | None = None,
    withdrawn: list[str] | None = None,
) -> Receipt:
    """Sign and store a receipt for this grant's current (or final) state; a withdrawal's
    receipt also names the items it withdrew (``withdrawn``)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown receipt action {action!r}")
    receipt_id = str(uuid.uuid4())
    now = int(time.time())
    payload = {
        "jti": receipt_id,
        "iss": issuer,
        "iat": now,
        "action": action,
        "client_id": client_id,
        "portal_name": portal_name,
        "sub": subject,
        "grant_id": grant.id,
        "scopes": sorted(grant.scopes),
        "claims": claims_listing(notice, decisions, assurance),
        "notice": {"version": notice.version, "hash": notice.hash} if notice else None,
        "time": iso_utc(dt.datetime.fromtimestamp(now, dt.UTC)),
    }
    if withdrawn is not None:
        payload["withdrawn"] = list(withdrawn)
    key = keys.signing_key(db, RECEIPT_ALG)
    header = {"alg": RECEIPT_ALG, "kid": key.kid, "typ": RECEIPT_TYP}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    token = jws.serialize_compact(header, body.encode("utf-8"), key, algorithms=[RECEIPT_ALG])
    row = Receipt(
        id=receipt_id,
        citizen_id=grant.citizen_id,
        portal_id=grant.portal_id,
        grant_id=grant.id,
        action=action,
        jws=token,
    )
    db.add(row)
    db.flush()
    events.emit("receipt.issued", receipt_id=receipt_id, grant_id=grant.id, action=action)
    return row


def receipts_of(db: Session, citizen_id: str, grant_id: str | None = None) -> list[Receipt]:
    """Return the citizen's receipts, newest first (optionally of one grant)."""
    query = select(Receipt).where(Receipt.citizen_id == citizen_id)
    if grant_id:
        query = query.where(Receipt.grant_id == grant_id)
    return list(db.scalars(query.order_by(Receipt.created_at.desc())).all())


def get_receipt(db: Session, *, citizen_id: str, receipt_id: str) -> Receipt | None:
    """Return one of the citizen's receipts."""
    if not isinstance(receipt_id, str) or len(receipt_id) > 36:
        return None
    row = db.get(Receipt, receipt_id)
    return row if row is not None and row.citizen_id == citizen_id else None


def verify_receipt(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Verify a compact receipt against a JWKS; return its payload or raise ReceiptError."""
    token = token.strip()
    if token.count(".") != 2 or len(token) > 65536:
        raise ReceiptError("not a compact JWS (three base64url parts separated by dots)")
    try:
        key_set = KeySet.import_key_set(jwks)
        obj = jws.deserialize_compact(token, key_set, algorithms=["RS256", "ES256"])
    except JoseError as exc:
        raise ReceiptError(f"signature does not verify: {exc.error}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ReceiptError(f"cannot read the receipt or the keys: {exc}") from None
    if obj.headers().get("typ") != RECEIPT_TYP:
        raise ReceiptError(f"not a consent receipt (typ is not {RECEIPT_TYP})")
    try:
        payload = json.loads(obj.payload)
    except ValueError:
        raise ReceiptError("the payload is not JSON") from None
    for name in ("jti", "iss", "iat", "action", "client_id", "sub", "claims"):
        if name not in payload:
            raise ReceiptError(f"the payload lacks {name!r}")
    return payload


def public_jwks(db: Session) -> dict[str, Any]:
    """Return the JWKS receipts verify against: every key the provider ever signed with,
    retired ones included (a receipt stays verifiable after a key rotation)."""
    return keys.all_public_jwks(db)
