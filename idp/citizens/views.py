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

from idp import assurance, events, runtime
from idp import interaction as flow
from idp.citizens import browsers, factors, guard, identity, messages, registration, service
from idp.citizens.sso import citizen_required, current_sso, set_sso, template_globals
from idp.citizens.validation import (
    GENDERS,
    IDENTITY_FIELDS,
    PROFILE_FIELDS,
    ValidationErrors,
    address_claim,
    communes,
    format_birthdate,
    provinces,
)
from idp.db import get_db
from idp.errors import InteractionExpired
from idp.portals import service as portals
from idp.tokens import service as tokens
from idp.web import browser_binding, get_locale, rotate_browser_session

bp = Blueprint("citizens", __name__)
bp.app_context_processor(template_globals)
bp.after_app_request(guard.attach_deferred)


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
    return portal.display_name if portal else None


def _form_values() -> dict[str, str]:
    return {k: request.form.get(k, "") for k in PROFILE_FIELDS}


def _start_session(
    citizen_id: str, inter: flow.Interaction | None, level: int
) -> tuple[service.SignInSession, str]:
    """Start a fresh session at ``level``; return it and where the browser goes next.

    The session id is new at every sign-in and every step-up (the old one ends), with
    the level reached, its methods (RFC 8176) and a new ``auth_time``.
    """
    store = runtime.store()
    settings = runtime.settings()
    old = current_sso()
    sso = service.start_session(
        store,
        citizen_id=citizen_id,
        amr=assurance.amr_of(level),
        acr=assurance.acr_of(level),
        ttl=settings.session_ttl,
        replaces=old.sid if old else None,
        about={
            "browser": browsers.describe(request.headers.get("User-Agent", "")),
            "network": browsers.network(request.remote_addr),
        },
    )
    g.idp_sso = sso
    rotate_browser_session()
    if inter is None:
        return sso, url_for("citizens.account")
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
    return sso, url_for("oauth.resume", iid=inter.id)


def _signed_in(
    citizen_id: str,
    inter: flow.Interaction | None,
    level: int = 1,
    recovery_codes_left: int | None = None,
) -> Any:
    """Start a fresh session, then continue the authorization or go to the account."""
    browsers.note_sign_in(citizen_id)
    sso, target = _start_session(citizen_id, inter, level)
    if recovery_codes_left is not None:
        # The citizen is told how many recovery codes remain before going on.
        page = render_template(
            "citizens/recovery_used.html", left=recovery_codes_left, target=target
        )
        return set_sso(make_response(page), sso)
    return set_sso(redirect(target, code=303), sso)


def _code_step(inter: flow.Interaction | None) -> tuple[str, str] | None:
    """Return (kind, citizen id) when this sign-in asks only for the second factor.

    ``second_factor``: the password was right moments ago in this interaction.
    ``step_up``: the citizen is signed in at a lower level than the request asks and
    nothing but the level is missing (prompt=login, max_age, a hint mismatch all need
    the password again).
    """
    if inter is None:
        return None
    if inter.state == flow.SECOND_FACTOR_PENDING and inter.citizen_id:
        return "second_factor", inter.citizen_id
    sso = current_sso()
    if (
        inter.state == flow.LOGIN_PENDING
        and sso is not None
        and inter.checks == [assurance.ACR_BELOW_REQUIRED]
        and factors.has_factor(get_db(), sso.citizen_id)
    ):
        return "step_up", sso.citizen_id
    return None


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Any:
    inter = _interaction()
    step = _code_step(inter)
    if step is not None:
        return _signin_code(inter, *step)
    identifier = ""
    error = None
    if request.method == "POST":
        guard.check_address(guard.SIGNIN_IP)
        identifier = request.form.get("identifier", "")[:254]
        db = get_db()
        citizen = _check_password(db, identifier, request.form.get("password", ""))
        if citizen is not None:
            _remember_language(citizen)
            db.commit()  # a rehashed password, the language
            if inter is not None and inter.acr_level >= 2 and factors.has_factor(db, citizen.id):
                # Level 2 asked: the code is the second step, in the same interaction.
                try:
                    flow.advance(
                        runtime.store(),
                        inter,
                        flow.SECOND_FACTOR_PENDING,
                        runtime.settings().interaction_ttl,
                        citizen_id=citizen.id,
                    )
                except flow.TransitionError:
                    raise InteractionExpired(detail="password on a finished interaction") from None
                return redirect(url_for("citizens.signin", interaction=inter.id), code=303)
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


