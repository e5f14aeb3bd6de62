"""Where the time goes: each measured endpoint under cProfile, in-process, one thread.

    .venv/bin/python bench/profile_endpoints.py [--requests N] [--top K]

A companion to ``run.py`` for reading its figures, not a load test: no HTTP, no
concurrency, the embedded backend (a temporary SQLite file, the in-process store). It
sets up the same portal and citizen with the same ``idp`` commands, drives one sign-in
and consent through the Flask test client, then calls each endpoint N times under
cProfile and prints the CPU time per call and the functions with the most cumulative
time. Everything lives in a temporary folder removed at the end.
"""

from __future__ import annotations

import argparse
import base64
import collections
import cProfile
import io
import json
import os
import pstats
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from run import (  # bench/ is sys.path[0] when this file is run as a script
    _CLAIM,
    _CSRF,
    _INTERACTION,
    PASSWORD,
    PURPOSES,
    REDIRECT_URI,
    SCOPE,
    BenchError,
    Portal,
    authorize_params,
    pkce_pair,
    run_cli,
)

ISSUER = "http://127.0.0.1:5999"  # never listened on: the test client calls the app directly


def _location(resp: Any) -> str:
    loc = resp.headers.get("Location", "")
    return loc[len(ISSUER) :] if loc.startswith(ISSUER) else loc


def _form(client: Any, page: Any, action: str, **fields: Any) -> Any:
    text = page.get_data(as_text=True)
    data = dict(fields)
    for name, pattern in (("csrf_token", _CSRF), ("interaction", _INTERACTION)):
        found = pattern.search(text)
        if found:
            data[name] = found.group(1)
    return client.post(action, data=data)


def _code(resp: Any) -> str | None:
    loc = resp.headers.get("Location", "")
    if resp.status_code in (302, 303) and loc.startswith(REDIRECT_URI + "?"):
        return parse_qs(urlsplit(loc).query)["code"][0]
    return None


