"""A staff account through its pages: set-up link, then sign-in with the password and the
authenticator code (Flask test client). A desk officer by default; any roles and email."""

from __future__ import annotations

import re
from typing import Any

import pyotp

from idp.staff import service as staff
from tests.support.forms import csrf_token

EMAIL = "can.bo@motcua.danang.gov.vn"
STAFF_PASSWORD = "một-cửa Hải Châu 2026 bền vững"


def add_officer(
    db: Any, settings: Any, roles: tuple[str, ...] = ("desk_officer",), email: str = EMAIL
) -> tuple[str, str]:
    """Create the officer's account (committed); return its id and set-up link token."""
    account = staff.add_staff(db, email=email, roles=list(roles), unit_code="48")
    token = staff.new_setup_link(db, account, ttl=settings.set_password_ttl)
    db.commit()
    return account.id, token


def post_form(client: Any, path: str, data: dict[str, Any], page: str | None = None) -> Any:
    """POST ``data`` with the CSRF token of ``page`` (default: the same path)."""
    html = _body(client.get(page or path))
    return client.post(path, data={**data, "csrf_token": csrf_token(html)})


def totp_key(html: str) -> str:
    """Return the TOTP key the set-up page shows for typing."""
    return re.search(r'id="totp-key">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")


def set_up(client: Any, token: str, clock: Any) -> str:
    """Choose the password and confirm the app through the link; return the TOTP key."""
    path = f"/staff/setup/{token}"
    page = post_form(client, path, {"step": "password", "password": STAFF_PASSWORD})
    assert page.status_code == 200, _body(page)
    key = totp_key(_body(page))
    done = client.post(
        path,
        data={
            "step": "code",
            "code": pyotp.TOTP(key).at(clock.now),
            "csrf_token": csrf_token(_body(page)),
        },
    )
    assert done.status_code == 303, _body(done)
    return key


def staff_sign_in(
    client: Any, key: str, clock: Any, password: str = STAFF_PASSWORD, email: str = EMAIL
) -> Any:
    """Sign in with the password, then (a step later) the code; return the last response."""
    first = post_form(client, "/staff/signin", {"email": email, "password": password})
    if first.status_code != 200:
        return first
    html = _body(first)
    pending = re.search(r'name="pending" value="([^"]+)"', html).group(1)
    clock.advance()
    return client.post(
        "/staff/signin",
        data={
            "pending": pending,
            "code": pyotp.TOTP(key).at(clock.now),
            "csrf_token": csrf_token(html),
        },
    )


def signed_in_staff(
    client: Any, db: Any, settings: Any, clock: Any, roles: tuple[str, ...], email: str = EMAIL
) -> str:
    """Create an account with ``roles``, set it up and sign ``client`` in; return its id."""
    staff_id, token = add_officer(db, settings, roles, email=email)
    key = set_up(client, token, clock)
    resp = staff_sign_in(client, key, clock, email=email)
    assert resp.status_code == 303, _body(resp)
    return staff_id


def _body(resp: Any) -> str:
    return resp.get_data(as_text=True)


def live_staff(live: Any, clock: Any, roles: tuple[str, ...], email: str) -> Any:
    """Set up and sign in a staff account on a live server over HTTP; return the
    ``requests`` session holding its cookies."""
    import requests

    with live.session() as db:
        account = staff.add_staff(db, email=email, roles=list(roles), unit_code="48")
        token = staff.new_setup_link(db, account, ttl=3600)
        db.commit()
    http = requests.Session()
    setup = f"{live.url}/staff/setup/{token}"
    page = http.get(setup, timeout=10).text
    form = {"step": "password", "password": STAFF_PASSWORD, "csrf_token": csrf_token(page)}
    page = http.post(setup, data=form, timeout=10).text
    key = totp_key(page)
    form = {"step": "code", "code": pyotp.TOTP(key).at(clock.now), "csrf_token": csrf_token(page)}
    http.post(setup, data=form, timeout=10)
    page = http.get(f"{live.url}/staff/signin", timeout=10).text
    form = {"email": email, "password": STAFF_PASSWORD, "csrf_token": csrf_token(page)}
    page = http.post(f"{live.url}/staff/signin", data=form, timeout=10).text
    pending = re.search(r'name="pending" value="([^"]+)"', page).group(1)
    clock.advance()
    form = {
        "pending": pending,
        "code": pyotp.TOTP(key).at(clock.now),
        "csrf_token": csrf_token(page),
    }
    signed_in = http.post(f"{live.url}/staff/signin", data=form, timeout=10)
    assert signed_in.url.startswith(f"{live.url}/staff/"), signed_in.url
    assert http.cookies.get("idp_staff"), "no staff session"
    return http
