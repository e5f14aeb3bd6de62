"""A provider served over real HTTP (werkzeug, threaded) on a free loopback port."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from idp import create_app
from idp.backchannel import start_worker
from idp.config import Settings
from tests.support.factories import PASSWORD, make_citizen, make_portal, profile_data

REDIRECT_URI = "http://127.0.0.1:9/callback"


class _Dispatch:
    """A WSGI app whose target is set once the port (hence the issuer) is known."""

    target: Any = None

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.target(environ, start_response)


@dataclass
class LiveServer:
    """A running provider and helpers that write committed test data."""

    url: str
    settings: Settings
    backend: Any
    app: Any
    _server: Any
    _thread: threading.Thread
    _stop_worker: threading.Event | None = None

    def session(self) -> Session:
        """Return a plain session on the live server's database (commit yourself)."""
        return Session(self.backend.engine, expire_on_commit=False)

    def register_portal(self, **kw: Any) -> dict[str, Any]:
        """Register a portal; return its client_id, client_secret and redirect_uri."""
        kw.setdefault("redirect_uris", [REDIRECT_URI])
        with self.session() as db:
            portal, secret = make_portal(db, **kw)
            db.commit()
            return {
                "client_id": portal.client_id,
                "client_secret": secret,
                "redirect_uri": kw["redirect_uris"][0],
                "id": portal.id,
                "name": portal.name,
            }

    def make_citizen(self, **kw: Any) -> dict[str, Any]:
        """Register a citizen with a password; return identifier, password and profile."""
        data = profile_data(**kw)
        with self.session() as db:
            citizen = make_citizen(db, self.settings, **data)
            db.commit()
            return {
                "id": citizen.id,
                "identifier": data["cccd"],
                "password": PASSWORD,
                "profile": data,
            }

    def stop(self) -> None:
        """Stop serving."""
        if self._stop_worker is not None:
            self._stop_worker.set()
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


def start_live_server(backend: Any, data_dir: Path, **settings_kw: Any) -> LiveServer:
    """Start a provider on a free port with the backend's database and store kind."""
    from idp.config import DEFAULT_LIMITS
    from tests.conftest import base_settings

    # One live server serves the whole session's tests from one address: the limits per
    # address are raised (each limit has its own tests, on their own apps).
    per_address = {name: "5000/15 minutes" for name in DEFAULT_LIMITS if name.endswith("_ip")}
    settings_kw.setdefault("limits", tuple({**DEFAULT_LIMITS, **per_address}.items()))
    dispatch = _Dispatch()
    server = make_server("127.0.0.1", 0, dispatch, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    settings = base_settings(
        data_dir,
        issuer=url,
        database_url=backend.database_url,
        redis_url=backend.redis_url,
        **settings_kw,
    )
    app = create_app(
        settings,
        engine=backend.engine,
        store=backend.new_store(),
        limiter=backend.new_limiter(settings),
    )
    dispatch.target = app
    thread = threading.Thread(target=server.serve_forever, name="live-idp", daemon=True)
    thread.start()
    # As in `idp serve`: the process delivers back-channel logout tokens itself.
    stop_worker = start_worker(app, interval=0.1)
    return LiveServer(url, settings, backend, app, server, thread, stop_worker)