_TOO_MANY_CODES = _l(
    "Too many wrong codes. Wait 15 minutes, then try again. We told you through your contacts."
)


def _check_code(citizen_id: str) -> factors.FactorCheck | None:
    """Check the typed TOTP or recovery code; None when too many were wrong lately.

    Wrong codes count per citizen wherever they are typed (sign-in, step-up, enrolment,
    changes to the factor): 5 in 15 minutes by default, then no code is checked.
    """
    if not guard.may_enter_code(citizen_id):
        events.emit("code.refused", reason="limited")
        return None
    check = factors.verify_second_factor(
        get_db(),
        runtime.store(),
        citizen_id=citizen_id,
        code=request.form.get("code", ""),
        secret_key=runtime.settings().secret_key,
    )
    if check.ok:
        guard.code_succeeded(citizen_id)
    elif factors.well_formed(request.form.get("code", "")):
        guard.code_failed(citizen_id)
    return check


def _check_password(db: Any, identifier: str, password: str) -> Any:
    """Return the citizen if the password is right and the account may try now, else None.

    A waiting or locked account, an unknown one and a wrong password all give None
    after the same argon2 work (``service.authenticate`` runs on a dummy hash when
    nothing is to be checked), so that neither the page nor its timing tells them apart.
    """
    found = service.find_by_identifier(db, identifier)
    key = guard.account_key(found, identifier)
    allowed = guard.may_try(key)
    citizen = service.check_credentials(found, password, _hasher(), refuse=not allowed)
    if citizen is not None:
        guard.succeeded(key)
        return citizen
    if allowed:
        guard.failed(key, found)
    else:
        events.emit("signin.refused", reason="limited")
    return None


def _remember_language(citizen: Any) -> None:
    """Write later messages in the language the citizen signs in with."""
    language = get_locale()
    if language in runtime.settings().languages and citizen.locale != language:
        citizen.locale = language


def _signin_code(inter: Any, kind: str, citizen_id: str) -> Any:
    """Ask for (and check) the TOTP or recovery code: the second step, or a step-up."""
    error = None
    if request.method == "POST":
        db = get_db()
        check = _check_code(citizen_id)
        if check is not None and check.ok:
            db.commit()  # a recovery code used
            return _signed_in(citizen_id, inter, 2, check.recovery_codes_left)
        db.rollback()
        error = (
            _TOO_MANY_CODES
            if check is None
            else _l("This code is not correct, or was already used. Try the next code.")
        )
    return render_template(
        "citizens/signin_code.html",
        interaction=inter,
        step_up=kind == "step_up",
        error=error,
        portal_name=_portal_name(inter),
    ), (401 if error else 200)


@bp.route("/register", methods=["GET", "POST"])
def register() -> Any:
    inter = _interaction()
    values = _form_values()
    errors: dict[str, Any] = {}
    if request.method == "POST" and not request.form.get("refresh"):
        guard.check_address(registration.REGISTER_IP)
        try:
            pending = registration.begin(
                dict(request.form),
                request.form.get("password", ""),
                interaction=inter.id if inter else None,
                hasher=_hasher(),
            )
        except ValidationErrors as exc:
            errors = dict(exc.errors)
        else:
            return _registration_code_page(pending, inter, None)
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


def _registration_code_page(pending: str, inter: Any, error: Any) -> Any:
    return render_template(
        "citizens/register_code.html",
        pending=pending,
        interaction=inter,
        error=error,
        portal_name=_portal_name(inter),
    ), (400 if error else 200)


