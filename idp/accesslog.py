"""The access log without secrets: no query strings, and one-time link tokens cut out.

Links sent to citizens carry a single-use token in their path (``/reset/<token>``,
``/set-password/<token>``, ``/verify-email/<token>``, ``/not-me/<token>``); the access
log shows such a path as ``/reset/…``, so that whoever reads the logs cannot use a link
that is still live.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

#: Paths whose last segment is a secret.
SECRET_PATHS = re.compile(r"^/(reset|set-password|verify-email|not-me)/[^/]+")


def redact(path: str) -> str:
    """Return ``path`` with a one-time link's token replaced by an ellipsis."""
    return SECRET_PATHS.sub(lambda m: f"/{m.group(1)}/…", path)


class RedactingLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, with the request path redacted in access log lines."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = redact(atoms.get("U", ""))
        atoms["r"] = "-"  # the request line holds the raw path and query
        return atoms
