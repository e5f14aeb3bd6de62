"""Protocol routes: thin, each hands the request to Authlib or a service."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidRequestError,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oidc.core.errors import (
    ConsentRequiredError,
    InteractionRequiredError,
    LoginRequiredError,
)
from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from joserfc import jwt
from joserfc.errors import JoseError

from idp import assurance, events, keys, runtime
from idp import interaction as flow
from idp.citizens import factors, identity
from idp.citizens import service as citizens
from idp.citizens.sso import current_sso
from idp.consent import grants as consent_grants
from idp.consent.policy import consent_needs, granted_scope
from idp.db import get_db
from idp.errors import InteractionExpired, error_page
from idp.oauth import policy
from idp.oauth.discovery import metadata
from idp.oauth.grants import Principal
from idp.portals import service as clients
from idp.portals.models import Portal
from idp.subjects import subject_for
from idp.web import browser_binding, get_locale

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


def _error_location(redirect_uri: str, error: OAuth2Error, params: dict[str, str]) -> str:
    """Return the verified redirect URI carrying the error, state and iss (RFC 9207)."""
    query = [("error", error.error)]
    if error.description:
        query.append(("error_description", error.description))
    state = params.get("state")
    if state:
        query.append(("state", state))
    query.append(("iss", runtime.settings().issuer))
    return add_params_to_uri(redirect_uri, query)


def _needs_verified(
    portal: Portal, items: tuple[str, ...], redirect_uri: str, params: dict[str, str]
) -> Any:
    """Tell the citizen the portal needs verified data and where desks are; release nothing.

    The way back to the portal is the standard refusal (``access_denied``).
    """
    events.emit("authorization.verified_data_missing", portal_id=portal.id, items=" ".join(items))
    error = AccessDeniedError(
        description="The portal needs identity data verified at a one-stop desk.",
        redirect_uri=redirect_uri,
    )
    g.ui_locales = params.get("ui_locales")
    lang = get_locale()
    page = render_template(
        "citizens/needs_verified.html",
        portal_name=portal.display_name,
        items=list(items),
        desks=[
            {"name": d.name_in(lang), "address": d.address, "hours": d.hours_in(lang)}
            for d in identity.desks(runtime.settings().desks_file)
        ],
        back=_error_location(redirect_uri, error, params),
    )
    g.setdefault("idp_no_store", True)
    return page, 403


def _error_response(error: OAuth2Error, params: dict[str, str]) -> Any:
    """Send the error to a verified redirect URI (with state and iss), else show a page."""
    redirect_uri = getattr(error, "redirect_uri", None)
    if redirect_uri:
        events.emit(
            "authorization.failed",
            error=error.error,
            client_id=str(params.get("client_id", ""))[:64],
        )
        resp = redirect(_error_location(redirect_uri, error, params), code=302)
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


def _suspended_page(params: dict[str, str]) -> Any:
    """A clear page (no redirect) when the request names a suspended portal, else None."""
    client_id = params.get("client_id")
    portal = clients.by_client_id(get_db(), client_id) if _plausible(client_id) else None
    if portal is None or portal.is_active:
        return None
    g.ui_locales = params.get("ui_locales")
    events.emit("authorization.portal_suspended", portal_id=portal.id)
    message = _l(
        "%(portal)s is suspended: it cannot use your citizen identity for now. Nothing "
        "was shared. Please contact the portal, or use its other ways of access.",
        portal=portal.display_name,
    )
    return error_page(message, 403, detail="portal suspended")


def _plausible(client_id: object) -> bool:
    return isinstance(client_id, str) and 0 < len(client_id) <= 64 and "\x00" not in client_id


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    params = _params()
    suspended = _suspended_page(params)
    if suspended is not None:
        return suspended
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


class ParkedPayload(OAuth2Payload):
    """The parameters of a parked authorization request (Authlib's payload interface)."""

    def __init__(self, params: dict[str, str]):
        self._data = dict(params)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> Any:
        return {key: [value] for key, value in self._data.items()}


def _rebuild(params: dict[str, str]) -> OAuth2Request:
    """Recreate the parked authorization request (as a GET to the endpoint).

    Authlib's Flask server builds requests only from the live Flask request; a resumed
    interaction answers the request parked earlier, so it is rebuilt from Authlib's public
    ``OAuth2Request`` and ``OAuth2Payload`` classes (our ``Server`` accepts it as is).
    """
    uri = f"{runtime.settings().issuer}/authorize?{urlencode(params)}"
    req = OAuth2Request("GET", uri, headers={})
    req.payload = ParkedPayload(params)
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
    """Gather the facts, ask the authorization policy, and act on its decision."""
    store = runtime.store()
    db = get_db()
    portal: Portal = grant.request.client
    redirect_uri = grant.redirect_uri
    now = int(time.time())
    try:
        ask = policy.parse_ask(params, redirect_uri, portal.default_acr)
        facts = None
        if citizen is not None:
            facts = policy.SessionFacts(
                auth_time=sso.auth_time,
                fresh=bool(inter and inter.login_done),
                hint_matches=_hint_matches(ask, citizen, portal, redirect_uri),
                level=assurance.level_of(sso.acr),
                has_factor=factors.has_factor(db, citizen.id),
            )
        needs = None
        if facts is not None and not policy.login_checks(ask, facts, now=now):
            needs = consent_needs(
                db,
                citizen_id=citizen.id,
                portal=portal,
                params=params,
                consent_done=bool(inter and inter.consent_done),
                claims_request=ask.claims_request,
            )
        decision = policy.decide(
            ask,
            facts,
            needs.prompt.checks if needs is not None else None,
            now=now,
            denied=inter is not None and inter.state == flow.DENIED,
            unverified=needs.unverified if needs is not None else (),
        )
        if decision.outcome == policy.REFUSE:
            raise _REFUSALS[decision.error](redirect_uri=redirect_uri)
        if decision.outcome == policy.UNVERIFIED:
            if inter is not None:
                flow.take(store, inter)
            return _needs_verified(portal, needs.unverified, redirect_uri, params)
        if decision.outcome == policy.LOGIN:
            return _park(
                params,
                flow.LOGIN_PENDING,
                decision.checks,
                None,
                inter,
                "citizens.signin",
                acr_level=ask.acr_level,
            )
        if decision.outcome == policy.ENROL:
            return _park(
                params,
                flow.LOGIN_PENDING,
                decision.checks,
                citizen.id,
                inter,
                "citizens.second_factor",
                acr_level=ask.acr_level,
            )
        if decision.outcome == policy.CONSENT:
            return _park(
                params,
                flow.CONSENT_PENDING,
                decision.checks,
                citizen.id,
                inter,
                "consent.consent_page",
            )
        if inter is not None and flow.take(store, inter) is None:
            raise InteractionExpired(detail="interaction taken twice")
        # Every grant has its receipt: one made without a page (``openid`` alone) too.
        grant_row = needs.state.grant or consent_grants.ensure_grant_with_receipt(
            db,
            citizen_id=citizen.id,
            portal=portal,
            notice=needs.notice,
            issuer=runtime.settings().issuer,
        )
        # RFC 6749 §3.3: the code (and its tokens) carry what was requested and granted.
        scopes = granted_scope(db, portal=portal, grant_id=grant_row.id, requested=needs.scopes)
        principal = Principal(
            citizen=citizen,
            portal=portal,
            auth_time=sso.auth_time,
            amr=list(sso.amr),
            acr=policy.reported_acr(ask, facts.level),
            grant_id=grant_row.id,
            sid=sso.sid,
            scopes=frozenset(scopes),
            claims_request=needs.claims_request,
        )
        db.commit()
        citizens.note_portal(store, sso.sid, portal.name, portal.id)
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


_REFUSALS = {
    policy.ACCESS_DENIED: AccessDeniedError,
    policy.LOGIN_REQUIRED: LoginRequiredError,
    policy.CONSENT_REQUIRED: ConsentRequiredError,
    policy.INTERACTION_REQUIRED: InteractionRequiredError,
}


def _hint_matches(
    ask: policy.AuthorizationAsk, citizen: Any, portal: Portal, redirect_uri: str
) -> bool | None:
    """Return whether ``id_token_hint`` names the signed-in citizen (None: no hint)."""
    if ask.id_token_hint is None:
        return None
    hinted = _verify_id_token_hint(ask.id_token_hint, portal)
    if hinted is None:
        raise InvalidRequestError("Invalid 'id_token_hint'.", redirect_uri=redirect_uri)
    return hinted == subject_for(citizen.id, portal)


def _park(
    params: dict[str, str],
    state: str,
    checks: tuple[str, ...],
    citizen_id: str | None,
    inter: flow.Interaction | None,
    endpoint: str,
    acr_level: int = 0,
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
            acr_level=acr_level,
        )
    else:
        try:
            flow.advance(
                store,
                inter,
                state,
                settings.interaction_ttl,
                checks=list(checks),
                citizen_id=citizen_id or inter.citizen_id,
                acr_level=acr_level,
            )
        except flow.TransitionError:
            raise InteractionExpired(detail="bad interaction transition") from None
    events.emit("interaction.prompt", state=state, checks=",".join(checks))
    g.setdefault("idp_no_store", True)
    return redirect(url_for(endpoint, interaction=inter.id), code=303)
