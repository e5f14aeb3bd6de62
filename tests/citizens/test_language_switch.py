"""Switching language after a failed submit keeps the portal's sign-in step: the
interaction id is in every form's action URL, so the page shown after the POST (and its
language links) still carries it."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from tests.support.factories import new_citizen, new_portal
from tests.support.forms import csrf_token, interaction_id
from tests.support.useragent import auth_request

SWITCH = re.compile(r'<a href="([^"]+)" hreflang="en"')
FORM_SWITCH = re.compile(
    r'<button type="submit" form="register-form" name="refresh" value="language" '
    r'formnovalidate formaction="([^"]+)"'
)


@pytest.fixture
def portal(db):
    return new_portal(db, name="Cổng Thuế Đà Nẵng", name_en="Da Nang Tax Portal")


def _signin_page(client, portal):
    query, _ = auth_request(portal.client_id, portal.redirect_uri, scope="openid profile")
    resp = client.get("/authorize", query_string=query)
    assert resp.status_code in (302, 303), resp.status_code
    page = client.get(resp.headers["Location"])
    assert page.status_code == 200
    return page.get_data(as_text=True)


def _action(page_html):
    return html_lib.unescape(re.search(r'<form method="post" action="([^"]+)"', page_html)[1])


def _switch(client, page_html):
    link = html_lib.unescape(SWITCH.search(page_html).group(1))
    return client.get(link).get_data(as_text=True)


def test_after_a_failed_sign_in_the_switch_keeps_the_portal(client, db, settings, portal):
    citizen = new_citizen(db, settings)
    page = _signin_page(client, portal)
    iid = interaction_id(page)
    failed = client.post(
        _action(page),
        data={
            "identifier": citizen.identifier,
            "password": "wrong password!",
            "interaction": iid,
            "csrf_token": csrf_token(page),
        },
    )
    assert failed.status_code == 401
    switched = _switch(client, failed.get_data(as_text=True))
    assert interaction_id(switched) == iid
    assert "to continue to Da Nang Tax Portal" in switched


def test_after_a_failed_registration_the_switch_keeps_the_portal(client, db, portal):
    page = _signin_page(client, portal)
    iid = interaction_id(page)
    form_page = client.get(f"/register?interaction={iid}").get_data(as_text=True)
    action = _action(form_page)
    assert f"interaction={iid}" in action
    failed = client.post(
        action, data={"family_name": "", "interaction": iid, "csrf_token": csrf_token(form_page)}
    )
    assert failed.status_code == 400
    failed_page = failed.get_data(as_text=True)
    switched = client.post(
        html_lib.unescape(FORM_SWITCH.search(failed_page).group(1)),
        data={"refresh": "language", "interaction": iid, "csrf_token": csrf_token(failed_page)},
    ).get_data(as_text=True)
    assert interaction_id(switched) == iid
    assert "Then continue to Da Nang Tax Portal" in switched


def test_switching_language_on_the_registration_form_keeps_what_was_typed(client, db, portal):
    from sqlalchemy import func, select

    from idp.citizens.models import Citizen

    page = _signin_page(client, portal)
    iid = interaction_id(page)
    form_page = client.get(f"/register?interaction={iid}&lang=vi").get_data(as_text=True)
    switch = FORM_SWITCH.search(form_page)
    assert switch, "the language switch re-submits the registration form"
    assert 'id="register-form"' in form_page
    before = db.scalar(select(func.count()).select_from(Citizen))
    typed = {
        "family_name": "Nguyễn",
        "given_name": "Lan",
        "cccd": "048 190 123456",
        "street": "12 Bạch Đằng",
        "password": "một mật khẩu rất dài",
        "interaction": iid,
        "refresh": "language",
        "csrf_token": csrf_token(form_page),
    }
    switched = client.post(html_lib.unescape(switch.group(1)), data=typed)
    assert switched.status_code == 200
    body = switched.get_data(as_text=True)
    assert '<html lang="en">' in body
    for value in ("Nguyễn", "Lan", "048 190 123456", "12 Bạch Đằng"):
        assert f'value="{value}"' in body
    assert "một mật khẩu rất dài" not in body  # a password is never sent back
    assert interaction_id(body) == iid
    assert "Then continue to Da Nang Tax Portal" in body
    assert db.scalar(select(func.count()).select_from(Citizen)) == before