@bp.post("/register/code")
def register_code() -> Any:
    """Finish a registration with the code sent by SMS; continue the portal's sign-in."""
    pending = request.form.get("pending", "")
    iid = registration.pending_interaction(pending)
    inter = None
    if iid:
        inter = flow.load(runtime.store(), iid, browser_binding(create=False))
    try:
        citizen = registration.confirm(pending, request.form.get("code", ""))
    except ValidationErrors as exc:
        return _registration_code_page(pending, inter, exc.errors["code"])
    if inter is not None and inter.state != flow.LOGIN_PENDING:
        inter = None  # the portal's sign-in step ended meanwhile: go to the account
    return _signed_in(citizen.id, inter)


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
        # Guessing links: each unknown or used one counts against the address.
        guard.check_address(guard.LINK_IP)
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
    citizen: Any,
    errors: dict[str, Any],
    values: dict[str, str] | None,
    saved: bool = False,
    notice: Any = None,
    password_errors: dict[str, Any] | None = None,
    phone_code: bool = False,
    phone_code_error: Any = None,
    identity_errors: dict[str, Any] | None = None,
    identity_values: dict[str, str] | None = None,
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
    current = current_sso()
    sources = identity.assurance_of(get_db(), citizen)
    return render_template(
        "citizens/account.html",
        assurance={i: sources.level(i) for i in identity.IDENTITY_ITEMS},
        level_text=identity.level_text,
        identity_errors=identity_errors or {},
        identity_values=identity_values
        or {
            "family_name": citizen.family_name,
            "middle_name": citizen.middle_name,
            "given_name": citizen.given_name,
            "birthdate": format_birthdate(citizen.birthdate),
            "gender": citizen.gender,
        },
        genders=GENDERS,
        citizen=citizen,
        errors=errors,
        values=values,
        saved=saved,
        notice=notice,
        password_errors=password_errors or {},
        sessions=service.list_sessions(runtime.store(), citizen.id),
        current_session=service.session_ref(current.sid) if current else None,
        phone_code=phone_code or phone_code_error is not None,
        phone_code_error=phone_code_error,
        has_second_factor=factors.has_factor(get_db(), citizen.id),
        address=address_claim(citizen.province_code, citizen.ward_code, citizen.street),
        provinces=provinces(),
        communes=communes(province) if province else [],
    ), (400 if errors or password_errors or phone_code_error or identity_errors else 200)


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


@bp.post("/account/password")
@citizen_required
def change_password(citizen: Any) -> Any:
    """Change the password (the current one is needed); every other session ends.

    Wrong current passwords count against the account's sign-in limit, as at sign-in.
    Afterwards the tokens issued without ``offline_access`` are revoked, every session
    on every browser ends, this browser gets a new session at the same level, and the
    citizen's contacts are told.
    """
    db = get_db()
    settings = runtime.settings()
    limiter = runtime.limiter()
    password = request.form.get("password", "")
    errors: dict[str, Any] = {}
    if not limiter.test("signin_account", citizen.id).allowed:
        errors["current_password"] = _l(
            "Too many wrong passwords. Wait a few minutes, then try again."
        )
    elif not service.verify_password(
        db,
        citizen_id=citizen.id,
        password=request.form.get("current_password", ""),
        hasher=_hasher(),
    ):
        limiter.hit("signin_account", citizen.id)
        errors["current_password"] = _l("This is not your current password.")
    elif password != request.form.get("password_confirm", ""):
        errors["password_confirm"] = _l("The two passwords differ.")
    else:
        try:
            service.set_password(db, citizen_id=citizen.id, password=password, hasher=_hasher())
        except ValidationErrors as exc:
            errors = dict(exc.errors)
    if errors:
        db.rollback()
        return _account_page(citizen, {}, None, password_errors=errors)
    tokens.revoke_session_tokens(db, citizen.id, "password_changed")
    db.commit()
    service.end_all_sessions(runtime.store(), citizen_id=citizen.id, ttl=settings.session_ttl)
    current = current_sso()
    level = assurance.level_of(current.acr) if current else 1
    sso, _target = _start_session(citizen.id, None, max(level, 1))
    messages.notify(
        citizen, "password_changed", when=messages.when_text(), recover_url=messages.recover_url()
    )
    notice = _l("Your password was changed. Every other device was signed out.")
    resp = make_response(_account_page(citizen, {}, None, notice=notice))
    return set_sso(resp, sso)


