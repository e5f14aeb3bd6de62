"""The ``idp`` command: serve, database, portals, desk registration, demo set-up.

Every command reads the same ``IDP_*`` settings, works from any folder, prints a clear
message and exits with status 2 on bad input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from idp.config import Settings, SettingsError

EXIT_BAD_INPUT = 2


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@contextmanager
def _session(settings: Settings) -> Iterator[Any]:
    """Yield a session on the configured database; exit 2 if it has no schema."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from idp.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        try:
            migrated = inspect(engine).has_table("citizens")
        except SQLAlchemyError as exc:
            _fail(f"cannot reach the database: {exc.__class__.__name__}")
        if not migrated:
            _fail("the database has no schema yet: run `idp db upgrade` first")
        from idp import audit

        with Session(engine, expire_on_commit=False) as session, audit.collecting(session):
            yield session
    finally:
        engine.dispose()


@click.group()
def main() -> None:
    """Citizen single sign-on and consent service (OpenID Connect provider)."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="Worker processes (needs IDP_REDIS_URL when more than one).",
)
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256))
def serve(host: str, port: int, workers: int | None, threads: int) -> None:
    """Serve the provider with gunicorn."""
    settings = _settings()
    if workers is None:
        workers = 2 if settings.redis_url else 1
    if workers > 1 and not settings.redis_url:
        _fail("more than one worker needs IDP_REDIS_URL: the in-process store is per process")
    with _session(settings):  # the schema must exist
        pass
    from gunicorn.app.base import BaseApplication

    from idp import create_app

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", "-")
            # No query strings in access logs: they can carry codes and hints.
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms')
            # One-time link tokens in paths are cut out too (idp/accesslog.py).
            self.cfg.set("logger_class", "idp.accesslog.RedactingLogger")

        def load(self) -> Any:
            # Called in each worker process: each runs a back-channel logout delivery
            # thread (jobs go to one worker only: the queue is shared through Redis).
            from idp.backchannel import start_worker

            app = create_app(settings)
            start_worker(app)
            return app

    settings.warn_embedded_defaults()
    _App().run()


@main.command()
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(0.1, 60))
def worker(interval: float) -> None:
    """Deliver back-channel logout tokens (as every `idp serve` process also does).

    For deployments that want delivery apart from the web processes; needs
    IDP_REDIS_URL (the queue must be shared). Stops on Ctrl-C or SIGTERM.
    """
    import signal
    import threading

    from idp import create_app
    from idp.backchannel import work

    settings = _settings()
    if not settings.redis_url:
        _fail("idp worker needs IDP_REDIS_URL: without Redis the queue lives in `idp serve`")
    with _session(settings):
        pass
    app = create_app(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo("delivering back-channel logout tokens (Ctrl-C stops)", err=True)
    try:
        work(app, stop, interval)
    except KeyboardInterrupt:
        stop.set()


@main.command()
@click.option("--months", default=12, show_default=True, type=click.IntRange(1, 120))
@click.option("--csv", "as_csv", is_flag=True, help="Per-portal figures as CSV.")
def figures(months: int, as_csv: bool) -> None:
    """The province's adoption figures per portal and month (counts only, never a person)."""
    from idp.admin import figures as adoption

    with _session(_settings()) as session:
        data = adoption.monthly(session, months=months)
    if as_csv:
        click.echo(adoption.as_csv(data), nl=False)
    else:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@main.group()
def keys() -> None:
    """Signing keys: list them, rotate them."""


@keys.command("list")
def keys_list() -> None:
    """Print every signing key's state as JSON (never a private part)."""
    from idp import keys as signing

    with _session(_settings()) as session:
        click.echo(json.dumps(signing.describe(session), indent=2))


@keys.command("rotate")
@click.option(
    "--alg", type=click.Choice(["RS256", "ES256", "all"]), default="all", show_default=True
)
@click.option(
    "--overlap",
    default=None,
    type=click.IntRange(0, 7 * 24 * 3600),
    help="Seconds the next key is published before it signs (default: IDP_KEY_OVERLAP).",
)
def keys_rotate(alg: str, overlap: int | None) -> None:
    """Publish the next key now; it signs after the overlap; the old one retires once
    every token it signed has expired."""
    from idp import keys as signing

    settings = _settings()
    wait = settings.key_overlap if overlap is None else overlap
    with _session(settings) as session:
        for one in signing.SUPPORTED_ALGS if alg == "all" else (alg,):
            signing.rotate(
                session, alg=one, overlap=wait, token_lifetime=settings.id_token_ttl + 60
            )
        session.commit()
        click.echo(json.dumps(signing.describe(session), indent=2))


