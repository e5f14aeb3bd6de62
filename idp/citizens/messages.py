"""Messages to a citizen's own contacts, in the citizen's language.

Each kind of message is two templates under ``templates/messages/``: ``KIND.email.txt``
(first line ``Subject: ...``, a blank line, then the body) and ``KIND.sms.txt`` (one short
text). Both are rendered with the citizen's language forced, whatever the language of
the page that caused them, and go through the app's outbox (``idp.outbox``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask import render_template, url_for
from flask_babel import force_locale
from werkzeug.routing import BuildError

from idp import runtime
from idp.citizens.models import Citizen
from idp.outbox import EMAIL, SMS, Message


def language_of(citizen: Citizen) -> str:
    """Return the language messages to this citizen are written in."""
    languages = runtime.settings().languages
    chosen = getattr(citizen, "locale", None)
    return chosen if chosen in languages else languages[0]


def current_language() -> str:
    """Return the page language, for messages to whoever is at the keyboard."""
    from idp.web import get_locale

    language = get_locale()
    languages = runtime.settings().languages
    return language if language in languages else languages[0]


def render(kind: str, channel: str, language: str, **context: Any) -> tuple[str, str]:
    """Return (subject, body) of a message of ``kind`` for ``channel`` in ``language``."""
    with force_locale(language):
        text = render_template(f"messages/{kind}.{channel}.txt", **context)
    if channel == SMS:
        return "", text.strip()
    head, _, body = text.lstrip().partition("\n\n")
    subject = head.removeprefix("Subject:").strip()
    return subject, body.strip() + "\n"


def notify(
    citizen: Citizen,
    kind: str,
    *,
    channels: Iterable[str] = (EMAIL, SMS),
    verified_only: bool = False,
    **context: Any,
) -> list[str]:
    """Send the message ``kind`` to the citizen's contacts; return the channels used.

    ``channels`` in order of preference: all of them are used where the citizen has that
    contact (and, with ``verified_only``, has verified it). Recovery links go to verified
    contacts only; notices ("someone tried ...") to every contact on file.
    """
    language = language_of(citizen)
    used: list[str] = []
    for channel in channels:
        if channel == EMAIL:
            to, verified = citizen.email, citizen.email_verified
        else:
            to, verified = citizen.phone, citizen.phone_verified
        if not to or (verified_only and not verified):
            continue
        subject, body = render(kind, channel, language, citizen=citizen, **context)
        if runtime.outbox().send(Message(channel, to, subject, body, kind, language)):
            used.append(channel)
    return used


def send_to(
    to: str, channel: str, kind: str, *, language: str | None = None, **context: Any
) -> bool:
    """Send the message ``kind`` to an address that is not (yet) a citizen's."""
    language = language or runtime.settings().languages[0]
    subject, body = render(kind, channel, language, **context)
    return runtime.outbox().send(Message(channel, to, subject, body, kind, language))


#: Vietnam keeps one time zone all year (no daylight saving).
VIETNAM_TIME = dt.timezone(dt.timedelta(hours=7), "UTC+7")


def when_text(moment: dt.datetime | None = None) -> str:
    """Return a moment as messages show it: day/month/year hours:minutes, Vietnam time."""
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.astimezone(VIETNAM_TIME).strftime("%d/%m/%Y %H:%M (UTC+7)")


def recover_url() -> str:
    """Return the absolute address where a citizen starts recovering the account."""
    try:
        return url_for("recovery.start", _external=True)
    except BuildError:  # recovery not installed in this app
        return runtime.settings().issuer.rstrip("/") + "/recover"
