"""The consent page, and the citizen's connected portals, data history and data export."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l

from idp import interaction as flow
from idp import runtime
from idp.citizens import identity
from idp.citizens import service as citizens
from idp.citizens.sso import citizen_required, current_sso, set_sso
from idp.citizens.validation import unit_name
from idp.claims import CLAIM_ITEMS, ClaimsRequestError
from idp.consent import connections, display, exports, receipts, releases
from idp.consent import grants as consent_grants
from idp.consent.policy import ConsentNeeds, consent_needs
from idp.db import get_db, iso_utc, utcnow
from idp.errors import IdpError, InteractionExpired, NotFound
from idp.portals import service as clients
from idp.tokens import service as tokens
from idp.web import browser_binding, rotate_browser_session

bp = Blueprint("consent", __name__)


def lang() -> str:
    """Return the page language code."""
    return str(get_locale() or "vi")


def _load() -> tuple[flow.Interaction, Any, Any, ConsentNeeds]:
    inter = flow.load(
        runtime.store(), request.values.get("interaction"), browser_binding(create=False)
    )
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
        needs = consent_needs(
            db, citizen_id=citizen.id, portal=portal, params=inter.params, consent_done=False
        )
    except ClaimsRequestError:
        raise InteractionExpired(detail="claims parameter changed meaning") from None
    return inter, portal, citizen, needs


def _render(
    inter: flow.Interaction,
    portal: Any,
    citizen: Any,
    needs: ConsentNeeds,
    error: Any = None,
    ticked: set[str] | None = None,
) -> Any:
    notice = needs.notice
    declared = notice.purposes if notice else {}
    state = needs.state
    # Decree 13/2023 art. 11, Law 91/2025: silence or a pre-ticked box is not consent, so
    # optional items start unticked; only the portal's registered flag makes an item
    # required (granted by agreeing); ``essential`` is only shown.
    shown = [
        {
            "item": i,
            "purpose": declared[i]["purpose"].get(lang()) or declared[i]["purpose"]["vi"],
            "required": bool(declared[i].get("required")),
            "essential": i in needs.essential,
            "ticked": bool(declared[i].get("required")) or (ticked is not None and i in ticked),
        }
        for i in needs.prompt.items
    ]
    missing = [
        {"item": i, "purpose": declared[i]["purpose"].get(lang()) or declared[i]["purpose"]["vi"]}
        for i in needs.prompt.missing
    ]
    already = [
        {"item": i, "purpose": declared.get(i, {}).get("purpose", {}).get(lang(), "")}
        for i in declared
        if i in state.granted and i not in needs.prompt.items
    ]
    status = 400 if error else 200
    sources = identity.assurance_of(get_db(), citizen) if citizen is not None else None
    for entry in shown:
        entry["assurance"] = _assurance_text(sources, entry["item"])
    return render_template(
        "consent/consent.html",
        interaction=inter,
        portal=portal,
        shown=shown,
        missing=missing,
        scopes=needs.prompt.scopes,
        already=already,
        checks=needs.prompt.checks,
        notice=notice,
        error=error,
        offline_ticked=ticked is not None and "offline_access" in ticked,
    ), status


def _assurance_text(sources: identity.Assurance | None, item: str) -> str | None:
    """Return "verified at <desk> on <date>" or "declared by you" for an identity item."""
    if sources is None or item not in identity.IDENTITY_ITEMS:
        return None
    row = sources.by_item.get(item)
    if row is None:
        return gettext("declared by you")
    day = _vn_date(row.verified_at)
    if row.method == identity.DESK:
        where = unit_name(row.unit_code) or row.unit_code or ""
        return gettext(
            "verified at the one-stop desk of %(desk)s on %(date)s", desk=where, date=day
        )
    return gettext("verified against the national population database on %(date)s", date=day)


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
    declared = needs.notice.purposes if needs.notice else {}
    # Agreeing grants the required items (they have no box to clear) and the ticked ones.
    required = {i for i in shown if declared.get(i, {}).get("required")}
    granted = (ticked & shown) | required
    scopes = {s for s in needs.prompt.scopes if s in ticked}
    try:
        grant, action = consent_grants.record_decision(
            db,
            citizen_id=citizen.id,
            portal_id=portal.id,
            notice=needs.notice,
            shown=shown,
            granted=granted,
            scopes=scopes | {"openid"},
        )
        decisions = {r.claim: r.granted for r in consent_grants.claim_decisions(db, grant.id)}
        consent_grants.receipt_for(
            db, grant=grant, issuer=settings.issuer, action=action, decisions=decisions
        )
        db.commit()
    except consent_grants.ConsentError:  # pragma: no cover - the form cannot express one
        db.rollback()
        message = _l("Your answer could not be recorded. Please check your choices again.")
        return _render(inter, portal, citizen, needs, error=message, ticked=ticked)
    flow.advance(store, inter, flow.CONSENTED, settings.interaction_ttl, consent_done=True)
    return redirect(url_for("oauth.resume", iid=inter.id), code=303)


# -- the citizen's connected portals, data history, data export and account deletion ------
# Pages for a signed-in citizen (a signed-out visitor goes to /signin). Every id in a URL
# is checked to be the citizen's own: anything else is the same 404 as an unknown id.

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PAGE_MAX_DIGITS = 6


@bp.app_template_filter("vn_time")
def _vn_time(when: Any) -> str:
    return display.vietnam_time(when)


@bp.app_template_filter("vn_date")
def _vn_date(when: Any) -> str:
    return display.vietnam_time(when, "%d/%m/%Y")


def _own_grant(citizen: Any, grant_id: str) -> Any:
    """Return the citizen's grant with this id, or raise NotFound (also for others')."""
    grant = None
    if _UUID.fullmatch(grant_id):
        grant = consent_grants.own_grant(get_db(), citizen_id=citizen.id, grant_id=grant_id)
    if grant is None:
        raise NotFound(detail="no such grant of this citizen")
    return grant


def _download(body: str, mimetype: str, filename: str) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Personal data: never kept by a shared cache or the browser's history.
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/account/portals")
@citizen_required
def portals_page(citizen: Any) -> Any:
    db = get_db()
    return render_template(
        "consent/portals.html",
        connections=connections.connections(db, citizen_id=citizen.id, lang=lang()),
        past=connections.connections(db, citizen_id=citizen.id, lang=lang(), live=False),
    )


@bp.post("/account/portals/<grant_id>/claims/<item>/withdraw")
@citizen_required
def withdraw_claim(citizen: Any, grant_id: str, item: str) -> Any:
    grant = _own_grant(citizen, grant_id)
    if item not in CLAIM_ITEMS:
        raise NotFound(detail="no such claim item")
    db = get_db()
    portal = clients.get_portal(db, grant.portal_id)
    receipt = consent_grants.withdraw_claim_with_receipt(
        db, citizen_id=citizen.id, grant_id=grant.id, item=item, issuer=runtime.settings().issuer
    )
    if receipt is None:
        db.rollback()
        flash(gettext("This data is not being shared with %(portal)s.", portal=portal.display_name))
    else:
        db.commit()
        flash(
            gettext(
                "Done: %(portal)s will no longer receive this data.", portal=portal.display_name
            )
        )
    return redirect(url_for("consent.portals_page"), code=303)


@bp.post("/account/portals/<grant_id>/withdraw")
@citizen_required
def withdraw_grant(citizen: Any, grant_id: str) -> Any:
    grant = _own_grant(citizen, grant_id)
    db = get_db()
    portal = clients.get_portal(db, grant.portal_id)
    receipt = consent_grants.withdraw_grant_with_receipt(
        db, citizen_id=citizen.id, grant_id=grant.id, issuer=runtime.settings().issuer
    )
    if receipt is None:
        db.rollback()
        flash(
            gettext(
                "Your connection to %(portal)s was already withdrawn.", portal=portal.display_name
            )
        )
    else:
        db.commit()
        flash(
            gettext(
                "Done: %(portal)s no longer receives any of your data and is signed out. "
                "It will ask you again if you sign in there.",
                portal=portal.display_name,
            )
        )
    return redirect(url_for("consent.portals_page"), code=303)


@bp.get("/account/receipts/<receipt_id>.jwt")
@citizen_required
def receipt_download(citizen: Any, receipt_id: str) -> Any:
    row = None
    if _UUID.fullmatch(receipt_id):
        row = receipts.get_receipt(get_db(), citizen_id=citizen.id, receipt_id=receipt_id)
    if row is None:
        raise NotFound(detail="no such receipt of this citizen")
    return _download(row.jws, "application/jose", f"consent-receipt-{row.id}.jwt")


class _HistoryQuery:
    """The history page's query (page and portal filter), checked."""

    def __init__(self, citizen: Any, *, paged: bool):
        db = get_db()
        self.error: Any = None
        self.status = 200
        self.portals = releases.history_portals(db, citizen.id)
        self.client_id = request.args.get("portal", "")
        self.portal_id: str | None = None
        self.page = 1
        if self.client_id:
            self.portal_id = releases.history_portal_id(
                db, citizen_id=citizen.id, client_id=self.client_id
            )
            if self.portal_id is None:
                self.client_id = ""
                self.error, self.status = (
                    _l(
                        "No portal with this identifier appears in your data history. "
                        "Choose a portal from the list."
                    ),
                    400,
                )
        raw = request.args.get("page")
        if paged and raw is not None and self.error is None:
            if raw.isascii() and raw.isdigit() and len(raw) <= _PAGE_MAX_DIGITS and int(raw) >= 1:
                self.page = int(raw)
            else:
                self.error, self.status = (
                    _l("This page number is not valid. Page numbers are whole numbers from 1."),
                    400,
                )

    def args(self, **kw: Any) -> dict[str, Any]:
        """Return the query arguments for a link keeping the filter."""
        return {"portal": self.client_id or None, **kw}