@main.group()
def audit() -> None:
    """The audit trail: check its hash chain, export it."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 and name the first broken row if there is one."""
    from idp import audit as trail

    with _session(_settings()) as session:
        verdict = trail.verify(session)
    if verdict.ok:
        click.echo(f"ok: {verdict.rows} rows, the chain is unbroken")
        return
    click.echo(f"broken at row {verdict.broken_at}: {verdict.reason}", err=True)
    sys.exit(1)


def _when(value: str | None, option: str) -> Any:
    import datetime as dt

    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        _fail(f"{option} must be a date or time (YYYY-MM-DD or ISO 8601), got {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@audit.command("export")
@click.option("--from", "start", default=None, help="From this date/time (UTC), inclusive.")
@click.option("--to", "end", default=None, help="Until this date/time (UTC), exclusive.")
def audit_export(start: str | None, end: str | None) -> None:
    """Print the audit rows as JSON lines, oldest first."""
    from idp import audit as trail

    since, until = _when(start, "--from"), _when(end, "--to")
    with _session(_settings()) as session:
        for row in trail.export(session, start=since, end=until):
            click.echo(json.dumps(row, ensure_ascii=False, separators=(",", ":")))


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the schema to REVISION (default: head)."""
    from idp import migrate

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrate.upgrade(settings.database_url, revision)
    except Exception as exc:  # alembic raises many kinds; all mean "could not migrate"
        _fail(f"could not upgrade the database: {exc.__class__.__name__}: {exc}")
    click.echo(f"database at revision {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the schema down to REVISION ('base' removes everything)."""
    from idp import migrate

    try:
        migrate.downgrade(_settings().database_url, revision)
    except Exception as exc:  # noqa: BLE001
        _fail(f"could not downgrade the database: {exc.__class__.__name__}: {exc}")
    click.echo(f"database at revision {revision}")


@main.group()
def clients() -> None:
    """Register and list service portals (OAuth clients)."""


@clients.command("add")
@click.option("--name", required=True, help="Portal name shown to citizens (Vietnamese).")
@click.option("--name-en", default=None, help="Portal name on English pages.")
@click.option("--contact-email", default=None, help="Whom operators contact about the portal.")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="Exact redirect URI (repeatable; at least one for a portal).",
)
@click.option(
    "--web-origin",
    "web_origins",
    multiple=True,
    help="Browser-based portals: an origin allowed to call the token, userinfo and "
    "revocation endpoints from a page, https://host[:port] (repeatable).",
)
@click.option(
    "--subject-type",
    default="pairwise",
    show_default=True,
    type=click.Choice(["pairwise", "public"]),
    help="pairwise: the portal's own `sub` per citizen; public: the `sub` every public "
    "portal sees (they can link their records).",
)
@click.option(
    "--automation",
    is_flag=True,
    help="An automation client of the admin API (client_credentials, admin:* scopes).",
)
@click.option(
    "--post-logout-redirect-uri",
    "logout_uris",
    multiple=True,
    help="Where to send the citizen after signing out (repeatable).",
)
@click.option(
    "--scope",
    default=None,
    help="Scopes the portal may ask (default: openid); an automation client's admin:* scopes.",
)
@click.option(
    "--auth-method",
    default="client_secret_basic",
    show_default=True,
    type=click.Choice(["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]),
)
@click.option(
    "--id-token-alg", default="RS256", show_default=True, type=click.Choice(["RS256", "ES256"])
)
@click.option(
    "--sector-identifier", default=None, help="Pairwise sector (default: the redirect URIs' host)."
)
@click.option("--client-id", default=None, help="Choose the client_id (default: random).")
@click.option(
    "--default-acr",
    default=None,
    help="Level of assurance required when a request names none "
    "(urn:vn:idp:loa:1 or urn:vn:idp:loa:2).",
)
@click.option(
    "--purposes",
    "purposes_file",
    default=None,
    type=click.File("r", encoding="utf-8"),
    help="JSON file: per claim, the purpose (vi, en) and whether it is required.",
)
@click.option(
    "--jwks",
    "jwks_file",
    default=None,
    type=click.File("r", encoding="utf-8"),
    help="private_key_jwt: a JSON file with the portal's public keys (a JWKS).",
)
@click.option(
    "--jwks-uri", default=None, help="private_key_jwt: where the portal publishes its JWKS."
)
@click.option(
    "--backchannel-logout-uri",
    default=None,
    help="Where logout tokens are POSTed (OpenID Connect Back-Channel Logout 1.0).",
)
@click.option(
    "--backchannel-logout-session-required",
    is_flag=True,
    help="The portal needs the session id (sid) in every logout token.",
)
@click.option(
    "--backchannel-private",
    is_flag=True,
    help="Allow a loopback or private-network address as the back-channel logout URI.",
)
def clients_add(
    name: str,
    name_en: str | None,
    contact_email: str | None,
    redirect_uris: tuple[str, ...],
    web_origins: tuple[str, ...],
    subject_type: str,
    automation: bool,
    logout_uris: tuple[str, ...],
    scope: str | None,
    auth_method: str,
    id_token_alg: str,
    sector_identifier: str | None,
    client_id: str | None,
    default_acr: str | None,
    purposes_file: Any,
    jwks_file: Any,
    jwks_uri: str | None,
    backchannel_logout_uri: str | None,
    backchannel_logout_session_required: bool,
    backchannel_private: bool,
) -> None:
    """Register a portal; print JSON with client_id and (once) client_secret."""
    from idp.admin.service import describe_portal, register_portal
    from idp.portals.service import RegistrationError

    settings = _settings()
    purposes = _read_json(purposes_file) if purposes_file else None
    jwks = _read_json(jwks_file) if jwks_file else None
    if purposes_file and not isinstance(purposes, dict):
        _fail("purposes must be a JSON object keyed by claim")
    with _session(settings) as session:
        try:
            reg = register_portal(
                session,
                kind="automation" if automation else "portal",
                name=name,
                name_en=name_en,
                contact_email=contact_email,
                web_origins=list(web_origins),
                subject_type=subject_type,
                redirect_uris=list(redirect_uris),
                post_logout_redirect_uris=list(logout_uris),
                scope=scope if scope is not None else ("" if automation else "openid"),
                auth_method=auth_method,
                id_token_signed_response_alg=id_token_alg,
                sector_identifier=sector_identifier,
                client_id=client_id,
                default_acr=default_acr,
                purposes=purposes,
                backchannel_logout_uri=backchannel_logout_uri,
                backchannel_logout_session_required=backchannel_logout_session_required,
                backchannel_private=backchannel_private,
                jwks=jwks,
                jwks_uri=jwks_uri,
            )
        except RegistrationError as exc:
            _fail(str(exc))
        session.commit()
        if not purposes and not automation:
            click.echo(
                "warning: no purposes declared: the portal receives only its `sub` "
                "until `idp clients purposes` declares why it needs each claim",
                err=True,
            )
        out = describe_portal(session, reg.portal)
        if reg.client_secret:
            out["client_secret"] = reg.client_secret
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))


