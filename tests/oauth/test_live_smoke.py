"""The whole code flow over real HTTP, on both backends."""

from __future__ import annotations

import requests

from tests.support.useragent import UserAgent, auth_request


def test_code_flow_over_http(live):
    portal = live.register_portal()
    citizen = live.make_citizen()
    ua = UserAgent(live.url)
    params, verifier = auth_request(
        portal["client_id"], portal["redirect_uri"], state="xyz", nonce="n-1"
    )
    out = ua.authorize(
        ua.auth_url(**params),
        identifier=citizen["identifier"],
        password=citizen["password"],
    )
    assert out.params["state"] == "xyz"
    assert out.params["iss"] == live.url
    assert out.pages == ["/signin", "/consent"]
    resp = requests.post(
        f"{live.url}/token",
        data={
            "grant_type": "authorization_code",
            "code": out.code,
            "redirect_uri": portal["redirect_uri"],
            "code_verifier": verifier,
        },
        auth=(portal["client_id"], portal["client_secret"]),
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    info = requests.get(
        f"{live.url}/userinfo",
        timeout=30,
        headers={"Authorization": f"Bearer {resp.json()['access_token']}"},
    )
    assert info.json()["family_name"] == "Nguyễn"
