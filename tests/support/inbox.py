"""Reading what the provider sent to citizens: the file outbox of a test's data folder."""

from __future__ import annotations

import re
from pathlib import Path

from idp.config import Settings
from idp.outbox import Message, read_outbox

LINK = re.compile(r"https?://\S+")
CODE = re.compile(r"\b(\d{6})\b")


class Inbox:
    """The messages a provider with these settings wrote to its file outbox."""

    def __init__(self, settings: Settings) -> None:
        assert settings.outbox_dir is not None
        self.folder = Path(settings.outbox_dir)

    def all(self) -> list[Message]:
        """Return every message sent so far, oldest first."""
        return read_outbox(self.folder)

    def to(self, address: str, kind: str | None = None) -> list[Message]:
        """Return the messages sent to ``address`` (of ``kind``), oldest first."""
        return [m for m in self.all() if m.to == address and kind in (None, m.kind)]

    def last(self, address: str, kind: str | None = None) -> Message:
        """Return the newest message to ``address`` (of ``kind``); fail if there is none."""
        found = self.to(address, kind)
        assert found, f"no {kind or ''} message to {address}; sent: {[m.kind for m in self.all()]}"
        return found[-1]

    def link(self, address: str, kind: str | None = None) -> str:
        """Return the first link in the newest message to ``address``."""
        match = LINK.search(self.last(address, kind).body)
        assert match, "no link in the message"
        return match.group(0)

    def code(self, address: str, kind: str | None = None) -> str:
        """Return the first six-digit code in the newest message to ``address``."""
        match = CODE.search(self.last(address, kind).body)
        assert match, "no code in the message"
        return match.group(1)


def sms_code(settings: Settings, phone: str, kind: str, timeout: float = 5.0) -> str:
    """Return the newest code of ``kind`` sent to ``phone`` by a live provider.

    Messages leave just after the response, so the outbox is read again for a moment.
    """
    import time

    from idp.citizens.validation import normalize_phone

    inbox, to = Inbox(settings), normalize_phone(phone)
    deadline = time.monotonic() + timeout
    while not inbox.to(to, kind):
        assert time.monotonic() < deadline, f"no {kind} message to {to}"
        time.sleep(0.05)
    return inbox.code(to, kind)
