"""Named events: every outcome is announced once; subscribers log, audit, count.

Payloads carry ids and claim names, never personal values or secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("idp.events")

_subscribers: list[Callable[[str, dict[str, Any]], None]] = []


def subscribe(func: Callable[[str, dict[str, Any]], None]) -> Callable[[str, dict[str, Any]], None]:
    """Register a subscriber called with (event name, payload)."""
    _subscribers.append(func)
    return func


def unsubscribe(func: Callable[[str, dict[str, Any]], None]) -> None:
    """Remove a subscriber."""
    if func in _subscribers:
        _subscribers.remove(func)


def emit(name: str, **payload: Any) -> None:
    """Announce that ``name`` happened."""
    log.info("%s %s", name, " ".join(f"{k}={v}" for k, v in sorted(payload.items())))
    for func in list(_subscribers):
        func(name, payload)
