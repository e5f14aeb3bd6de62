"""The consent page: which portal asks for what, approve or deny."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for

from idp import runtime
from idp.citizens import service as citizens
from idp.consent import service
from idp.db import get_db
from idp.errors import InteractionExpired
from idp.oauth import clients
from idp.oauth import interaction as flow
from idp.oauth.claims import SCOPE_CLAIMS
from idp.web import browser_binding, current_sso

bp = Blueprint("consent", __name__)


def _load() -> tuple[flow.Interaction, Any, Any, list[str]]:
    inter = flow.load(runtime.store(), request.values.get("interaction"),
                      browser_binding(create=False))
    if inter is None or inter.state != flow.CONSENT_PENDING:
        raise InteractionExpired(detail="consent without a pending interaction")
    g.ui_locales = inter.params.get("ui_locales")
    sso = current_sso()
    db = get_db()
    portal = clients.find_active(db, inter.params.get("client_id"))
    citizen = citizens.get_citizen(db, sso.citizen_id) if sso else None
    if portal is None or citizen is None or citizen.id != inter.citizen_id:
        raise InteractionExpired(detail="consent by another session")
    requested = [s for s in portal.get_allowed_scope(inter.params.get("scope", "")).split()
                 if s in SCOPE_CLAIMS and s != "openid"]
    if "offline_access" in requested and "consent" not in inter.prompts:
        grant = service.live_grant(db, citizen_id=citizen.id, portal_id=portal.id)
        if grant is None or "offline_access" not in grant.scopes:
            requested.remove("offline_access")
    return inter, portal, citizen, requested


@bp.get("/consent")
def consent_page() -> Any:
    inter, portal, citizen, requested = _load()
    db = get_db()
    if "prompt_consent" in inter.checks:
        shown = requested
    else:
        missing = service.missing_scopes(db, citizen_id=citizen.id, portal_id=portal.id,
                                         scopes=requested)
        shown = [s for s in requested if s in missing]
    return render_template("consent/consent.html", interaction=inter, portal=portal,
                           scopes=shown, checks=inter.checks)


@bp.post("/consent")
def decide() -> Any:
    inter, portal, citizen, requested = _load()
    settings = runtime.settings()
    store = runtime.store()
    db = get_db()
    if request.form.get("decision") == "approve":
        service.grant_consent(db, citizen_id=citizen.id, portal_id=portal.id,
                              scopes=set(requested) | {"openid"})
        db.commit()
        flow.advance(store, inter, flow.CONSENTED, settings.interaction_ttl, consent_done=True)
    else:
        flow.advance(store, inter, flow.DENIED, settings.interaction_ttl)
    return redirect(url_for("oauth.resume", iid=inter.id), code=303)
