"""The bare Flask baseline: one small JSON endpoint, served exactly like ``idp serve``.

Same gunicorn settings as ``idp.cli.serve`` (gthread workers, threads, an access log to
stdout in the same format), so that the difference to the provider is the provider's own
work per request, not the serving stack.

    .venv/bin/python bench/baseline_app.py --port 8001 --workers 1 --threads 8
"""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask, jsonify


def create_app() -> Flask:
    """Return the baseline app: GET /ping answers a small JSON object."""
    app = Flask(__name__)

    @app.get("/ping")
    def ping() -> Any:
        return jsonify({"status": "ok", "service": "bench-baseline"})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):  # type: ignore[misc]
        # Mirrors idp/cli.py serve(): keep the two in step when that one changes.
        def load_config(self) -> None:
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("threads", args.threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", "-")
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms')

        def load(self) -> Any:
            return create_app()

    _App().run()


if __name__ == "__main__":
    main()
