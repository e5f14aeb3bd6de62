"""The citizen's authenticator app, and a clock the provider's TOTP checks read.

Tests never wait for time to pass: ``Clock`` replaces the time source of
``idp.citizens.factors`` (same process, so the live server's threads see it too) and
moves on by whole TOTP steps.
"""

from __future__ import annotations

import pyotp

from idp.citizens import factors

START = 1_900_000_020.0  # the middle of a 30-second step


class Clock:
    """A settable time source standing in for ``time`` in ``idp.citizens.factors``."""

    def __init__(self, now: float = START):
        self.now = now

    def time(self) -> float:
        return self.now

    def advance(self, steps: int = 1) -> None:
        """Move on by whole TOTP steps."""
        self.now += steps * factors.STEP


class Authenticator:
    """An authenticator app holding a key typed from the enrolment page."""

    def __init__(self, key: str, clock: Clock):
        self.totp = pyotp.TOTP(key.replace(" ", ""))
        self.clock = clock

    def code(self, steps: int = 0) -> str:
        """Return the code the app shows, ``steps`` steps from the clock's now."""
        return self.totp.at(self.clock.now + steps * factors.STEP)


def enrol(db, store, settings, citizen_id: str, clock: Clock) -> tuple[Authenticator, list[str]]:
    """Enrol a second factor through the service (committed); return app and codes."""
    started = factors.begin_enrolment(
        db,
        citizen_id=citizen_id,
        account_name="test",
        issuer=settings.totp_issuer,
        secret_key=settings.secret_key,
    )
    app = Authenticator(started.grouped_key, clock)
    codes = factors.confirm_enrolment(
        db, store, citizen_id=citizen_id, code=app.code(), secret_key=settings.secret_key
    )
    assert codes is not None
    db.commit()
    clock.advance()  # the enrolment's code is used: the next sign-in types the next one
    return app, codes