@clients.command("update")
@click.argument("client_id")
@click.option("--name", default=None, help="Portal name shown to citizens (Vietnamese).")
@click.option("--name-en", default=None, help="Portal name on English pages ('none' clears).")
@click.option("--contact-email", default=None, help="Operators' contact ('none' clears).")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="Replaces the redirect URIs with these (repeatable).",
)
@click.option(
    "--post-logout-redirect-uri",
    "logout_uris",
    multiple=True,
    help="Replaces the post-logout redirect URIs with these (repeatable; 'none' clears).",
)
@click.option(
    "--web-origin",
    "web_origins",
    multiple=True,
    help="Replaces the web origins with these (repeatable; 'none' clears).",
)
@click.option("--scope", default=None, help="Replaces the scopes the portal may ask.")
@click.option(
    "--auth-method",
    default=None,
    type=click.Choice(["client_secret_basic", "client_secret_post"]),
    help="Move between the two client-secret methods.",
)
@click.option("--id-token-alg", default=None, type=click.Choice(["RS256", "ES256"]))
@click.option(
    "--default-acr",
    default=None,
    help="Level of assurance required when a request names none "
    "(urn:vn:idp:loa:1, urn:vn:idp:loa:2, or 'none' to require none).",
)
@click.option(
    "--jwks",
    "jwks_file",
    default=None,
    type=click.File("r", encoding="utf-8"),
    help="private_key_jwt: replaces the portal's public keys (a JWKS file).",
)
@click.option("--jwks-uri", default=None, help="private_key_jwt: where the portal publishes keys.")
@click.option(
    "--purposes",
    "purposes_file",
    default=None,
    type=click.File("r", encoding="utf-8"),
    help="JSON file: per claim, the purpose (vi, en) and whether it is required.",
)
@click.option(
    "--backchannel-logout-uri",
    default=None,
    help="Where logout tokens are POSTed, or 'none' to stop sending them.",
)
@click.option(
    "--backchannel-logout-session-required",
    type=click.Choice(["yes", "no"]),
    default=None,
    help="Whether the portal needs the session id (sid) in every logout token.",
)
@click.option(
    "--backchannel-private",
    type=click.Choice(["yes", "no"]),
    default=None,
    help="Whether a loopback or private-network back-channel logout URI is allowed.",
)
def clients_update(
    client_id: str,
    name: str | None,
    name_en: str | None,
    contact_email: str | None,
    redirect_uris: tuple[str, ...],
    logout_uris: tuple[str, ...],
    web_origins: tuple[str, ...],
    scope: str | None,
    auth_method: str | None,
    id_token_alg: str | None,
    default_acr: str | None,
    jwks_file: Any,
    jwks_uri: str | None,
    purposes_file: Any,
    backchannel_logout_uri: str | None,
    backchannel_logout_session_required: str | None,
    backchannel_private: str | None,
) -> None:
    """Change a portal's registration: only the fields given, all checked before any is
    written (its client_id, subject type and sector stay as registered)."""
    from idp.admin.service import describe_portal, update_portal
    from idp.portals.service import RegistrationError

    def cleared(value: str | None) -> str | None:
        return None if value == "none" else value

    def cleared_list(values: tuple[str, ...]) -> list[str]:
        return [] if values == ("none",) else list(values)

    given = {
        "name": name,
        "name_en": name_en,
        "contact_email": contact_email,
        "scope": scope,
        "auth_method": auth_method,
        "id_token_signed_response_alg": id_token_alg,
        "default_acr": default_acr,
        "jwks_uri": jwks_uri,
        "backchannel_logout_uri": backchannel_logout_uri,
    }
    changes: dict[str, Any] = {f: cleared(v) for f, v in given.items() if v is not None}
    for field, values in (
        ("redirect_uris", redirect_uris),
        ("post_logout_redirect_uris", logout_uris),
        ("web_origins", web_origins),
    ):
        if values:
            changes[field] = cleared_list(values)
    if jwks_file is not None:
        changes["jwks"] = _read_json(jwks_file)
    if backchannel_logout_session_required is not None:
        changes["backchannel_logout_session_required"] = (
            backchannel_logout_session_required == "yes"
        )
    if backchannel_private is not None:
        changes["backchannel_private"] = backchannel_private == "yes"
    purposes = _read_json(purposes_file) if purposes_file else None
    if purposes_file and not isinstance(purposes, dict):
        _fail("purposes must be a JSON object keyed by claim")
    if not changes and purposes is None:
        _fail("nothing to change: give at least one option (see --help)")
    with _session(_settings()) as session:
        try:
            portal, changed = update_portal(
                session, client_id=client_id, purposes=purposes, **changes
            )
        except RegistrationError as exc:
            _fail(str(exc))
        session.commit()
        out = describe_portal(session, portal)
        out["changed"] = changed
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))


