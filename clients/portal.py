"""A demo service portal: a small Flask relying party built on Authlib's Flask client.

This is what a portal developer copies: discovery, PKCE S256, state and nonce, ID token
validated against the provider's JWKS, userinfo, and both kinds of logout. Nothing here
is specific to our provider beyond its issuer URL and the client credentials it issued.

Habits worth copying:

- **Keep personal data off the browser.** The browser's cookie holds only a random
  session id; the citizen's claims and tokens stay in a server-side session (here a dict
  in memory; a real portal uses its database or cache).
- **Fetch claims when they are needed.** Userinfo is called at sign-in and when the
  citizen opens their profile, not on every page: each call is a release the citizen
  sees in their data history. A 401 there (``invalid_token``, RFC 6750 §3.1) means the
  citizen withdrew consent or was signed out: forget them and say why.
- **Listen on the back channel.** The provider POSTs a logout token
  (OpenID Connect Back-Channel Logout 1.0) when the citizen signs out anywhere or
  withdraws their consent: verify it (signature against the JWKS, ``iss``, ``aud``,
  ``iat``, the logout event, no ``nonce``) and drop the session it names.
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
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.base_client import InvalidTokenError
from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, jsonify, redirect, render_template, request, session, url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

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


LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Sessions:
    """The portal's server-side sessions: {random id: data}, thread-safe.

    A session ended through the back channel leaves a marker, so that the citizen's
    next page can say why they were signed out.
    """

    def __init__(self) -> None:
        self._data: dict[str, dict[str, Any]] = {}
        self._seen_jti: dict[str, float] = {}
        self._lock = threading.Lock()

    def new(self, data: dict[str, Any]) -> str:
        key = secrets.token_urlsafe(24)
        with self._lock:
            self._data[key] = data
        return key

    def get(self, key: str | None) -> dict[str, Any] | None:
        with self._lock:
            return self._data.get(key) if key else None

    def drop(self, key: str | None) -> None:
        with self._lock:
            self._data.pop(key or "", None)

    def end_where(self, *, sid: str | None, sub: str | None) -> int:
        """End the sessions the logout token names (by ``sid``, else every one of ``sub``)."""
        ended = 0
        with self._lock:
            for data in self._data.values():
                user = data.get("user") or {}
                if data.get("ended"):
                    continue
                if (sid and user.get("sid") == sid) or (not sid and user.get("sub") == sub):
                    data.clear()
                    data["ended"] = "provider"
                    ended += 1
        return ended

    def first_use_of(self, jti: str, until: float) -> bool:
        """Remember a logout token's ``jti`` until it expires; False if seen before."""
        now = time.time()
        with self._lock:
            self._seen_jti = {k: v for k, v in self._seen_jti.items() if v > now}
            if jti in self._seen_jti:
                return False
            self._seen_jti[jti] = until
            return True


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
    sessions = Sessions()
    app.extensions["portal_sessions"] = sessions

    def current() -> dict[str, Any] | None:
        """Return this browser's server-side session, or None."""
        return sessions.get(session.get("sid"))

    def store_claims(data: dict[str, Any]) -> bool:
        """Fetch userinfo into the session; False (session dropped) when the token is dead."""
        userinfo = fetch_userinfo(data["token"])
        # OIDC Core §5.3.2: userinfo must be about the same subject as the ID token.
        if userinfo is None or userinfo.get("sub") != data["user"]["sub"]:
            return False
        data["claims"] = userinfo
        return True

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
        data = current() or {}
        granted = set(data.get("token", {}).get("scope", "").split())
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
        data = current()
        if data is not None and data.get("ended"):
            # Ended through the back channel (signed out elsewhere, consent withdrawn):
            # said once, then forgotten.
            sessions.drop(session.pop("sid", None))
            return page(withdrawn=True)
        if data is None:
            return page(error=error, signed_out=signed_out)
        return _signed_in_page(data, error)

    def _signed_in_page(data: dict[str, Any], error: str | None = None) -> Any:
        return page(
            user=data["user"],
            userinfo=data.get("claims", {}),
            error=error,
            more_scope=more_scope(),
        )

    @app.get("/profile")
    def profile() -> Any:
        """Fetch the citizen's claims again (a release they see in their history)."""
        data = current()
        if data is None or data.get("ended"):
            return redirect(url_for("home"))
        if not store_claims(data):
            sessions.drop(session.pop("sid", None))
            return page(withdrawn=True)
        return _signed_in_page(data)

    @app.post("/backchannel-logout")
    def backchannel_logout() -> Any:
        """OpenID Connect Back-Channel Logout 1.0 §2.5, §2.6: verify, then drop the session."""
        token = request.form.get("logout_token", "")
        claims = verify_logout_token(token)
        if claims is None:
            return jsonify(error="invalid_request"), 400
        sessions.end_where(sid=claims.get("sid"), sub=claims.get("sub"))
        response = app.response_class(status=200)
        response.headers["Cache-Control"] = "no-store"
        return response

    def verify_logout_token(token: str) -> dict[str, Any] | None:
        if not token or len(token) > 8192:
            return None
        meta = oauth.idp.load_server_metadata()
        try:
            jwks = KeySet.import_key_set(oauth.idp.fetch_jwk_set())
            decoded = jwt.decode(token, jwks, algorithms=["RS256", "ES256"])
        except (JoseError, ValueError, TypeError):
            return None
        claims = dict(decoded.claims)
        aud = claims.get("aud")
        now = time.time()
        checks = (
            decoded.header.get("typ") in (None, "logout+jwt"),
            claims.get("iss") == meta["issuer"],
            client_id in (aud if isinstance(aud, list) else [aud]),
            isinstance(claims.get("iat"), int) and claims["iat"] <= now + 60,
            isinstance(claims.get("exp"), int) and claims["exp"] > now - 60,
            isinstance(claims.get("events"), dict)
            and isinstance(claims["events"].get(LOGOUT_EVENT), dict),
            "nonce" not in claims,
            isinstance(claims.get("sid"), str) or isinstance(claims.get("sub"), str),
            isinstance(claims.get("jti"), str),
        )
        if not all(checks):
            return None
        if not sessions.first_use_of(claims["jti"], float(claims["exp"]) + 60):
            return None  # a replayed token
        return claims

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
        # A new sign-in replaces whatever the session held; the cookie holds only an id.
        sessions.drop(session.get("sid"))
        session.clear()
        data = {
            "user": dict(token["userinfo"]),  # the validated ID token's claims
            "token": {k: token[k] for k in TOKEN_FIELDS if k in token},
        }
        if not store_claims(data):
            return redirect(url_for("home", error="login_required"))
        session["sid"] = sessions.new(data)
        return redirect(url_for("home"))

    @app.post("/logout")
    def logout() -> Any:
        """Sign out of this portal only (the provider's session stays)."""
        sessions.drop(session.pop("sid", None))
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
        sessions.drop(session.pop("sid", None))
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
