"""The outbox: messages to citizens written as files, delivery failures contained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from idp.config import Settings
from idp.outbox import EMAIL, SMS, FileOutbox, Message, Outbox, read_outbox
from idp.runtime import make_outbox


def _msg(channel: str, to: str) -> Message:
    return Message(channel, to, "Chủ đề", "Xin chào Nguyễn Văn An\n", "test_kind", "vi")


def test_file_outbox_writes_one_file_per_message_and_reads_them_back(tmp_path: Path) -> None:
    box = FileOutbox(tmp_path / "out", "no-reply@idp.example")
    box.send(_msg(EMAIL, "an@example.vn"))
    box.send(_msg(SMS, "+84912345678"))
    names = sorted(p.suffix for p in (tmp_path / "out").iterdir())
    assert names == [".eml", ".json"]
    mail, sms = read_outbox(tmp_path / "out")
    assert (mail.channel, mail.to, mail.subject, mail.kind, mail.language) == (
        EMAIL,
        "an@example.vn",
        "Chủ đề",
        "test_kind",
        "vi",
    )
    assert mail.body == "Xin chào Nguyễn Văn An\n"
    assert (sms.channel, sms.to, sms.body) == (SMS, "+84912345678", "Xin chào Nguyễn Văn An\n")


class _Broken:
    def send(self, message: Message) -> None:
        raise ConnectionRefusedError("no server")


def test_a_failed_delivery_is_logged_without_recipient_or_text(caplog) -> None:
    box = Outbox(_Broken(), _Broken())
    with caplog.at_level("INFO"):
        assert box.send(_msg(EMAIL, "an@example.vn")) is False
    assert "test_kind" in caplog.text
    assert "an@example.vn" not in caplog.text
    assert "Nguyễn" not in caplog.text


def test_settings_choose_the_senders(tmp_path: Path) -> None:
    files = make_outbox(Settings(data_dir=tmp_path).resolved())
    assert isinstance(files.email, FileOutbox)
    assert files.email.folder == tmp_path / "outbox"
    real = make_outbox(
        Settings(
            data_dir=tmp_path, smtp_host="mail.example", sms_url="https://sms.example"
        ).resolved()
    )
    assert type(real.email).__name__ == "SmtpSender"
    assert type(real.sms).__name__ == "SmsGateway"


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_bad_starttls_flag_stops_start_up(value: str, tmp_path: Path) -> None:
    from idp.config import SettingsError

    with pytest.raises(SettingsError, match="IDP_SMTP_STARTTLS"):
        Settings.from_env({"IDP_SMTP_STARTTLS": value, "IDP_DATA_DIR": str(tmp_path)})


def test_limits_count_together_across_two_limiters_on_one_redis(backend) -> None:
    """Two app instances (two limiters) on the same Redis share the count."""
    from idp.ratelimit import Limiter

    if not backend.redis_url:
        pytest.skip("needs Redis: the in-memory limits serve one process")
    prefix = f"{backend.run_prefix}shared:"
    one = Limiter(backend.redis_url, prefix, {"r": "3/minute"})
    two = Limiter(backend.redis_url, prefix, {"r": "3/minute"})
    assert [one.hit("r", "k").allowed, two.hit("r", "k").allowed, one.hit("r", "k").allowed] == [
        True,
        True,
        True,
    ]
    refused = two.hit("r", "k")
    assert refused.allowed is False
    # The first hit opened a one-minute window seconds ago: the wait is what is left of it.
    assert 50 <= refused.retry_after <= 61
    assert one.hit("r", "other").allowed


def test_a_bad_limit_stops_start_up(tmp_path: Path) -> None:
    from idp.config import SettingsError

    with pytest.raises(SettingsError, match="IDP_LIMIT_SIGNIN_IP"):
        Settings.from_env({"IDP_LIMIT_SIGNIN_IP": "often", "IDP_DATA_DIR": str(tmp_path)})


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_smtp_sender_hands_the_email_to_a_real_smtp_server() -> None:
    """SMTP over a real socket (aiosmtpd), with login refused when not offered."""
    from aiosmtpd.controller import Controller

    from idp.outbox import SmtpSender, SmtpSettings

    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            received.append(envelope)
            return "250 OK"

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sender = SmtpSender(
            SmtpSettings("127.0.0.1", port, "", "", starttls=False), "no-reply@idp.example"
        )
        sender.send(_msg(EMAIL, "an@example.vn"))
    finally:
        controller.stop()
    (envelope,) = received
    assert envelope.mail_from == "no-reply@idp.example"
    assert envelope.rcpt_tos == ["an@example.vn"]
    text = envelope.content.decode()
    assert "Content-Language: vi" in text
    assert "X-IDP-Kind: test_kind" in text


def test_an_unreachable_smtp_server_is_a_logged_failure_not_an_error(caplog) -> None:
    from idp.outbox import SmtpSender, SmtpSettings

    sender = SmtpSender(
        SmtpSettings("127.0.0.1", _free_port(), "", "", True, timeout=2), "a@b.example"
    )
    box = Outbox(sender, sender)
    assert box.send(_msg(EMAIL, "an@example.vn")) is False
    assert "not delivered" in caplog.text


def test_sms_gateway_posts_json_over_http() -> None:
    import json
    import threading

    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    from idp.outbox import SmsGateway

    posted: list[Any] = []

    @Request.application
    def gateway(request: Request) -> Response:
        posted.append(json.loads(request.get_data()))
        return Response("queued", status=202 if len(posted) == 1 else 503)

    server = make_server("127.0.0.1", 0, gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sms = SmsGateway(f"http://127.0.0.1:{server.server_port}/send", timeout=5)
        box = Outbox(sms, sms)
        assert box.send(_msg(SMS, "+84912345678")) is True
        # A gateway that refuses is a logged failure, not an exception.
        assert box.send(_msg(SMS, "+84912345678")) is False
    finally:
        server.shutdown()
    assert posted[0] == {"to": "+84912345678", "text": "Xin chào Nguyễn Văn An\n"}