@clients.command("rotate-secret")
@click.argument("client_id")
@click.option(
    "--grace",
    default=0,
    show_default=True,
    type=click.IntRange(0, 30 * 24 * 3600),
    help="Seconds during which the previous secret still works.",
)
def clients_rotate_secret(client_id: str, grace: int) -> None:
    """Give a confidential portal a new secret (printed once)."""
    from idp.portals.service import RegistrationError, rotate_secret

    with _session(_settings()) as session:
        try:
            secret = rotate_secret(session, client_id=client_id, grace=grace)
        except RegistrationError as exc:
            _fail(str(exc))
        session.commit()
        click.echo(
            json.dumps(
                {"client_id": client_id, "client_secret": secret, "previous_works_for": grace},
                indent=2,
            )
        )


@clients.command("show")
@click.argument("client_id")
def clients_show(client_id: str) -> None:
    """Print one portal's registration and purposes as JSON (never secrets)."""
    from idp.admin.service import describe_portal
    from idp.portals.service import by_client_id

    with _session(_settings()) as session:
        portal = by_client_id(session, client_id)
        if portal is None:
            _fail("no portal with this client_id")
        click.echo(json.dumps(describe_portal(session, portal), ensure_ascii=False, indent=2))


@clients.command("suspend")
@click.argument("client_id")
def clients_suspend(client_id: str) -> None:
    """Cut a portal off at once: its tokens die, sign-ins stop, its sessions are told."""
    from idp import runtime
    from idp.admin.service import suspend_portal
    from idp.portals.service import RegistrationError

    with _app(_settings()) as (_, session):
        try:
            done = suspend_portal(session, runtime.store(), client_id=client_id)
        except RegistrationError as exc:
            session.rollback()
            _fail(str(exc))
        session.commit()
        click.echo(json.dumps(done, indent=2))


@clients.command("resume")
@click.argument("client_id")
def clients_resume(client_id: str) -> None:
    """Let a suspended portal sign citizens in again (its old tokens stay dead)."""
    from idp.admin.service import describe_portal, resume_portal
    from idp.portals.service import RegistrationError

    with _session(_settings()) as session:
        try:
            portal = resume_portal(session, client_id=client_id)
        except RegistrationError as exc:
            _fail(str(exc))
        session.commit()
        click.echo(json.dumps(describe_portal(session, portal), ensure_ascii=False, indent=2))


