"""Load benchmark of the provider against a bare Flask baseline, in one run.

    .venv/bin/python bench/run.py [--seconds N] [--repeat K] [--backend embedded|server]

It starts, as subprocesses on free loopback ports, the provider (``idp serve``) and a bare
Flask app served the same way (``bench/baseline_app.py``), with a fresh data folder (and,
for the server backend, a database of its own and a Redis key prefix of its own). It
registers a portal and a citizen with the ``idp`` commands, drives one real sign-in and
consent, then measures, K times in turn:

  baseline    GET /ping on the bare Flask app
  discovery   GET /.well-known/openid-configuration
  userinfo    GET /userinfo with a bearer token (tokens issued beforehand)
  authorize   GET /authorize?prompt=none with the SSO cookie (silent SSO): collects codes
  token       POST /token grant_type=authorization_code (PKCE, client_secret_basic),
              exchanging the codes just collected, each once
  refresh     POST /token grant_type=refresh_token, one rotation chain per client thread

Each scenario runs N seconds (and at most --max-requests requests) with --concurrency
client threads, each with its own ``requests.Session``. Reported: requests/s, p50 and p95
latency, the provider's CPU time per request (gunicorn master + workers, from /proc), and
ratios to the baseline measured in the same repetition; medians over the K repetitions.
Everything is torn down at the end (subprocesses, database, Redis keys, data folder).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import itertools
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"  # all traffic stays on the loopback interface
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never contacted: codes are read from Location
SCOPE = "openid profile email offline_access"
PASSWORD = "bench mật khẩu đủ dài 2025"
THREADS_PER_WORKER = 8
WORKERS = {"embedded": 1, "server": 2}
SCENARIOS = ("baseline", "discovery", "userinfo", "authorize", "token", "refresh")
HTTP_TIMEOUT = 30  # seconds, per request
START_TIMEOUT = 60  # seconds for a server to answer after start
CLK_TCK = os.sysconf("SC_CLK_TCK")

PURPOSES = {
    "name": {
        "purpose": {
            "vi": "Để điền sẵn họ tên trong hồ sơ",
            "en": "To pre-fill your name in the file",
        },
        "required": False,
    },
    "birthdate": {
        "purpose": {"vi": "Để kiểm tra độ tuổi", "en": "To check your age"},
        "required": False,
    },
    "gender": {
        "purpose": {"vi": "Để điền sẵn hồ sơ", "en": "To pre-fill the file"},
        "required": False,
    },
    "email": {
        "purpose": {"vi": "Để gửi kết quả cho bạn", "en": "To send you the result"},
        "required": False,
    },
}

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_INTERACTION = re.compile(r'name="interaction" value="([^"]+)"')
_CLAIM = re.compile(r'name="claim" value="([^"]+)"')


class BenchError(RuntimeError):
    """The set-up or a run could not go on."""


class Exhausted(Exception):  # noqa: N818 - a signal, not an error
    """A client thread has no more work (no code or refresh token left)."""


# -- processes and CPU accounting -------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _stat(pid: int) -> tuple[int, float] | None:
    """Return (ppid, utime+stime seconds) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu(root: int) -> float:
    """Return the CPU seconds used so far by ``root`` and all its descendants."""
    stats: dict[int, tuple[int, float]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                stats[int(name)] = st
    children: dict[int, list[int]] = collections.defaultdict(list)
    for pid, (ppid, _) in stats.items():
        children[ppid].append(pid)
    total, todo, seen = 0.0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(children.get(pid, ()))
    return total


def db_backends_cpu(dbname: str) -> dict[int, float]:
    """Return CPU seconds per PostgreSQL backend process serving ``dbname``."""
    out: dict[int, float] = {}
    needle = f" {dbname} ".encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                title = fh.read(512)
        except OSError:
            continue
        if title.startswith(b"postgres: ") and needle in title:
            st = _stat(int(name))
            if st is not None:
                out[int(name)] = st[1]
    return out


@dataclass
class Server:
    """A server subprocess (its own process group) and where it listens."""

    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def cpu(self) -> float:
        return tree_cpu(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own group: gunicorn + workers
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_server(
    name: str, argv: list[str], env: dict[str, str], port: int, probe: str, logdir: Path
) -> Server:
    log = logdir / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(name, f"http://{HOST}:{port}", proc, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with {proc.returncode}:\n{server.tail()}")
        try:
            if requests.get(server.url + probe, timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.stop()
    raise BenchError(f"{name} did not answer within {START_TIMEOUT}s:\n{server.tail()}")


def run_cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    """Run an ``idp`` command; return its stdout (raise with its stderr on failure)."""
    proc = subprocess.run(
        [str(BIN / "idp"), *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(
            f"idp {' '.join(args[:2])} failed ({proc.returncode}):\n{proc.stderr.strip()}"
        )
    return proc.stdout


# -- the server backend's private database and Redis prefix ----------------------------


def create_database() -> tuple[str, str]:
    """Create a private PostgreSQL database; return (name, SQLAlchemy URL)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"idp_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return name, make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    from sqlalchemy import create_engine, text

    assert re.fullmatch(r"idp_bench_[0-9a-f]{10}", name)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def check_servers() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        raise BenchError(f"Redis at {REDIS_URL} unreachable: {exc}") from None
    from sqlalchemy import create_engine

    engine = create_engine(PG_URL)
    try:
        with engine.connect():
            pass
    except Exception as exc:
        raise BenchError(f"PostgreSQL at {PG_URL} unreachable: {exc.__class__.__name__}") from None
    finally:
        engine.dispose()


def delete_redis_prefix(prefix: str) -> int:
    import redis

    r = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    keys = list(itertools.islice(r.scan_iter(f"{prefix}*", count=1000), 2_000_000))
    for i in range(0, len(keys), 1000):
        r.delete(*keys[i : i + 1000])
    return len(keys)


# -- the OAuth helpers ---------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


@dataclass
class Portal:
    client_id: str
    client_secret: str


def authorize_params(portal: Portal, challenge: str, prompt: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": portal.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "prompt": prompt,
    }


def code_from(resp: requests.Response) -> str | None:
    """Return the code of an authorization response redirecting to the portal."""
    if resp.status_code not in (302, 303):
        return None
    location = resp.headers.get("Location", "")
    if not location.startswith(REDIRECT_URI + "?"):
        return None
    values = parse_qs(urlsplit(location).query).get("code")
    return values[0] if values else None


def post_form(
    http: requests.Session, base: str, page: requests.Response, action: str, **fields: Any
) -> requests.Response:
    data = dict(fields)
    for name, pattern in (("csrf_token", _CSRF), ("interaction", _INTERACTION)):
        found = pattern.search(page.text)
        if found:
            data[name] = found.group(1)
    return http.post(base + action, data=data, allow_redirects=False, timeout=HTTP_TIMEOUT)


def full_flow(
    idp: str, portal: Portal, identifier: str
) -> tuple[requests.Session, str, str, float]:
    """Sign in and consent like a browser; return (browser, code, verifier, sign-in secs)."""
    browser = requests.Session()
    verifier, challenge = pkce_pair()
    resp = browser.get(
        idp + "/authorize",
        params=authorize_params(portal, challenge, "consent"),
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )
    signin_secs = -1.0
    for _ in range(12):
        code = code_from(resp)
        if code:
            return browser, code, verifier, signin_secs
        if resp.status_code in (302, 303):
            location = resp.headers["Location"]
            if location.startswith("/"):
                location = idp + location
            if not location.startswith(idp + "/"):
                raise BenchError(f"unexpected redirect to {location[:200]}")
            resp = browser.get(location, allow_redirects=False, timeout=HTTP_TIMEOUT)
            continue
        path = urlsplit(resp.url).path
        if path == "/signin" and resp.status_code == 200:
            t0 = time.perf_counter()
            resp = post_form(
                browser, idp, resp, "/signin", identifier=identifier, password=PASSWORD
            )
            signin_secs = time.perf_counter() - t0
            if resp.status_code != 303:
                raise BenchError(f"sign-in refused ({resp.status_code})")
            continue
        if path == "/consent" and resp.status_code == 200:
            claims = sorted(set(_CLAIM.findall(resp.text)))
            resp = post_form(browser, idp, resp, "/consent", decision="approve", claim=claims)
            continue
        raise BenchError(f"stuck on {path} ({resp.status_code}): {resp.text[:300]}")
    raise BenchError("the authorization flow did not end in 12 steps")


def exchange(
    http: requests.Session, idp: str, portal: Portal, code: str, verifier: str
) -> requests.Response:
    return http.post(
        idp + "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(portal.client_id, portal.client_secret),
        timeout=HTTP_TIMEOUT,
    )


def refresh(http: requests.Session, idp: str, portal: Portal, token: str) -> requests.Response:
    return http.post(
        idp + "/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(portal.client_id, portal.client_secret),
        timeout=HTTP_TIMEOUT,
    )


# -- the load loop ------------------------------------------------------------------------


@dataclass
class Sample:
    """One scenario in one repetition."""

    scenario: str
    ok: int
    errors: int
    elapsed: float
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    # CPU time per answered request (successes and errors alike):
    server_cpu_ms: float | None  # the server under test: gunicorn master + workers
    db_cpu_ms: float | None  # the PostgreSQL backends of the bench database
    client_cpu_ms: float | None  # this load generator
    error_examples: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)  # nearest rank
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def run_load(
    scenario: str,
    work: Callable[[int], str | None],
    *,
    threads: int,
    seconds: float,
    max_requests: int,
    server: Server,
    dbname: str | None,
) -> Sample:
    """Run ``work(thread_index)`` from ``threads`` threads for ``seconds`` (and at most
    ``max_requests`` calls). ``work`` returns None on success, else an error text; it
    raises Exhausted when that thread has nothing left to do."""
    claims = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    examples: list[str] = []
    barrier = threading.Barrier(threads + 1)
    deadline = 0.0

    def loop(i: int) -> None:
        barrier.wait()
        while time.perf_counter() < deadline and next(claims) < max_requests:
            t0 = time.perf_counter()
            try:
                problem = work(i)
            except Exhausted:
                return
            except requests.RequestException as exc:
                problem = f"{exc.__class__.__name__}: {exc}"
            took = time.perf_counter() - t0
            if problem is None:
                latencies[i].append(took)
            else:
                errors[i] += 1
                if len(examples) < 3:
                    examples.append(" ".join(problem.split())[:300])

    workers = [
        threading.Thread(target=loop, args=(i,), name=f"load-{i}", daemon=True)
        for i in range(threads)
    ]
    for t in workers:
        t.start()
    db0 = db_backends_cpu(dbname) if dbname else {}
    cpu0, client0 = server.cpu(), time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    barrier.wait()
    for t in workers:
        t.join(timeout=seconds + HTTP_TIMEOUT + 5)
    elapsed = time.perf_counter() - start
    cpu1, client1 = server.cpu(), time.process_time()
    if any(t.is_alive() for t in workers):
        raise BenchError(f"{scenario}: a client thread did not finish in time")
    db_cpu = None
    if dbname:
        db1 = db_backends_cpu(dbname)
        db_cpu = sum(v - db0.get(pid, 0.0) for pid, v in db1.items())
    flat = [x for lat in latencies for x in lat]
    ok = len(flat)
    answered = ok + sum(errors)

    def per_req(total: float | None) -> float | None:
        return None if total is None or not answered else round(total / answered * 1000, 3)

    return Sample(
        scenario=scenario,
        ok=ok,
        errors=sum(errors),
        elapsed=round(elapsed, 3),
        rps=round(ok / elapsed, 1) if elapsed > 0 else 0.0,
        p50_ms=_ms(percentile(flat, 50)),
        p95_ms=_ms(percentile(flat, 95)),
        server_cpu_ms=per_req(cpu1 - cpu0),
        db_cpu_ms=per_req(db_cpu),
        client_cpu_ms=per_req(client1 - client0),
        error_examples=examples,
    )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


# -- the benchmark --------------------------------------------------------------------------


class Bench:
    """Set-up, scenarios and teardown of one run."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.backend: str = args.backend
        self.threads: int = args.concurrency
        self.workers = WORKERS[self.backend]
        self.tmp = Path(tempfile.mkdtemp(prefix="idp-bench-"))
        self.servers: list[Server] = []
        self.dbname: str | None = None
        self.dburl: str | None = None
        self.redis_prefix: str | None = None
        self.portal: Portal | None = None
        self.idp: Server | None = None
        self.base: Server | None = None
        self.sso_cookies: Any = None
        self.access_tokens: list[str] = []
        self.refresh_pool: collections.deque[str] = collections.deque()
        self.facts: dict[str, Any] = {}

    # set-up -------------------------------------------------------------------------

    def env(self, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
        expected = 6 * self.args.seconds * self.args.repeat + 120
        env.update(
            {
                "IDP_ISSUER": f"http://{HOST}:{port}",
                "IDP_DATA_DIR": str(self.tmp / "data"),
                "IDP_SECRET_KEY": secrets.token_urlsafe(32),
                "IDP_PAIRWISE_SALT": secrets.token_urlsafe(32),
                # The defaults, explicitly: one sign-in is timed, none is in a measured path.
                "IDP_ARGON2_TIME_COST": "2",
                "IDP_ARGON2_MEMORY_KIB": "19456",
                "IDP_ARGON2_PARALLELISM": "1",
                # Defaults unless the run is long: codes are exchanged in the phase after the
                # one that collected them; pre-issued access tokens serve the whole run.
                "IDP_CODE_TTL": str(max(60, 3 * int(self.args.seconds) + 10)),
                "IDP_ACCESS_TOKEN_TTL": str(max(600, 2 * int(expected))),
            }
        )
        if self.backend == "server":
            assert self.dburl
            assert self.redis_prefix
            env.update(
                {
                    "IDP_DATABASE_URL": self.dburl,
                    "IDP_REDIS_URL": REDIS_URL,
                    "IDP_REDIS_PREFIX": self.redis_prefix,
                }
            )
        return env

    def setup(self) -> None:
        if self.backend == "server":
            check_servers()
            self.redis_prefix = f"idpbench:{uuid.uuid4().hex[:12]}:"
            self.dbname, self.dburl = create_database()
        port = free_port()
        env = self.env(port)
        run_cli(["db", "upgrade"], env)
        purposes = self.tmp / "purposes.json"
        purposes.write_text(json.dumps(PURPOSES, ensure_ascii=False), encoding="utf-8")
        out = json.loads(
            run_cli(
                [
                    "clients",
                    "add",
                    "--name",
                    "Cổng đo tải (bench)",
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
        self.portal = Portal(out["client_id"], out["client_secret"])
        from idp.citizens.validation import communes

        citizen = {
            "family_name": "Trần",
            "middle_name": "Văn",
            "given_name": "Bình",
            "birthdate": "1985-04-12",
            "gender": "male",
            # 048 Đà Nẵng, 0 = male born in the 1900s, 85 = birth year, then a serial.
            "cccd": "048085" + f"{secrets.randbelow(10**6):06d}",
            "email": "bench.citizen@example.vn",
            "phone": "0905123456",
            "province": "48",
            "commune": str(communes(48)[0][0]),
            "street": "1 Bạch Đằng",
        }
        link = json.loads(run_cli(["citizens", "add"], env, stdin=json.dumps(citizen)))
        self.idp = self._start(
            "idp",
            [
                str(BIN / "idp"),
                "serve",
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                str(self.workers),
                "--threads",
                str(THREADS_PER_WORKER),
            ],
            env,
            port,
            "/.well-known/openid-configuration",
        )
        bport = free_port()
        self.base = self._start(
            "baseline",
            [
                sys.executable,
                str(HERE / "baseline_app.py"),
                "--host",
                HOST,
                "--port",
                str(bport),
                "--workers",
                str(self.workers),
                "--threads",
                str(THREADS_PER_WORKER),
            ],
            env,
            bport,
            "/ping",
        )
        self._set_password(link["set_password_url"])
        browser, code, verifier, signin = full_flow(self.idp.url, self.portal, citizen["cccd"])
        self.facts["signin_once_ms"] = round(signin * 1000, 1)
        self.sso_cookies = browser.cookies
        self._pre_issue(browser, code, verifier)

    def _start(
        self, name: str, argv: list[str], env: dict[str, str], port: int, probe: str
    ) -> Server:
        server = start_server(name, argv, env, port, probe, self.tmp)
        self.servers.append(server)
        return server

    def _set_password(self, url: str) -> None:
        assert self.idp is not None
        path = urlsplit(url).path  # the printed link names the issuer: use its path
        http = requests.Session()
        page = http.get(self.idp.url + path, timeout=HTTP_TIMEOUT)
        if page.status_code != 200:
            raise BenchError(f"set-password page: {page.status_code}")
        resp = post_form(
            http, self.idp.url, page, path, password=PASSWORD, password_confirm=PASSWORD
        )
        if resp.status_code != 303:
            raise BenchError(f"set-password refused ({resp.status_code}): {resp.text[:300]}")

    def _pre_issue(self, browser: requests.Session, code: str, verifier: str) -> None:
        """Issue tokens: one access token per client thread for userinfo, and refresh
        tokens to start the first rotation chains (the first code is the consented one)."""
        assert self.idp is not None
        assert self.portal is not None
        need = 2 * self.threads
        for n in range(need):
            if n:
                verifier, challenge = pkce_pair()
                resp = browser.get(
                    self.idp.url + "/authorize",
                    params=authorize_params(self.portal, challenge, "none"),
                    allow_redirects=False,
                    timeout=HTTP_TIMEOUT,
                )
                got = code_from(resp)
                if got is None:
                    raise BenchError(
                        f"silent authorization failed: {resp.status_code} "
                        f"{resp.headers.get('Location', '')[:200]}"
                    )
                code = got
            resp = exchange(browser, self.idp.url, self.portal, code, verifier)
            if resp.status_code != 200:
                raise BenchError(f"token exchange failed: {resp.status_code} {resp.text[:300]}")
            body = resp.json()
            if "refresh_token" not in body:
                raise BenchError(f"no refresh token (scope {body.get('scope')!r})")
            if n < self.threads:
                self.access_tokens.append(body["access_token"])
            else:
                self.refresh_pool.append(body["refresh_token"])

    def warm_up(self) -> None:
        assert self.idp is not None
        assert self.base is not None
        http = requests.Session()
        for _ in range(20):
            http.get(self.base.url + "/ping", timeout=HTTP_TIMEOUT)
            http.get(self.idp.url + "/.well-known/openid-configuration", timeout=HTTP_TIMEOUT)
            http.get(
                self.idp.url + "/userinfo",
                timeout=HTTP_TIMEOUT,
                headers={"Authorization": f"Bearer {self.access_tokens[0]}"},
            )

    # scenarios ------------------------------------------------------------------------

    def sessions(self, cookies: Any = None) -> list[requests.Session]:
        out = []
        for _ in range(self.threads):
            s = requests.Session()
            if cookies is not None:
                s.cookies.update(cookies)
            out.append(s)
        return out

    def repetition(self) -> dict[str, Sample]:
        assert self.idp is not None
        assert self.base is not None
        assert self.portal is not None
        idp, base, portal = self.idp.url, self.base.url, self.portal
        run = {
            "threads": self.threads,
            "seconds": self.args.seconds,
            "max_requests": self.args.max_requests,
            "dbname": self.dbname,
        }
        out: dict[str, Sample] = {}

        http = self.sessions()

        def baseline(i: int) -> str | None:
            r = http[i].get(base + "/ping", timeout=HTTP_TIMEOUT)
            return None if r.status_code == 200 else f"{r.status_code} {r.text[:200]}"

        out["baseline"] = run_load(
            "baseline", baseline, server=self.base, **{**run, "dbname": None}
        )

        http = self.sessions()

        def discovery(i: int) -> str | None:
            r = http[i].get(idp + "/.well-known/openid-configuration", timeout=HTTP_TIMEOUT)
            return None if r.status_code == 200 else f"{r.status_code} {r.text[:200]}"

        out["discovery"] = run_load("discovery", discovery, server=self.idp, **run)

        http = self.sessions()
        bearer = [{"Authorization": f"Bearer {t}"} for t in self.access_tokens]

        def userinfo(i: int) -> str | None:
            r = http[i].get(idp + "/userinfo", headers=bearer[i], timeout=HTTP_TIMEOUT)
            return None if r.status_code == 200 else f"{r.status_code} {r.text[:200]}"

        out["userinfo"] = run_load("userinfo", userinfo, server=self.idp, **run)

        http = self.sessions(self.sso_cookies)
        codes: collections.deque[tuple[str, str]] = collections.deque()

        def authorize(i: int) -> str | None:
            verifier, challenge = pkce_pair()
            r = http[i].get(
                idp + "/authorize",
                params=authorize_params(portal, challenge, "none"),
                allow_redirects=False,
                timeout=HTTP_TIMEOUT,
            )
            code = code_from(r)
            if code is None:
                return f"{r.status_code} {r.headers.get('Location', r.text)[:200]}"
            codes.append((code, verifier))
            return None

        out["authorize"] = run_load("authorize", authorize, server=self.idp, **run)

        http = self.sessions()
        fresh_refresh: collections.deque[str] = collections.deque()

        def token(i: int) -> str | None:
            try:
                code, verifier = codes.popleft()
            except IndexError:
                raise Exhausted() from None
            r = exchange(http[i], idp, portal, code, verifier)
            if r.status_code != 200:
                return f"{r.status_code} {r.text[:200]}"
            fresh_refresh.append(r.json()["refresh_token"])
            return None

        out["token"] = run_load("token", token, server=self.idp, **run)
        self.refresh_pool.extend(fresh_refresh)

        http = self.sessions()
        chains: list[str | None] = [None] * self.threads

        def rotate(i: int) -> str | None:
            current = chains[i]
            if current is None:  # start (or restart) this thread's chain
                try:
                    current = self.refresh_pool.popleft()
                except IndexError:
                    raise Exhausted() from None
            chains[i] = None  # each refresh token is sent once, whatever happens
            r = refresh(http[i], idp, portal, current)
            if r.status_code != 200:
                return f"{r.status_code} {r.text[:200]}"
            chains[i] = r.json()["refresh_token"]
            return None

        out["refresh"] = run_load("refresh", rotate, server=self.idp, **run)
        # Chains continue in the next repetition from where they stopped.
        self.refresh_pool.extendleft(c for c in chains if c is not None)
        return out

    # teardown -------------------------------------------------------------------------

    def teardown(self, keep_logs: Path | None = None) -> list[str]:
        notes = []
        for server in reversed(self.servers):
            try:
                server.stop()
            except Exception as exc:  # noqa: BLE001 - keep tearing down
                notes.append(f"stopping {server.name}: {exc}")
            if keep_logs is not None:
                keep_logs.mkdir(parents=True, exist_ok=True)
                shutil.copy(server.log, keep_logs / f"{self.backend}-{server.name}.log")
        if self.dbname:
            try:
                drop_database(self.dbname)
            except Exception as exc:  # noqa: BLE001
                notes.append(f"dropping {self.dbname}: {exc}")
        if self.redis_prefix:
            try:
                delete_redis_prefix(self.redis_prefix)
            except Exception as exc:  # noqa: BLE001
                notes.append(f"deleting Redis keys {self.redis_prefix}*: {exc}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        return notes


# -- reporting --------------------------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.median(vals), 3) if vals else None


def summarize(reps: list[dict[str, Sample]]) -> dict[str, dict[str, Any]]:
    """Medians over repetitions; ratios to the baseline of the same repetition."""
    out: dict[str, dict[str, Any]] = {}
    for name in SCENARIOS:
        samples = [rep[name] for rep in reps]
        rps_ratio, cpu_ratio = [], []
        for rep in reps:
            b, s = rep["baseline"], rep[name]
            if b.rps and s.rps:
                rps_ratio.append(s.rps / b.rps)
            if b.server_cpu_ms and s.server_cpu_ms:
                cpu_ratio.append(s.server_cpu_ms / b.server_cpu_ms)
        out[name] = {
            "rps": _median([s.rps for s in samples]),
            "rps_per_rep": [s.rps for s in samples],
            "rps_vs_baseline": _median(rps_ratio),
            "p50_ms": _median([s.p50_ms for s in samples]),
            "p95_ms": _median([s.p95_ms for s in samples]),
            "server_cpu_ms": _median([s.server_cpu_ms for s in samples]),
            "cpu_vs_baseline": _median(cpu_ratio),
            "db_cpu_ms": _median([s.db_cpu_ms for s in samples]),
            "client_cpu_ms": _median([s.client_cpu_ms for s in samples]),
            "ok": sum(s.ok for s in samples),
            "errors": sum(s.errors for s in samples),
            "error_pct": _median(
                [100 * s.errors / (s.ok + s.errors) if s.ok + s.errors else None for s in samples]
            ),
        }
    return out


LABELS = {
    "baseline": "bare Flask `GET /ping` (baseline)",
    "discovery": "`GET /.well-known/openid-configuration`",
    "userinfo": "`GET /userinfo` (bearer)",
    "authorize": "`GET /authorize?prompt=none` (silent SSO → code)",
    "token": "`POST /token` authorization_code + PKCE",
    "refresh": "`POST /token` refresh_token (rotation)",
}


def _fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "–" if value is None else f"{value:.{digits}f}{suffix}"


def markdown(summary: dict[str, dict[str, Any]], backend: str) -> str:
    db = backend == "server"
    head = (
        "| scenario | ok req/s | × baseline req/s | p50 ms | p95 ms | errors "
        "| server CPU ms/req | × baseline CPU |"
        + (" PostgreSQL CPU ms/req |" if db else "")
        + " client CPU ms/req |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name in SCENARIOS:
        s = summary[name]
        row = (
            f"| {LABELS[name]} | {_fmt(s['rps'], 0)} | {_fmt(s['rps_vs_baseline'], 2)} "
            f"| {_fmt(s['p50_ms'])} | {_fmt(s['p95_ms'])} "
            f"| {_fmt(s['error_pct'], 1, ' %')} | {_fmt(s['server_cpu_ms'], 2)} "
            f"| {_fmt(s['cpu_vs_baseline'], 1)} |"
        )
        if db:
            row += f" {_fmt(s['db_cpu_ms'], 2)} |"
        row += f" {_fmt(s['client_cpu_ms'], 2)} |"
        lines.append(row)
    return "\n".join(lines)


def machine_facts() -> dict[str, Any]:
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    versions = {}
    for dist in ("flask", "authlib", "sqlalchemy", "gunicorn", "requests"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:  # noqa: BLE001
            versions[dist] = "?"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in load],
        "versions": versions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Load benchmark of the provider "
        "(ratios to a bare Flask app served the same way)."
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=5.0,
        help="duration of each scenario in each repetition (default 5)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="repetitions; medians are reported (default 3)"
    )
    parser.add_argument("--backend", choices=("embedded", "server"), default="embedded")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="client threads, each with its own requests.Session (default 8)",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=50_000,
        help="upper bound of requests per scenario and repetition",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write raw results here")
    parser.add_argument(
        "--logs", type=Path, default=None, help="keep the servers' logs in this folder"
    )
    args = parser.parse_args(argv)
    if not (
        0.5 <= args.seconds <= 120
        and 1 <= args.repeat <= 20
        and 1 <= args.concurrency <= 64
        and 1 <= args.max_requests <= 1_000_000
    ):
        parser.error(
            "out of range: 0.5 <= seconds <= 120, 1 <= repeat <= 20, "
            "1 <= concurrency <= 64, 1 <= max-requests <= 1e6"
        )
    # SIGTERM tears down like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    facts = machine_facts()
    bench = Bench(args)
    reps: list[dict[str, Sample]] = []
    t0 = time.monotonic()
    try:
        print(
            f"[bench] backend={args.backend} workers={bench.workers}×{THREADS_PER_WORKER} "
            f"gthreads, {args.concurrency} client threads, {args.seconds:g}s × "
            f"{args.repeat} repetitions",
            flush=True,
        )
        bench.setup()
        print(
            f"[bench] set-up done in {time.monotonic() - t0:.1f}s "
            f"(one sign-in at default argon2 cost: {bench.facts['signin_once_ms']} ms)",
            flush=True,
        )
        bench.warm_up()
        for k in range(args.repeat):
            rep = bench.repetition()
            reps.append(rep)
            print(
                f"[bench] repetition {k + 1}/{args.repeat}: "
                + ", ".join(
                    f"{n} {rep[n].rps:.0f}/s" + (f" ({rep[n].errors} err)" if rep[n].errors else "")
                    for n in SCENARIOS
                ),
                flush=True,
            )
            for n in SCENARIOS:
                for ex in rep[n].error_examples:
                    print(f"[bench]   {n} error: {ex}", flush=True)
    finally:
        notes = bench.teardown(args.logs)
        for note in notes:
            print(f"[bench] teardown: {note}", file=sys.stderr, flush=True)
    total = time.monotonic() - t0
    summary = summarize(reps)
    facts.update(
        bench.facts,
        backend=args.backend,
        workers=bench.workers,
        threads_per_worker=THREADS_PER_WORKER,
        client_threads=args.concurrency,
        seconds=args.seconds,
        repeat=args.repeat,
        total_seconds=round(total, 1),
        command="bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
    )
    print()
    print(
        f"{facts['date']}, backend {args.backend}, nproc {facts['nproc']}, "
        f"Python {facts['python']}, {total:.0f}s in all; medians of {args.repeat}"
    )
    print(markdown(summary, args.backend))
    print(
        "\nrequests/s per repetition: "
        + "; ".join(f"{n} {summary[n]['rps_per_rep']}" for n in SCENARIOS)
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "facts": facts,
                    "summary": summary,
                    "repetitions": [{n: vars(s) for n, s in rep.items()} for rep in reps],
                },
                ensure_ascii=False,
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    errors = sum(summary[n]["errors"] for n in SCENARIOS)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
