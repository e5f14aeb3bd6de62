"""Access to the running app's settings and store (for views and protocol glue)."""

from __future__ import annotations

from flask import current_app

from idp.config import Settings
from idp.outbox import FileOutbox, Outbox, Sender, SmsGateway, SmtpSender, SmtpSettings
from idp.ratelimit import Limiter
from idp.store import Store


def settings() -> Settings:
    """Return the current app's settings."""
    return current_app.extensions["idp.settings"]


def store() -> Store:
    """Return the current app's short-lived state store."""
    return current_app.extensions["idp.store"]


def outbox() -> Outbox:
    """Return the current app's outbox (email and SMS to citizens)."""
    return current_app.extensions["idp.outbox"]


def make_outbox(s: Settings) -> Outbox:
    """Return the outbox the settings describe: SMTP and an SMS gateway, or files."""
    files = FileOutbox(s.outbox_dir or s.data_dir / "outbox", s.mail_from)
    email: Sender = files
    sms: Sender = files
    if s.smtp_host:
        email = SmtpSender(
            SmtpSettings(
                s.smtp_host, s.smtp_port, s.smtp_username, s.smtp_password, s.smtp_starttls
            ),
            s.mail_from,
        )
    if s.sms_url:
        sms = SmsGateway(s.sms_url)
    return Outbox(email, sms)


def limiter() -> Limiter:
    """Return the current app's limits on guessing (shared by every worker with Redis)."""
    return current_app.extensions["idp.limiter"]
