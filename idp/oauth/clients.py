"""The portal (client) registry: registration, lookup, listing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import events
from idp.consent import service as consent
from idp.oauth.claims import SUPPORTED_SCOPES, items_of_scopes, scope_of_item
from idp.oauth.models import Portal, digest

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
ID_TOKEN_ALGS = ("RS256", "ES256")


class RegistrationError(ValueError):
    """Portal metadata that cannot be registered (RFC 7591 invalid_client_metadata)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _check_redirect_uri(uri: str, field: str, *, allow_http_loopback: bool = True) -> str:
    if not isinstance(uri, str) or not uri or len(uri) > 2000:
        raise RegistrationError(field, "must be a non-empty URL of at most 2000 characters")
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise RegistrationError(field, f"{uri!r} must not contain a fragment (RFC 6749 §3.1.2)")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return uri
    raise RegistrationError(field, f"{uri!r} must be https (http only on a loopback host)")


def _check_within_scopes(purposes: dict, scopes: list[str]) -> None:
    """Refuse a purpose for an item the portal's registered scopes do not cover."""
    allowed = items_of_scopes(scopes)
    for item in purposes:
        if item not in allowed:
            raise RegistrationError(
                "purposes",
                f"{item!r} needs the {scope_of_item(item)!r} scope, which the portal is not "
                f"registered for (registered: {' '.join(scopes)})",
            )


def _new_client_id() -> str:
    """Return a random client_id that does not start with '-' (read as an option by the
    `idp clients …` commands and most shells' tools)."""
    while True:
        value = secrets.token_urlsafe(18)
        if not value.startswith("-"):
            return value


@dataclass(frozen=True)
class Registered:
    """A newly registered portal and its secret (shown once)."""

    portal: Portal
    client_secret: str | None


def register_portal(
    db: Session,
    *,
    name: str,
    redirect_uris: list[str],
    scope: str,
    auth_method: str,
    post_logout_redirect_uris: list[str] | None = None,
    id_token_signed_response_alg: str = "RS256",
    sector_identifier: str | None = None,
    client_id: str | None = None,
    purposes: dict | None = None,
) -> Registered:
    """Register a portal; return it with its one-time secret. Raises RegistrationError.

    ``purposes`` declares, per claim item, why the portal needs it and whether it is
    required (see ``consent.service.validate_purposes``); undeclared claims are never
    released to the portal.
    """
    if purposes is not None:
        try:
            purposes = consent.validate_purposes(purposes)
        except consent.PurposeError as exc:
            raise RegistrationError("purposes", str(exc)) from None
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise RegistrationError("name", "must be 1 to 200 characters")
    if not redirect_uris:
        raise RegistrationError("redirect_uri", "at least one is required")
    uris = [_check_redirect_uri(u, "redirect_uri") for u in redirect_uris]
    logout_uris = [
        _check_redirect_uri(u, "post_logout_redirect_uri")
        for u in (post_logout_redirect_uris or [])
    ]
    if auth_method not in AUTH_METHODS:
        raise RegistrationError("auth_method", f"must be one of {', '.join(AUTH_METHODS)}")
    if id_token_signed_response_alg not in ID_TOKEN_ALGS:
        raise RegistrationError(
            "id_token_signed_response_alg", f"must be one of {', '.join(ID_TOKEN_ALGS)}"
        )
    scopes = (scope or "").split()
    unknown = [s for s in scopes if s not in SUPPORTED_SCOPES]
    if unknown:
        raise RegistrationError("scope", f"unknown scope(s): {' '.join(unknown)}")
    if "openid" not in scopes:
        scopes.insert(0, "openid")
    if purposes:
        # The registration is the upper bound of what the portal can ever receive.
        _check_within_scopes(purposes, scopes)
    hosts = {urlsplit(u).hostname for u in uris}
    if sector_identifier is None:
        # OIDC Core §8.1: without a sector identifier all redirect URIs share one host.
        if len(hosts) != 1:
            raise RegistrationError(
                "sector_identifier", "redirect URIs on several hosts need a sector identifier"
            )
        sector_identifier = hosts.pop() or ""
    if client_id is not None and (not client_id or len(client_id) > 64):
        raise RegistrationError("client_id", "must be 1 to 64 characters")
    secret = None if auth_method == "none" else secrets.token_urlsafe(32)
    portal = Portal(
        client_id=client_id or _new_client_id(),
        client_secret_hash=digest(secret) if secret else None,
        name=name,
        redirect_uris=uris,
        post_logout_redirect_uris=logout_uris,
        scope=" ".join(dict.fromkeys(scopes)),
        token_endpoint_auth_method=auth_method,
        id_token_signed_response_alg=id_token_signed_response_alg,
        subject_type="pairwise",
        sector_identifier=sector_identifier,
        grant_types=["authorization_code", "refresh_token"],
    )
    if db.scalar(select(Portal.id).where(Portal.client_id == portal.client_id)):
        raise RegistrationError("client_id", "is already registered")
    db.add(portal)
    db.flush()
    if purposes:
        consent.declare_purposes(db, portal_id=portal.id, purposes=purposes)
    events.emit("portal.registered", portal_id=portal.id, client_id=portal.client_id)
    return Registered(portal, secret)


