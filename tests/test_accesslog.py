"""The access log never shows a live one-time link: its token is cut out of the path."""

from __future__ import annotations

import pytest

from idp.accesslog import redact


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/reset/AbC-dEf_123", "/reset/…"),
        ("/set-password/AbC-dEf_123", "/set-password/…"),
        ("/verify-email/AbC-dEf_123", "/verify-email/…"),
        ("/not-me/AbC-dEf_123", "/not-me/…"),
        ("/account", "/account"),
        ("/recover", "/recover"),
        ("/authorize", "/authorize"),
    ],
)
def test_one_time_link_tokens_are_cut_out(path, shown):
    assert redact(path) == shown


def test_gunicorn_uses_the_redacting_logger():
    from gunicorn.config import Config

    from idp.accesslog import RedactingLogger

    cfg = Config()
    cfg.set("logger_class", "idp.accesslog.RedactingLogger")
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", '"%(U)s"')
    logger = cfg.logger_class(cfg)
    assert isinstance(logger, RedactingLogger)

    class Resp:
        status = "200 OK"
        response_length = 0
        headers: list = []
        sent = 0

    environ = {
        "PATH_INFO": "/reset/secret-token",
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/reset/secret-token",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }

    class Req:
        headers: list = []

    import datetime as dt

    atoms = logger.atoms(Resp(), Req(), environ, dt.timedelta(seconds=0.01))
    assert "secret-token" not in str(atoms["U"])
    assert "secret-token" not in str(atoms["r"])
