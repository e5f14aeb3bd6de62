"""Protocol routes: thin, each hands the request to Authlib or a service."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oidc.core.errors import (
    ConsentRequiredError,
    LoginRequiredError,
    RequestNotSupportedError,
    RequestURINotSupportedError,
)
from flask import Blueprint, current_app, g, jsonify, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from joserfc import jwt
from joserfc.errors import JoseError

from idp import events, keys, runtime
from idp.citizens import service as citizens
from idp.consent import receipts
from idp.consent import service as consent
from idp.db import get_db
from idp.errors import InteractionExpired, error_page
from idp.oauth import interaction as flow
from idp.oauth.claims import ClaimsRequestError, parse_claims_request
from idp.oauth.discovery import metadata
from idp.oauth.grants import ACR_PASSWORD, Principal, subject_for
from idp.oauth.models import Portal
from idp.oauth.policy import consent_needs, granted_scope
from idp.web import browser_binding, current_sso

bp = Blueprint("oauth", __name__)


def server() -> Any:
    """Return the authorization server."""
    return current_app.extensions["idp.oauth"]


# -- discovery and keys -------------------------------------------------------------


@bp.get("/.well-known/openid-configuration")
def discovery() -> Any:
    s = runtime.settings()
    resp = jsonify(metadata(s.issuer, s.languages))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/.well-known/oauth-authorization-server")
def oauth_metadata() -> Any:
    return discovery()


@bp.get("/jwks")
def jwks() -> Any:
    resp = jsonify(keys.public_jwks(get_db()))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


# -- token-side endpoints ------------------------------------------------------------


def _committing(response: Any) -> Any:
    db = get_db()
    if 200 <= response.status_code < 300:
        db.commit()
    else:
        db.rollback()
    return response


@bp.post("/token")
def token() -> Any:
    return _committing(server().create_token_response())


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Any:
    return _committing(server().create_endpoint_response("userinfo"))


@bp.post("/revoke")
def revoke() -> Any:
    return _committing(server().create_endpoint_response("revocation"))


@bp.post("/introspect")
def introspect() -> Any:
    return _committing(server().create_endpoint_response("introspection"))


# -- the authorization endpoint and its interaction ---------------------------------


def _error_response(error: OAuth2Error, params: dict[str, str]) -> Any:
    """Send the error to a verified redirect URI (with state and iss), else show a page."""
    redirect_uri = getattr(error, "redirect_uri", None)
    if redirect_uri:
        query = [("error", error.error)]
        if error.description:
            query.append(("error_description", error.description))
        state = params.get("state")
        if state:
            query.append(("state", state))
        query.append(("iss", runtime.settings().issuer))
        events.emit(
            "authorization.failed",
            error=error.error,
            client_id=str(params.get("client_id", ""))[:64],
        )
        resp = redirect(add_params_to_uri(redirect_uri, query), code=302)
        resp.headers["Cache-Control"] = "no-store"
        return resp
    # RFC 6749 §4.1.2.1: never redirect to an unverified redirect_uri.
    events.emit("authorization.refused", error=error.error)
    message = _l(
        "The service portal sent an invalid sign-in request, so we cannot continue. "
        "Please go back to the portal and try again."
    )
    return error_page(message, 400, detail=f"{error.error}: {error.description or ''}")


def _params() -> dict[str, str]:
    return {k: v for k, v in request.values.items() if isinstance(v, str)}


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    params = _params()
    sso = current_sso()
    citizen = citizens.get_citizen(get_db(), sso.citizen_id) if sso else None
    try:
        grant = server().get_consent_grant(end_user=citizen)
    except OAuth2Error as error:
        return _error_response(error, params)
    return _decide(grant, params, sso, citizen, None)


@bp.get("/authorize/resume/<iid>")
def resume(iid: str) -> Any:
    inter = flow.load(runtime.store(), iid, browser_binding(create=False))
    if inter is None:
        raise InteractionExpired(detail="resume of unknown interaction")
    params = inter.params
    sso = current_sso()
    citizen = citizens.get_citizen(get_db(), sso.citizen_id) if sso else None
    if citizen is not None and inter.citizen_id and citizen.id != inter.citizen_id:
        # Someone else signed in in this browser meanwhile: sign in again.
        citizen = None
    oauth_request = _rebuild(params)
    try:
        grant = server().get_consent_grant(request=oauth_request, end_user=citizen)
    except OAuth2Error as error:
        flow.take(runtime.store(), inter)
        return _error_response(error, params)
    return _decide(grant, params, sso, citizen, inter)


def _rebuild(params: dict[str, str]) -> OAuth2Request:
    """Recreate the parked authorization request (as a GET to the endpoint)."""
    uri = f"{runtime.settings().issuer}/authorize?{urlencode(params)}"
    req = OAuth2Request("GET", uri, headers={})
    req.payload = BasicOAuth2Payload(dict(params))
    return req


def _verify_id_token_hint(hint: str, portal: Portal) -> str | None:
    """Return the ``sub`` of an ID token we issued to this portal, or None."""
    if len(hint) > 8192:
        return None
    try:
        tok = jwt.decode(hint, keys.private_key_set(get_db()), algorithms=["RS256", "ES256"])
    except (JoseError, ValueError, TypeError):
        return None
    claims = tok.claims
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    # OIDC Core §3.1.2.1: an expired hint is still a valid hint.
    if claims.get("iss") != runtime.settings().issuer or portal.client_id not in auds:
        return None
    sub = claims.get("sub")
    return sub if isinstance(sub, str) else None


def _decide(
    grant: Any, params: dict[str, str], sso: Any, citizen: Any, inter: flow.Interaction | None
) -> Any:
    """Apply the interaction policy: answer now, prompt, or refuse (prompt=none)."""
    store = runtime.store()
    db = get_db()
    portal: Portal = grant.request.client
    redirect_uri = grant.redirect_uri
    prompts = set((params.get("prompt") or "").split())
    try:
        if inter is not None and inter.state == flow.DENIED:
            flow.take(store, inter)
            raise AccessDeniedError(redirect_uri=redirect_uri)
        if params.get("request"):
            raise RequestNotSupportedError(redirect_uri=redirect_uri)
        if params.get("request_uri"):
            raise RequestURINotSupportedError(redirect_uri=redirect_uri)
        max_age = _max_age(params.get("max_age"), redirect_uri)
        try:
            claims_request = parse_claims_request(params.get("claims"))  # before sign-in
        except ClaimsRequestError as exc:
            raise InvalidRequestError(str(exc), redirect_uri=redirect_uri) from None

        login_checks: list[str] = []
        if citizen is None:
            login_checks.append("login_required")
        elif not (inter and inter.login_done):
            if "login" in prompts:
                login_checks.append("prompt_login")
            if max_age is not None and time.time() - sso.auth_time > max_age:
                login_checks.append("max_age_exceeded")
            hint = params.get("id_token_hint")
            if hint:
                hinted = _verify_id_token_hint(hint, portal)
                if hinted is None:
                    raise InvalidRequestError("Invalid 'id_token_hint'.", redirect_uri=redirect_uri)
                if hinted != subject_for(citizen.id, portal):
                    login_checks.append("id_token_hint_mismatch")
        if login_checks:
            if "none" in prompts:
                raise LoginRequiredError(redirect_uri=redirect_uri)
            return _park(params, flow.LOGIN_PENDING, login_checks, None, inter, "citizens.signin")

        needs = consent_needs(
            db,
            citizen_id=citizen.id,
            portal=portal,
            params=params,
            consent_done=bool(inter and inter.consent_done),
            claims_request=claims_request,
        )
        if not needs.satisfied:
            if "none" in prompts:
                raise ConsentRequiredError(redirect_uri=redirect_uri)
            return _park(
                params,
                flow.CONSENT_PENDING,
                list(needs.prompt.checks),
                citizen.id,
                inter,
                "consent.consent_page",
            )
        if inter is not None:
            if flow.take(store, inter) is None:
                raise InteractionExpired(detail="interaction taken twice")
        grant_row = needs.state.grant
        if grant_row is None:
            grant_row = consent.ensure_grant(
                db, citizen_id=citizen.id, portal_id=portal.id, notice=needs.notice
            )
            # Every grant has its receipt: one made without a page (``openid`` alone) too.
            receipts.issue_receipt(
                db,
                issuer=runtime.settings().issuer,
                grant=grant_row,
                notice=needs.notice,
                client_id=portal.client_id,
                portal_name=portal.name,
                subject=subject_for(citizen.id, portal),
                action="granted",
                decisions={},
            )
        # RFC 6749 §3.3: the code (and its tokens) carry what was requested and granted.
        scopes = granted_scope(db, portal=portal, grant_id=grant_row.id, requested=needs.scopes)
        principal = Principal(
            citizen=citizen,
            portal=portal,
            auth_time=sso.auth_time,
            amr=list(sso.amr),
            acr=sso.acr or ACR_PASSWORD,
            grant_id=grant_row.id,
            sid=sso.sid,
            scopes=frozenset(scopes),
            claims_request=needs.claims_request,
        )
        db.commit()
    except OAuth2Error as error:
        if inter is not None:
            flow.take(store, inter)
        return _error_response(error, params)
    response = server().create_authorization_response(
        request=grant.request, grant=grant, grant_user=principal
    )
    events.emit("authorization.granted", portal_id=portal.id, grant_id=principal.grant_id)
    response.headers["Cache-Control"] = "no-store"
    return response


def _max_age(value: str | None, redirect_uri: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise InvalidRequestError("Invalid 'max_age'.", redirect_uri=redirect_uri)
    return int(value)


def _park(
    params: dict[str, str],
    state: str,
    checks: list[str],
    citizen_id: str | None,
    inter: flow.Interaction | None,
    endpoint: str,
) -> Any:
    """Park (or move) the interaction and send the browser to the page it needs."""
    settings = runtime.settings()
    store = runtime.store()
    if inter is None:
        inter = flow.start(
            store,
            params=params,
            binding=browser_binding(create=True),
            state=state,
            checks=checks,
            citizen_id=citizen_id,
            ttl=settings.interaction_ttl,
        )
    else:
        try:
            flow.advance(
                store,
                inter,
                state,
                settings.interaction_ttl,
                checks=checks,
                citizen_id=citizen_id or inter.citizen_id,
            )
        except flow.TransitionError:
            raise InteractionExpired(detail="bad interaction transition") from None
    events.emit("interaction.prompt", state=state, checks=",".join(checks))
    g.setdefault("idp_no_store", True)
    return redirect(url_for(endpoint, interaction=inter.id), code=303)


def resume_url(iid: str) -> str:
    """Return where a finished sign-in or consent step continues."""
    return url_for("oauth.resume", iid=iid)


def session_language() -> str | None:
    """Return the language chosen in this browser, if any."""
    return session.get("lang")
