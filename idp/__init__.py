"""The citizen single sign-on and consent service: an OpenID Connect provider."""

from __future__ import annotations

from typing import Any

from flask import Flask

from idp.config import Settings, SettingsError


def _check_desks(settings: Settings) -> None:
    """Refuse to start with a desks list that cannot be shown (IDP_DESKS_FILE)."""
    from idp.citizens.identity import desks

    try:
        desks(settings.desks_file)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SettingsError(f"IDP_DESKS_FILE: {exc}") from None


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the WSGI app.

    ``overrides`` lets tests hand in a ready ``engine``, ``session_factory`` or ``store``.
    """
    from flask_babel import Babel
    from flask_wtf.csrf import CSRFProtect
    from werkzeug.middleware.proxy_fix import ProxyFix

    from idp import audit, db, errors, keys, web
    from idp.admin.api import bp as admin_api_bp
    from idp.admin.api import staff_bp as admin_api_token_bp
    from idp.admin.views import bp as console_bp
    from idp.citizens.browsers import bp as browsers_bp
    from idp.citizens.contacts import bp as contacts_bp
    from idp.citizens.recovery import bp as recovery_bp
    from idp.citizens.views import bp as citizens_bp
    from idp.consent.views import bp as consent_bp
    from idp.oauth import cors
    from idp.oauth.logout import bp as logout_bp
    from idp.oauth.server import build_server
    from idp.oauth.views import bp as oauth_bp
    from idp.pages import bp as pages_bp
    from idp.ratelimit import Limiter
    from idp.runtime import make_outbox
    from idp.staff.views import bp as staff_bp
    from idp.store import make_store

    if settings is None:
        settings = Settings.from_env()
        settings.warn_embedded_defaults()
    _check_desks(settings)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME=web.BROWSER_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PREFERRED_URL_SCHEME="https" if settings.secure_cookies else "http",
        MAX_CONTENT_LENGTH=64 * 1024,
        MAX_FORM_MEMORY_SIZE=64 * 1024,
        MAX_FORM_PARTS=200,
        WTF_CSRF_TIME_LIMIT=settings.interaction_ttl * 2,
        BABEL_DEFAULT_LOCALE=settings.default_language,
        BABEL_TRANSLATION_DIRECTORIES="translations",
    )
    if settings.trust_proxy:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=settings.trust_proxy,  # type: ignore[method-assign]
            x_proto=settings.trust_proxy,
            x_host=settings.trust_proxy,
        )
    app.extensions["idp.settings"] = settings
    app.extensions["idp.store"] = overrides.get("store") or make_store(
        settings.redis_url, settings.redis_prefix
    )
    app.extensions["idp.limiter"] = overrides.get("limiter") or Limiter(
        settings.redis_url, settings.redis_prefix, dict(settings.limits)
    )
    app.extensions["idp.outbox"] = overrides.get("outbox") or make_outbox(settings)
    engine = overrides.get("engine") or db.make_engine(settings.database_url)
    db.init_app(app, engine, overrides.get("session_factory"))
    audit.init_app(app)
    Babel(app, locale_selector=web.get_locale)
    csrf = CSRFProtect(app)
    web.init_app(app)
    cors.init_app(app)
    errors.register_error_handlers(app)
    app.register_blueprint(oauth_bp)
    app.register_blueprint(citizens_bp)
    app.register_blueprint(consent_bp)
    app.register_blueprint(logout_bp)
    app.register_blueprint(recovery_bp)
    app.register_blueprint(contacts_bp)
    app.register_blueprint(browsers_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(admin_api_bp)
    app.register_blueprint(admin_api_token_bp)
    app.register_blueprint(console_bp)
    # Protocol endpoints are called by portals, not by our forms (RFC 6749 client auth).
    for view in ("authorize", "token", "userinfo", "revoke", "introspect"):
        csrf.exempt(f"idp.oauth.views.{view}")
    # The admin API authenticates by bearer tokens only (never a cookie): no CSRF.
    csrf.exempt(admin_api_bp)
    # A portal's form POST carries no token of ours; it ends nothing without proof.
    csrf.exempt("idp.oauth.logout.end_session")
    build_server(app)
    keys.configure(settings.key_encryption_key)
    if not overrides.get("skip_keys"):
        with app.app_context():
            keys.ensure_keys(db.get_db())
    return app
