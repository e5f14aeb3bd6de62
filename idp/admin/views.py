"""The operators' console: portal pages, the audit trail and the adoption figures.

Pages over the same service functions as ``idp clients``/``idp audit``/``idp figures``
(``idp.admin.service``, ``idp.audit``, ``idp.admin.figures``). Served under ``/staff``
so the staff cookie (``idp_staff``, Path=/staff, SameSite=Strict) reaches them; every
view checks the role (``portal_manager`` the portal pages, ``auditor`` the audit trail
and the figures, ``admin`` everything) and every POST carries the CSRF token. Each
action is audited twice: by the service's own event (``portal.*``) and by a
``staff.*`` event naming the acting staff account.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from idp import audit, events, runtime
from idp.admin import chart, figures
from idp.admin import service as admin
from idp.assurance import ACR_VALUES_SUPPORTED
from idp.claims import CLAIM_ITEMS, SUPPORTED_SCOPES, VERIFIABLE_ITEMS, scope_of_item
from idp.consent.notices import PURPOSE_MAX
from idp.db import get_db
from idp.errors import IdpError, NotFound
from idp.portals import service as registry
from idp.portals.models import Portal
from idp.portals.service import RegistrationError
from idp.staff import service as staff
from idp.staff.models import StaffAccount
from idp.staff.views import StaffForbidden, current_staff, role_required

bp = Blueprint("console", __name__, url_prefix="/staff/console")
T = TypeVar("T")

#: What each console section needs (``admin`` passes every check).
SECTIONS = (
    ("portals", staff.PORTAL_MANAGER),
    ("audit", staff.AUDITOR),
    ("figures", staff.AUDITOR),
    ("desk", staff.DESK_OFFICER),
)
AUDIT_PAGE = 50
AUDIT_EXPORT_MAX = 50_000
LIST_FIELDS = ("redirect_uris", "post_logout_redirect_uris", "web_origins")
TEXT_FIELDS = (
    "name",
    "name_en",
    "contact_email",
    "sector_identifier",
    "jwks_uri",
    "backchannel_logout_uri",
)
FLAGS = ("backchannel_logout_session_required", "backchannel_private")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
GRACE_UNITS = {"seconds": 1, "minutes": 60}

# Messages that carry a value are formatted with ``gettext`` (a plain string, escaped in
# the page), never with ``lazy_gettext``: a lazy string counts as safe markup in Jinja.
DONE = {
    "updated": _l("The portal's registration was saved."),
    "suspended": _l("The portal is suspended: its tokens no longer work."),
    "resumed": _l("The portal is active again. Tokens from before stay revoked."),
    "deleted": _l("The portal was deleted."),
}


def may(account: StaffAccount, role: str) -> bool:
    """Return whether ``account`` holds ``role`` (``admin`` holds every role)."""
    granted = account.roles or []
    return role in granted or staff.ADMIN in granted


def _acted(account: StaffAccount, name: str, **payload: Any) -> None:
    """Audit a console action under the acting staff account."""
    events.emit(f"staff.{name}", staff_id=account.id, **payload)


@bp.errorhandler(StaffForbidden)
def _forbidden(exc: StaffForbidden) -> Any:
    account = current_staff()
    return render_template("admin/forbidden.html", officer=account, message=exc.public), 403


@bp.app_template_global()
def console_sections(account: StaffAccount | None) -> list[str]:
    """Return the staff sections ``account`` may open (for the staff pages' navigation)."""
    if account is None:
        return []
    return [name for name, role in SECTIONS if may(account, role)]


# -- home ---------------------------------------------------------------------------------


@bp.get("/")
def home() -> Any:
    """Say what the signed-in member of staff may do here."""
    account = current_staff()
    if account is None:
        return redirect(url_for("staff.signin"), code=303)
    return render_template("admin/home.html", officer=account)


# -- portals ------------------------------------------------------------------------------


def _display_name(portal: Any) -> str:
    if str(get_locale() or "") == "en" and portal.name_en:
        return portal.name_en
    return portal.name


def _portal_or_404(client_id: str) -> Any:
    """Return the portal, or raise NotFound. A POST locks its row first (PostgreSQL), so two
    actions at once on one portal run one after the other: two rotations both hand out
    working secrets (the second keeps the first as its previous one), an edit meeting a
    deletion is refused instead of failing."""
    if not 0 < len(client_id) <= 64 or any(ord(c) < 32 for c in client_id):
        raise NotFound()
    db = get_db()
    if request.method == "POST":
        db.execute(select(Portal.id).where(Portal.client_id == client_id).with_for_update())
    portal = registry.by_client_id(db, client_id)
    if portal is None:
        raise NotFound()
    return portal


@bp.get("/portals")
@role_required(staff.PORTAL_MANAGER)
def portals(account: StaffAccount) -> Any:
    """List every portal: name, client_id, status, live grants, last sign-in."""
    db = get_db()
    rows = []
    for portal in registry.list_portals(db):
        overview = admin.portal_overview(db, portal, recent=0)
        rows.append({"display_name": _display_name(portal), **overview})
    done = DONE.get(request.args.get("done", ""))
    return render_template("admin/portals.html", officer=account, rows=rows, done=done)


@bp.get("/portals/<client_id>")
@role_required(staff.PORTAL_MANAGER)
def portal(account: StaffAccount, client_id: str) -> Any:
    """Show a portal: registration, purposes, live grants, last sign-in, deliveries."""
    found = _portal_or_404(client_id)
    overview = admin.portal_overview(get_db(), found)
    return render_template(
        "admin/portal.html",
        officer=account,
        p=overview,
        display_name=_display_name(found),
        done=DONE.get(request.args.get("done", "")),
        has_secret=found.token_endpoint_auth_method in SECRET_METHODS,
        items=CLAIM_ITEMS,
    )


# -- the registration form ------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _has_control(text: str, *, multiline: bool = False) -> bool:
    allowed = "\r\n\t" if multiline else ""
    return any((ord(c) < 32 and c not in allowed) or ord(c) == 127 for c in text)


def _blank_values() -> dict[str, Any]:
    values: dict[str, Any] = {f: "" for f in (*TEXT_FIELDS, *LIST_FIELDS, "jwks")}
    values |= {
        "scopes": ["openid"],
        "auth_method": "client_secret_basic",
        "id_token_signed_response_alg": "RS256",
        "subject_type": "pairwise",
        "default_acr": "",
        "purposes": {item: {} for item in CLAIM_ITEMS},
    }
    values |= {flag: False for flag in FLAGS}
    return values


def _values_of(overview: dict[str, Any], portal: Any) -> dict[str, Any]:
    """Return the edit form's values for a registered portal."""
    purposes = overview.get("purposes") or {}
    return {
        "name": portal.name,
        "name_en": portal.name_en or "",
        "contact_email": portal.contact_email or "",
        "sector_identifier": portal.sector_identifier,
        "jwks_uri": portal.jwks_uri or "",
        "backchannel_logout_uri": portal.backchannel_logout_uri or "",
        "redirect_uris": "\n".join(portal.redirect_uris),
        "post_logout_redirect_uris": "\n".join(portal.post_logout_redirect_uris),
        "web_origins": "\n".join(portal.web_origins or []),
        "jwks": json.dumps(portal.jwks, indent=2, ensure_ascii=False) if portal.jwks else "",
        "scopes": portal.scope.split(),
        "auth_method": portal.token_endpoint_auth_method,
        "id_token_signed_response_alg": portal.id_token_signed_response_alg,
        "subject_type": portal.subject_type,
        "default_acr": portal.default_acr or "",
        "backchannel_logout_session_required": portal.backchannel_logout_session_required,
        "backchannel_private": portal.backchannel_private,
        "purposes": {
            item: {
                "declared": item in purposes,
                "vi": purposes.get(item, {}).get("purpose", {}).get("vi", ""),
                "en": purposes.get(item, {}).get("purpose", {}).get("en", ""),
                "required": bool(purposes.get(item, {}).get("required")),
                "verified": bool(purposes.get(item, {}).get("verified")),
            }
            for item in CLAIM_ITEMS
        },
    }


def _read_purposes(
    form: Any, scopes: list[str], errors: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the purposes as typed (for the page) and as declared (for the service)."""
    typed: dict[str, Any] = {}
    declared: dict[str, Any] = {}
    for item in CLAIM_ITEMS:
        row = {
            "declared": form.get(f"purpose_{item}") == "yes",
            "vi": form.get(f"purpose_{item}_vi", ""),
            "en": form.get(f"purpose_{item}_en", ""),
            "required": form.get(f"purpose_{item}_required") == "yes",
            "verified": form.get(f"purpose_{item}_verified") == "yes",
        }
        typed[item] = row
        if not row["declared"]:
            continue
        for lang in ("vi", "en"):
            text = row[lang]
            if not text.strip() or len(text) > PURPOSE_MAX:
                errors[f"purpose_{item}_{lang}"] = _(
                    "Write the purpose (1 to %(max)d characters).", max=PURPOSE_MAX
                )
            elif _has_control(text):
                errors[f"purpose_{item}_{lang}"] = _l("Remove the control characters.")
        scope = scope_of_item(item)
        if scope not in scopes:
            errors[f"purpose_{item}"] = _(
                "This item needs the “%(scope)s” scope: tick it above, or do not declare the item.",
                scope=scope,
            )
        if row["verified"] and item not in VERIFIABLE_ITEMS:
            errors[f"purpose_{item}"] = _l("Only identity items can require verified data.")
        spec: dict[str, Any] = {
            "purpose": {"vi": row["vi"], "en": row["en"]},
            "required": row["required"],
        }
        if row["verified"]:
            spec["verified"] = True
        declared[item] = spec
    return typed, declared


def _read_form(*, registering: bool) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Read the portal form: (values as typed, errors found here, the service's arguments)."""
    form = request.form
    errors: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for field in (*TEXT_FIELDS, *LIST_FIELDS, "jwks"):
        text = form.get(field, "")
        values[field] = text
        if _has_control(text, multiline=field in (*LIST_FIELDS, "jwks")):
            errors[field] = _l("Remove the control characters.")
    for field, default in (
        ("auth_method", "client_secret_basic"),
        ("id_token_signed_response_alg", "RS256"),
        ("subject_type", "pairwise"),
        ("default_acr", ""),
    ):
        values[field] = form.get(field, default)
    for flag in FLAGS:
        values[flag] = form.get(flag) == "yes"
    scopes = list(dict.fromkeys(["openid", *form.getlist("scope")]))
    values["scopes"] = scopes
    values["purposes"], purposes = _read_purposes(form, scopes, errors)
    jwks: Any = None
    if values["jwks"].strip() and "jwks" not in errors:
        try:
            jwks = json.loads(values["jwks"])
        except ValueError:
            errors["jwks"] = _l('Paste a JSON Web Key Set, like {"keys": [ … ]}.')
    changes: dict[str, Any] = {
        "name": values["name"],
        "name_en": values["name_en"] or None,
        "contact_email": values["contact_email"] or None,
        "redirect_uris": _lines(values["redirect_uris"]),
        "post_logout_redirect_uris": _lines(values["post_logout_redirect_uris"]),
        "web_origins": _lines(values["web_origins"]),
        "scope": " ".join(scopes),
        "auth_method": values["auth_method"],
        "id_token_signed_response_alg": values["id_token_signed_response_alg"],
        "default_acr": values["default_acr"] or None,
        "backchannel_logout_uri": values["backchannel_logout_uri"].strip() or None,
        "backchannel_logout_session_required": values["backchannel_logout_session_required"],
        "backchannel_private": values["backchannel_private"],
        "jwks": jwks,
        "jwks_uri": values["jwks_uri"].strip() or None,
        "purposes": purposes,
    }
    if registering:
        changes["subject_type"] = values["subject_type"]
        changes["sector_identifier"] = values["sector_identifier"].strip() or None
    return values, errors, changes


#: The form field a service error belongs to.
_FIELD_OF = {
    "redirect_uri": "redirect_uris",
    "post_logout_redirect_uri": "post_logout_redirect_uris",
}
#: Reasons the registry gives, by a phrase of its message, explained to operators.
_REASONS = (
    ("fragment", _l("must not contain a fragment (the part from “#”).")),
    ("wildcard", _l("must not contain a wildcard: list each exact address.")),
    ("must be https", _l("must use https (http only on 127.0.0.1, ::1 or localhost).")),
    ("spaces or control", _l("must not contain spaces.")),
    ("not a valid", _l("is not a valid address.")),
    ("only scheme://host", _l("must be only https://host[:port], without a path.")),
    ("loopback or private", _l("is a loopback or private address: tick “private network”.")),
)
_FIELD_MESSAGES = {
    "name": _l("Write the name (1 to 200 characters)."),
    "name_en": _l("Write the English name in at most 200 characters, or leave it empty."),
    "contact_email": _l("Write an email address, like cntt@example.gov.vn."),
    "scope": _l("Choose scopes from the list."),
    "auth_method": _l("Choose a method from the list."),
    "id_token_signed_response_alg": _l("Choose RS256 or ES256."),
    "subject_type": _l("Choose pairwise or public."),
    "default_acr": _l("Choose a level from the list."),
    "sector_identifier": _l(
        "Redirect addresses on several hosts need a sector identifier (a host name of "
        "at most 255 characters)."
    ),
    "jwks_uri": _l("Write an https address without a fragment."),
    "purposes": _l("Check the purposes: each declared item needs its scope and both texts."),
}


def _explain(exc: RegistrationError, values: dict[str, Any]) -> tuple[str, Any]:
    """Return the form field and a translated explanation of a registry refusal."""
    field = _FIELD_OF.get(exc.field, exc.field)
    text = exc.message
    if field in (*LIST_FIELDS, "backchannel_logout_uri"):
        if "at least one" in text:
            return field, _l("Give at least one address.")
        if "at most" in text:
            most = 20 if field == "web_origins" else 50
            return field, _("Give at most %(n)d addresses.", n=most)
        if "must stay on" in text:
            return field, _(
                "The addresses must stay on the portal's sector, fixed at registration (%(host)s).",
                host=values.get("sector_identifier", ""),
            )
        given = [values.get(field, "")] if field == "backchannel_logout_uri" else []
        given += _lines(values.get(field, "") or "")
        culprit = next((u for u in given if repr(u.strip()) in text), "")
        for phrase, reason in _REASONS:
            if phrase in text:
                return field, _("%(value)s %(reason)s", value=culprit or "—", reason=reason)
    if field == "jwks":
        if "only a private_key_jwt" in text:
            return field, _l("Keys are registered only with private_key_jwt: clear this field.")
        if "exactly one" in text:
            return field, _l("private_key_jwt needs either a key set or a key set address.")
        if "private key" in text:
            return field, _l("A private key was given: register public keys only.")
        return field, _l("The key set cannot be read: RSA or EC public keys only, at most 10.")
    if field == "auth_method" and "only between" in text:
        return field, _l("The method can change only between the two client secret methods.")
    message = _FIELD_MESSAGES.get(field)
    if message is not None:
        return field, message
    return "form", _("This registration cannot be saved: %(detail)s", detail=text)


def _form_page(
    account: StaffAccount,
    values: dict[str, Any],
    errors: dict[str, Any],
    status: int,
    portal: Any = None,
) -> Any:
    page = render_template(
        "admin/portal_form.html",
        officer=account,
        values=values,
        errors=errors,
        portal=portal,
        scopes=SUPPORTED_SCOPES,
        items=CLAIM_ITEMS,
        verifiable=VERIFIABLE_ITEMS,
        scope_of_item=scope_of_item,
        auth_methods=registry.AUTH_METHODS,
        algs=registry.ID_TOKEN_ALGS,
        subject_types=registry.SUBJECT_TYPES,
        levels=ACR_VALUES_SUPPORTED,
    )
    return page, status


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.route("/portals/new", methods=["GET", "POST"])
@role_required(staff.PORTAL_MANAGER)
def register(account: StaffAccount) -> Any:
    """Register a portal; show its client_id and (once) its secret."""
    if request.method == "GET":
        return _form_page(account, _blank_values(), {}, 200)
    values, errors, changes = _read_form(registering=True)
    if errors:
        return _form_page(account, values, errors, 400)
    db = get_db()
    try:
        registered = admin.register_portal(db, **changes)
    except RegistrationError as exc:
        db.rollback()
        field, message = _explain(exc, values)
        return _form_page(account, values, {field: message}, 400)
    db.commit()
    portal = registered.portal
    _acted(account, "portal_registered", portal_id=portal.id, client_id=portal.client_id)
    page = render_template(
        "admin/registered.html",
        officer=account,
        client_id=portal.client_id,
        secret=registered.client_secret,
        auth_method=portal.token_endpoint_auth_method,
        rotated=False,
    )
    return _no_store(Response(page, mimetype="text/html"))


@bp.route("/portals/<client_id>/edit", methods=["GET", "POST"])
@role_required(staff.PORTAL_MANAGER)
def edit(account: StaffAccount, client_id: str) -> Any:
    """Change a portal's registration and purposes; nothing is written on any error."""
    db = get_db()
    found = _portal_or_404(client_id)
    if "client_credentials" in found.grant_types:
        raise IdpError(_l("Automation clients are changed with the idp command."), status=404)
    if request.method == "GET":
        values = _values_of(admin.portal_overview(db, found, recent=0), found)
        return _form_page(account, values, {}, 200, portal=found)
    values, errors, changes = _read_form(registering=False)
    values["subject_type"] = found.subject_type
    values["sector_identifier"] = found.sector_identifier
    if errors:
        return _form_page(account, values, errors, 400, portal=found)
    portal_id = found.id
    try:
        _portal, changed = admin.update_portal(db, client_id=client_id, **changes)
        db.commit()
    except RegistrationError as exc:
        db.rollback()
        field, message = _explain(exc, values)
        return _form_page(account, values, {field: message}, 400, portal=found)
    except SQLAlchemyError:
        # Deleted (or changed) by someone else at the same moment.
        db.rollback()
        raise IdpError(_l("The portal changed meanwhile. Open it again."), status=409) from None
    if changed:
        _acted(account, "portal_updated", portal_id=portal_id, fields=" ".join(sorted(changed)))
    return redirect(url_for(".portal", client_id=client_id, done="updated"), code=303)


# -- suspend, resume, delete, rotate ---------------------------------------------------------


def _refused(message: Any) -> IdpError:
    return IdpError(message, status=409)


def _confirm_page(account: StaffAccount, action: str, portal: Any) -> str:
    """The confirmation step of a suspension or a deletion (the POST acts)."""
    return render_template(
        "admin/confirm.html",
        officer=account,
        action=action,
        client_id=portal.client_id,
        display_name=_display_name(portal),
        already=action == "suspend" and not portal.is_active,
    )


def _committed(action: Callable[[Session], T]) -> T:
    """Run a service action and commit it; a portal gone meanwhile is a 404, nothing
    written."""
    db = get_db()
    try:
        result = action(db)
        db.commit()
    except (RegistrationError, SQLAlchemyError):
        db.rollback()
        raise NotFound() from None
    return result


@bp.route("/portals/<client_id>/suspend", methods=["GET", "POST"])
@role_required(staff.PORTAL_MANAGER)
def suspend(account: StaffAccount, client_id: str) -> Any:
    """Ask, then cut a portal off in one action (tokens die, sessions are told)."""
    found = _portal_or_404(client_id)
    if request.method == "GET":
        return _confirm_page(account, "suspend", found)
    portal_id = found.id
    done = _committed(lambda db: admin.suspend_portal(db, runtime.store(), client_id=client_id))
    _acted(account, "portal_suspended", portal_id=portal_id, tokens=done["tokens_revoked"])
    return redirect(url_for(".portal", client_id=client_id, done="suspended"), code=303)


@bp.post("/portals/<client_id>/resume")
@role_required(staff.PORTAL_MANAGER)
def resume(account: StaffAccount, client_id: str) -> Any:
    """Let a suspended portal sign citizens in again."""
    found = _portal_or_404(client_id)
    portal_id = found.id
    _committed(lambda db: admin.resume_portal(db, client_id=client_id))
    _acted(account, "portal_resumed", portal_id=portal_id)
    return redirect(url_for(".portal", client_id=client_id, done="resumed"), code=303)


@bp.route("/portals/<client_id>/delete", methods=["GET", "POST"])
@role_required(staff.PORTAL_MANAGER)
def delete(account: StaffAccount, client_id: str) -> Any:
    """Ask, then delete a suspended portal (the citizens' record stays)."""
    found = _portal_or_404(client_id)
    if found.is_active:
        raise _refused(_l("Suspend the portal before deleting it."))
    if request.method == "GET":
        return _confirm_page(account, "delete", found)
    db = get_db()
    try:
        portal_id = admin.delete_portal(db, client_id=client_id)
        db.commit()
    except RegistrationError:
        db.rollback()
        raise _refused(_l("Suspend the portal before deleting it.")) from None
    except SQLAlchemyError:
        db.rollback()
        raise NotFound() from None
    _acted(account, "portal_deleted", portal_id=portal_id)
    return redirect(url_for(".portals", done="deleted"), code=303)


def _read_grace() -> tuple[int | None, Any]:
    raw = request.form.get("grace", "").strip()
    unit = GRACE_UNITS.get(request.form.get("unit", ""))
    if unit is None:
        return None, _l("Choose seconds or minutes.")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        return None, _l("Write a whole number (0 for none).")
    grace = int(raw) * unit
    if grace > registry.MAX_SECRET_GRACE:
        return None, _(
            "At most %(days)d days (%(seconds)d seconds).",
            days=registry.MAX_SECRET_GRACE // 86400,
            seconds=registry.MAX_SECRET_GRACE,
        )
    return grace, None


@bp.route("/portals/<client_id>/rotate", methods=["GET", "POST"])
@role_required(staff.PORTAL_MANAGER)
def rotate(account: StaffAccount, client_id: str) -> Any:
    """Give a portal a new secret (shown once); the old one works for the grace period."""
    found = _portal_or_404(client_id)
    if found.token_endpoint_auth_method not in SECRET_METHODS:
        raise _refused(_l("This portal has no client secret."))
    context = {"officer": account, "client_id": client_id, "display_name": _display_name(found)}
    if request.method == "GET":
        values = {"grace": "60", "unit": "minutes"}
        return render_template("admin/rotate.html", values=values, error=None, **context)
    grace, error = _read_grace()
    if error is not None or grace is None:
        values = {"grace": request.form.get("grace", ""), "unit": request.form.get("unit", "")}
        page = render_template("admin/rotate.html", values=values, error=error, **context)
        return page, 400
    portal_id = found.id
    secret = _committed(lambda db: admin.rotate_secret(db, client_id=client_id, grace=grace))
    _acted(account, "secret_rotated", portal_id=portal_id, grace=grace)
    page = render_template(
        "admin/registered.html",
        officer=account,
        client_id=client_id,
        secret=secret,
        auth_method=found.token_endpoint_auth_method,
        rotated=True,
        grace=grace,
    )
    return _no_store(Response(page, mimetype="text/html"))


# -- the audit trail -------------------------------------------------------------------------


def _parse_day(raw: str) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat(raw) if len(raw) == 10 and raw.isascii() else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError(raw)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _audit_filters() -> tuple[dict[str, str], dict[str, Any], dict[str, Any], list[str], list]:
    """Read the audit filters: (as typed, errors, the search's arguments, the event names
    and the portals to choose from)."""
    db = get_db()
    args = request.args
    typed = {k: args.get(k, "")[:100] for k in ("name", "portal", "from", "to", "before")}
    errors: dict[str, Any] = {}
    query: dict[str, Any] = {}
    names = audit.event_names(db)
    known = registry.list_portals(db)
    if typed["name"]:
        if typed["name"] in names:
            query["name"] = typed["name"]
        else:
            errors["name"] = _l("Choose an event from the list.")
    if typed["portal"]:
        match = next((p for p in known if p.client_id == typed["portal"]), None)
        if match is None:
            errors["portal"] = _l("Choose a portal from the list.")
        else:
            query["portal_id"] = match.id
    for field, key, extra in (("from", "start", 0), ("to", "end", 1)):
        if typed[field]:
            try:
                query[key] = _parse_day(typed[field]) + dt.timedelta(days=extra)
            except ValueError:
                errors[field] = _l("Write the date as YYYY-MM-DD, like 2026-12-01.")
    if "start" in query and "end" in query and query["end"] <= query["start"]:
        errors["to"] = _l("The end date must not be before the start date.")
    if typed["before"]:
        if typed["before"].isascii() and typed["before"].isdigit() and len(typed["before"]) < 16:
            query["before_seq"] = int(typed["before"])
        else:
            errors["before"] = _l("This page of the audit trail does not exist.")
    return typed, errors, query, names, known


@bp.get("/audit")
@role_required(staff.AUDITOR)
def audit_page(account: StaffAccount) -> Any:
    """The audit trail, newest first, filtered by event, portal and dates; paged."""
    typed, errors, query, names, known = _audit_filters()
    rows = [] if errors else audit.search(get_db(), limit=AUDIT_PAGE + 1, **query)
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    following = {k: v for k, v in typed.items() if v and k != "before"}
    page = render_template(
        "admin/audit.html",
        officer=account,
        typed=typed,
        errors=errors,
        rows=rows,
        names=names,
        portals=[(p.client_id, _display_name(p)) for p in known],
        portal_names={p.id: _display_name(p) for p in known},
        next_args={**following, "before": rows[-1]["seq"]} if more else None,
        first_args=following if typed["before"] else None,
        export_args=following,
    )
    return page, (400 if errors else 200)


def _safe_cell(value: str) -> str:
    """Keep a spreadsheet from reading a cell as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _audit_rows(query: dict[str, Any]) -> Iterator[dict[str, Any]]:
    before = query.pop("before_seq", None)
    sent = 0
    while sent < AUDIT_EXPORT_MAX:
        batch = audit.search(get_db(), limit=1000, before_seq=before, **query)
        if not batch:
            return
        yield from batch
        sent += len(batch)
        before = batch[-1]["seq"]


@bp.get("/audit.csv")
@role_required(staff.AUDITOR)
def audit_csv(account: StaffAccount) -> Any:
    """The filtered audit rows as CSV (ids, names and outcomes only, never a person)."""
    typed, errors, query, _names, _known = _audit_filters()
    if errors:
        raise IdpError(_l("Correct the filters on the audit page first."), status=400)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["seq", "at", "name", "portal_id", "staff_id", "data", "hash"])
    count = 0
    for row in _audit_rows(query):
        data = row["data"] or {}
        writer.writerow(
            [
                row["seq"],
                row["at"],
                _safe_cell(row["name"]),
                _safe_cell(str(data.get("portal_id") or "")),
                _safe_cell(str(data.get("staff_id") or "")),
                _safe_cell(json.dumps(data, sort_keys=True, ensure_ascii=False)),
                row["hash"],
            ]
        )
        count += 1
    _acted(account, "audit_exported", rows=count, event=typed["name"], portal=typed["portal"])
    response = Response(buf.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=audit.csv"
    return _no_store(response)


# -- the adoption figures ----------------------------------------------------------------------


def _months(start: str, today: dt.date | None = None) -> list[str]:
    """Return the months 'YYYY-MM' from ``start`` (an ISO date) to this one."""
    today = today or dt.datetime.now(dt.UTC).date()
    year, month = int(start[:4]), int(start[5:7])
    out = []
    while (year, month) <= (today.year, today.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


@bp.get("/figures")
@role_required(staff.AUDITOR)
def figures_page(account: StaffAccount) -> Any:
    """Counts per portal and month, registrations, and a chart of the last 12 months."""
    data = figures.monthly(get_db(), months=12)
    months = _months(data["from"])
    sign_ins = dict.fromkeys(months, 0)
    for row in data["portals"]:
        if row["month"] in sign_ins:
            sign_ins[row["month"]] += row["sign_ins"]
    registrations = dict.fromkeys(months, 0)
    for row in data["registrations"]:
        if row["month"] in registrations:
            registrations[row["month"]] = row["registrations"]
    svg = chart.bar_chart(
        title=str(_l("Sign-ins and new registrations, last 12 months")),
        desc=str(
            _l(
                "Bars per month: sign-ins at every portal together, and new citizen "
                "accounts. The same numbers are in the table below the chart."
            )
        ),
        labels=months,
        series=[
            (str(_l("Sign-ins")), [sign_ins[m] for m in months]),
            (str(_l("New registrations")), [registrations[m] for m in months]),
        ],
    )
    return render_template(
        "admin/figures.html",
        officer=account,
        data=data,
        months=months,
        sign_ins=sign_ins,
        registrations=registrations,
        svg=svg,
    )


@bp.get("/figures.csv")
@role_required(staff.AUDITOR)
def figures_csv(account: StaffAccount) -> Any:
    """The per-portal figures of the last 12 months as CSV (counts only)."""
    data = figures.monthly(get_db(), months=12)
    _acted(account, "figures_exported", rows=len(data["portals"]))
    response = Response(figures.as_csv(data), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=figures.csv"
    return _no_store(response)