@clients.command("delete")
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Confirm: the registration cannot be restored.")
def clients_delete(client_id: str, yes: bool) -> None:
    """Delete a suspended portal (the citizens' history and receipts stay)."""
    from idp.portals.service import RegistrationError, delete_portal

    if not yes:
        _fail("deleting a portal cannot be undone: add --yes")
    with _session(_settings()) as session:
        try:
            delete_portal(session, client_id=client_id)
        except RegistrationError as exc:
            _fail(str(exc))
        session.commit()
        click.echo(json.dumps({"client_id": client_id, "deleted": True}, indent=2))


@clients.command("deliveries")
@click.argument("client_id")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
def clients_deliveries(client_id: str, limit: int) -> None:
    """Print the portal's latest back-channel logout deliveries as JSON, newest first."""
    from idp.backchannel import deliveries
    from idp.portals.service import by_client_id

    with _session(_settings()) as session:
        portal = by_client_id(session, client_id)
        if portal is None:
            _fail("no portal with this client_id")
        click.echo(json.dumps(deliveries(session, portal, limit), ensure_ascii=False, indent=2))


@clients.command("list")
def clients_list() -> None:
    """Print every registered portal as JSON (never secrets)."""
    from idp.admin.service import list_portals

    with _session(_settings()) as session:
        click.echo(json.dumps(list_portals(session), ensure_ascii=False, indent=2))


@clients.command("purposes")
@click.argument("client_id")
@click.argument("purposes_file", type=click.File("r", encoding="utf-8"))
def clients_purposes(client_id: str, purposes_file: Any) -> None:
    """Declare why the portal needs each claim (FILE is JSON, '-' for stdin).

    A change of any purpose text or of `required` publishes a new notice version; citizens
    are asked again for the claims whose purpose changed.
    """
    from idp.admin.service import declare_purposes
    from idp.portals.service import RegistrationError

    purposes = _read_json(purposes_file)
    with _session(_settings()) as session:
        try:
            out = declare_purposes(session, client_id=client_id, purposes=purposes)
        except RegistrationError as exc:
            _fail(str(exc))
        session.commit()
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))


def _read_json(fh: Any) -> Any:
    try:
        return json.loads(fh.read(1_000_000))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        _fail(f"{getattr(fh, 'name', 'input')} is not valid JSON: {exc}")


@main.group()
def receipts() -> None:
    """Consent receipts."""


@receipts.command("verify")
@click.argument("receipt_file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--jwks",
    "jwks_source",
    default=None,
    help="JWKS file or URL (default: every key this provider has signed with, "
    "retired ones included).",
)
def receipts_verify(receipt_file: Any, jwks_source: str | None) -> None:
    """Check a consent receipt's signature and print what it proves."""
    from idp.consent.receipts import ReceiptError, verify_receipt

    token = receipt_file.read(100_000)
    if jwks_source is None:
        from idp.consent.receipts import public_jwks

        with _session(_settings()) as session:
            jwks = public_jwks(session)
    elif jwks_source.startswith(("http://", "https://")):
        import requests

        try:
            resp = requests.get(jwks_source, timeout=10)
            resp.raise_for_status()
            jwks = resp.json()
        except (requests.RequestException, ValueError) as exc:
            _fail(f"cannot fetch the JWKS: {exc.__class__.__name__}")
    else:
        try:
            with open(jwks_source, encoding="utf-8") as fh:
                jwks = json.load(fh)
        except (OSError, ValueError) as exc:
            _fail(f"cannot read the JWKS file: {exc}")
    if not (
        isinstance(jwks, dict)
        and isinstance(jwks.get("keys"), list)
        and all(isinstance(k, dict) for k in jwks["keys"])
    ):
        _fail("the JWKS must be a JSON object with a 'keys' list of keys (RFC 7517 §5)")
    try:
        payload = verify_receipt(token, jwks)
    except ReceiptError as exc:
        click.echo(f"INVALID: {exc}", err=True)
        sys.exit(1)
    granted = [c["claim"] for c in payload["claims"] if c.get("granted")]
    declined = [c["claim"] for c in payload["claims"] if not c.get("granted")]
    notice = payload.get("notice") or {}
    click.echo("VALID consent receipt, signed by the provider's published key.")
    click.echo(f"  receipt:   {payload['jti']}")
    click.echo(f"  issuer:    {payload['iss']}")
    click.echo(f"  time:      {payload.get('time')}")
    click.echo(f"  action:    {payload['action']}")
    click.echo(f"  portal:    {payload.get('portal_name')} (client_id {payload['client_id']})")
    click.echo(f"  citizen:   pairwise subject {payload['sub']}")
    click.echo(f"  notice:    version {notice.get('version')}, sha256 {notice.get('hash')}")
    click.echo(f"  granted:   {', '.join(granted) or '-'}")
    click.echo(f"  declined:  {', '.join(declined) or '-'}")
    for c in payload["claims"]:
        purpose = c.get("purpose", {})
        click.echo(
            f"    {c['claim']}: {purpose.get('en') or purpose.get('vi') or ''}"
            f"{' (required)' if c.get('required') else ''}"
        )


