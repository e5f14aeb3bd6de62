"""Token service: save issued tokens, look them up, revoke by token, chain or grant.

Access and refresh tokens are opaque 256-bit values stored as SHA-256 digests.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp import events
from idp.db import utcnow
from idp.hashing import digest
from idp.portals.models import Portal
from idp.tokens.models import Token


def save_token(
    db: Session,
    *,
    token: dict[str, Any],
    portal_id: str,
    citizen_id: str,
    grant_id: str,
    chain_id: str,
    auth_time: int | None,
    acr: str | None,
    amr: list[str] | None,
    refresh_ttl: int,
    claims_request: dict | None = None,
) -> Token:
    """Persist a freshly generated token response (hashes only)."""
    now = utcnow()
    refresh = token.get("refresh_token")
    row = Token(
        access_token_hash=digest(token["access_token"]),
        refresh_token_hash=digest(refresh) if refresh else None,
        portal_id=portal_id,
        citizen_id=citizen_id,
        grant_id=grant_id,
        chain_id=chain_id,
        scope=token.get("scope", ""),
        issued_at=now,
        access_expires_at=now + dt.timedelta(seconds=int(token["expires_in"])),
        refresh_expires_at=now + dt.timedelta(seconds=refresh_ttl) if refresh else None,
        auth_time=auth_time,
        acr=acr,
        amr=amr,
        claims_request=claims_request,
    )
    db.add(row)
    db.flush()
    events.emit(
        "token.issued",
        token_id=row.id,
        portal_id=portal_id,
        grant_id=grant_id,
        refresh=bool(refresh),
    )
    return row


def _valid_string(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 512


def by_access_token(db: Session, value: object) -> Token | None:
    """Return the token row for an access token string, or None."""
    if not _valid_string(value):
        return None
    return db.scalar(select(Token).where(Token.access_token_hash == digest(value)))  # type: ignore[arg-type]


def by_refresh_token(db: Session, value: object) -> Token | None:
    """Return the token row for a refresh token string, or None."""
    if not _valid_string(value):
        return None
    return db.scalar(select(Token).where(Token.refresh_token_hash == digest(value)))  # type: ignore[arg-type]


def mark_refresh_used(db: Session, token_id: str) -> bool:
    """Atomically mark a refresh token exchanged; False if it already was (a reuse)."""
    now = utcnow()
    result = db.execute(
        update(Token)
        .where(Token.id == token_id, Token.refresh_used_at.is_(None), Token.revoked_at.is_(None))
        .values(refresh_used_at=now, revoked_at=now, revoked_reason="rotated")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _revoke(db: Session, where: Any, reason: str) -> int:
    result = db.execute(
        update(Token)
        .where(where, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def revoke_token(db: Session, token_id: str, reason: str = "revoked") -> int:
    """Revoke one token row (its access and refresh token)."""
    count = _revoke(db, Token.id == token_id, reason)
    events.emit("token.revoked", token_id=token_id, reason=reason)
    return count


def revoke_chain(db: Session, chain_id: str, reason: str) -> int:
    """Revoke everything issued from one authorization code (and its rotations)."""
    count = _revoke(db, Token.chain_id == chain_id, reason)
    events.emit("token.chain_revoked", chain_id=chain_id, reason=reason, count=count)
    return count


def revoke_grant(db: Session, grant_id: str, reason: str) -> int:
    """Revoke every token issued under one consent grant."""
    count = _revoke(db, Token.grant_id == grant_id, reason)
    events.emit("token.grant_revoked", grant_id=grant_id, reason=reason, count=count)
    return count


def tokens_of_citizen(db: Session, citizen_id: str) -> list[dict[str, Any]]:
    """Describe the citizen's tokens for their data export (never the tokens themselves)."""
    rows = db.execute(
        select(Token, Portal.client_id, Portal.name)
        .join(Portal, Portal.id == Token.portal_id)
        .where(Token.citizen_id == citizen_id)
        .order_by(Token.issued_at.desc())
    ).all()
    return [
        {
            "portal": name,
            "client_id": client_id,
            "grant_id": token.grant_id,
            "scope": token.scope,
            "issued_at": token.issued_at.isoformat(),
            "access_expires_at": token.access_expires_at.isoformat(),
            "has_refresh_token": token.refresh_token_hash is not None,
            "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
            "revoked_reason": token.revoked_reason,
        }
        for token, client_id, name in rows
    ]


def revoke_session_tokens(db: Session, citizen_id: str, reason: str) -> int:
    """Revoke the citizen's tokens that live only as long as a sign-in session.

    Used when every session of the citizen ends (password changed or reset, "this was
    not me"): tokens issued without ``offline_access`` die with the sessions; those
    issued with it survive, since the citizen asked for access while signed out.
    """
    offline = Token.scope.contains("offline_access")
    count = _revoke(db, (Token.citizen_id == citizen_id) & ~offline, reason)
    events.emit("token.session_tokens_revoked", citizen_id=citizen_id, reason=reason, count=count)
    return count


def revoke_citizen_tokens(db: Session, citizen_id: str, reason: str) -> int:
    """Revoke every token of the citizen, ``offline_access`` ones included."""
    count = _revoke(db, Token.citizen_id == citizen_id, reason)
    events.emit("token.citizen_tokens_revoked", citizen_id=citizen_id, reason=reason, count=count)
    return count


def revoke_portal_tokens(db: Session, portal_id: str, reason: str) -> int:
    """Revoke every token issued to a portal (it was cut off: they never come back)."""
    count = _revoke(db, Token.portal_id == portal_id, reason)
    events.emit("token.portal_tokens_revoked", portal_id=portal_id, reason=reason, count=count)
    return count
