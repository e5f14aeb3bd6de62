"""The JSON admin API (``/admin/api/…``): what the console and ``idp clients …`` do, for
programs. Bearer admin tokens only (idp.admin.apitokens), checked at each request;
each route needs one admin scope; every change goes through the same service functions
as the CLI and is audited naming the acting staff account or automation client.

Errors are JSON: ``{"error", "error_description"[, "field"]}`` — 400 bad input (nothing
written), 401 ``invalid_token`` / 403 ``insufficient_scope`` with an RFC 6750
``WWW-Authenticate`` challenge, 404 unknown portal, 409 a state that does not allow the
change. Concurrent writes to one portal are serialised by a row lock (PostgreSQL): two
suspends both answer 200 (the second says ``already``); two deletes answer 200 and 404.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from idp import audit, events, keys, runtime
from idp.admin import apitokens, figures
from idp.admin import service as admin
from idp.admin.openapi import CREATE_ONLY_FIELDS, REGISTRATION_FIELDS, document
from idp.backchannel import deliveries
from idp.db import get_db
from idp.portals.models import Portal
from idp.portals.service import RegistrationError

bp = Blueprint("admin_api", __name__, url_prefix="/admin/api")

_REALM = "idp-admin"
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


class ApiError(Exception):
    """A refused call: its status, OAuth-style error code, description and field."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.field = field
        self.headers = headers or {}


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Any:
    get_db().rollback()
    body: dict[str, Any] = {"error": exc.error, "error_description": exc.description}
    if exc.field:
        body["field"] = exc.field
    return jsonify(body), exc.status, exc.headers


@bp.errorhandler(IntegrityError)
def _integrity_error(exc: IntegrityError) -> Any:
    # A constraint met by a concurrent writer (the portal row lock serialises most).
    return _api_error(ApiError(409, "conflict", "A concurrent change won; read and try again."))


@bp.after_request
def _no_store(response: Response) -> Response:
    # Answers carry secrets (a new client secret) or the audit trail: never cached.
    response.headers["Cache-Control"] = "no-store"
    return response


