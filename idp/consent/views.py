"""The consent page, and the citizen's connected portals, data history and data export."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from idp import runtime
from idp.citizens import service as citizens
from idp.consent import receipts, service
from idp.db import get_db
from idp.errors import InteractionExpired
from idp.oauth import clients
from idp.oauth import interaction as flow
from idp.oauth.claims import ClaimsRequestError
from idp.oauth.grants import subject_for
from idp.oauth.policy import ConsentNeeds, consent_needs
from idp.web import browser_binding, current_sso

bp = Blueprint("consent", __name__)


def lang() -> str:
    """Return the page language code."""
    return str(get_locale() or "vi")


def _load() -> tuple[flow.Interaction, Any, Any, ConsentNeeds]:
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
    try:
        needs = consent_needs(db, citizen_id=citizen.id, portal=portal, params=inter.params,
                              consent_done=False)
    except ClaimsRequestError:
        raise InteractionExpired(detail="claims parameter changed meaning") from None
    return inter, portal, citizen, needs


def _render(inter: flow.Interaction, portal: Any, citizen: Any, needs: ConsentNeeds,
            error: Any = None, ticked: set[str] | None = None) -> Any:
    db = get_db()
    notice = needs.notice
    declared = notice.purposes if notice else {}
    state = service.consent_state(db, citizen_id=citizen.id, portal_id=portal.id)
    shown = [{"item": i, "purpose": declared[i]["purpose"].get(lang())
              or declared[i]["purpose"]["vi"],
              "required": bool(declared[i].get("required")) or i in needs.essential,
              "ticked": ticked is None or i in ticked}
             for i in needs.prompt.items]
    already = [{"item": i, "purpose": declared.get(i, {}).get("purpose", {}).get(lang(), "")}
               for i in declared if i in state.granted and i not in needs.prompt.items]
    status = 400 if error else 200
    return render_template(
        "consent/consent.html", interaction=inter, portal=portal, shown=shown,
        scopes=needs.prompt.scopes, already=already, checks=needs.prompt.checks,
        notice=notice, error=error, offline_ticked=ticked is None or "offline_access" in ticked,
    ), status


@bp.get("/consent")
def consent_page() -> Any:
    inter, portal, citizen, needs = _load()
    return _render(inter, portal, citizen, needs)


@bp.post("/consent")
def decide() -> Any:
    inter, portal, citizen, needs = _load()
    settings = runtime.settings()
    store = runtime.store()
    db = get_db()
    if request.form.get("decision") != "approve":
        flow.advance(store, inter, flow.DENIED, settings.interaction_ttl)
        return redirect(url_for("oauth.resume", iid=inter.id), code=303)
    ticked = {v for v in request.form.getlist("claim") if isinstance(v, str)}
    shown = set(needs.prompt.items)
    granted = ticked & shown
    scopes = {s for s in needs.prompt.scopes if s in ticked}
    try:
        grant, action = service.record_decision(
            db, citizen_id=citizen.id, portal_id=portal.id, notice=needs.notice, shown=shown,
            granted=granted, scopes=scopes | {"openid"}, must_keep=needs.essential)
        decisions = {r.claim: r.granted for r in service.claim_decisions(db, grant.id)}
        receipts.issue_receipt(
            db, issuer=settings.issuer, grant=grant, notice=needs.notice,
            client_id=portal.client_id, portal_name=portal.name,
            subject=subject_for(citizen.id, portal), action=action, decisions=decisions)
        db.commit()
    except service.ConsentError:
        db.rollback()
        message = _l("%(portal)s cannot serve you without the data marked as required. "
                     "Tick it to continue, or choose not to share.", portal=portal.name)
        return _render(inter, portal, citizen, needs, error=message, ticked=ticked)
    flow.advance(store, inter, flow.CONSENTED, settings.interaction_ttl, consent_done=True)
    return redirect(url_for("oauth.resume", iid=inter.id), code=303)
