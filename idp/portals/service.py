"""The portal (client) registry: registration, lookup, listing."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import events
from idp.assurance import ACR_VALUES_SUPPORTED
from idp.claims import SUPPORTED_SCOPES
from idp.db import utcnow
from idp.hashing import digest
from idp.portals.models import Portal

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
#: Signature algorithms a private_key_jwt client assertion may use.
CLIENT_ASSERTION_ALGS = ("RS256", "ES256")
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
    default_acr: str | None = None,
    backchannel_logout_uri: str | None = None,
    backchannel_logout_session_required: bool = False,
    backchannel_private: bool = False,
    jwks: object = None,
    jwks_uri: str | None = None,
) -> Registered:
    """Register a portal; return it with its one-time secret. Raises RegistrationError.

    Its purposes (why it needs each claim) are consent's notices: ``idp.admin.service``
    registers both in one transaction.
    """
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
    default_acr = _check_acr(default_acr)
    backchannel_logout_uri = check_backchannel_uri(backchannel_logout_uri, backchannel_private)
    jwks, jwks_uri = _check_client_keys(auth_method, jwks, jwks_uri)
    secret = None if auth_method in ("none", "private_key_jwt") else secrets.token_urlsafe(32)
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
        default_acr=default_acr,
        backchannel_logout_uri=backchannel_logout_uri,
        backchannel_logout_session_required=bool(backchannel_logout_session_required),
        backchannel_private=bool(backchannel_private),
        jwks=jwks,
        jwks_uri=jwks_uri,
    )
    if db.scalar(select(Portal.id).where(Portal.client_id == portal.client_id)):
        raise RegistrationError("client_id", "is already registered")
    db.add(portal)
    db.flush()
    events.emit("portal.registered", portal_id=portal.id, client_id=portal.client_id)
    return Registered(portal, secret)


def _check_acr(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if value not in ACR_VALUES_SUPPORTED:
        raise RegistrationError(
            "default_acr", f"must be one of {', '.join(ACR_VALUES_SUPPORTED)} (or 'none')"
        )
    return value


def _check_client_keys(
    auth_method: str, jwks: object, jwks_uri: str | None
) -> tuple[dict | None, str | None]:
    """Validate a private_key_jwt portal's keys: exactly one of ``jwks`` (public RSA or
    EC keys only) or an https ``jwks_uri``; other methods take neither."""
    if auth_method != "private_key_jwt":
        if jwks is not None or jwks_uri:
            raise RegistrationError("jwks", "only a private_key_jwt portal registers keys")
        return None, None
    if (jwks is None) == (not jwks_uri):
        raise RegistrationError("jwks", "private_key_jwt needs exactly one of jwks or jwks_uri")
    if jwks_uri:
        parts = urlsplit(jwks_uri)
        if parts.scheme != "https" or not parts.hostname or parts.fragment or len(jwks_uri) > 2000:
            raise RegistrationError("jwks_uri", "must be an https URL without a fragment")
        return None, jwks_uri
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise RegistrationError("jwks", 'must be a JSON Web Key Set: {"keys": [...]}')
    if len(jwks["keys"]) > 10:
        raise RegistrationError("jwks", "at most 10 keys")
    clean = []
    for key in jwks["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC"):
            raise RegistrationError("jwks", "only RSA and EC public keys are accepted")
        if any(private in key for private in ("d", "p", "q", "dp", "dq", "qi", "k")):
            raise RegistrationError("jwks", "a private key was given: register public keys only")
        try:
            from joserfc.jwk import KeySet

            KeySet.import_key_set({"keys": [key]})
        except Exception:  # noqa: BLE001 - joserfc raises several kinds for bad keys
            raise RegistrationError("jwks", "a key cannot be read") from None
        clean.append(key)
    return {"keys": clean}, None


def is_private_host(host: str | None) -> bool:
    """Return whether a host name or address is loopback, private, link-local or reserved."""
    if not host:
        return True
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
        ".localhost"
    ):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


def check_backchannel_uri(uri: str | None, private: bool) -> str | None:
    """Validate a back-channel logout URI like a redirect URI (Back-Channel Logout 1.0
    §2.2: no fragment); a loopback or private address needs ``private``."""
    if uri is None or uri == "":
        return None
    clean = _check_redirect_uri(uri, "backchannel_logout_uri")
    if is_private_host(urlsplit(clean).hostname) and not private:
        raise RegistrationError(
            "backchannel_logout_uri",
            f"{uri!r} is a loopback or private address: allowed only when the operator "
            "says so (--backchannel-private)",
        )
    return clean


def set_backchannel(
    db: Session,
    *,
    client_id: str,
    uri: str | None,
    session_required: bool | None = None,
    private: bool | None = None,
) -> Portal:
    """Set (or clear, with None) a portal's back-channel logout registration."""
    portal = by_client_id(db, client_id)
    if portal is None:
        raise RegistrationError("client_id", "no portal with this client_id")
    allow = portal.backchannel_private if private is None else private
    portal.backchannel_logout_uri = check_backchannel_uri(uri, allow)
    portal.backchannel_private = bool(allow)
    if session_required is not None:
        portal.backchannel_logout_session_required = session_required
    db.flush()
    events.emit(
        "portal.updated", portal_id=portal.id, backchannel=bool(portal.backchannel_logout_uri)
    )
    return portal