@main.group()
def staff() -> None:
    """Staff accounts (administrators, portal managers, auditors, desk officers): add,
    list, change roles, re-issue a set-up link, disable."""


@staff.command("add")
@click.argument("email")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="admin, portal_manager, auditor or desk_officer (repeatable).",
)
@click.option(
    "--unit", default=None, help="The desk's administrative unit (province or commune code)."
)
@click.option("--name", default="", help="The person's name, for listings.")
def staff_add(email: str, roles: tuple[str, ...], unit: str | None, name: str) -> None:
    """Create a staff account and print its one-time set-up link."""
    from idp.staff import service as staff_service

    settings = _settings()
    with _session(settings) as session:
        try:
            account = staff_service.add_staff(
                session, email=email, roles=list(roles), unit_code=unit, name=name
            )
        except staff_service.StaffError as exc:
            _fail(str(exc))
        token = staff_service.new_setup_link(session, account, ttl=settings.set_password_ttl)
        session.commit()
        out = {
            **staff_service.describe(account),
            "setup_url": f"{settings.issuer}/staff/setup/{token}",
            "expires_in": settings.set_password_ttl,
        }
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))


@staff.command("link")
@click.argument("email")
def staff_link(email: str) -> None:
    """Print a new set-up link (lost password or phone); the old credentials stop working."""
    from idp.staff import service as staff_service

    settings = _settings()
    with _session(settings) as session:
        account = _officer(session, email)
        if account.disabled_at is not None:
            _fail("this staff account is disabled")
        token = staff_service.new_setup_link(session, account, ttl=settings.set_password_ttl)
        session.commit()
        click.echo(
            json.dumps(
                {
                    "email": account.email,
                    "setup_url": f"{settings.issuer}/staff/setup/{token}",
                    "expires_in": settings.set_password_ttl,
                },
                indent=2,
            )
        )


@staff.command("roles")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True, help="The new roles (repeatable).")
@click.option("--unit", default=None, help="The desk's unit (province or commune code).")
def staff_roles(email: str, roles: tuple[str, ...], unit: str | None) -> None:
    """Replace a staff account's roles."""
    from idp.staff import service as staff_service

    with _session(_settings()) as session:
        account = _officer(session, email)
        try:
            staff_service.set_roles(session, account, roles=list(roles), unit_code=unit)
        except staff_service.StaffError as exc:
            _fail(str(exc))
        session.commit()
        click.echo(json.dumps(staff_service.describe(account), ensure_ascii=False, indent=2))


@staff.command("list")
def staff_list() -> None:
    """List staff accounts as JSON (never a credential)."""
    from idp.staff import service as staff_service

    with _session(_settings()) as session:
        rows = [staff_service.describe(a) for a in staff_service.list_staff(session)]
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2))


@staff.command("disable")
@click.argument("email")
def staff_disable(email: str) -> None:
    """Disable a staff account: no more sign-ins; its sessions end at their next use."""
    from idp.staff import service as staff_service

    with _session(_settings()) as session:
        account = _officer(session, email)
        staff_service.disable_staff(session, account)
        session.commit()
        click.echo(json.dumps(staff_service.describe(account), ensure_ascii=False, indent=2))


@main.group()
def citizens() -> None:
    """One-stop desk commands."""


@contextmanager
def _app(settings: Settings) -> Iterator[Any]:
    """Yield the app (in its context, messages in English) and its database session."""
    from idp import create_app
    from idp.db import get_db, make_engine

    with _session(settings):
        pass  # refuses an unmigrated database with a clear message
    engine = make_engine(settings.database_url)
    try:
        app = create_app(settings, engine=engine)
        with app.test_request_context("/?lang=en", base_url=settings.issuer):
            yield app, get_db()
    finally:
        engine.dispose()


def _officer(session: Any, email: str) -> Any:
    from idp.staff import service as staff

    account = staff.by_email(session, email)
    if account is None:
        _fail(f"no staff account has the email {email!r} (add it with `idp staff add`)")
    return account


def _errors_text(errors: dict[str, Any]) -> str:
    return "\n".join(f"  {k}: {v}" for k, v in errors.items())


