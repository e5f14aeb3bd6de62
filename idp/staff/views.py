"""Staff pages: set-up link, sign-in (password, then the authenticator code), the desk.

Staff have their own cookie (``idp_staff``, path ``/staff``, SameSite=Strict) and
sessions; a citizen's session never opens these pages, nor a staff session a citizen's.
Citizen data on desk pages is looked up by POST (a CCCD never goes into a URL).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l

from idp import events, runtime
from idp.citizens import factors, identity
from idp.citizens import service as citizens
from idp.citizens.validation import (
    GENDERS,
    IDENTITY_FIELDS,
    PROFILE_FIELDS,
    ValidationErrors,
    check_cccd,
    communes,
    format_birthdate,
    normalize_cccd,
    provinces,
    unit_name,
    validate_profile,
)
from idp.db import get_db
from idp.errors import IdpError
from idp.hashing import digest
from idp.staff import desk
from idp.staff import service as staff
from idp.staff.models import StaffAccount

bp = Blueprint("staff", __name__, url_prefix="/staff")

STAFF_COOKIE = "idp_staff"
CARD_NOT_CHECKED = _l("Confirm that you compared the card with the person and these details.")
_PENDING_TTL = 600


class StaffForbidden(IdpError):
    """A signed-in member of staff without the role this page needs."""

    status = 403
    public = _l("Your staff account does not have the role this page needs.")


def _hasher() -> Any:
    if "idp_hasher" not in g:
        g.idp_hasher = citizens.make_hasher(runtime.settings())
    return g.idp_hasher


def _current() -> tuple[staff.StaffSession, StaffAccount] | None:
    if "idp_staff" not in g:
        found = None
        s = runtime.settings()
        session = staff.load_session(
            runtime.store(), request.cookies.get(STAFF_COOKIE), idle_ttl=s.staff_idle_ttl
        )
        if session is not None:
            account = staff.get_staff(get_db(), session.staff_id)
            if account is not None and account.ready:
                found = (session, account)
        g.idp_staff = found
    return g.idp_staff


def current() -> tuple[staff.StaffSession, StaffAccount] | None:
    """Return this request's staff session and account (signed in, ready), or None."""
    return _current()


def current_staff() -> StaffAccount | None:
    """Return the signed-in member of staff (ready, not disabled), or None."""
    found = _current()
    return found[1] if found is not None else None


def landing_page(account: StaffAccount) -> str:
    """Return where a member of staff starts: the desk for desk officers, else the console."""
    if staff.DESK_OFFICER in (account.roles or []):
        return url_for("staff.desk_home")
    return url_for("console.home")