@bp.post("/account/identity")
@citizen_required
def correct_identity(citizen: Any) -> Any:
    """Correct names, birth date or gender online (the current password is needed).

    The values must agree with the citizen ID number, as at registration. A corrected
    value that a desk or the registry had verified is declared again from then on
    (portals that need verified data stop receiving it); the citizen's contacts are told.
    """
    db = get_db()
    limiter = runtime.limiter()
    values = {k: request.form.get(k, "")[:100] for k in IDENTITY_FIELDS}
    errors: dict[str, Any] = {}
    if not limiter.test("signin_account", citizen.id).allowed:
        errors["identity_password"] = _l(
            "Too many wrong passwords. Wait a few minutes, then try again."
        )
    elif not service.verify_password(
        db,
        citizen_id=citizen.id,
        password=request.form.get("identity_password", ""),
        hasher=_hasher(),
    ):
        limiter.hit("signin_account", citizen.id)
        errors["identity_password"] = _l("This is not your current password.")
    else:
        before = identity.assurance_of(db, citizen).verified_items()
        try:
            changed = identity.apply_corrections(citizen, values)
        except ValidationErrors as exc:
            errors = dict(exc.errors)
    if errors:
        db.rollback()
        citizen = service.get_citizen(db, citizen.id)
        return _account_page(citizen, {}, None, identity_errors=errors, identity_values=values)
    if not changed:
        return _account_page(citizen, {}, None, notice=_l("Nothing was changed."))
    db.flush()
    unverified = sorted(before - identity.assurance_of(db, citizen).verified_items())
    db.commit()
    events.emit(
        "citizen.identity_corrected",
        citizen_id=citizen.id,
        fields=" ".join(changed),
        now_declared=" ".join(unverified),
    )
    messages.notify(
        citizen, "identity_changed", when=messages.when_text(), unverified=bool(unverified)
    )
    notice = (
        _l(
            "Saved. The details you changed are now declared by you until a one-stop desk "
            "verifies them again."
        )
        if unverified
        else _l("Saved.")
    )
    return _account_page(citizen, {}, None, notice=notice)


@bp.post("/account/sessions/end")
@citizen_required
def end_one_session(citizen: Any) -> Any:
    """Sign out one of the citizen's sessions (another browser, or this one)."""
    ref = request.form.get("session", "")
    current = current_sso()
    if current is not None and ref == service.session_ref(current.sid):
        return signout()
    if not service.end_session_ref(runtime.store(), citizen.id, ref):
        return _account_page(citizen, {}, None, notice=_l("That session had already ended."))
    return _account_page(citizen, {}, None, notice=_l("That session was signed out."))


@bp.post("/account/sessions/end-all")
@citizen_required
def end_every_session(citizen: Any) -> Any:
    """Sign out everywhere: every session ends, tokens without offline_access die."""
    db = get_db()
    tokens.revoke_session_tokens(db, citizen.id, "signed_out_everywhere")
    db.commit()
    service.end_all_sessions(
        runtime.store(), citizen_id=citizen.id, ttl=runtime.settings().session_ttl
    )
    rotate_browser_session()
    resp = make_response(render_template("citizens/signed_out.html", everywhere=True))
    return set_sso(resp, None)


# -- the second factor ---------------------------------------------------------------


def _enrol_interaction(citizen: Any) -> flow.Interaction | None:
    """Return the interaction that sent the citizen to enrol (it must be theirs)."""
    inter = _interaction()
    if inter is not None and inter.citizen_id not in (None, citizen.id):
        raise InteractionExpired(detail="enrolment for another citizen's interaction")
    return inter


