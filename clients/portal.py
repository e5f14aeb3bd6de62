"""A demo service portal: a small Flask relying party built on Authlib's Flask client.

This is what a portal developer copies: discovery, PKCE S256, state and nonce, ID token
validated against the provider's JWKS, then userinfo. Nothing here is specific to our
provider beyond its issuer URL and the client credentials it issued.

Three habits worth copying:

- **Ask again on every page, do not cache personal data.** The citizen can withdraw their
  consent at any time from the provider; withdrawal kills the portal's tokens at once.
  So "/" calls userinfo with the stored access token on every load, and a 401
  (``invalid_token``, RFC 6750 §3.1) means: forget the citizen and say why.
- **Ask for little, then more when needed (incremental consent).** The configured
  ``scope`` is what sign-in asks for; ``extra_scope`` lists scopes the portal is
  registered for but asks only when the citizen wants a service that needs them
  ("share more data"). The consent page then shows only the new claims.
- **Show claims as people read them**: the ``address`` claim is an object (OIDC Core
  §5.1.1); show its ``formatted`` member.

Run one with ``python -m clients.portal land`` (or ``business``) after ``idp demo``.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.base_client import InvalidTokenError
from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, redirect, render_template, request, session, url_for

# What the portal keeps of a token response: enough to call userinfo, nothing more.
# (A portal that asks offline_access would also keep the refresh token, server-side.)
TOKEN_FIELDS = ("access_token", "token_type", "expires_at", "scope")

# What the citizen reads when sign-in did not complete (the OAuth error code is shown too,
# small, for whoever helps them).
ERROR_TEXT = {
    "access_denied": "Bạn đã không đồng ý chia sẻ dữ liệu nên chưa đăng nhập vào cổng này. "
    "Bạn có thể đăng nhập lại bất cứ lúc nào. · You chose not to share your data, so you "
    "are not signed in to this portal. You can sign in again at any time.",
    "login_required": "Bạn cần đăng nhập. · You need to sign in.",
    "verified_required": "Cổng này chỉ nhận thông tin nhân thân đã được xác minh tại bộ phận "
    "một cửa. · This portal accepts only identity data verified at a one-stop desk.",
    "": "Đăng nhập không thành công. Hãy thử lại. · Sign-in did not complete. Please try again.",
}


def show_claim(value: Any) -> str:
    """Return a claim value as a person reads it (the address object as one line)."""
    if isinstance(value, dict):
        if value.get("formatted"):
            return str(value["formatted"])
        return ", ".join(str(v) for v in value.values() if v)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if value is None:
        return ""
    return str(value)


def verified_claims(userinfo: dict[str, Any]) -> dict[str, Any]:
    """Return the claims userinfo vouches for in ``verified_claims`` (one or several)."""
    found = userinfo.get("verified_claims") or []
    elements = found if isinstance(found, list) else [found]
    out: dict[str, Any] = {}
    for element in elements:
        if isinstance(element, dict):
            out.update(element.get("claims") or {})
    return out


def create_portal_app(
    *,
    key: str,
    name: str,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    scope: str,
    extra_scope: str = "",
    secret_key: str | None = None,
    metadata_url: str | None = None,
    verified: tuple[str, ...] = (),
) -> Flask:
    """Build one portal app for the given client registration.

    ``scope`` is asked at sign-in; ``extra_scope`` (optional) are further scopes the
    portal is registered for and asks later, through "share more data". ``verified``:
    claims the portal also asks as ``verified_claims`` (OpenID Connect for Identity
    Assurance), to tell verified data from data the citizen only declared.
    """
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_urlsafe(32),
        # Several apps share a host in development: give each its own cookie name.
        SESSION_COOKIE_NAME=f"portal_{key}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.add_template_filter(show_claim, "claim")
    default_scopes = scope.split()
    extra_scopes = [s for s in extra_scope.split() if s not in default_scopes]
    allowed_scopes = set(default_scopes) | set(extra_scopes)

    oauth = OAuth(app)
    oauth.register(
        "idp",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=metadata_url or f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": scope, "code_challenge_method": "S256"},
    )

    def fetch_userinfo(token: dict[str, Any]) -> dict[str, Any] | None:
        """Return the citizen's claims from userinfo, or None if the token is dead.

        A dead token (401 ``invalid_token``: consent withdrawn, signed out, cut off by an
        administrator, or simply expired) means the portal must forget the citizen.
        """
        userinfo_url = oauth.idp.load_server_metadata()["userinfo_endpoint"]
        try:
            resp = oauth.idp.get(userinfo_url, token=token)
        except InvalidTokenError:  # expired, and we keep no refresh token
            return None
        if resp.status_code == 401:
            return None
        resp.raise_for_status()
        return resp.json()

    def more_scope() -> str | None:
        """Return the scope for "share more data", or None if nothing more to ask."""
        granted = set(session.get("token", {}).get("scope", "").split())
        if not extra_scopes or set(extra_scopes) <= granted:
            return None
        return " ".join(default_scopes + extra_scopes)

    def page(*, status: int = 200, **context: Any) -> Any:
        context.setdefault("user", None)
        context.setdefault("userinfo", {})
        context.setdefault("error", None)
        context.setdefault("more_scope", None)
        context.setdefault("withdrawn", False)
        context.setdefault("signed_out", False)
        context["error_text"] = ERROR_TEXT.get(context["error"] or "", ERROR_TEXT[""])
        context["verified"] = verified_claims(context["userinfo"]) if verified else None
        return render_template("portal.html", name=name, **context), status

    @app.get("/")
    def home() -> Any:
        error = request.args.get("error")
        returned = request.args.get("state")
        expected = session.pop("logout_state", None)
        signed_out = bool(returned and expected and secrets.compare_digest(returned, expected))
        user = session.get("user")
        if user is None:
            return page(error=error, signed_out=signed_out)
        userinfo = fetch_userinfo(session["token"])
        # OIDC Core §5.3.2: userinfo must be about the same subject as the ID token.
        if userinfo is None or userinfo.get("sub") != user["sub"]:
            session.clear()
            return page(withdrawn=True)
        return page(user=user, userinfo=userinfo, error=error, more_scope=more_scope())

    @app.get("/login")
    def login() -> Any:
        # /login?scope=... asks for other scopes than the default (incremental consent),
        # only among those this portal is configured for.
        asked = request.args.get("scope", scope).split()
        if "openid" not in asked or not set(asked) <= allowed_scopes:
            return page(error="invalid_scope", status=400)
        extra: dict[str, str] = {}
        # /login?acr_values=... asks for a level of assurance (OIDC Core §3.1.2.1), e.g.
        # before a service that needs the citizen's second factor.
        acr_values = request.args.get("acr_values", "")
        if acr_values:
            supported = oauth.idp.load_server_metadata().get("acr_values_supported", [])
            if not set(acr_values.split()) <= set(supported):
                return page(error="unsupported acr_values", status=400)
            extra["acr_values"] = acr_values
        if verified:
            extra["claims"] = json.dumps(
                {
                    "userinfo": {
                        "verified_claims": {
                            "verification": {"trust_framework": None, "time": None},
                            "claims": dict.fromkeys(verified),
                        }
                    }
                }
            )
        return oauth.idp.authorize_redirect(
            url_for("callback", _external=True),
            scope=" ".join(dict.fromkeys(asked)),
            ui_locales=request.args.get("lang", "vi"),
            **extra,
        )

    @app.get("/callback")
    def callback() -> Any:
        if request.args.get("error"):
            error = request.args["error"]
            if error == "access_denied" and "verified" in request.args.get("error_description", ""):
                error = "verified_required"
            return redirect(url_for("home", error=error))
        try:
            token = oauth.idp.authorize_access_token()
        except OAuthError as exc:
            return redirect(url_for("home", error=exc.error))
        session.clear()  # a new sign-in replaces whatever the session held
        session["user"] = dict(token["userinfo"])  # the validated ID token's claims
        session["token"] = {k: token[k] for k in TOKEN_FIELDS if k in token}
        return redirect(url_for("home"))

    @app.post("/logout")
    def logout() -> Any:
        """Sign out of this portal only (the provider's session stays)."""
        session.clear()
        return redirect(url_for("home"))

    @app.post("/logout/everywhere")
    def logout_everywhere() -> Any:
        """Sign out here, then at the provider (OpenID Connect RP-Initiated Logout).

        On a shared computer this is the button that matters: the provider's single
        sign-on session ends, so the next person cannot open any portal as this citizen.
        The portal keeps no ID token (it holds personal claims), so it sends its
        ``client_id``; the provider then asks the citizen to confirm, and sends the
        browser back to the registered ``post_logout_redirect_uri`` with ``state``.
        """
        session.clear()
        state = secrets.token_urlsafe(16)
        session["logout_state"] = state
        meta = oauth.idp.load_server_metadata()
        query = urlencode(
            {
                "client_id": client_id,
                "post_logout_redirect_uri": url_for("home", _external=True),
                "state": state,
                "ui_locales": request.args.get("lang", "vi"),
            }
        )
        return redirect(f"{meta['end_session_endpoint']}?{query}", code=303)

    return app


def from_demo_file(key: str, data_dir: str | None = None) -> Flask:
    """Build a portal from the settings ``idp demo`` wrote into the data folder."""
    folder = Path(data_dir or os.environ.get("IDP_DATA_DIR", "instance"))
    conf = json.loads((folder / "demo-portals.json").read_text(encoding="utf-8"))[key]
    return create_portal_app(
        key=key,
        name=conf["name"],
        issuer=conf["issuer"],
        client_id=conf["client_id"],
        client_secret=conf["client_secret"],
        scope=conf["scope"],
        extra_scope=conf.get("extra_scope", ""),
        verified=tuple(conf.get("verified", ())),
    )


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
