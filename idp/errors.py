"""One small error hierarchy, mapped to responses in one place.

Protocol failures raise Authlib's ``OAuth2Error`` subclasses. Ours carry a public,
translated message for people and a private detail for logs.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class IdpError(Exception):
    """A failure shown to a person as a page in their language."""

    status = 400
    public: Any = _l("The request could not be completed.")

    def __init__(self, public: Any = None, *, detail: str = "", status: int | None = None):
        super().__init__(detail or str(public or self.public))
        if public is not None:
            self.public = public
        if status is not None:
            self.status = status
        self.detail = detail


class NotFound(IdpError):
    """The thing asked for does not exist (or is not the caller's to see)."""

    status = 404
    public = _l("This page does not exist or has expired.")


class InteractionExpired(IdpError):
    """A sign-in or consent step whose state is gone, finished or not this browser's."""

    status = 400
    public = _l(
        "This sign-in step has expired or was already completed. "
        "Please go back to the service portal and start again."
    )


_HTTP_MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You are not allowed to do this."),
    404: _l("This page does not exist or has expired."),
    405: _l("This action is not allowed here."),
    413: _l("The request is too large."),
    429: _l("Too many attempts. Please wait a moment and try again."),
}


def wants_json() -> bool:
    """Return whether the caller is a machine (API path or JSON accepted)."""
    path = request.path
    if path.startswith(
        (
            "/token",
            "/userinfo",
            "/revoke",
            "/introspect",
            "/jwks",
            "/.well-known",
            "/api/",
            "/admin/api/",
        )
    ):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_page(message: Any, status: int, detail: str | None = None) -> tuple[str, int]:
    """Render the generic error page in the citizen's language."""
    return render_template("error.html", message=message, status=status, detail=detail), status


def http_message(status: int) -> Any:
    """Return the page text for an HTTP error status."""
    return _HTTP_MESSAGES.get(status, IdpError.public)


def register_error_handlers(app: Flask) -> None:
    """Map every exception to a page for people or a standard error for machines."""

    @app.errorhandler(IdpError)
    def _idp_error(exc: IdpError) -> Any:
        if exc.detail:
            log.info("request refused: %s", exc.detail)
        headers = {}
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            headers["Retry-After"] = str(int(retry_after))
        if wants_json():
            body = jsonify(error="invalid_request", error_description=str(exc.public))
            return body, exc.status, headers
        page, status = error_page(exc.public, exc.status)
        return page, status, headers

    @app.errorhandler(OAuth2Error)
    def _oauth_error(exc: OAuth2Error) -> Any:
        status, body, headers = exc()
        return jsonify(dict(body)), status, headers

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if exc.response is not None:  # e.g. authlib's raise_http_exception
            return exc.response
        if wants_json():
            codes = {405: "invalid_request", 413: "invalid_request", 404: "not_found"}
            return jsonify(
                error=codes.get(status, "invalid_request"), error_description=exc.name
            ), status
        return error_page(_HTTP_MESSAGES.get(status, IdpError.public), status)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unexpected error")
        if wants_json():
            return jsonify(
                error="server_error", error_description="The server could not complete the request."
            ), 500
        return error_page(_l("Something went wrong on our side. Please try again later."), 500)