@citizens.command("add")
@click.option(
    "--officer",
    required=True,
    help="Email of the desk officer's staff account who checked the citizen ID card.",
)
@click.option("--unit", default=None, help="The desk's unit code (default: the officer's).")
@click.option(
    "--owner-confirmed",
    is_flag=True,
    help="The number is on an account that only declared it, and the officer checked that "
    "the person holds the card: give the number to them.",
)
def citizens_add(officer: str, unit: str | None, owner_confirmed: bool) -> None:
    """One-stop desk: register a citizen from one JSON profile on stdin, verified from the
    card; print the id and a set-password link."""
    from idp.citizens.service import make_hasher
    from idp.citizens.validation import ValidationErrors, validate_profile
    from idp.staff import desk

    settings = _settings()
    raw = sys.stdin.read(1_000_000)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        _fail(f"stdin is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
    if not isinstance(data, dict):
        _fail("stdin must hold one JSON object with the profile fields")
    with _app(settings) as (_, session):
        account = _officer(session, officer)
        try:
            profile = validate_profile(data)
        except ValidationErrors as exc:
            _fail("the profile is not valid:\n" + _errors_text(exc.errors))
        try:
            result = desk.register_in_person(
                session,
                profile=profile,
                officer=account,
                hasher=make_hasher(settings),
                unit_code=unit,
                owner_confirmed=owner_confirmed,
            )
        except ValidationErrors as exc:
            session.rollback()
            _fail("the profile cannot be registered:\n" + _errors_text(exc.errors))
        except desk.DeskError as exc:
            session.rollback()
            _fail(str(exc))
        session.commit()
        out = {
            "id": result.citizen.id,
            "assurance": "desk_verified",
            "set_password_url": f"{settings.issuer}/set-password/{result.set_password_token}",
            "expires_in": settings.set_password_ttl,
        }
        if result.took_from:
            out["number_taken_from"] = result.took_from
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))


@citizens.command("verify")
@click.option(
    "--from",
    "source_file",
    required=True,
    type=click.File("r", encoding="utf-8"),
    help="JSON lines of registry records: cccd, family_name, middle_name, given_name, "
    "birthdate, gender, and optionally record_ref ('-' for stdin).",
)
@click.option(
    "--source",
    default="national_population_database",
    show_default=True,
    help="The registry the records come from (recorded with each verification).",
)
def citizens_verify(source_file: Any, source: str) -> None:
    """Verify the accounts whose data exactly matches a registry record; report the rest.

    Only exact matches are verified; a mismatch changes nothing and is listed with the
    fields that differ (never their values).
    """
    from idp.citizens import identity

    settings = _settings()
    source = source.strip()
    if not source or len(source) > 100:
        _fail("--source must be 1 to 100 characters")
    with _session(settings) as session:
        try:
            report = identity.import_registry_matches(session, source_file, source=source)
        except UnicodeDecodeError:
            session.rollback()
            _fail("the file is not UTF-8 text")
        session.commit()
    click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))


@citizens.command("reset")
@click.argument("cccd")
@click.option(
    "--officer",
    required=True,
    help="Email of the desk officer's staff account who checked the citizen ID card.",
)
@click.option("--unit", default=None, help="The desk's unit code (default: the officer's).")
def citizens_reset(cccd: str, officer: str, unit: str | None) -> None:
    """One-stop desk: print a one-time link that lets the citizen choose a new password.

    For a citizen who lost both the password and the second factor, after the officer
    checked their citizen ID card: the link needs no code and removes the second factor
    (the citizen sets it up again). Audited with the officer's staff account, the desk's
    unit and the account id.
    """
    from idp import events
    from idp.citizens.models import Citizen
    from idp.citizens.service import create_password_link
    from idp.staff import desk

    settings = _settings()
    from idp.citizens.validation import normalize_cccd

    number = normalize_cccd(cccd)
    if not (len(number) == 12 and number.isascii() and number.isdigit()):
        _fail("CCCD must be the 12 digits of the citizen ID number")
    with _session(settings) as session:
        from sqlalchemy import select

        account = _officer(session, officer.strip())
        try:
            unit_code = desk.officer_unit(account, unit)
        except desk.DeskError as exc:
            _fail(str(exc))
        citizen = session.scalar(select(Citizen).where(Citizen.cccd == number))
        if citizen is None:
            _fail("no account has this citizen ID number")
        token = create_password_link(
            session, citizen_id=citizen.id, ttl=settings.set_password_ttl, purpose="desk_reset"
        )
        session.commit()
        events.emit(
            "citizen.desk_reset", citizen_id=citizen.id, staff_id=account.id, unit=unit_code
        )
        out = {
            "id": citizen.id,
            "reset_url": f"{settings.issuer}/reset/{token}",
            "expires_in": settings.set_password_ttl,
        }
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))


def _purpose(vi: str, en: str, required: bool) -> dict[str, Any]:
    return {"purpose": {"vi": vi, "en": en}, "required": required}


