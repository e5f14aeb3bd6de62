"""Citizen pages: register, sign in, set a password, the account page, sign out."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l

from idp import interaction as flow
from idp import runtime
from idp.assurance import ACR_PASSWORD, AMR_PASSWORD
from idp.citizens import service
from idp.citizens.sso import citizen_required, current_sso, set_sso, template_globals
from idp.citizens.validation import (
    GENDERS,
    ValidationErrors,
    address_claim,
    communes,
    provinces,
    validate_profile,
)
from idp.db import get_db
from idp.errors import InteractionExpired
from idp.portals import service as portals
from idp.web import browser_binding, rotate_browser_session

bp = Blueprint("citizens", __name__)
bp.app_context_processor(template_globals)

PROFILE_FIELDS = (
    "family_name",
    "middle_name",
    "given_name",
    "birthdate",
    "gender",
    "cccd",
    "email",
    "phone",
    "province",
    "commune",
    "street",
)


def _hasher() -> Any:
    if "idp_hasher" not in g:
        g.idp_hasher = service.make_hasher(runtime.settings())
    return g.idp_hasher


def _interaction(required: bool = False) -> flow.Interaction | None:
    """Return the interaction named in the request, bound to this browser."""
    iid = request.values.get("interaction")
    if not iid:
        if required:
            raise InteractionExpired(detail="missing interaction")
        return None
    inter = flow.load(runtime.store(), iid, browser_binding(create=False))
    if inter is None:
        raise InteractionExpired(detail="unknown interaction")
    g.ui_locales = inter.params.get("ui_locales")
    return inter


def _portal_name(inter: flow.Interaction | None) -> str | None:
    if inter is None:
        return None
    portal = portals.find_active(get_db(), inter.params.get("client_id"))
    return portal.name if portal else None


def _form_values() -> dict[str, str]:
    return {k: request.form.get(k, "") for k in PROFILE_FIELDS}


def _signed_in(citizen_id: str, inter: flow.Interaction | None) -> Any:
    """Start a fresh session, then continue the authorization or go to the account."""
    store = runtime.store()
    settings = runtime.settings()
    old = current_sso()
    sso = service.start_session(
        store,
        citizen_id=citizen_id,
        amr=(AMR_PASSWORD,),
        acr=ACR_PASSWORD,
        ttl=settings.session_ttl,
        replaces=old.sid if old else None,
    )
    rotate_browser_session()
    if inter is not None:
        try:
            flow.advance(
                store,
                inter,
                flow.AUTHENTICATED,
                settings.interaction_ttl,
                citizen_id=citizen_id,
                login_done=True,
            )
        except flow.TransitionError:
            raise InteractionExpired(detail="login on a finished interaction") from None
        target = url_for("oauth.resume", iid=inter.id)
    else:
        target = url_for("citizens.account")
    return set_sso(redirect(target, code=303), sso)


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Any:
    inter = _interaction()
    identifier = ""
    error = None
    if request.method == "POST":
        identifier = request.form.get("identifier", "")[:254]
        citizen = service.authenticate(
            get_db(),
            identifier=identifier,
            password=request.form.get("password", ""),
            hasher=_hasher(),
        )
        if citizen is not None:
            get_db().commit()  # a rehashed password
            return _signed_in(citizen.id, inter)
        # One message whatever was wrong: no account enumeration.
        error = _l("The identifier or password is not correct.")
    elif inter is not None:
        identifier = (inter.params.get("login_hint") or "")[:254]
    status = 401 if error else 200
    return render_template(
        "citizens/signin.html",
        interaction=inter,
        identifier=identifier,
        error=error,
        portal_name=_portal_name(inter),
    ), status


@bp.route("/register", methods=["GET", "POST"])
def register() -> Any:
    inter = _interaction()
    values = _form_values()
    errors: dict[str, Any] = {}
    if request.method == "POST" and not request.form.get("refresh"):
        db = get_db()
        try:
            profile = validate_profile(dict(request.form))
            password = request.form.get("password", "")
            if password != request.form.get("password_confirm", ""):
                raise ValidationErrors({"password_confirm": _l("The two passwords differ.")})
            citizen = service.register_citizen(
                db, profile=profile, password=password, hasher=_hasher()
            )
            db.commit()
            return _signed_in(citizen.id, inter)
        except ValidationErrors as exc:
            db.rollback()
            errors = dict(exc.errors)
    province = _int(values.get("province"))
    status = 400 if errors else 200
    return render_template(
        "citizens/register.html",
        interaction=inter,
        values=values,
        errors=errors,
        provinces=provinces(),
        communes=communes(province) if province else [],
        genders=GENDERS,
        portal_name=_portal_name(inter),
    ), status


def _int(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value)
    return None


@bp.get("/communes/<int:province>")
def communes_json(province: int) -> Any:
    items = communes(province)
    if not items:
        abort(404)
    resp = jsonify([{"code": c, "name": n} for c, n in items])
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str) -> Any:
    db = get_db()
    if service.peek_password_link(db, token) is None:
        raise InteractionExpired(
            _l("This link has expired or was already used. Ask the one-stop desk for a new one."),
            detail="bad set-password",
        )
    errors: dict[str, Any] = {}
    if request.method == "POST":
        password = request.form.get("password", "")
        try:
            if password != request.form.get("password_confirm", ""):
                raise ValidationErrors({"password_confirm": _l("The two passwords differ.")})
            service.check_password_policy(password)
            citizen_id = service.use_password_link(db, token)
            if citizen_id is None:
                raise InteractionExpired(detail="set-password raced")
            service.set_password(db, citizen_id=citizen_id, password=password, hasher=_hasher())
            db.commit()
            return _signed_in(citizen_id, None)
        except ValidationErrors as exc:
            db.rollback()
            errors = dict(exc.errors)
    return render_template("citizens/set_password.html", token=token, errors=errors), (
        400 if errors else 200
    )


@bp.get("/account")
@citizen_required
def account(citizen: Any) -> Any:
    return _account_page(citizen, {}, None)


def _account_page(
    citizen: Any, errors: dict[str, Any], values: dict[str, str] | None, saved: bool = False
) -> Any:
    if values is None:
        values = {
            "email": citizen.email or "",
            "phone": citizen.phone,
            "province": str(citizen.province_code),
            "commune": str(citizen.ward_code),
            "street": citizen.street,
        }
    province = _int(values.get("province"))
    return render_template(
        "citizens/account.html",
        citizen=citizen,
        errors=errors,
        values=values,
        saved=saved,
        address=address_claim(citizen.province_code, citizen.ward_code, citizen.street),
        provinces=provinces(),
        communes=communes(province) if province else [],
    ), (400 if errors else 200)


@bp.post("/account/contacts")
@citizen_required
def update_contacts(citizen: Any) -> Any:
    values = {
        k: request.form.get(k, "") for k in ("email", "phone", "province", "commune", "street")
    }
    db = get_db()
    try:
        service.update_contacts(db, citizen_id=citizen.id, data=values)
        db.commit()
    except ValidationErrors as exc:
        db.rollback()
        citizen = service.get_citizen(db, citizen.id)
        return _account_page(citizen, dict(exc.errors), values)
    return _account_page(citizen, {}, None, saved=True)


@bp.post("/signout")
def signout() -> Any:
    sso = current_sso()
    if sso is not None:
        service.end_session(runtime.store(), sso.sid)
    rotate_browser_session()
    resp = make_response(render_template("citizens/signed_out.html"))
    return set_sso(resp, None)


@bp.get("/")
def home() -> Any:
    return render_template("home.html")