@bp.get("/account/history")
@citizen_required
def history_page(citizen: Any) -> Any:
    query = _HistoryQuery(citizen, paged=True)
    entries: list[releases.HistoryEntry] = []
    total = 0
    if query.error is None:
        entries, total = releases.history_entries(
            get_db(), citizen_id=citizen.id, lang=lang(), portal_id=query.portal_id, page=query.page
        )
    size = releases.HISTORY_PAGE_SIZE
    pages = max(1, -(-total // size))
    if query.error is None and query.page > pages:
        query.error, query.status = _l("This page of your data history does not exist."), 404
    return render_template(
        "consent/history.html",
        entries=entries,
        total=total,
        page=query.page,
        pages=pages,
        first=(query.page - 1) * size + 1,
        last=(query.page - 1) * size + len(entries),
        portals=query.portals,
        selected=query.client_id,
        error=query.error,
        query=query,
    ), query.status


def _export_entries(citizen: Any) -> list[releases.HistoryEntry]:
    query = _HistoryQuery(citizen, paged=False)
    if query.error is not None:
        raise IdpError(query.error, status=query.status, detail="bad history export filter")
    entries, _ = releases.history_entries(
        get_db(), citizen_id=citizen.id, lang=lang(), portal_id=query.portal_id, page=None
    )
    return entries


@bp.get("/account/history.csv")
@citizen_required
def history_csv(citizen: Any) -> Any:
    # A byte-order mark so that spreadsheet programs read the Vietnamese text as UTF-8.
    body = "\ufeff" + exports.history_csv(_export_entries(citizen))
    return _download(body, "text/csv", "data-history.csv")


@bp.get("/account/history.json")
@citizen_required
def history_json(citizen: Any) -> Any:
    rows = [e.as_dict() for e in _export_entries(citizen)]
    body = json.dumps(
        {"issuer": runtime.settings().issuer, "releases": rows}, ensure_ascii=False, indent=2
    )
    return _download(body, "application/json", "data-history.json")


@bp.get("/account/data.json")
@citizen_required
def my_data(citizen: Any) -> Any:
    db = get_db()
    record = exports.citizen_record(db, citizen_id=citizen.id, lang=lang())
    data = {
        "issuer": runtime.settings().issuer,
        "generated_at": iso_utc(utcnow()),
        "profile": citizens.export_profile(citizen),
        **record,
        "tokens": tokens.tokens_of_citizen(db, citizen.id),
    }
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return _download(body, "application/json", "my-data.json")


@bp.post("/account/delete")
@citizen_required
def delete_account(citizen: Any) -> Any:
    db = get_db()
    settings = runtime.settings()
    error = None
    if request.form.get("confirm") != "yes":
        error = _l("Tick the box to confirm that you want to delete your account.")
    elif not citizens.verify_password(
        db,
        citizen_id=citizen.id,
        password=request.form.get("password", ""),
        hasher=citizens.make_hasher(settings),
    ):
        error = _l("The password is not correct. Your account was not deleted.")
    if error is not None:
        db.rollback()
        return render_template("consent/deleted.html", error=error), 400
    sso = current_sso()
    # One transaction: grants withdrawn (receipts issued, tokens revoked), then the
    # profile erased. The release log and receipts stay, unlinked (docs/privacy.md).
    consent_grants.withdraw_all(
        db, citizen_id=citizen.id, issuer=settings.issuer, reason=consent_grants.ACCOUNT_DELETED
    )
    citizens.delete_account(db, citizen_id=citizen.id)
    db.commit()
    citizens.end_session(
        runtime.store(), sso.sid if sso else None, reason=consent_grants.ACCOUNT_DELETED
    )
    rotate_browser_session()
    g.idp_sso = None
    resp = Response(render_template("consent/deleted.html", error=None), mimetype="text/html")
    return set_sso(resp, None)
