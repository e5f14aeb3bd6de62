"""The portal (client) registry: registration, lookup, listing."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Text, cast, select
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
SUBJECT_TYPES = ("pairwise", "public")
#: Scopes of the JSON admin API, granted only to automation clients (client_credentials).
ADMIN_SCOPES = ("admin:portals", "admin:audit", "admin:figures", "admin:keys")
#: Portal kinds: a service portal signs citizens in; an automation client calls the admin
#: API for itself (client_credentials), never for a citizen.
KINDS = ("portal", "automation")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class RegistrationError(ValueError):
    """Portal metadata that cannot be registered (RFC 7591 invalid_client_metadata)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _check_redirect_uri(uri: str, field: str, *, allow_http_loopback: bool = True) -> str:
    if not isinstance(uri, str) or not uri or len(uri) > 2000:
        raise RegistrationError(field, "must be a non-empty URL of at most 2000 characters")
    if any(c.isspace() or ord(c) < 32 for c in uri):
        raise RegistrationError(field, f"{uri!r} must not contain spaces or control characters")
    if "#" in uri:
        raise RegistrationError(field, f"{uri!r} must not contain a fragment (RFC 6749 §3.1.2)")
    if "*" in uri:
        raise RegistrationError(
            field, f"{uri!r} must not contain a wildcard: register each exact URI (RFC 9700 §2.1)"
        )
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise RegistrationError(field, f"{uri!r} is not a valid URL") from None
    if parts.scheme == "https" and host:
        return uri
    if parts.scheme == "http" and host in _LOOPBACK:
        return uri
    raise RegistrationError(field, f"{uri!r} must be https (http only on a loopback host)")


def _check_origin(origin: object) -> str:
    """Validate a web origin: ``scheme://host[:port]`` exactly (no path, no wildcard)."""
    field = "web_origins"
    if not isinstance(origin, str) or not origin or len(origin) > 300:
        raise RegistrationError(field, "each origin must be a URL of at most 300 characters")
    if "*" in origin:
        raise RegistrationError(field, f"{origin!r}: no wildcards, register each exact origin")
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        raise RegistrationError(field, f"{origin!r} is not a valid origin") from None
    host = parts.hostname
    if (
        not host
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
        or "#" in origin
        or "?" in origin
        or any(c.isspace() for c in origin)
    ):
        raise RegistrationError(
            field, f"{origin!r} must be only scheme://host[:port], like https://app.example.gov.vn"
        )
    if parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK):
        # Browsers send the origin in lower case, without the default port.
        netloc = host if ":" not in host else f"[{host}]"
        default = {"https": 443, "http": 80}[parts.scheme]
        if port is not None and port != default:
            netloc = f"{netloc}:{port}"
        return f"{parts.scheme}://{netloc}"
    raise RegistrationError(field, f"{origin!r} must be https (http only on a loopback host)")


def _check_origins(origins: object) -> list[str]:
    if origins is None:
        return []
    if not isinstance(origins, list | tuple) or len(origins) > 20:
        raise RegistrationError("web_origins", "must be a list of at most 20 origins")
    return list(dict.fromkeys(_check_origin(o) for o in origins))


def _check_uris(uris: object, field: str, *, required: bool) -> list[str]:
    if uris is None:
        uris = []
    if not isinstance(uris, list | tuple) or len(uris) > 50:
        raise RegistrationError(field, "must be a list of at most 50 URIs")
    if required and not uris:
        raise RegistrationError(field, "at least one is required")
    return list(dict.fromkeys(_check_redirect_uri(u, field) for u in uris))


def _check_name(value: object, field: str, *, required: bool) -> str | None:
    if value is None or (not required and isinstance(value, str) and not value.strip()):
        if required:
            raise RegistrationError(field, "must be 1 to 200 characters")
        return None
    if not isinstance(value, str) or any(ord(c) < 32 for c in value):
        raise RegistrationError(field, "must be text without control characters")
    clean = " ".join(value.split())
    if not clean or len(clean) > 200:
        raise RegistrationError(field, "must be 1 to 200 characters")
    return clean