def set_default_acr(db: Session, *, client_id: str, default_acr: str | None) -> Portal:
    """Set (or clear, with None) the level a portal requires when a request names none."""
    portal = by_client_id(db, client_id)
    if portal is None:
        raise RegistrationError("client_id", "no portal with this client_id")
    portal.default_acr = _check_acr(default_acr)
    db.flush()
    events.emit("portal.updated", portal_id=portal.id, default_acr=portal.default_acr or "")
    return portal


#: The longest grace period during which a rotated-out secret still works (seconds).
MAX_SECRET_GRACE = 30 * 24 * 3600


def rotate_secret(db: Session, *, client_id: str, grace: int = 0) -> str:
    """Give a confidential portal a new secret; return it (shown once).

    With ``grace`` (seconds) the previous secret keeps working that long, so that the
    portal's servers can be switched over without an outage; with 0 it dies at once.
    """
    portal = by_client_id(db, client_id)
    if portal is None or portal.token_endpoint_auth_method in ("none", "private_key_jwt"):
        raise RegistrationError("client_id", "no portal with a client secret has this client_id")
    if not isinstance(grace, int) or not 0 <= grace <= MAX_SECRET_GRACE:
        raise RegistrationError("grace", f"must be 0 to {MAX_SECRET_GRACE} seconds")
    secret = secrets.token_urlsafe(32)
    if grace:
        portal.previous_secret_hash = portal.client_secret_hash
        portal.previous_secret_expires_at = utcnow() + dt.timedelta(seconds=grace)
    else:
        portal.previous_secret_hash = None
        portal.previous_secret_expires_at = None
    portal.client_secret_hash = digest(secret)
    db.flush()
    events.emit("portal.secret_rotated", portal_id=portal.id, grace=grace)
    return secret


def disable_portal(db: Session, *, client_id: str) -> Portal:
    """Cut a portal off: it can no longer authenticate, and its tokens die at once.

    Only ``disabled_at`` is set: every token check (``validation.live_token``) refuses
    the tokens of a portal that is not active, so nothing else has to change.
    """
    portal = db.scalar(select(Portal).where(Portal.client_id == client_id))
    if portal is None:
        raise RegistrationError("client_id", "no portal with this client_id")
    if portal.disabled_at is None:
        portal.disabled_at = utcnow()
        db.flush()
        events.emit("portal.disabled", portal_id=portal.id)
    return portal


def resume_portal(db: Session, *, client_id: str) -> Portal:
    """Let a suspended portal sign citizens in again (its old tokens stay dead)."""
    portal = by_client_id(db, client_id) if isinstance(client_id, str) else None
    if portal is None:
        raise RegistrationError("client_id", "no portal with this client_id")
    if portal.disabled_at is not None:
        portal.disabled_at = None
        db.flush()
        events.emit("portal.resumed", portal_id=portal.id)
    return portal


def delete_portal(db: Session, *, client_id: str) -> str:
    """Delete a suspended portal: its registration, secrets, grants and tokens go; the
    citizens' record (release log, receipts, the purposes they agreed to) stays, unlinked.

    Refused for an active portal: suspend it first, so that its sessions are told
    (back-channel logout needs its registration).
    """
    from sqlalchemy import delete

    portal = by_client_id(db, client_id) if isinstance(client_id, str) else None
    if portal is None:
        raise RegistrationError("client_id", "no portal with this client_id")
    if portal.is_active:
        raise RegistrationError("client_id", "suspend the portal first (idp clients suspend)")
    portal_id = portal.id
    db.execute(delete(Portal).where(Portal.id == portal_id))
    db.expire_all()
    events.emit("portal.deleted", portal_id=portal_id)
    return portal_id


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


def by_client_id(db: Session, client_id: str) -> Portal | None:
    """Return the portal with this client_id, active or disabled."""
    return db.scalar(select(Portal).where(Portal.client_id == client_id))


def describe(portal: Portal) -> dict[str, object]:
    """Return the portal's public registration data (never the secret)."""
    return {
        "client_id": portal.client_id,
        **portal.client_metadata,
        "sector_identifier": portal.sector_identifier,
        "backchannel_private": portal.backchannel_private,
        "created_at": portal.created_at.isoformat() if portal.created_at else None,
        "disabled": portal.disabled_at is not None,
    }