def _second_factor_page(
    citizen: Any, inter: flow.Interaction | None, error: Any = None, notice: Any = None
) -> Any:
    db = get_db()
    settings = runtime.settings()
    enrolled = factors.has_factor(db, citizen.id)
    enrolment = None
    if not enrolled:
        enrolment = factors.begin_enrolment(
            db,
            citizen_id=citizen.id,
            account_name=citizen.name,
            issuer=settings.totp_issuer,
            secret_key=settings.secret_key,
        )
        db.commit()
    return render_template(
        "citizens/second_factor.html",
        enrolled=enrolled,
        enrolment=enrolment,
        codes_left=factors.recovery_codes_left(db, citizen.id) if enrolled else None,
        interaction=inter,
        portal_name=_portal_name(inter),
        error=error,
        notice=notice,
    ), (400 if error else 200)


@bp.get("/account/second-factor")
@citizen_required
def second_factor(citizen: Any) -> Any:
    return _second_factor_page(citizen, _enrol_interaction(citizen))


@bp.post("/account/second-factor/confirm")
@citizen_required
def confirm_second_factor(citizen: Any) -> Any:
    inter = _enrol_interaction(citizen)
    db = get_db()
    settings = runtime.settings()
    if not guard.may_enter_code(citizen.id):
        return _second_factor_page(citizen, inter, error=_TOO_MANY_CODES)
    codes = factors.confirm_enrolment(
        db,
        runtime.store(),
        citizen_id=citizen.id,
        code=request.form.get("code", ""),
        secret_key=settings.secret_key,
    )
    if codes is None:
        db.rollback()
        if factors.has_factor(db, citizen.id):  # confirmed meanwhile (another tab)
            return redirect(url_for("citizens.second_factor"), code=303)
        if factors.well_formed(request.form.get("code", "")):
            guard.code_failed(citizen.id)
        error = _l("This code is not correct. Type the code your app shows now.")
        return _second_factor_page(citizen, inter, error=error)
    db.commit()
    guard.code_succeeded(citizen.id)
    # The code just proved the second factor: the session is now at level 2.
    sso, target = _start_session(citizen.id, inter, 2)
    page = render_template(
        "citizens/recovery_codes.html", codes=codes, target=target, continuing=inter is not None
    )
    return set_sso(make_response(page), sso)


def _reauthentication_error(citizen: Any) -> Any:
    """Check the code typed to confirm an action on the factor; return the error, or None."""
    check = _check_code(citizen.id)
    if check is None:
        return _TOO_MANY_CODES
    return None if check.ok else _FACTOR_CODE_ERROR


@bp.post("/account/second-factor/recovery-codes")
@citizen_required
def regenerate_recovery_codes(citizen: Any) -> Any:
    db = get_db()
    if not factors.has_factor(db, citizen.id):
        return redirect(url_for("citizens.second_factor"), code=303)
    error = _reauthentication_error(citizen)
    if error is not None:
        db.rollback()
        return _second_factor_page(citizen, None, error=error)
    codes = factors.regenerate_recovery_codes(db, citizen_id=citizen.id)
    db.commit()
    return render_template(
        "citizens/recovery_codes.html",
        codes=codes,
        target=url_for("citizens.second_factor"),
        continuing=False,
    )


@bp.post("/account/second-factor/remove")
@citizen_required
def remove_second_factor(citizen: Any) -> Any:
    db = get_db()
    if not factors.has_factor(db, citizen.id):
        return redirect(url_for("citizens.second_factor"), code=303)
    error = _reauthentication_error(citizen)
    if error is not None:
        db.rollback()
        return _second_factor_page(citizen, None, error=error)
    factors.remove_factor(db, citizen_id=citizen.id)
    db.commit()
    return _account_page(citizen, {}, None, notice=_l("The second factor was removed."))


_FACTOR_CODE_ERROR = _l(
    "This code is not correct, or was already used. Type the code your app shows now, "
    "or a recovery code."
)


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
