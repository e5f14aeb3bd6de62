"""OpenID Connect Back-Channel Logout 1.0: logout tokens to portals, through a queue.

When a sign-in session or a citizen's relationship with a portal ends, every affected
portal that registered a ``backchannel_logout_uri`` is sent a logout token: a signed
JWT (``typ`` ``logout+jwt``) with ``iss``, ``aud``, ``iat``, ``exp``, ``jti``,
``events`` and ``sub`` and, where a session ended, ``sid`` (the value ID tokens carry);
never ``nonce``. POSTed as ``logout_token``.

Delivery never blocks a page: ``announce`` only queues a job in the shared store (Redis
sorted set, or memory in one process). A delivery worker takes due jobs (each job goes
to one worker) and POSTs them with a short timeout and no redirects followed. A portal
that does not answer 2xx is retried with backoff (``BACKOFF``), then given up. A URI
whose host is loopback or private is refused unless the portal was registered so
(``backchannel_private``). Every attempt is recorded (``logout_deliveries``: no personal
data). The worker runs in every ``idp serve`` process (a thread) and as ``idp worker``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import requests
from joserfc import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import events, keys, runtime
from idp.db import get_db, utcnow
from idp.portals.models import LogoutDelivery, Portal
from idp.portals.service import get_portal, is_private_host
from idp.store import Store
from idp.subjects import subject_for

log = logging.getLogger("idp.backchannel")

EVENT = "http://schemas.openid.net/event/backchannel-logout"
QUEUE = "backchannel-logout"
#: Seconds to wait before each attempt: the first at once, then three retries.
BACKOFF = (0, 2, 10, 60)
#: A queued job is dropped if nobody ran it for this long (seconds).
JOB_TTL = 3600
#: Connect and read timeouts of one delivery (seconds).
TIMEOUT = (3.05, 5)
TOKEN_TTL = 120
#: The same portal is told about the same session (or, without one, the same citizen)
#: once in this many seconds, whatever number of triggers (sign-out, then withdrawal).
ONCE_WINDOW = 300


def announce(
    store: Store,
    *,
    citizen_id: str,
    portal_ids: Iterable[str],
    sid: str | None,
    reason: str,
) -> int:
    """Queue a logout token for each portal; return how many were queued."""
    queued = 0
    now = time.time()
    for portal_id in dict.fromkeys(portal_ids):
        once = f"bcl-once:{portal_id}:{sid or 'citizen:' + citizen_id}"
        if not store.add(once, {}, ONCE_WINDOW):
            continue
        job_id = uuid.uuid4().hex
        job = {
            "id": job_id,
            "portal_id": portal_id,
            "citizen_id": citizen_id,
            "sid": sid,
            "reason": reason,
            "attempt": 0,
        }
        store.schedule(QUEUE, job_id, job, now, JOB_TTL)
        queued += 1
    if queued:
        events.emit("backchannel.queued", reason=reason, count=queued)
    return queued


def session_ended(store: Store, ref: str, data: dict[str, Any], reason: str) -> int:
    """Queue logout tokens for the portals used in an ended session (its stored data),
    each with the ``sid`` its ID tokens carried (``ref`` for those of this session)."""
    queued = 0
    for portal_id, sid in (data.get("portal_sids") or {}).items():
        queued += announce(
            store,
            citizen_id=data.get("citizen_id", ""),
            portal_ids=[portal_id],
            sid=sid or ref,
            reason=reason,
        )
    return queued


def logout_token(
    db: Session, portal: Portal, *, citizen_id: str, sid: str | None
) -> tuple[str, str]:
    """Return (jti, a signed logout token for this portal)."""
    settings = runtime.settings()
    now = int(time.time())
    jti = uuid.uuid4().hex
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": portal.client_id,
        "iat": now,
        "exp": now + TOKEN_TTL,
        "jti": jti,
        "events": {EVENT: {}},
        "sub": subject_for(citizen_id, portal),
    }
    if sid:
        claims["sid"] = sid
    alg = portal.id_token_signed_response_alg or "RS256"
    key = keys.signing_key(db, alg)
    header = {"alg": alg, "kid": key.kid, "typ": "logout+jwt"}
    return jti, jwt.encode(header, claims, key, algorithms=[alg])


def _private_target(uri: str) -> bool:
    """Return whether the URI's host is, or resolves to, a non-global address."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if is_private_host(host):
        return True
    try:
        addresses = resolve(host, parts.port or 443)
    except OSError:
        return False  # unresolvable: the attempt fails and is retried
    return any(is_private_host(address) for address in addresses)