def setup(tmp: Path) -> tuple[Any, Portal, str]:
    """Return (app, portal, citizen identifier) on a fresh data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(
        {
            "IDP_ISSUER": ISSUER,
            "IDP_DATA_DIR": str(tmp / "data"),
            "IDP_SECRET_KEY": secrets.token_urlsafe(32),
            "IDP_PAIRWISE_SALT": secrets.token_urlsafe(32),
        }
    )
    run_cli(["db", "upgrade"], env)
    purposes = tmp / "purposes.json"
    purposes.write_text(json.dumps(PURPOSES, ensure_ascii=False), encoding="utf-8")
    out = json.loads(
        run_cli(
            [
                "clients",
                "add",
                "--name",
                "Cổng đo tải (profile)",
                "--redirect-uri",
                REDIRECT_URI,
                "--scope",
                SCOPE,
                "--auth-method",
                "client_secret_basic",
                "--purposes",
                str(purposes),
            ],
            env,
        )
    )
    from idp.citizens.validation import communes

    cccd = "048085" + f"{secrets.randbelow(10**6):06d}"
    citizen = {
        "family_name": "Trần",
        "middle_name": "Văn",
        "given_name": "Bình",
        "birthdate": "1985-04-12",
        "gender": "male",
        "cccd": cccd,
        "email": "bench.citizen@example.vn",
        "phone": "0905123456",
        "province": "48",
        "commune": str(communes(48)[0][0]),
        "street": "1 Bạch Đằng",
    }
    link = json.loads(run_cli(["citizens", "add"], env, stdin=json.dumps(citizen)))
    from idp import create_app
    from idp.config import Settings

    app = create_app(Settings.from_env(env))
    client = app.test_client()
    path = urlsplit(link["set_password_url"]).path
    resp = _form(client, client.get(path), path, password=PASSWORD, password_confirm=PASSWORD)
    if resp.status_code != 303:
        raise BenchError(f"set-password refused ({resp.status_code})")
    return app, Portal(out["client_id"], out["client_secret"]), cccd


def sign_in_and_consent(app: Any, portal: Portal, cccd: str) -> Any:
    """Return a test client (the browser) holding an SSO session and the consent."""
    browser = app.test_client()
    _, challenge = pkce_pair()
    resp = browser.get("/authorize?" + urlencode(authorize_params(portal, challenge, "consent")))
    for _ in range(12):
        if _code(resp):
            return browser
        if resp.status_code in (302, 303):
            resp = browser.get(_location(resp))
            continue
        text = resp.get_data(as_text=True)
        if 'name="identifier"' in text:
            resp = _form(browser, resp, "/signin", identifier=cccd, password=PASSWORD)
        elif 'name="decision"' in text:
            resp = _form(
                browser,
                resp,
                "/consent",
                decision="approve",
                claim=sorted(set(_CLAIM.findall(text))),
            )
        else:
            raise BenchError(f"stuck ({resp.status_code}): {text[:300]}")
    raise BenchError("the flow did not end")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="calls per endpoint")
    parser.add_argument("--top", type=int, default=12, help="functions listed per endpoint")
    args = parser.parse_args()
    n = max(1, min(args.requests, 5000))
    tmp = Path(tempfile.mkdtemp(prefix="idp-profile-"))
    try:
        app, portal, cccd = setup(tmp)
        browser = sign_in_and_consent(app, portal, cccd)
        api = app.test_client()
        basic = {
            "Authorization": "Basic "
            + base64.b64encode(f"{portal.client_id}:{portal.client_secret}".encode()).decode()
        }

        def silent() -> tuple[str, str]:
            verifier, challenge = pkce_pair()
            resp = browser.get(
                "/authorize?" + urlencode(authorize_params(portal, challenge, "none"))
            )
            code = _code(resp)
            if code is None:
                raise BenchError(f"silent authorization failed: {resp.status_code}")
            return code, verifier

        def exchange(code: str, verifier: str) -> dict[str, Any]:
            resp = api.post(
                "/token",
                headers=basic,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                    "code_verifier": verifier,
                },
            )
            if resp.status_code != 200:
                raise BenchError(f"token: {resp.status_code} {resp.get_data(as_text=True)}")
            return resp.get_json()

        first = exchange(*silent())
        bearer = {"Authorization": f"Bearer {first['access_token']}"}
        codes: list[tuple[str, str]] = []
        chain = [exchange(*silent())["refresh_token"]]

        def rotate() -> None:
            resp = api.post(
                "/token",
                headers=basic,
                data={"grant_type": "refresh_token", "refresh_token": chain[0]},
            )
            if resp.status_code != 200:
                raise BenchError(f"refresh: {resp.status_code}")
            chain[0] = resp.get_json()["refresh_token"]

        scenarios = {
            "discovery": lambda _i: api.get("/.well-known/openid-configuration"),
            "userinfo": lambda _i: api.get("/userinfo", headers=bearer),
            "authorize": lambda _i: silent(),
            "token": lambda i: exchange(*codes[i]),
            "refresh": lambda _i: rotate(),
        }
        from sqlalchemy import event

        statements: collections.Counter[str] = collections.Counter()

        @event.listens_for(app.extensions["idp.engine"], "before_cursor_execute")
        def _count(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
            statements[statement.split(None, 1)[0].upper()] += 1

        for name, call in scenarios.items():
            if name == "token":  # fresh codes (they live IDP_CODE_TTL seconds)
                codes[:] = [silent() for _ in range(n)]
            prof = cProfile.Profile()
            statements.clear()
            t0 = time.process_time()
            prof.enable()
            for i in range(n):
                call(i)
            prof.disable()
            per = (time.process_time() - t0) / n * 1000
            print(
                f"\n=== {name}: {per:.2f} ms CPU per call under cProfile "
                f"({n} calls, one thread, no HTTP) ==="
            )
            print(
                "SQL statements per call: "
                + (", ".join(f"{k} {v / n:.1f}" for k, v in sorted(statements.items())) or "none")
            )
            buf = io.StringIO()
            stats = pstats.Stats(prof, stream=buf)
            stats.sort_stats("cumulative").print_stats(args.top + 25)
            lines = [
                ln
                for ln in buf.getvalue().splitlines()
                if ln.strip()
                and (
                    "/idp/" in ln
                    or "import_key" in ln
                    or "sqlite3" in ln
                    or "flush" in ln
                    or "commit" in ln
                    or "sign" in ln
                )
            ]
            print("   ncalls  tottime  percall  cumtime  percall filename:lineno(function)")
            for ln in lines[: args.top]:
                print(ln)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
