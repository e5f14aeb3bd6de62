"""A portal's back-channel logout endpoint for tests: a real HTTP server on loopback that
records every POST and answers as told (fail a few times, never answer, redirect)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Receiver:
    """Answers ``statuses`` in turn (then 200); ``hang`` seconds before each answer."""

    statuses: list[int] = field(default_factory=list)
    hang: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/backchannel-logout"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _app(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        self.received.append(
            {
                "method": request.method,
                "path": request.path,
                "content_type": request.mimetype,
                "form": request.form.to_dict(flat=False),
                "at": time.monotonic(),
            }
        )
        if self.hang:
            time.sleep(self.hang)
        status = self.statuses.pop(0) if self.statuses else 200
        elsewhere = self.url.rsplit("/", 1)[0] + "/elsewhere"
        headers = {"Location": elsewhere} if 300 <= status < 400 else {}
        return Response("", status=status, headers=headers)(environ, start_response)

    def tokens(self) -> list[str]:
        """Return the logout tokens received, in order."""
        return [r["form"]["logout_token"][0] for r in self.received if "logout_token" in r["form"]]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
