"""A demo service portal: a small Flask relying party built on Authlib's Flask client.

This is what a portal developer copies: discovery, PKCE S256, state and nonce, ID token
validated against the provider's JWKS, then userinfo. Nothing here is specific to our
provider beyond its issuer URL and the client credentials it issued.

Run one with ``python -m clients.portal land`` (or ``business``) after ``idp demo``.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, redirect, render_template, request, session, url_for


def create_portal_app(*, key: str, name: str, issuer: str, client_id: str,
                      client_secret: str | None, scope: str, secret_key: str | None = None,
                      metadata_url: str | None = None) -> Flask:
    """Build one portal app for the given client registration."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_urlsafe(32),
        # Several apps share a host in development: give each its own cookie name.
        SESSION_COOKIE_NAME=f"portal_{key}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    oauth = OAuth(app)
    oauth.register(
        "idp",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=metadata_url or f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": scope, "code_challenge_method": "S256"},
    )

    @app.get("/")
    def home() -> Any:
        return render_template("portal.html", name=name, user=session.get("user"),
                               userinfo=session.get("userinfo"), error=request.args.get("error"))

    @app.get("/login")
    def login() -> Any:
        return oauth.idp.authorize_redirect(url_for("callback", _external=True),
                                            ui_locales=request.args.get("lang", "vi"))

    @app.get("/callback")
    def callback() -> Any:
        if request.args.get("error"):
            return redirect(url_for("home", error=request.args["error"]))
        try:
            token = oauth.idp.authorize_access_token()
        except OAuthError as exc:
            return redirect(url_for("home", error=exc.error))
        session["user"] = dict(token["userinfo"])  # the validated ID token's claims
        session["userinfo"] = dict(oauth.idp.userinfo(token=token))
        return redirect(url_for("home"))

    @app.post("/logout")
    def logout() -> Any:
        session.clear()
        return redirect(url_for("home"))

    return app


def from_demo_file(key: str, data_dir: str | None = None) -> Flask:
    """Build a portal from the settings ``idp demo`` wrote into the data folder."""
    folder = Path(data_dir or os.environ.get("IDP_DATA_DIR", "instance"))
    conf = json.loads((folder / "demo-portals.json").read_text(encoding="utf-8"))[key]
    return create_portal_app(key=key, name=conf["name"], issuer=conf["issuer"],
                             client_id=conf["client_id"], client_secret=conf["client_secret"],
                             scope=conf["scope"])


def main(argv: list[str] | None = None) -> None:
    """Serve one demo portal on its port (development server)."""
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1 or args[0] not in ("land", "business"):
        print("usage: python -m clients.portal land|business", file=sys.stderr)
        sys.exit(2)
    folder = Path(os.environ.get("IDP_DATA_DIR", "instance"))
    conf = json.loads((folder / "demo-portals.json").read_text(encoding="utf-8"))[args[0]]
    app = from_demo_file(args[0])
    app.run(host="127.0.0.1", port=int(conf["port"]), threaded=True)


if __name__ == "__main__":  # pragma: no cover
    main()
