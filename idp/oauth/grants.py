"""Grants: authorization code + OpenID Connect + PKCE S256, and refresh tokens.

Authlib does the protocol; this module supplies storage and the policy Authlib leaves to
us: PKCE S256 for every client, single-use codes taken atomically with replay revoking
what the code issued, refresh-token rotation with reuse revoking the whole grant.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from authlib.oidc.core.grants import OpenIDCode as _OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin

from idp import events, keys, runtime
from idp.assurance import canonical
from idp.citizens import identity
from idp.citizens import service as citizens
from idp.claims import (
    VERIFIED_CLAIMS,
    claims_of_items,
    item_of,
    requested_claims,
    verified_requests,
)
from idp.consent import grants as consent_grants
from idp.consent import releases
from idp.consent.policy import granted_scope, releasable_items, verified_required
from idp.db import get_db
from idp.hashing import digest
from idp.oauth import ida
from idp.portals.models import Portal
from idp.subjects import subject_for
from idp.tokens import service as tokens
from idp.tokens.models import Token

REPLAY_MARKER_TTL = 24 * 3600


@dataclass
class Principal:
    """The signed-in citizen as seen by one portal's authorization."""

    citizen: Any
    portal: Portal
    auth_time: int
    amr: list[str]
    acr: str
    grant_id: str
    chain_id: str = field(default_factory=lambda: secrets.token_hex(16))
    sid: str | None = None
    #: Scopes this authorization may carry (requested ∩ granted); None = as requested.
    scopes: frozenset[str] | None = None
    #: The parsed OIDC Core §5.5 ``claims`` request: {target: {claim: essential}}.
    claims_request: dict[str, dict[str, bool]] | None = None

    def get_user_id(self) -> str:
        """Return the citizen's internal id (authlib's user interface)."""
        return self.citizen.id


def user_claims(principal: Principal, scope: str, target: str) -> UserInfo:
    """Return ``sub`` plus exactly the requested claims the citizen still grants.

    Requested = for userinfo the scopes' claims plus ``claims.userinfo``; for the ID
    token only ``claims.id_token`` (OIDC Core §5.4, §5.5). Granted = the items releasable
    right now (a withdrawal counts at once, a changed purpose pauses the item, the
    registration bounds it). The release is logged (names only).
    """
    db = get_db()
    claims_request = principal.claims_request or {}
    requested = requested_claims(set((scope or "").split()), claims_request, target)
    items = releasable_items(db, portal=principal.portal, grant_id=principal.grant_id)
    assurance = identity.assurance_of(db, principal.citizen)
    # An item the portal registered as needing verified data never leaves unverified
    # (the value may have changed since the sign-in, or a verification ended).
    items = items - (verified_required(db, principal.portal) - assurance.verified_items())
    allowed = claims_of_items(items)
    values = citizens.profile_claims(principal.citizen)
    claims: dict[str, Any] = {k: v for k, v in values.items() if k in requested and k in allowed}
    verified = ida.verified_claims(
        verified_requests(claims_request, target), assurance, values, items
    )
    released = {i for i in (item_of(c) for c in claims) if i}
    if verified:
        claims[VERIFIED_CLAIMS] = verified[0] if len(verified) == 1 else verified
        released.update(item_of(c) for v in verified for c in v["claims"])
    releases.log_release(
        db,
        citizen_id=principal.citizen.id,
        portal_id=principal.portal.id,
        grant_id=principal.grant_id,
        channel=target,
        claims=["sub", *claims],
        assurance=assurance.levels(released),
    )
    return UserInfo(sub=subject_for(principal.citizen.id, principal.portal), **claims)


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    """A code taken from the store; it exists only for the one token request."""

    data: dict[str, Any]

    def get_redirect_uri(self) -> str:
        return self.data["redirect_uri"]

    def get_scope(self) -> str:
        return self.data["scope"]

    def get_nonce(self) -> str | None:
        return self.data.get("nonce")

    def get_auth_time(self) -> int:
        return self.data["auth_time"]

    def get_acr(self) -> str | None:
        return self.data.get("acr")

    def get_amr(self) -> list[str] | None:
        return self.data.get("amr")

    @property
    def code_challenge(self) -> str | None:
        return self.data.get("code_challenge")

    @property
    def code_challenge_method(self) -> str | None:
        return self.data.get("code_challenge_method")