def role_required(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run ``view(account, ...)`` for a signed-in member of staff holding ``role`` (or
    ``admin``)."""

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            current = _current()
            if current is None:
                return redirect(url_for("staff.signin"), code=303)
            account = current[1]
            granted = account.roles or []
            # ``admin`` may do everything another role may.
            if role not in granted and staff.ADMIN not in granted:
                events.emit("staff.forbidden", staff_id=account.id, role=role)
                raise StaffForbidden()
            return view(account, *args, **kwargs)

        return guarded

    return wrap


def _set_cookie(response: Any, sid: str | None) -> Any:
    s = runtime.settings()
    if sid is None:
        response.delete_cookie(
            STAFF_COOKIE, path="/staff", httponly=True, secure=s.secure_cookies, samesite="Strict"
        )
    else:
        response.set_cookie(
            STAFF_COOKIE,
            sid,
            max_age=s.staff_session_ttl,
            path="/staff",
            httponly=True,
            secure=s.secure_cookies,
            samesite="Strict",
        )
    return response


# -- set-up ------------------------------------------------------------------------------


def _setup_key(token: str) -> str:
    return f"staff-setup:{digest(token)}"


@bp.route("/setup/<token>", methods=["GET", "POST"])
def setup(token: str) -> Any:
    """Choose a password, then add the authenticator app: one link, two steps."""
    db = get_db()
    store = runtime.store()
    settings = runtime.settings()
    account = staff.peek_setup_link(db, token)
    if account is None:
        events.emit("staff.setup_link_refused")
        return render_template("staff/link_expired.html"), 404
    pending = store.get(_setup_key(token))
    if request.method == "POST" and request.form.get("step") == "code" and pending:
        setup_data = staff.PendingSetup(pending["password_hash"], pending["totp_key"])
        if staff.finish_setup(
            db,
            store,
            account,
            token=token,
            pending=setup_data,
            code=request.form.get("code"),
            secret_key=settings.secret_key,
        ):
            db.commit()
            store.delete(_setup_key(token))
            return redirect(url_for("staff.signin", ready=1), code=303)
        return _setup_code_page(
            account,
            setup_data.totp_key,
            _l("That code is not right. Try the newest code in the app."),
        )
    if request.method == "POST" and request.form.get("step") == "password":
        try:
            password_hash = staff.check_new_password(
                account, request.form.get("password"), _hasher()
            )
        except ValidationErrors as exc:
            return render_template("staff/setup.html", account=account, errors=exc.errors), 400
        key = staff.new_totp_key()
        store.put(
            _setup_key(token), {"password_hash": password_hash, "totp_key": key}, _PENDING_TTL
        )
        return _setup_code_page(account, key, None)
    return render_template("staff/setup.html", account=account, errors={})


def _setup_code_page(account: StaffAccount, key: str, error: Any) -> Any:
    settings = runtime.settings()
    issuer = settings.totp_issuer or settings.issuer
    enrolment = factors.enrolment_for(key, account.email, f"{issuer} (staff)")
    page = render_template(
        "staff/setup_code.html", account=account, enrolment=enrolment, error=error
    )
    return page, (400 if error else 200)


# -- sign-in -----------------------------------------------------------------------------


def _limiter_refuses(*keys: str) -> int:
    limiter = runtime.limiter()
    verdict = limiter.hit("signin_ip", f"staff:{request.remote_addr or 'unknown'}")
    if not verdict.allowed:
        return verdict.retry_after
    for key in keys:
        verdict = limiter.hit("signin_account", key)
        if not verdict.allowed:
            return verdict.retry_after
    return 0


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Any:
    """Email and password, then the code: a staff session exists only at level 2."""
    db = get_db()
    store = runtime.store()
    runtime.settings()
    if request.method == "GET":
        return render_template(
            "staff/signin.html", error=None, ready=bool(request.args.get("ready"))
        )
    pending_id = request.form.get("pending")
    if pending_id:
        return _signin_code(pending_id)
    email = request.form.get("email", "")
    account = staff.by_email(db, email)
    key = (
        f"staff:{account.id}" if account is not None else f"staff:?{digest(email.strip().lower())}"
    )
    refused = _limiter_refuses(key) > 0
    if not staff.check_password(account, request.form.get("password"), _hasher(), refuse=refused):
        events.emit("staff.signin_failed")
        error = _l("The email address or password is not right, or the account is not set up.")
        return render_template("staff/signin.html", error=error, ready=False), 401
    pending = secrets.token_urlsafe(24)
    store.put(f"staff-pending:{digest(pending)}", {"staff_id": account.id}, _PENDING_TTL)
    return render_template("staff/signin_code.html", pending=pending, error=None)


def _signin_code(pending: str) -> Any:
    db = get_db()
    store = runtime.store()
    settings = runtime.settings()
    data = store.get(f"staff-pending:{digest(pending)}") if len(pending) <= 64 else None
    account = staff.get_staff(db, data["staff_id"]) if data else None
    if account is None:
        return redirect(url_for("staff.signin"), code=303)
    code = request.form.get("code")
    if (
        not factors.well_formed(code)
        or _limiter_refuses(f"staff-code:{account.id}")
        or not (staff.check_totp(store, account, code, settings.secret_key))
    ):
        events.emit("staff.code_failed", staff_id=account.id)
        error = _l("That code is not right. Try the newest code in the app.")
        return render_template("staff/signin_code.html", pending=pending, error=error), 401
    if not store.take(f"staff-pending:{digest(pending)}"):
        return redirect(url_for("staff.signin"), code=303)
    session = staff.start_session(store, account, ttl=settings.staff_session_ttl)
    runtime.limiter().clear("signin_account", f"staff:{account.id}")
    return _set_cookie(redirect(landing_page(account), code=303), session.sid)


@bp.post("/signout")
def signout() -> Any:
    current = _current()
    if current is not None:
        staff.end_session(runtime.store(), current[0].sid)
        events.emit("staff.signed_out", staff_id=current[1].id)
    return _set_cookie(redirect(url_for("staff.signin"), code=303), None)


# -- the desk ----------------------------------------------------------------------------


@bp.get("/desk")
@role_required(staff.DESK_OFFICER)
def desk_home(officer: StaffAccount) -> Any:
    return render_template(
        "staff/desk.html", officer=officer, unit=unit_name(officer.unit_code), error=None, cccd=""
    )


def _cccd_from_form() -> tuple[str, Any]:
    number = normalize_cccd(request.form.get("cccd", ""))
    if len(number) != 12 or check_cccd(number):
        return "", _l("Type the 12 digits of the citizen ID number printed on the card.")
    return number, None


@bp.post("/desk/find")
@role_required(staff.DESK_OFFICER)
def desk_find(officer: StaffAccount) -> Any:
    number, error = _cccd_from_form()
    if error:
        page = render_template(
            "staff/desk.html",
            officer=officer,
            unit=unit_name(officer.unit_code),
            error=error,
            cccd=request.form.get("cccd", "")[:40],
        )
        return page, 400
    citizen = get_db().query(citizens.Citizen).filter(citizens.Citizen.cccd == number).one_or_none()
    events.emit("desk.lookup", staff_id=officer.id, found=citizen is not None)
    if citizen is None:
        return _register_page(
            officer,
            {"cccd": number},
            {},
            200,
            notice=_l("No account has this number yet: register the citizen."),
        )
    return _citizen_page(officer, citizen, {}, None)


def _citizen_page(
    officer: StaffAccount, citizen: Any, errors: dict, done: Any, status: int = 200
) -> Any:
    db = get_db()
    assurance = identity.assurance_of(db, citizen)
    values = (
        {k: request.form.get(k, "") for k in IDENTITY_FIELDS}
        if errors
        else {
            "family_name": citizen.family_name,
            "middle_name": citizen.middle_name,
            "given_name": citizen.given_name,
            "birthdate": format_birthdate(citizen.birthdate),
            "gender": citizen.gender,
        }
    )
    page = render_template(
        "staff/citizen.html",
        officer=officer,
        citizen=citizen,
        levels=assurance.levels(),
        level_text=identity.level_text,
        history=identity.history(db, citizen.id),
        unit_name=unit_name,
        values=values,
        errors=errors,
        genders=GENDERS,
        done=done,
    )
    return page, status


@bp.post("/desk/citizen/<citizen_id>/verify")
@role_required(staff.DESK_OFFICER)
def desk_verify(officer: StaffAccount, citizen_id: str) -> Any:
    db = get_db()
    citizen = citizens.get_citizen(db, citizen_id)
    if citizen is None:
        raise IdpError(_l("This account no longer exists."), status=404)
    if request.form.get("card_checked") != "yes":
        errors = {"card_checked": CARD_NOT_CHECKED}
        return _citizen_page(officer, citizen, errors, None, 400)
    corrections = {k: request.form.get(k, "") for k in IDENTITY_FIELDS}
    try:
        desk.verify_in_person(db, citizen=citizen, officer=officer, corrections=corrections)
    except ValidationErrors as exc:
        db.rollback()
        return _citizen_page(officer, citizen, exc.errors, None, 400)
    except desk.DeskError as exc:
        db.rollback()
        return _citizen_page(officer, citizen, {"form": str(exc)}, None, 409)
    db.commit()
    return _citizen_page(
        officer, citizen, {}, _l("Verified. The citizen was told through their contacts.")
    )


def _register_page(
    officer: StaffAccount,
    values: dict,
    errors: dict,
    status: int,
    notice: Any = None,
    holder: bool = False,
) -> Any:
    province = values.get("province")
    page = render_template(
        "staff/register.html",
        officer=officer,
        values=values,
        errors=errors,
        genders=GENDERS,
        provinces=provinces(),
        communes=communes(int(province)) if str(province or "").isdigit() else [],
        notice=notice,
        holder=holder,
    )
    return page, status


@bp.route("/desk/register", methods=["GET", "POST"])
@role_required(staff.DESK_OFFICER)
def desk_register(officer: StaffAccount) -> Any:
    if request.method == "GET":
        return _register_page(officer, {}, {}, 200)
    db = get_db()
    if request.form.get("start"):
        # From an account's page: the card's holder is not that account's holder.
        number, _error = _cccd_from_form()
        return _register_page(officer, {"cccd": number}, {}, 200, holder=bool(number))
    values = {k: request.form.get(k, "")[:300] for k in PROFILE_FIELDS}
    try:
        profile = validate_profile(values)
    except ValidationErrors as exc:
        return _register_page(officer, values, exc.errors, 400)
    holder = db.query(citizens.Citizen.id).filter(citizens.Citizen.cccd == profile.cccd).first()
    if request.form.get("card_checked") != "yes":
        errors = {"card_checked": CARD_NOT_CHECKED}
        return _register_page(officer, values, errors, 400, holder=holder is not None)
    try:
        result = desk.register_in_person(
            db,
            profile=profile,
            officer=officer,
            hasher=_hasher(),
            owner_confirmed=request.form.get("owner_confirmed") == "yes",
        )
    except ValidationErrors as exc:
        db.rollback()
        return _register_page(officer, values, exc.errors, 400, holder=holder is not None)
    except desk.DeskError as exc:
        db.rollback()
        return _register_page(officer, values, {"form": str(exc)}, 409, holder=holder is not None)
    db.commit()
    link = url_for("citizens.set_password", token=result.set_password_token, _external=True)
    response = make_response(
        render_template(
            "staff/registered.html",
            officer=officer,
            citizen=result.citizen,
            link=link,
            took=result.took_from is not None,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response