def _challenge(error: str | None = None, description: str = "", scope: str = "") -> str:
    parts = [f'realm="{_REALM}"']
    if error:
        parts.append(f'error="{error}"')
        parts.append(f'error_description="{description}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


def _actor() -> apitokens.Actor:
    """Return who calls, from the bearer token (RFC 6750 §2.1: the header only)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        # RFC 6750 §3.1: no error code in the challenge when no token was sent.
        raise ApiError(
            401,
            "invalid_token",
            "A bearer admin access token is required.",
            headers={"WWW-Authenticate": _challenge()},
        )
    actor = apitokens.authenticate(get_db(), value.strip())
    if actor is None:
        text = "The access token is not a live admin token."
        raise ApiError(
            401,
            "invalid_token",
            text,
            headers={"WWW-Authenticate": _challenge("invalid_token", text)},
        )
    return actor


def needs(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run ``view(actor, ...)`` for a live admin token holding ``scope`` now."""

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            actor = _actor()
            if scope not in actor.scopes:
                events.emit("admin.forbidden", actor=actor.label, scope=scope)
                roles = ", ".join(r for r, s in apitokens.SCOPES_BY_ROLE.items() if scope in s)
                who = (
                    f"the roles {roles}" if actor.kind == "staff" else "a client registered for it"
                )
                text = f"This call needs the {scope} scope ({who})."
                raise ApiError(
                    403,
                    "insufficient_scope",
                    text,
                    headers={"WWW-Authenticate": _challenge("insufficient_scope", text, scope)},
                )
            g.admin_actor = actor
            return view(actor, *args, **kwargs)

        return guarded

    return wrap


def _done(actor: apitokens.Actor, action: str, **data: Any) -> None:
    """Commit the change and audit it, naming who did it (never a secret)."""
    db = get_db()
    try:
        db.commit()
    except (IntegrityError, OperationalError):
        db.rollback()
        raise ApiError(409, "conflict", "A concurrent change won; read and try again.") from None
    events.emit("admin.action", actor=actor.label, action=action, **data)


# -- request parsing ---------------------------------------------------------------------


def _body(*, optional: bool = False) -> dict[str, Any]:
    """Return the request's JSON object (``{}`` for an optional, absent body)."""
    raw = request.get_data(cache=True)
    if not raw and optional:
        return {}
    if request.mimetype != "application/json":
        raise ApiError(400, "invalid_request", "The body must be JSON (application/json).")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object.")
    return data


def _typed(data: dict[str, Any], fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Refuse unknown fields and values of the wrong JSON type (the document's types)."""
    for name, value in data.items():
        spec = fields.get(name)
        if spec is None:
            raise ApiError(
                400, "invalid_client_metadata", "is not a field of this call", field=name
            )
        kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        allowed = tuple(t for k in kinds for t in _JSON_TYPES[k])
        if not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool)):
            raise ApiError(
                400, "invalid_client_metadata", f"must be of type {' or '.join(kinds)}", field=name
            )
        if spec["type"] == "array" and not all(isinstance(v, str) for v in value):
            raise ApiError(400, "invalid_client_metadata", "must be a list of strings", field=name)
    return data


def _int(value: Any, field: str, low: int, high: int, default: int, *, query: bool = True) -> int:
    """Return an integer parameter (a query string's digits, or a JSON body's number)."""
    if value is None:
        return default
    if query and isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(r"[0-9]{1,10}", value):
            raise ApiError(
                400, "invalid_request", f"must be an integer {low} to {high}", field=field
            )
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(400, "invalid_request", f"must be an integer {low} to {high}", field=field)
    return value


def _registration_error(exc: RegistrationError) -> ApiError:
    return ApiError(400, "invalid_client_metadata", exc.message, field=exc.field)


def _portal(client_id: str, *, lock: bool = False) -> Portal:
    """Return the portal (locked for the change, on PostgreSQL), or answer 404."""
    if not 0 < len(client_id) <= 64 or any(ord(c) < 32 for c in client_id):
        raise ApiError(404, "not_found", "No portal with this client_id.")
    query = select(Portal).where(Portal.client_id == client_id)
    if lock:
        # Concurrent changes to one portal wait for each other (one outcome each).
        query = query.with_for_update().execution_options(populate_existing=True)
    portal = get_db().scalar(query)
    if portal is None:
        raise ApiError(404, "not_found", "No portal with this client_id.")
    return portal


# -- the document ------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Any:
    """Serve the OpenAPI 3.1 document (public: it describes, it grants nothing)."""
    return jsonify(document(runtime.settings().issuer))


# -- portals -----------------------------------------------------------------------------


@bp.get("/portals")
@needs(apitokens.PORTALS)
def portals_list(actor: apitokens.Actor) -> Any:
    return jsonify(admin.list_portals(get_db()))


@bp.post("/portals")
@needs(apitokens.PORTALS)
def portals_create(actor: apitokens.Actor) -> Any:
    data = _typed(_body(), {**REGISTRATION_FIELDS, **CREATE_ONLY_FIELDS})
    if "name" not in data:
        raise ApiError(400, "invalid_client_metadata", "is required", field="name")
    clean = {k: v for k, v in data.items() if v is not None or k == "purposes"}
    db = get_db()
    try:
        reg = admin.register_portal(db, **clean)
    except RegistrationError as exc:
        raise _registration_error(exc) from None
    client_id, portal_id = reg.portal.client_id, reg.portal.id
    _done(actor, "portal.create", client_id=client_id, portal_id=portal_id)
    out = admin.portal_overview(db, reg.portal)
    return jsonify({**out, "client_secret": reg.client_secret}), 201


@bp.get("/portals/<client_id>")
@needs(apitokens.PORTALS)
def portals_show(actor: apitokens.Actor, client_id: str) -> Any:
    return jsonify(admin.portal_overview(get_db(), _portal(client_id)))


@bp.patch("/portals/<client_id>")
@needs(apitokens.PORTALS)
def portals_update(actor: apitokens.Actor, client_id: str) -> Any:
    data = _typed(_body(), REGISTRATION_FIELDS)
    portal = _portal(client_id, lock=True)
    db = get_db()
    try:
        portal, changed = admin.update_portal(db, client_id=portal.client_id, **data)
    except RegistrationError as exc:
        raise _registration_error(exc) from None
    portal_id = portal.id
    _done(
        actor,
        "portal.update",
        client_id=portal.client_id,
        portal_id=portal_id,
        fields=" ".join(changed),
    )
    return jsonify({"portal": admin.portal_overview(db, portal), "changed": changed})


@bp.delete("/portals/<client_id>")
@needs(apitokens.PORTALS)
def portals_delete(actor: apitokens.Actor, client_id: str) -> Any:
    portal = _portal(client_id, lock=True)
    if portal.is_active:
        raise ApiError(409, "invalid_request", "Suspend the portal first.", field="client_id")
    cid = portal.client_id
    portal_id = admin.delete_portal(get_db(), client_id=cid)
    _done(actor, "portal.delete", client_id=cid, portal_id=portal_id)
    return jsonify({"client_id": cid, "deleted": True})


@bp.post("/portals/<client_id>/suspend")
@needs(apitokens.PORTALS)
def portals_suspend(actor: apitokens.Actor, client_id: str) -> Any:
    portal = _portal(client_id, lock=True)
    cid, portal_id = portal.client_id, portal.id
    if not portal.is_active:
        get_db().rollback()
        return jsonify({"client_id": cid, "tokens_revoked": 0, "sessions_told": 0, "already": True})
    done = admin.suspend_portal(get_db(), runtime.store(), client_id=cid)
    _done(actor, "portal.suspend", client_id=cid, portal_id=portal_id)
    return jsonify({**done, "already": False})


@bp.post("/portals/<client_id>/resume")
@needs(apitokens.PORTALS)
def portals_resume(actor: apitokens.Actor, client_id: str) -> Any:
    portal = _portal(client_id, lock=True)
    cid, portal_id = portal.client_id, portal.id
    portal = admin.resume_portal(get_db(), client_id=cid)
    _done(actor, "portal.resume", client_id=cid, portal_id=portal_id)
    return jsonify(admin.portal_overview(get_db(), portal))


@bp.post("/portals/<client_id>/rotate-secret")
@needs(apitokens.PORTALS)
def portals_rotate_secret(actor: apitokens.Actor, client_id: str) -> Any:
    data = _body(optional=True)
    unknown = [k for k in data if k != "grace"]
    if unknown:
        raise ApiError(400, "invalid_request", "is not a field of this call", field=unknown[0])
    grace = _int(data.get("grace"), "grace", 0, 30 * 24 * 3600, 0, query=False)
    portal = _portal(client_id, lock=True)
    if portal.token_endpoint_auth_method in ("none", "private_key_jwt"):
        raise ApiError(
            409, "invalid_request", "This portal has no client secret.", field="client_id"
        )
    cid, portal_id = portal.client_id, portal.id
    secret = admin.rotate_secret(get_db(), client_id=cid, grace=grace)
    _done(actor, "portal.rotate_secret", client_id=cid, portal_id=portal_id, grace=grace)
    return jsonify({"client_id": cid, "client_secret": secret, "previous_works_for": grace})


@bp.get("/portals/<client_id>/deliveries")
@needs(apitokens.PORTALS)
def portals_deliveries(actor: apitokens.Actor, client_id: str) -> Any:
    limit = _int(request.args.get("limit"), "limit", 1, 1000, 50)
    return jsonify(deliveries(get_db(), _portal(client_id), limit))


@bp.put("/portals/<client_id>/purposes")
@needs(apitokens.PORTALS)
def portals_purposes(actor: apitokens.Actor, client_id: str) -> Any:
    purposes = _body()
    portal = _portal(client_id, lock=True)
    cid, portal_id = portal.client_id, portal.id
    try:
        out = admin.declare_purposes(get_db(), client_id=cid, purposes=purposes)
    except RegistrationError as exc:
        raise _registration_error(exc) from None
    _done(actor, "portal.purposes", client_id=cid, portal_id=portal_id)
    return jsonify(out)


# -- the audit trail ---------------------------------------------------------------------


def _when(field: str) -> dt.datetime | None:
    value = request.args.get(field)
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ApiError(
            400, "invalid_request", "must be a date or time (ISO 8601)", field=field
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _audit_rows() -> tuple[list[dict[str, Any]], int]:
    args = request.args
    name = args.get("name") or None
    if name is not None and not re.fullmatch(r"[a-z0-9_.]{1,60}", name):
        raise ApiError(400, "invalid_request", "must be an event name", field="name")
    portal_id = None
    client_id = args.get("client_id")
    if client_id is not None:
        found = None
        if 0 < len(client_id) <= 64 and all(ord(c) >= 32 for c in client_id):
            found = get_db().scalar(select(Portal.id).where(Portal.client_id == client_id))
        # An unknown (or deleted) portal: no event names it by its registration.
        portal_id = found or "-"
    start, end = _when("from"), _when("to")
    limit = _int(args.get("limit"), "limit", 1, 1000, 100)
    before = _int(args.get("before"), "before", 1, 2**31 - 1, 0) or None
    rows = audit.search(
        get_db(),
        name=name,
        portal_id=portal_id,
        start=start,
        end=end,
        limit=limit,
        before_seq=before,
    )
    return rows, limit


@bp.get("/audit")
@needs(apitokens.AUDIT)
def audit_search(actor: apitokens.Actor) -> Any:
    rows, limit = _audit_rows()
    return jsonify({"events": rows, "next_before": rows[-1]["seq"] if len(rows) == limit else None})


def _csv(header: list[str], lines: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for line in lines:
        # A cell starting with = + - @ is a formula to a spreadsheet: quoted as text.
        writer.writerow(
            ["'" + c if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else c for c in line]
        )
    return buf.getvalue()


@bp.get("/audit.csv")
@needs(apitokens.AUDIT)
def audit_search_csv(actor: apitokens.Actor) -> Any:
    import json

    rows, _ = _audit_rows()
    text = _csv(
        ["seq", "at", "name", "data", "hash"],
        [
            [r["seq"], r["at"], r["name"], json.dumps(r["data"], ensure_ascii=False), r["hash"]]
            for r in rows
        ],
    )
    return Response(text, mimetype="text/csv")


@bp.get("/audit/verify")
@needs(apitokens.AUDIT)
def audit_verify(actor: apitokens.Actor) -> Any:
    verdict = audit.verify(get_db())
    return jsonify(
        {
            "ok": verdict.ok,
            "rows": verdict.rows,
            "broken_at": verdict.broken_at,
            "reason": verdict.reason,
        }
    )


# -- figures and keys --------------------------------------------------------------------


@bp.get("/figures")
@needs(apitokens.FIGURES)
def figures_json(actor: apitokens.Actor) -> Any:
    months = _int(request.args.get("months"), "months", 1, 120, 12)
    return jsonify(figures.monthly(get_db(), months=months))


@bp.get("/figures.csv")
@needs(apitokens.FIGURES)
def figures_csv(actor: apitokens.Actor) -> Any:
    months = _int(request.args.get("months"), "months", 1, 120, 12)
    return Response(figures.as_csv(figures.monthly(get_db(), months=months)), mimetype="text/csv")


@bp.get("/keys")
@needs(apitokens.KEYS)
def keys_list(actor: apitokens.Actor) -> Any:
    return jsonify(keys.describe(get_db()))


@bp.post("/keys/rotate")
@needs(apitokens.KEYS)
def keys_rotate(actor: apitokens.Actor) -> Any:
    data = _body(optional=True)
    unknown = [k for k in data if k not in ("alg", "overlap")]
    if unknown:
        raise ApiError(400, "invalid_request", "is not a field of this call", field=unknown[0])
    alg = data.get("alg", "all")
    if alg not in (*keys.SUPPORTED_ALGS, "all"):
        raise ApiError(
            400,
            "invalid_request",
            f"must be one of {', '.join(keys.SUPPORTED_ALGS)}, all",
            field="alg",
        )
    settings = runtime.settings()
    overlap = _int(
        data.get("overlap"), "overlap", 0, 7 * 24 * 3600, settings.key_overlap, query=False
    )
    db = get_db()
    for one in keys.SUPPORTED_ALGS if alg == "all" else (alg,):
        keys.rotate(db, alg=one, overlap=overlap, token_lifetime=settings.id_token_ttl + 60)
    _done(actor, "key.rotate", alg=alg, overlap=overlap)
    return jsonify(keys.describe(db))


# -- a staff member's personal token (the staff cookie's path is /staff) -----------------

staff_bp = Blueprint("admin_api_token", __name__, url_prefix="/staff")


@staff_bp.route("/api-token", methods=["GET", "POST"])
def staff_token() -> Any:
    """Show (GET) or issue (POST, CSRF-checked) a personal admin API token, shown once."""
    from flask import redirect, render_template, url_for

    from idp.staff.views import StaffForbidden, current

    signed_in = current()
    if signed_in is None:
        return redirect(url_for("staff.signin"), code=303)
    session, account = signed_in
    scopes = apitokens.role_scopes(account.roles)
    if not scopes:
        events.emit("staff.forbidden", staff_id=account.id, role="admin API")
        raise StaffForbidden()
    issued = None
    if request.method == "POST":
        settings = runtime.settings()
        # Never outlives the staff session it was taken in.
        left = int(session.started + settings.staff_session_ttl - time.time())
        db = get_db()
        value, row = apitokens.issue_staff_token(db, account, ttl=left)
        issued = {"token": value, **apitokens.describe(row)}
        db.commit()
    return render_template(
        "staff/api_token.html", officer=account, scopes=sorted(scopes), issued=issued
    )