DEMO_PURPOSES: dict[str, dict[str, Any]] = {
    "land": {
        "name": _purpose(
            "Để điền sẵn tên chủ sử dụng đất trong hồ sơ đăng ký đất đai",
            "To pre-fill the land user's name in the land registration file",
            True,
        ),
        "birthdate": _purpose(
            "Để xác minh chủ sử dụng đất đã đủ tuổi thành niên",
            "To check that the land user is an adult",
            True,
        ),
        "gender": _purpose(
            "Để điền sẵn hồ sơ đăng ký đất đai", "To pre-fill the land registration file", False
        ),
        "cccd": _purpose(
            "Để đối chiếu với sổ địa chính (giấy chứng nhận quyền sử dụng đất)",
            "To match the land register (land use right certificates)",
            True,
        ),
        "address": _purpose(
            "Để gửi thông báo về hồ sơ đến nơi ở của bạn",
            "To send notices about the file to your home",
            False,
        ),
    },
    "business": {
        "name": _purpose(
            "Để điền sẵn tên người đăng ký kinh doanh",
            "To pre-fill the name of the business applicant",
            True,
        ),
        "birthdate": _purpose(
            "Để xác minh người đăng ký đủ điều kiện về độ tuổi",
            "To check the applicant's age eligibility",
            True,
        ),
        "gender": _purpose(
            "Để thống kê giới của chủ hộ kinh doanh",
            "For statistics on business owners' gender",
            False,
        ),
        "email": _purpose(
            "Để gửi giấy phép kinh doanh điện tử cho bạn",
            "To send you the electronic business licence",
            False,
        ),
        "phone_number": _purpose(
            "Để liên hệ khi hồ sơ cần bổ sung",
            "To contact you when the file needs more documents",
            False,
        ),
        "address": _purpose(
            "Để ghi địa chỉ liên lạc trên giấy phép",
            "To print the contact address on the licence",
            False,
        ),
    },
}


@main.command()
@click.option("--base-port", default=5001, show_default=True, type=click.IntRange(1, 65000))
def demo(base_port: int) -> None:
    """Register the two demo portals (idempotent) and write their settings to the data folder."""

    from idp.admin.service import register_portal, update_portal
    from idp.portals.service import by_client_id, rotate_secret, set_backchannel

    settings = _settings()
    path = settings.data_dir / "demo-portals.json"
    existing = json.loads(path.read_text()) if path.exists() else {}
    portals = [
        (
            "demo-land",
            "Cổng Đăng ký đất đai Đà Nẵng",
            "Da Nang Land Registration",
            "land",
            base_port,
            "openid profile address cccd",
            "",
        ),
        # Asks for contacts only when the citizen files an application (incremental consent).
        (
            "demo-business",
            "Cổng Cấp phép kinh doanh Đà Nẵng",
            "Da Nang Business Licensing",
            "business",
            base_port + 1,
            "openid profile address",
            "email phone",
        ),
    ]
    out: dict[str, Any] = {}
    with _session(settings) as session:
        for client_id, name, name_en, key, port, scope, extra_scope in portals:
            base = f"http://127.0.0.1:{port}"
            known = by_client_id(session, client_id)
            if known is None:
                reg = register_portal(
                    session,
                    name=name,
                    name_en=name_en,
                    contact_email=f"{key}@demo.example.gov.vn",
                    redirect_uris=[f"{base}/callback"],
                    post_logout_redirect_uris=[f"{base}/"],
                    scope=f"{scope} {extra_scope}",
                    auth_method="client_secret_basic",
                    client_id=client_id,
                    sector_identifier=f"{key}.demo",
                    purposes=DEMO_PURPOSES[key],
                    backchannel_logout_uri=f"{base}/backchannel-logout",
                    backchannel_private=True,  # the demo portals listen on loopback
                )
                secret = reg.client_secret
            else:
                if not known.name_en:
                    update_portal(session, client_id=client_id, name_en=name_en)
                if not known.backchannel_logout_uri:
                    set_backchannel(
                        session,
                        client_id=client_id,
                        uri=f"{base}/backchannel-logout",
                        private=True,
                    )
                if existing.get(key, {}).get("client_secret"):
                    secret = existing[key]["client_secret"]
                else:
                    secret = rotate_secret(session, client_id=client_id)
            out[key] = {
                "client_id": client_id,
                "client_secret": secret,
                "name": name,
                "port": port,
                "scope": scope,
                "extra_scope": extra_scope,
                "issuer": settings.issuer,
                # The land portal tells verified data from declared data (verified_claims).
                "verified": ["family_name", "given_name", "birthdate", "cccd"]
                if key == "land"
                else [],
            }
        session.commit()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2))
    path.chmod(0o600)
    click.echo(f"demo portals ready: {', '.join(out)} (settings in {path})")


if __name__ == "__main__":  # pragma: no cover
    main()
