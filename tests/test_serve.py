"""`idp serve` itself (gunicorn, as in production): its worker processes deliver
back-channel logout tokens (no separate process is needed)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.receiver import Receiver
from tests.support.useragent import UserAgent, auth_request

pytestmark = pytest.mark.live


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _idp(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "idp.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_idp_serve_delivers_logout_tokens(tmp_path: Path, backend) -> None:
    from tests.support.factories import PASSWORD, profile_data

    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "IDP_DATA_DIR": str(tmp_path / "data"),
        "IDP_ISSUER": issuer,
        "IDP_ARGON2_MEMORY_KIB": "1024",
        "IDP_ARGON2_TIME_COST": "1",
    }
    if backend.name == "server":
        env |= {"IDP_DATABASE_URL": backend.database_url, "IDP_REDIS_URL": backend.redis_url}
        env["IDP_REDIS_PREFIX"] = f"serve-{port}:"
    receiver = Receiver()
    _idp(env, "db", "upgrade")
    portal = json.loads(
        _idp(
            env,
            "clients",
            "add",
            "--name",
            "Cổng thử",
            "--redirect-uri",
            "https://portal.example.vn/cb",
            "--scope",
            "openid profile",
            "--backchannel-logout-uri",
            receiver.url,
            "--backchannel-private",
        )
    )
    officer = f"o{port}@motcua.vn"
    _idp(env, "staff", "add", officer, "--role", "desk_officer", "--unit", "48")
    citizen = profile_data()
    created = json.loads(
        _idp(env, "citizens", "add", "--officer", officer, stdin=json.dumps(citizen))
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "idp.cli", "serve", "--port", str(port), "--threads", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(issuer + "/.well-known/openid-configuration", timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert time.monotonic() < deadline, "idp serve did not start"
                time.sleep(0.2)
        ua = UserAgent(issuer)
        # The desk's link: the citizen chooses a password, then signs in at the portal.
        link = created["set_password_url"]
        page = ua.get(link)
        ua.post_form(page, link.removeprefix(issuer), password=PASSWORD, password_confirm=PASSWORD)
        query, _ = auth_request(portal["client_id"], "https://portal.example.vn/cb", scope="openid")
        outcome = ua.authorize(ua.auth_url(**query), identifier=citizen["cccd"], password=PASSWORD)
        assert outcome.code, outcome.location
        csrf = ua.csrf("/account")
        started = time.monotonic()
        resp = ua.transport.request("POST", "/signout", {"csrf_token": csrf})
        assert resp.status_code in (200, 302, 303)
        assert time.monotonic() - started < 2
        deadline = time.monotonic() + 15
        while not receiver.tokens():
            assert time.monotonic() < deadline, "no logout token from idp serve"
            time.sleep(0.1)
        assert len(receiver.tokens()) == 1
    finally:
        server.terminate()
        server.wait(timeout=20)
        receiver.stop()
