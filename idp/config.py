"""Settings from ``IDP_*`` environment variables, with embedded development defaults.

Every key is documented once, here and in the README. ``Settings.from_env()`` validates
everything at start-up: a bad value stops the process with a clear message.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

SUPPORTED_LANGUAGES = ("vi", "en")

#: Limits on guessing (``limits`` strings), each overridden by ``IDP_LIMIT_<NAME>``.
DEFAULT_LIMITS: dict[str, str] = {
    # wrong passwords for one account, and sign-in attempts from one client address
    "signin_account": "10/15 minutes",
    "signin_ip": "100/15 minutes",
    # wrong one-time codes (TOTP, recovery, SMS) for one account
    "code_account": "5/15 minutes",
    # registrations from one client address
    "register_ip": "20/hour",
    # recovery requests: from one client address, and for one account
    "recovery_ip": "20/hour",
    "recovery_account": "5/hour",
    # one-time link pages (set password, recovery, verification) from one client address
    "link_ip": "60/hour",
    # contact verification codes for one account
    "verify_account": "5/15 minutes",
}


class SettingsError(ValueError):
    """A setting has a value the service cannot start with."""


@dataclass(frozen=True)
class Settings:
    """Typed, frozen configuration of one provider instance."""

    #: IDP_ISSUER — the issuer URL, exactly as published in discovery.
    issuer: str = "http://127.0.0.1:5000"
    #: IDP_DATA_DIR — where embedded defaults live (SQLite file, secret file).
    data_dir: Path = Path("instance")
    #: IDP_DATABASE_URL — SQLAlchemy URL; default a SQLite file in the data folder.
    database_url: str = ""
    #: IDP_REDIS_URL — unset means the in-process store (one process only).
    redis_url: str = ""
    #: IDP_REDIS_PREFIX — key prefix in Redis, so several deployments can share one.
    redis_prefix: str = "idp:"
    #: IDP_SECRET_KEY — signs the CSRF/session cookie and derives the pairwise salt.
    secret_key: str = ""
    #: IDP_PAIRWISE_SALT — salt of pairwise subjects; never change it once citizens exist.
    pairwise_salt: str = ""
    #: IDP_KEY_ENCRYPTION_KEY — encrypts the signing keys' private parts in the database
    #: (AES-GCM); every worker needs the same value, and losing it loses the keys.
    key_encryption_key: str = ""
    #: IDP_ARGON2_TIME_COST, IDP_ARGON2_MEMORY_KIB, IDP_ARGON2_PARALLELISM.
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    #: IDP_LANGUAGES — comma list; the first is the default.
    languages: tuple[str, ...] = SUPPORTED_LANGUAGES
    #: IDP_ACCESS_TOKEN_TTL, IDP_REFRESH_TOKEN_TTL, IDP_CODE_TTL, IDP_SESSION_TTL (seconds).
    access_token_ttl: int = 600
    refresh_token_ttl: int = 30 * 24 * 3600
    code_ttl: int = 60
    session_ttl: int = 8 * 3600
    #: IDP_SESSION_IDLE_TTL — a sign-in session unused this long (seconds) ends; 0: never.
    session_idle_ttl: int = 2 * 3600
    #: IDP_INTERACTION_TTL — how long a portal's sign-in step (sign-in, registration,
    #: consent) waits for the citizen (seconds); a registration finished later still
    #: creates the account and starts the portal's request again.
    interaction_ttl: int = 1800
    id_token_ttl: int = 600
    #: IDP_SET_PASSWORD_TTL — lifetime of one-time "set your password" links.
    set_password_ttl: int = 72 * 3600
    #: IDP_RESET_TTL — lifetime of "forgot password" links and codes, seconds.
    reset_ttl: int = 1800
    #: IDP_TOTP_ISSUER — the name authenticator apps show for the TOTP key (default: the
    #: issuer's host name).
    totp_issuer: str = ""
    #: IDP_STAFF_SESSION_TTL, IDP_STAFF_IDLE_TTL — a staff sign-in lasts at most this long,
    #: and ends after this long unused (seconds).
    staff_session_ttl: int = 8 * 3600
    staff_idle_ttl: int = 30 * 60
    #: IDP_DESKS_FILE — JSON list of the one-stop desks shown to citizens whose data a
    #: portal needs verified (``[{"name": {"vi", "en"}, "address", "hours"}]``); default:
    #: the list shipped with the service.
    desks_file: Path | None = None
    #: IDP_KEY_OVERLAP — after ``idp keys rotate``, seconds the next signing key is
    #: published in the JWKS before it signs (portals refresh their cached JWKS).
    key_overlap: int = 3600
    #: IDP_TRUST_PROXY — number of proxies whose X-Forwarded-* headers are trusted.
    trust_proxy: int = 0
    #: IDP_OUTBOX_DIR — file outbox for email and SMS that no server takes (default: the
    #: ``outbox`` folder of the data folder): one .eml / .json file per message.
    outbox_dir: Path | None = None
    #: IDP_MAIL_FROM — the From address of email to citizens.
    mail_from: str = ""
    #: IDP_SMTP_HOST, IDP_SMTP_PORT, IDP_SMTP_USERNAME, IDP_SMTP_PASSWORD, IDP_SMTP_STARTTLS —
    #: unset host: email goes to the file outbox.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    #: IDP_SMS_URL — HTTP gateway taking ``{"to", "text"}`` as JSON; unset: the file outbox.
    sms_url: str = ""
    #: IDP_LIMIT_<NAME> — limits on guessing, see DEFAULT_LIMITS (e.g. ``10/15 minutes``).
    limits: tuple[tuple[str, str], ...] = tuple(DEFAULT_LIMITS.items())
    #: IDP_SIGNIN_DELAY_AFTER, IDP_SIGNIN_DELAY_MAX — after this many failed sign-ins of one
    #: account, each further failure makes it wait (1 s, 2 s, 4 s, … up to the maximum)
    #: before the next password is checked; at IDP_LIMIT_SIGNIN_ACCOUNT it is locked.
    signin_delay_after: int = 3
    signin_delay_max: int = 60
    #: Development defaults that were used (each logged once as a warning).
    embedded_defaults: tuple[str, ...] = field(default=(), compare=False)

    @property
    def secure_cookies(self) -> bool:
        """Send cookies with ``Secure`` when the issuer is served over https."""
        return self.issuer.startswith("https://")

    @property
    def default_language(self) -> str:
        """Return the language pages use when the citizen chose none."""
        return self.languages[0]

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build settings from ``IDP_*`` variables; raise SettingsError on a bad value."""
        env = dict(os.environ if environ is None else environ)
        kw: dict[str, object] = {}
        if "IDP_ISSUER" in env:
            kw["issuer"] = env["IDP_ISSUER"]
        if "IDP_DATA_DIR" in env:
            kw["data_dir"] = Path(env["IDP_DATA_DIR"])
        if env.get("IDP_DESKS_FILE"):
            kw["desks_file"] = Path(env["IDP_DESKS_FILE"])
        if env.get("IDP_OUTBOX_DIR"):
            kw["outbox_dir"] = Path(env["IDP_OUTBOX_DIR"])
        if "IDP_SMTP_STARTTLS" in env:
            flag = env["IDP_SMTP_STARTTLS"].strip().lower()
            if flag not in ("0", "1", "true", "false", "yes", "no"):
                raise SettingsError("IDP_SMTP_STARTTLS must be 1/0, true/false or yes/no")
            kw["smtp_starttls"] = flag in ("1", "true", "yes")
        for key, name in (
            ("IDP_DATABASE_URL", "database_url"),
            ("IDP_REDIS_URL", "redis_url"),
            ("IDP_REDIS_PREFIX", "redis_prefix"),
            ("IDP_SECRET_KEY", "secret_key"),
            ("IDP_PAIRWISE_SALT", "pairwise_salt"),
            ("IDP_KEY_ENCRYPTION_KEY", "key_encryption_key"),
            ("IDP_TOTP_ISSUER", "totp_issuer"),
            ("IDP_MAIL_FROM", "mail_from"),
            ("IDP_SMTP_HOST", "smtp_host"),
            ("IDP_SMTP_USERNAME", "smtp_username"),
            ("IDP_SMTP_PASSWORD", "smtp_password"),
            ("IDP_SMS_URL", "sms_url"),
        ):
            if env.get(key):
                kw[name] = env[key]
        for key, name in (
            ("IDP_ARGON2_TIME_COST", "argon2_time_cost"),
            ("IDP_ARGON2_MEMORY_KIB", "argon2_memory_kib"),
            ("IDP_ARGON2_PARALLELISM", "argon2_parallelism"),
            ("IDP_ACCESS_TOKEN_TTL", "access_token_ttl"),
            ("IDP_REFRESH_TOKEN_TTL", "refresh_token_ttl"),
            ("IDP_CODE_TTL", "code_ttl"),
            ("IDP_SESSION_TTL", "session_ttl"),
            ("IDP_SESSION_IDLE_TTL", "session_idle_ttl"),
            ("IDP_INTERACTION_TTL", "interaction_ttl"),
            ("IDP_SET_PASSWORD_TTL", "set_password_ttl"),
            ("IDP_RESET_TTL", "reset_ttl"),
            ("IDP_STAFF_SESSION_TTL", "staff_session_ttl"),
            ("IDP_STAFF_IDLE_TTL", "staff_idle_ttl"),
            ("IDP_KEY_OVERLAP", "key_overlap"),
            ("IDP_TRUST_PROXY", "trust_proxy"),
            ("IDP_SMTP_PORT", "smtp_port"),
            ("IDP_SIGNIN_DELAY_AFTER", "signin_delay_after"),
            ("IDP_SIGNIN_DELAY_MAX", "signin_delay_max"),
        ):
            if key in env:
                try:
                    kw[name] = int(env[key])
                except ValueError:
                    raise SettingsError(f"{key} must be an integer, got {env[key]!r}") from None
        rules = dict(DEFAULT_LIMITS)
        for name in DEFAULT_LIMITS:
            if env.get(f"IDP_LIMIT_{name.upper()}"):
                rules[name] = env[f"IDP_LIMIT_{name.upper()}"]
        kw["limits"] = tuple(rules.items())
        if "IDP_LANGUAGES" in env:
            kw["languages"] = tuple(x.strip() for x in env["IDP_LANGUAGES"].split(",") if x.strip())
        return cls(**kw).resolved()  # type: ignore[arg-type]

    def resolved(self) -> Settings:
        """Validate and fill embedded defaults (SQLite file, generated secrets)."""
        parts = urlsplit(self.issuer)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(f"IDP_ISSUER must be an http(s) URL, got {self.issuer!r}")
        if parts.query or parts.fragment or self.issuer.endswith("/"):
            raise SettingsError("IDP_ISSUER must have no query, fragment or trailing slash")
        if not self.languages or any(lang not in SUPPORTED_LANGUAGES for lang in self.languages):
            raise SettingsError(f"IDP_LANGUAGES must list some of {', '.join(SUPPORTED_LANGUAGES)}")
        for name, low in (
            ("argon2_time_cost", 1),
            ("argon2_memory_kib", 8),
            ("argon2_parallelism", 1),
            ("access_token_ttl", 1),
            ("refresh_token_ttl", 1),
            ("code_ttl", 1),
            ("session_ttl", 1),
            ("session_idle_ttl", 0),
            ("set_password_ttl", 1),
            ("reset_ttl", 60),
            ("staff_session_ttl", 60),
            ("staff_idle_ttl", 60),
            ("key_overlap", 0),
            ("trust_proxy", 0),
            ("smtp_port", 1),
            ("signin_delay_after", 1),
            ("signin_delay_max", 0),
        ):
            if getattr(self, name) < low:
                raise SettingsError(f"IDP_{name.upper()} must be at least {low}")
        from limits import parse

        for name, rule in self.limits:
            try:
                parse(rule)
            except ValueError:
                raise SettingsError(
                    f"IDP_LIMIT_{name.upper()} must be a limit such as '10/15 minutes', "
                    f"got {rule!r}"
                ) from None
        used = list(self.embedded_defaults)
        changes: dict[str, object] = {}
        if not self.totp_issuer:
            changes["totp_issuer"] = parts.hostname or "idp"
        elif len(self.totp_issuer) > 64 or ":" in self.totp_issuer:
            # Key URI format: the issuer is the label's prefix, separated by a colon.
            raise SettingsError("IDP_TOTP_ISSUER must be at most 64 characters, without ':'")
        data_dir = Path(self.data_dir).expanduser().resolve()
        changes["data_dir"] = data_dir
        if not self.mail_from:
            changes["mail_from"] = f"no-reply@{parts.hostname or 'localhost'}"
        elif "@" not in self.mail_from or any(c in self.mail_from for c in "\r\n"):
            raise SettingsError("IDP_MAIL_FROM must be an email address")
        if self.outbox_dir is None:
            changes["outbox_dir"] = data_dir / "outbox"
        else:
            changes["outbox_dir"] = Path(self.outbox_dir).expanduser().resolve()
        if not self.smtp_host or not self.sms_url:
            used.append("IDP_SMTP_HOST / IDP_SMS_URL (messages written to the file outbox)")
        if not self.database_url:
            changes["database_url"] = f"sqlite:///{data_dir / 'idp.sqlite3'}"
            used.append("IDP_DATABASE_URL (SQLite file in the data folder)")
        if not self.redis_url:
            used.append("IDP_REDIS_URL (in-process store: one process only)")
        if not self.secret_key:
            changes["secret_key"] = _persisted_secret(data_dir / "secret_key")
            used.append("IDP_SECRET_KEY (generated into the data folder)")
        if not self.pairwise_salt:
            changes["pairwise_salt"] = _persisted_secret(data_dir / "pairwise_salt")
            used.append("IDP_PAIRWISE_SALT (generated into the data folder)")
        if not self.key_encryption_key:
            changes["key_encryption_key"] = _persisted_secret(data_dir / "key_encryption_key")
            used.append("IDP_KEY_ENCRYPTION_KEY (generated into the data folder)")
        return replace(self, embedded_defaults=tuple(dict.fromkeys(used)), **changes)

    def warn_embedded_defaults(self) -> None:
        """Log one warning per development default that production must set."""
        for what in self.embedded_defaults:
            log.warning("embedded default in use; production must set %s", what)


def _persisted_secret(path: Path) -> str:
    """Read a secret from ``path``, generating it (mode 0600) on first use."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value)
    return value
