"""Access to the running app's settings and store (for views and protocol glue)."""

from __future__ import annotations

from flask import current_app

from idp.config import Settings
from idp.store import Store


def settings() -> Settings:
    """Return the current app's settings."""
    return current_app.extensions["idp.settings"]


def store() -> Store:
    """Return the current app's short-lived state store."""
    return current_app.extensions["idp.store"]
