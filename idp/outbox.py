"""Messages to citizens: email and SMS through a pluggable sender.

Production sends email over SMTP (``IDP_SMTP_*``) and SMS through an HTTP gateway
(``IDP_SMS_URL``, a JSON POST ``{"to": ..., "text": ...}``). Development and tests use a
file outbox (``IDP_OUTBOX_DIR``, default the ``outbox`` folder of the data folder): one
``.eml`` file per email, one ``.json`` file per SMS, which a developer opens and tests read.

Sending never fails a request: a message that cannot be delivered is logged (its kind
and channel, never its recipient or its text) and dropped. The caller's page says the
same thing either way, so a failed delivery reveals nothing to the person at the keyboard.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

EMAIL = "email"
SMS = "sms"


@dataclass(frozen=True)
class Message:
    """One message to one recipient: ``subject`` is unused for SMS."""

    channel: str
    to: str
    subject: str
    body: str
    #: What the message is about (``registration_attempt``, ``password_reset``, ...), for
    #: logs and tests; never shown to the recipient.
    kind: str
    language: str


class Sender(Protocol):
    """Delivers messages."""

    def send(self, message: Message) -> None:
        """Deliver ``message`` or raise OSError."""


class FileOutbox:
    """Writes each message to a file in ``folder`` (development and tests)."""

    def __init__(self, folder: Path, sender_address: str) -> None:
        self.folder = Path(folder)
        self.sender_address = sender_address

    def send(self, message: Message) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Sortable by time of sending; unique across workers.
        stem = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}-{message.kind}"
        if message.channel == EMAIL:
            data = email_message(message, self.sender_address).as_bytes()
            name = stem + ".eml"
        else:
            data = json.dumps(
                {
                    "to": message.to,
                    "text": message.body,
                    "kind": message.kind,
                    "language": message.language,
                },
                ensure_ascii=False,
                indent=2,
            ).encode()
            name = stem + ".json"
        tmp = self.folder / (name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.folder / name)  # readers never see half a message


def email_message(message: Message, sender_address: str) -> EmailMessage:
    """Return the RFC 5322 email for ``message``."""
    mail = EmailMessage()
    mail["From"] = sender_address
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender_address.rpartition("@")[2] or None)
    mail["X-IDP-Kind"] = message.kind
    mail.set_content(message.body)
    mail["Content-Language"] = message.language  # after set_content, which resets Content-*
    return mail


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to hand email to the mail server."""

    host: str
    port: int
    username: str
    password: str
    starttls: bool
    timeout: float = 10.0


class SmtpSender:
    """Sends email through an SMTP server (STARTTLS unless turned off)."""

    def __init__(self, smtp: SmtpSettings, sender_address: str) -> None:
        self.smtp = smtp
        self.sender_address = sender_address

    def send(self, message: Message) -> None:
        mail = email_message(message, self.sender_address)
        with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.smtp.timeout) as conn:
            if self.smtp.starttls:
                conn.starttls(context=ssl.create_default_context())
            if self.smtp.username:
                conn.login(self.smtp.username, self.smtp.password)
            conn.send_message(mail)


class SmsGateway:
    """Posts each SMS as JSON to an HTTP gateway."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, message: Message) -> None:
        import requests

        try:
            resp = requests.post(
                self.url, json={"to": message.to, "text": message.body}, timeout=self.timeout
            )
            resp.raise_for_status()
        except requests.RequestException as exc:
            raise OSError(f"SMS gateway: {type(exc).__name__}") from None


class Outbox:
    """Routes each message to the sender of its channel and never raises."""

    def __init__(self, email: Sender, sms: Sender) -> None:
        self.email = email
        self.sms = sms

    def send(self, message: Message) -> bool:
        """Deliver ``message``; return whether it was handed over."""
        sender = self.email if message.channel == EMAIL else self.sms
        try:
            sender.send(message)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning(
                "message not delivered: kind=%s channel=%s error=%s",
                message.kind,
                message.channel,
                type(exc).__name__,
            )
            return False
        log.info("message sent: kind=%s channel=%s", message.kind, message.channel)
        return True


def read_outbox(folder: Path) -> list[Message]:
    """Return the messages in a file outbox, oldest first (for tests and developers)."""
    import email
    from email import policy

    found: list[Message] = []
    if not Path(folder).is_dir():
        return found
    for path in sorted(Path(folder).iterdir()):
        if path.suffix == ".eml":
            mail = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            body = mail.get_body(preferencelist=("plain",))
            found.append(
                Message(
                    EMAIL,
                    str(mail["To"]),
                    str(mail["Subject"]),
                    body.get_content() if body is not None else "",
                    str(mail["X-IDP-Kind"]),
                    str(mail["Content-Language"]),
                )
            )
        elif path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            found.append(Message(SMS, data["to"], "", data["text"], data["kind"], data["language"]))
    return found