def _check_contact(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RegistrationError("contact_email", "must be an email address")
    value = value.strip()
    local, _, domain = value.rpartition("@")
    if (
        not local
        or "." not in domain
        or len(value) > 254
        or any(c.isspace() or ord(c) < 32 or c in '<>,;"\\' for c in value)
        or domain.startswith(".")
        or domain.endswith(".")
    ):
        raise RegistrationError("contact_email", f"{value!r} is not an email address")
    return value


def check_scope(scope: object, kind: str) -> list[str]:
    """Return the scopes of a registration (``openid`` first for a portal); raise
    RegistrationError for one this kind of client cannot have."""
    if not isinstance(scope, str):
        raise RegistrationError("scope", "must be a space-separated list of scopes")
    scopes = list(dict.fromkeys(scope.split()))
    allowed = ADMIN_SCOPES if kind == "automation" else SUPPORTED_SCOPES
    unknown = [s for s in scopes if s not in allowed]
    if unknown:
        raise RegistrationError(
            "scope", f"unknown scope(s) for a {kind}: {' '.join(unknown)[:200]}"
        )
    if kind == "automation":
        if not scopes:
            raise RegistrationError("scope", f"name at least one of {' '.join(ADMIN_SCOPES)}")
    elif "openid" not in scopes:
        scopes.insert(0, "openid")
    return scopes


def _check_choice(value: object, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise RegistrationError(field, f"must be one of {', '.join(choices)}")
    return str(value)


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
    redirect_uris: list[str] | None = None,
    scope: str = "openid",
    auth_method: str = "client_secret_basic",
    name_en: str | None = None,
    contact_email: str | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    web_origins: list[str] | None = None,
    id_token_signed_response_alg: str = "RS256",
    subject_type: str = "pairwise",
    sector_identifier: str | None = None,
    client_id: str | None = None,
    default_acr: str | None = None,
    backchannel_logout_uri: str | None = None,
    backchannel_logout_session_required: bool = False,
    backchannel_private: bool = False,
    jwks: object = None,
    jwks_uri: str | None = None,
    kind: str = "portal",
) -> Registered:
    """Register a portal; return it with its one-time secret. Raises RegistrationError.

    ``kind="automation"`` registers a client of the admin API instead: it gets tokens for
    itself (``client_credentials``) with admin scopes only, and no redirect URI, origin or
    back-channel registration. Its purposes (why it needs each claim) are consent's
    notices: ``idp.admin.service`` registers both in one transaction.
    """
    kind = _check_choice(kind, "kind", KINDS)
    name = _check_name(name, "name", required=True) or ""
    name_en = _check_name(name_en, "name_en", required=False)
    contact_email = _check_contact(contact_email)
    auth_method = _check_choice(auth_method, "auth_method", AUTH_METHODS)
    id_token_signed_response_alg = _check_choice(
        id_token_signed_response_alg, "id_token_signed_response_alg", ID_TOKEN_ALGS
    )
    subject_type = _check_choice(subject_type, "subject_type", SUBJECT_TYPES)
    scopes = check_scope(scope, kind)
    if kind == "automation":
        extra = {
            "redirect_uri": redirect_uris,
            "post_logout_redirect_uri": post_logout_redirect_uris,
            "web_origins": web_origins,
            "backchannel_logout_uri": backchannel_logout_uri,
            "default_acr": default_acr,
        }
        for field, value in extra.items():
            if value:
                raise RegistrationError(field, "an automation client signs no citizen in")
        if auth_method == "none":
            raise RegistrationError("auth_method", "an automation client must authenticate")
        uris: list[str] = []
        logout_uris: list[str] = []
        origins: list[str] = []
        grant_types = ["client_credentials"]
        sector_identifier = sector_identifier or ""
    else:
        uris = _check_uris(redirect_uris, "redirect_uri", required=True)
        logout_uris = _check_uris(
            post_logout_redirect_uris, "post_logout_redirect_uri", required=False
        )
        origins = _check_origins(web_origins)
        grant_types = ["authorization_code", "refresh_token"]
        sector_identifier = _check_sector(sector_identifier, uris)
    if client_id is not None and (
        not isinstance(client_id, str)
        or not client_id
        or len(client_id) > 64
        or client_id.startswith("-")
        or any(c.isspace() or ord(c) < 32 or c in ":%" for c in client_id)
    ):
        raise RegistrationError(
            "client_id",
            "must be 1 to 64 characters, without spaces, ':' or '%', not starting with '-'",
        )
    default_acr = _check_acr(default_acr)
    backchannel_logout_uri = check_backchannel_uri(backchannel_logout_uri, backchannel_private)
    jwks, jwks_uri = _check_client_keys(auth_method, jwks, jwks_uri)
    secret = None if auth_method in ("none", "private_key_jwt") else secrets.token_urlsafe(32)
    portal = Portal(
        client_id=client_id or _new_client_id(),
        client_secret_hash=digest(secret) if secret else None,
        name=name,
        name_en=name_en,
        contact_email=contact_email,
        redirect_uris=uris,
        post_logout_redirect_uris=logout_uris,
        web_origins=origins,
        scope=" ".join(scopes),
        token_endpoint_auth_method=auth_method,
        id_token_signed_response_alg=id_token_signed_response_alg,
        subject_type=subject_type,
        sector_identifier=sector_identifier,
        grant_types=grant_types,
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


def _check_sector(sector_identifier: object, uris: list[str]) -> str:
    hosts = {urlsplit(u).hostname for u in uris}
    if sector_identifier is None or sector_identifier == "":
        # OIDC Core §8.1: without a sector identifier all redirect URIs share one host.
        if len(hosts) != 1:
            raise RegistrationError(
                "sector_identifier", "redirect URIs on several hosts need a sector identifier"
            )
        return hosts.pop() or ""
    if (
        not isinstance(sector_identifier, str)
        or len(sector_identifier) > 255
        or any(c.isspace() or ord(c) < 32 for c in sector_identifier)
    ):
        raise RegistrationError(
            "sector_identifier", "must be a host name of at most 255 characters"
        )
    return sector_identifier


#: Fields ``update_portal`` changes; the others (client_id, subject type, sector, kind)
#: are fixed at registration: changing them would change every ``sub`` the portal knows.
UPDATABLE = (
    "name",
    "name_en",
    "contact_email",
    "redirect_uris",
    "post_logout_redirect_uris",
    "web_origins",
    "scope",
    "auth_method",
    "id_token_signed_response_alg",
    "default_acr",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "backchannel_private",
    "jwks",
    "jwks_uri",
)
FIXED = ("client_id", "subject_type", "sector_identifier", "kind")


def update_portal(db: Session, *, client_id: str, **changes: Any) -> tuple[Portal, list[str]]:
    """Change any of a portal's ``UPDATABLE`` fields; return it and the fields changed.

    Every field is validated as at registration, all before anything is written, so a
    refused change writes nothing. The auth method moves only between the two secret
    methods (a secret cannot be made from nothing, nor a key set from a secret).
    """
    portal = by_client_id(db, client_id) if isinstance(client_id, str) else None
    if portal is None:
        raise RegistrationError("client_id", "no portal with this client_id")
    for field in changes:
        if field in FIXED:
            raise RegistrationError(field, "is fixed at registration")
        if field not in UPDATABLE:
            raise RegistrationError(field, "is not a registration field")
    automation = "client_credentials" in portal.grant_types
    kind = "automation" if automation else "portal"
    new: dict[str, Any] = {}
    if "name" in changes:
        new["name"] = _check_name(changes["name"], "name", required=True)
    if "name_en" in changes:
        new["name_en"] = _check_name(changes["name_en"], "name_en", required=False)
    if "contact_email" in changes:
        new["contact_email"] = _check_contact(changes["contact_email"])
    for field, column, required in (
        ("redirect_uris", "redirect_uri", True),
        ("post_logout_redirect_uris", "post_logout_redirect_uri", False),
    ):
        if field in changes:
            if automation and changes[field]:
                raise RegistrationError(column, "an automation client signs no citizen in")
            new[field] = _check_uris(changes[field], column, required=required and not automation)
    if "redirect_uris" in new and not automation:
        # The sector (and so every ``sub``) is fixed: a portal whose sector is its
        # redirect URIs' host keeps its redirect URIs on that host.
        old_hosts = {urlsplit(u).hostname for u in portal.redirect_uris}
        new_hosts = {urlsplit(u).hostname for u in new["redirect_uris"]}
        if old_hosts == {portal.sector_identifier} and new_hosts != old_hosts:
            raise RegistrationError(
                "redirect_uri",
                f"must stay on {portal.sector_identifier} (the portal's sector, fixed at "
                "registration)",
            )
    if "web_origins" in changes:
        if automation and changes["web_origins"]:
            raise RegistrationError("web_origins", "an automation client signs no citizen in")
        new["web_origins"] = _check_origins(changes["web_origins"])
    if "scope" in changes:
        new["scope"] = " ".join(check_scope(changes["scope"], kind))
    if "id_token_signed_response_alg" in changes:
        new["id_token_signed_response_alg"] = _check_choice(
            changes["id_token_signed_response_alg"], "id_token_signed_response_alg", ID_TOKEN_ALGS
        )
    if "default_acr" in changes:
        new["default_acr"] = _check_acr(changes["default_acr"])
    method = portal.token_endpoint_auth_method
    if "auth_method" in changes:
        wanted = _check_choice(changes["auth_method"], "auth_method", AUTH_METHODS)
        secret_methods = ("client_secret_basic", "client_secret_post")
        if wanted != method and not (wanted in secret_methods and method in secret_methods):
            raise RegistrationError(
                "auth_method",
                "can move only between client_secret_basic and client_secret_post; "
                "register a new portal for another method",
            )
        new["token_endpoint_auth_method"] = method = wanted
    if "jwks" in changes or "jwks_uri" in changes:
        jwks = changes.get("jwks", portal.jwks if "jwks_uri" not in changes else None)
        jwks_uri = changes.get("jwks_uri", portal.jwks_uri if "jwks" not in changes else None)
        new["jwks"], new["jwks_uri"] = _check_client_keys(method, jwks, jwks_uri or None)
    backchannel = ("backchannel_logout_uri", "backchannel_private")
    if any(f in changes for f in backchannel) or "backchannel_logout_session_required" in changes:
        if automation and changes.get("backchannel_logout_uri"):
            raise RegistrationError(
                "backchannel_logout_uri", "an automation client signs no citizen in"
            )
        private = changes.get("backchannel_private", portal.backchannel_private)
        uri = changes.get("backchannel_logout_uri", portal.backchannel_logout_uri)
        new["backchannel_private"] = bool(private)
        new["backchannel_logout_uri"] = check_backchannel_uri(uri, bool(private))
        if "backchannel_logout_session_required" in changes:
            new["backchannel_logout_session_required"] = bool(
                changes["backchannel_logout_session_required"]
            )
    changed = [f for f, v in new.items() if getattr(portal, f) != v]
    for field in changed:
        setattr(portal, field, new[field])
    if changed:
        db.flush()
        events.emit("portal.updated", portal_id=portal.id, fields=" ".join(sorted(changed)))
    return portal, changed


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
    changes: dict[str, Any] = {"backchannel_logout_uri": uri}
    if private is not None:
        changes["backchannel_private"] = private
    if session_required is not None:
        changes["backchannel_logout_session_required"] = session_required
    return update_portal(db, client_id=client_id, **changes)[0]


def set_default_acr(db: Session, *, client_id: str, default_acr: str | None) -> Portal:
    """Set (or clear, with None) the level a portal requires when a request names none."""
    return update_portal(db, client_id=client_id, default_acr=default_acr)[0]


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


def origin_registered(db: Session, origin: str) -> bool:
    """Return whether an active portal registered this exact web origin."""
    # The list's JSON text holds each origin in quotes, so a LIKE on that text finds the
    # few candidate rows on both backends (their JSON operators differ); the exact match
    # is checked on those rows only, never on every portal.
    candidates = db.scalars(
        select(Portal.web_origins)
        .where(
            Portal.disabled_at.is_(None),
            cast(Portal.web_origins, Text).contains(json.dumps(origin), autoescape=True),
        )
        .limit(20)
    )
    return any(origin in (origins or ()) for origins in candidates)


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