class S256CodeChallenge(CodeChallenge):
    """RFC 9700 §2.1.1: PKCE for every client, and only the S256 method."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        # OIDC Core §6: request objects are unsupported; refuse them as such (3.1.2.6)
        # before judging PKCE, which a client may have put only inside the object.
        if data.get("request"):
            raise RequestNotSupportedError()
        if data.get("request_uri"):
            raise RequestURINotSupportedError()
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send 'code_challenge' (S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be 'S256'.")
        super().validate_code_challenge(grant, redirect_uri)


class OpenIDCode(_OpenIDCode):
    """OIDC Core code flow: ID token contents, keys and nonce replay guard."""

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        if not isinstance(nonce, str) or len(nonce) > 512:
            return True
        return runtime.store().get(f"nonce:{request.payload.client_id}:{digest(nonce)}") is not None

    def resolve_client_private_key(self, client: Portal) -> Any:
        return keys.signing_key(get_db(), self.get_client_algorithm(client))

    def get_client_algorithm(self, client: Portal) -> str:
        return client.id_token_signed_response_alg or "RS256"

    def get_encode_header(self, client: Portal) -> dict[str, str]:
        key = self.resolve_client_private_key(client)
        return {"alg": self.get_client_algorithm(client), "kid": key.kid, "typ": "JWT"}

    def get_client_claims(self, client: Portal) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": runtime.settings().issuer,
            "aud": [client.client_id],
            "iat": now,
            "exp": now + runtime.settings().id_token_ttl,
        }

    def get_compatible_claims(self, request: Any) -> dict[str, Any]:
        claims = super().get_compatible_claims(request)
        principal = request.user
        if isinstance(principal, Principal):
            claims["auth_time"] = principal.auth_time
            claims["acr"] = canonical(principal.acr)
            claims["amr"] = list(principal.amr)
            if principal.sid:
                # The session's public reference (a digest of the cookie's value): the
                # same for every ID token of one sign-in session, for logout requests.
                claims["sid"] = principal.sid
        return claims

    def generate_user_info(self, user: Principal, scope: str) -> UserInfo:
        return user_claims(user, scope, "id_token")


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """RFC 6749 §4.1 with codes kept in the shared store, taken atomically."""

    TOKEN_ENDPOINT_AUTH_METHODS = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ]
    AUTHORIZATION_CODE_LENGTH = 43

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: Portal) -> str:
        # Authlib quotes the URI in error_description, and a quote, backslash or non-ASCII
        # character there (RFC 6749 §4.1.2.1) makes it raise ValueError: a 500.
        uri = request.payload.redirect_uri
        if uri and not client.check_redirect_uri(uri):
            raise InvalidRequestError("The 'redirect_uri' is not registered for this client.")
        return grants.AuthorizationCodeGrant.validate_authorization_redirect_uri(request, client)

    def save_authorization_code(self, code: str, request: Any) -> None:
        principal: Principal = request.user
        data = request.payload.data
        nonce = data.get("nonce")
        scope = request.scope or ""
        if principal.scopes is not None:
            scope = " ".join(s for s in scope.split() if s in principal.scopes)
        record = {
            "client_id": request.client.client_id,
            "redirect_uri": request.payload.redirect_uri,
            "scope": scope,
            "nonce": nonce,
            "auth_time": principal.auth_time,
            "acr": principal.acr,
            "amr": list(principal.amr),
            "citizen_id": principal.citizen.id,
            "grant_id": principal.grant_id,
            "chain_id": principal.chain_id,
            # The session's public reference, never the cookie's value (a bearer secret
            # that the store keeps only as this digest too).
            "sid": digest(principal.sid) if principal.sid else None,
            "code_challenge": data.get("code_challenge"),
            "code_challenge_method": data.get("code_challenge_method"),
            "claims_request": principal.claims_request or {},
        }
        settings = runtime.settings()
        store = runtime.store()
        key = digest(code)
        store.put(f"code:{key}", record, settings.code_ttl)
        # Remembered past the code's life so that a replay can be recognised (RFC 6749
        # §4.1.2: revoke the tokens previously issued from this code).
        store.put(
            f"code-chain:{key}",
            {"chain_id": principal.chain_id, "client_id": record["client_id"]},
            REPLAY_MARKER_TTL,
        )
        if nonce:
            store.put(f"nonce:{record['client_id']}:{digest(nonce)}", {}, settings.id_token_ttl)
        events.emit(
            "authorization_code.issued", portal_id=principal.portal.id, grant_id=principal.grant_id
        )

    def query_authorization_code(self, code: str, client: Portal) -> AuthorizationCode | None:
        if not isinstance(code, str) or not 0 < len(code) <= 256:
            return None
        store = runtime.store()
        key = digest(code)
        record = store.take(f"code:{key}")
        if record is None:
            marker = store.get(f"code-chain:{key}")
            if marker and marker.get("client_id") == client.client_id:
                db = get_db()
                db.rollback()
                tokens.revoke_chain(db, marker["chain_id"], "code_replayed")
                db.commit()
                events.emit("authorization_code.replayed", portal_id=client.id)
            return None
        if record["client_id"] != client.client_id:
            return None
        return AuthorizationCode(record)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Nothing to do: the code was taken (deleted) when it was read."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Principal | None:
        data = authorization_code.data
        db = get_db()
        citizen = citizens.get_citizen(db, data["citizen_id"])
        grant = consent_grants.get_grant(db, data["grant_id"])
        if citizen is None or grant is None or grant.revoked_at is not None:
            return None
        return Principal(
            citizen=citizen,
            portal=self.request.client,
            auth_time=data["auth_time"],
            amr=data["amr"],
            acr=data["acr"],
            grant_id=data["grant_id"],
            chain_id=data["chain_id"],
            sid=data.get("sid"),
            claims_request=data.get("claims_request") or {},
        )


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """RFC 6749 §6 with rotation on every use and reuse detection (RFC 9700 §4.14.2)."""

    TOKEN_ENDPOINT_AUTH_METHODS = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        db = get_db()
        row = tokens.by_refresh_token(db, refresh_token)
        if row is None:
            return None
        if row.refresh_used_at is not None:
            self._reuse_detected(row)
            return None
        if not row.is_refresh_active():
            return None
        grant = consent_grants.get_grant(db, row.grant_id)
        if grant is None or grant.revoked_at is not None:
            return None
        return row

    def _reuse_detected(self, row: Token) -> None:
        db = get_db()
        grant_id, portal_id = row.grant_id, row.portal_id
        db.rollback()
        tokens.revoke_grant(db, grant_id, "refresh_token_reused")
        db.commit()
        events.emit("refresh_token.reused", grant_id=grant_id, portal_id=portal_id)

    def authenticate_user(self, refresh_token: Token) -> Principal | None:
        db = get_db()
        citizen = citizens.get_citizen(db, refresh_token.citizen_id)
        if citizen is None:
            return None
        return Principal(
            citizen=citizen,
            portal=self.request.client,
            auth_time=refresh_token.auth_time or 0,
            amr=list(refresh_token.amr or []),
            acr=canonical(refresh_token.acr),
            grant_id=refresh_token.grant_id,
            chain_id=refresh_token.chain_id,
            claims_request=refresh_token.claims_request or {},
        )

    def issue_token(self, user: Principal, refresh_token: Token) -> dict[str, Any]:
        # RFC 6749 §6: never wider than the original; narrowed to live consent (§3.3).
        requested = (self.request.payload.scope or refresh_token.get_scope() or "").split()
        scope = granted_scope(
            get_db(),
            portal=self.request.client,
            grant_id=refresh_token.grant_id,
            requested=requested,
        )
        return self.generate_token(
            user=user, scope=" ".join(scope), include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN
        )

    def revoke_old_credential(self, refresh_token: Token) -> None:
        db = get_db()
        if not tokens.mark_refresh_used(db, refresh_token.id):
            # Another request exchanged it first: that is a reuse too.
            self._reuse_detected(refresh_token)
            raise InvalidGrantError("The refresh token was already used.")