def resolve(host: str, port: int) -> list[str]:
    """Return the addresses a host name resolves to (DNS, /etc/hosts)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _record(
    db: Session,
    portal: Portal,
    job: dict[str, Any],
    jti: str,
    outcome: str,
    status: int | None = None,
    detail: str | None = None,
) -> None:
    db.add(
        LogoutDelivery(
            portal_id=portal.id,
            jti=jti,
            reason=str(job.get("reason", ""))[:30],
            attempt=int(job["attempt"]) + 1,
            attempted_at=utcnow(),
            outcome=outcome,
            http_status=status,
            detail=(detail or None) and detail[:200],
        )
    )
    db.commit()
    events.emit(
        f"backchannel.{outcome}",
        portal_id=portal.id,
        reason=job.get("reason", ""),
        attempt=int(job["attempt"]) + 1,
        status=status or "",
    )


def deliver(job: dict[str, Any], *, session: requests.Session | None = None) -> str:
    """Make one delivery attempt of a queued job; reschedule it when it may be retried.

    Returns the outcome: ``delivered``, ``failed`` (will be retried), ``gave_up``,
    ``refused`` (a private address not allowed), or ``dropped`` (nothing to send now).
    """
    db = get_db()
    portal = get_portal(db, job["portal_id"]) if job.get("portal_id") else None
    # A suspended portal is still told: it must drop the sessions it holds.
    if portal is None or not portal.backchannel_logout_uri:
        return "dropped"
    if portal.backchannel_logout_session_required and not job.get("sid"):
        return "dropped"  # the portal only acts on a session id, and there is none
    uri = portal.backchannel_logout_uri
    jti, token = logout_token(db, portal, citizen_id=job["citizen_id"], sid=job.get("sid"))
    if not portal.backchannel_private and _private_target(uri):
        _record(db, portal, job, jti, "refused", detail="loopback or private address")
        return "refused"
    http = session or requests
    status = None
    detail = None
    try:
        resp = http.post(
            uri,
            data={"logout_token": token},
            timeout=TIMEOUT,
            allow_redirects=False,
            headers={"Cache-Control": "no-store"},
        )
        status = resp.status_code
        if 200 <= status < 300:
            _record(db, portal, job, jti, "delivered", status)
            return "delivered"
        detail = f"HTTP {status}"
    except requests.RequestException as exc:
        detail = exc.__class__.__name__
    attempt = int(job["attempt"]) + 1
    if attempt >= len(BACKOFF):
        _record(db, portal, job, jti, "gave_up", status, detail)
        return "gave_up"
    _record(db, portal, job, jti, "failed", status, detail)
    runtime.store().schedule(
        QUEUE, job["id"], {**job, "attempt": attempt}, time.time() + BACKOFF[attempt], JOB_TTL
    )
    return "failed"


def run_due(limit: int = 20, now: float | None = None) -> list[str]:
    """Deliver the jobs due now (inside an app context); return their outcomes."""
    jobs = runtime.store().claim_due(QUEUE, time.time() if now is None else now, limit)
    outcomes = []
    for job in jobs:
        try:
            outcomes.append(deliver(job))
        except Exception:  # noqa: BLE001 - one bad job must not stop the worker
            log.exception("back-channel logout delivery failed unexpectedly")
            get_db().rollback()
            outcomes.append("error")
    return outcomes


def work(app: Any, stop: threading.Event, interval: float = 1.0) -> None:
    """Deliver due jobs until ``stop`` is set (the delivery worker's loop)."""
    while not stop.is_set():
        try:
            with app.app_context():
                done = run_due()
        except Exception:  # noqa: BLE001 - the store or database may be down for a while
            log.exception("back-channel logout worker: retrying after an error")
            done = []
        if not done:
            stop.wait(interval)


def start_worker(app: Any, interval: float = 1.0) -> threading.Event:
    """Start the delivery worker as a daemon thread of this process; return its stop."""
    stop = threading.Event()
    thread = threading.Thread(
        target=work, args=(app, stop, interval), name="backchannel-logout", daemon=True
    )
    thread.start()
    return stop


def deliveries(db: Session, portal: Portal, limit: int = 50) -> list[dict[str, Any]]:
    """Return a portal's latest delivery attempts, newest first (for operators)."""
    rows = db.scalars(
        select(LogoutDelivery)
        .where(LogoutDelivery.portal_id == portal.id)
        .order_by(LogoutDelivery.attempted_at.desc(), LogoutDelivery.id)
        .limit(limit)
    ).all()
    return [
        {
            "time": row.attempted_at.isoformat(),
            "reason": row.reason,
            "attempt": row.attempt,
            "outcome": row.outcome,
            "http_status": row.http_status,
            "detail": row.detail,
            "jti": row.jti,
        }
        for row in rows
    ]