def declare_purposes(db: Session, *, client_id: str, purposes: object) -> dict[str, object]:
    """Publish a portal's purposes (a new notice version if anything changed)."""
    portal = db.scalar(select(Portal).where(Portal.client_id == client_id))
    if portal is None:
        raise RegistrationError("client_id", "no portal with this client_id")
    try:
        clean = consent.validate_purposes(purposes)
    except consent.PurposeError as exc:
        raise RegistrationError("purposes", str(exc)) from None
    _check_within_scopes(clean, portal.scope.split())
    notice = consent.declare_purposes(db, portal_id=portal.id, purposes=clean)
    return {
        "client_id": client_id,
        "notice_version": notice.version,
        "notice_hash": notice.hash,
        "purposes": notice.purposes,
    }


def rotate_secret(db: Session, *, client_id: str) -> str:
    """Give a confidential portal a new secret; return it (shown once)."""
    portal = db.scalar(select(Portal).where(Portal.client_id == client_id))
    if portal is None or portal.token_endpoint_auth_method == "none":
        raise RegistrationError("client_id", "no confidential portal with this client_id")
    secret = secrets.token_urlsafe(32)
    portal.client_secret_hash = digest(secret)
    db.flush()
    events.emit("portal.secret_rotated", portal_id=portal.id)
    return secret


def find_active(db: Session, client_id: object) -> Portal | None:
    """Return the active portal with this client_id, or None."""
    # PostgreSQL refuses NUL in text parameters (a DataError, so a 500): no such client.
    if (
        not isinstance(client_id, str)
        or not client_id
        or len(client_id) > 64
        or "\x00" in client_id
    ):
        return None
    return db.scalar(
        select(Portal).where(Portal.client_id == client_id, Portal.disabled_at.is_(None))
    )


def get_portal(db: Session, portal_id: str) -> Portal | None:
    """Return a portal by internal id."""
    return db.get(Portal, portal_id)


def list_portals(db: Session) -> list[Portal]:
    """Return every registered portal, oldest first."""
    return list(db.scalars(select(Portal).order_by(Portal.created_at)).all())


def describe(portal: Portal, db: Session | None = None) -> dict[str, object]:
    """Return the portal's public registration data (never the secret)."""
    extra: dict[str, object] = {}
    if db is not None:
        notice = consent.current_notice(db, portal.id)
        extra = {
            "notice_version": notice.version if notice else None,
            "purposes": notice.purposes if notice else {},
        }
    return {
        "client_id": portal.client_id,
        **portal.client_metadata,
        **extra,
        "sector_identifier": portal.sector_identifier,
        "created_at": portal.created_at.isoformat() if portal.created_at else None,
        "disabled": portal.disabled_at is not None,
    }
