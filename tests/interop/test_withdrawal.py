"""Interop: withdrawal cuts the data flow at once, seen by a portal using Authlib's client.

Over real HTTP on both backends. The portal is Authlib's ``OAuth2Session`` (PKCE S256,
client_secret_basic, refresh, introspection); the citizen's browser is ``UserAgent``,
which also withdraws from the connected-portals page (/account/portals).
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from tests.interop.conftest import TIMEOUT, verify_id_token
from tests.support.forms import withdraw_grant_id
from tests.support.useragent import UserAgent

pytestmark = pytest.mark.live

SCOPE = "openid profile email phone offline_access"


class Portal:
    """A portal integrating with Authlib only, and the citizen's browser."""

    def __init__(self, live: Any, meta: dict[str, Any], citizen: dict[str, Any]):
        self.live = live
        self.meta = meta
        self.citizen = citizen
        self.info = live.register_portal(scope=SCOPE)
        self.ua = UserAgent(live.url)
        self.client = self.session()

    def session(self) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.info["client_id"],
            client_secret=self.info["client_secret"],
            token_endpoint_auth_method="client_secret_basic",
            scope=SCOPE,
            redirect_uri=self.info["redirect_uri"],
            code_challenge_method="S256",
            token_endpoint=self.meta["token_endpoint"],
            default_timeout=TIMEOUT,
        )

    def login(self, **extra: Any) -> tuple[dict[str, Any], str, bool]:
        """Authorize and exchange the code; return (token, nonce, consent page shown)."""
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        state = secrets.token_urlsafe(16)
        url, _state = self.client.create_authorization_url(
            self.meta["authorization_endpoint"],
            state=state,
            code_verifier=verifier,
            nonce=nonce,
            **extra,
        )
        shown_before = len(self.ua.consent_pages)
        out = self.ua.authorize(
            url, identifier=self.citizen["identifier"], password=self.citizen["password"]
        )
        assert out.params["state"] == state
        assert out.params["iss"] == self.meta["issuer"]
        assert out.code, out.params
        token = self.client.fetch_token(authorization_response=out.location, code_verifier=verifier)
        return dict(token), nonce, len(self.ua.consent_pages) > shown_before

    def userinfo(self, access_token: str) -> requests.Response:
        return requests.get(
            self.meta["userinfo_endpoint"],
            timeout=TIMEOUT,
            headers={"Authorization": f"Bearer {access_token}"},
        )

    def introspect(self, token: str, hint: str | None = None) -> dict[str, Any]:
        resp = self.session().introspect_token(
            self.meta["introspection_endpoint"], token=token, token_type_hint=hint
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    # -- the citizen's connected-portals page ------------------------------------------

    def account_page(self) -> requests.Response:
        page = self.ua.http.get(f"{self.live.url}/account/portals", timeout=TIMEOUT)
        assert page.status_code == 200
        return page

    def grant_id(self) -> str:
        return withdraw_grant_id(self.account_page().text, self.info["client_id"])

    def withdraw(self, path: str) -> None:
        resp = self.ua.post_form(self.account_page(), path)
        assert resp.status_code == 303, (resp.status_code, resp.text[:300])


@pytest.fixture
def portal(live, meta, citizen):
    return Portal(live, meta, citizen)


def _assert_dead(portal: Portal, token: dict[str, Any]) -> None:
    resp = portal.userinfo(token["access_token"])
    assert resp.status_code == 401
    assert "invalid_token" in resp.headers.get("WWW-Authenticate", "")
    assert portal.introspect(token["access_token"], "access_token") == {"active": False}
    assert portal.introspect(token["refresh_token"], "refresh_token") == {"active": False}
    with pytest.raises(OAuthError) as exc:
        portal.session().refresh_token(
            portal.meta["token_endpoint"], refresh_token=token["refresh_token"]
        )
    assert exc.value.error == "invalid_grant"


def test_withdrawing_the_grant_kills_every_token_at_once(live, meta, jwks, portal):
    token, nonce, prompted = portal.login(prompt="consent")
    assert prompted
    assert token.get("refresh_token")
    verify_id_token(
        token["id_token"],
        meta=meta,
        jwks=jwks,
        client_id=portal.info["client_id"],
        nonce=nonce,
        access_token=token["access_token"],
    )
    # A second token set under the same grant (a rotation) is alive too.
    rotated = dict(
        portal.session().refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    )
    assert portal.userinfo(rotated["access_token"]).status_code == 200
    second, _nonce, prompted = portal.login()  # signed in and consented: no page
    assert not prompted
    assert portal.introspect(second["access_token"])["active"] is True

    portal.withdraw(f"/account/portals/{portal.grant_id()}/withdraw")

    for dead in (rotated, second):
        if "refresh_token" not in dead:
            dead = {**dead, "refresh_token": rotated["refresh_token"]}
        _assert_dead(portal, dead)

    # The next authorization asks for consent again, and works.
    again, _nonce, prompted = portal.login()
    assert prompted
    assert portal.userinfo(again["access_token"]).status_code == 200
    # The portal's old tokens do not come back to life with the new grant.
    assert portal.userinfo(rotated["access_token"]).status_code == 401


def test_withdrawing_the_grant_through_the_service(live, meta, portal):
    """The same through the service functions (what the account page calls)."""
    from idp.consent import grants as consent_grants
    from idp.tokens import service as tokens

    token, _nonce, _prompted = portal.login(prompt="consent")
    with live.session() as db:
        grant = consent_grants.live_grant(
            db, citizen_id=portal.citizen["id"], portal_id=portal.info["id"]
        )
        assert consent_grants.withdraw(db, grant_id=grant.id, citizen_id=portal.citizen["id"])
        tokens.revoke_grant(db, grant.id, "consent_withdrawn")
        db.commit()
    _assert_dead(portal, token)
    _again, _nonce, prompted = portal.login()
    assert prompted


def test_withdrawing_one_claim_stops_it_at_once(live, meta, portal):
    token, _nonce, _prompted = portal.login(prompt="consent")
    before = portal.userinfo(token["access_token"]).json()
    assert before["email"] == portal.citizen["profile"]["email"]
    assert before["phone_number"] == portal.citizen["profile"]["phone"]

    portal.withdraw(f"/account/portals/{portal.grant_id()}/claims/email/withdraw")

    # The same access token, at the very next request: no email, the rest still flows.
    after = portal.userinfo(token["access_token"])
    assert after.status_code == 200
    info = after.json()
    assert "email" not in info
    assert "email_verified" not in info
    assert info["phone_number"] == before["phone_number"]
    assert info["family_name"] == before["family_name"]
    assert info["sub"] == before["sub"]
    assert portal.introspect(token["access_token"])["active"] is True
    # A refreshed token does not bring it back.
    fresh = dict(
        portal.session().refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    )
    assert "email" not in portal.userinfo(fresh["access_token"]).json()


def test_withdrawing_one_claim_through_the_service(live, meta, portal):
    from idp.consent import grants as consent_grants

    token, _nonce, _prompted = portal.login()
    with live.session() as db:
        grant = consent_grants.live_grant(
            db, citizen_id=portal.citizen["id"], portal_id=portal.info["id"]
        )
        assert consent_grants.withdraw_claim(
            db, citizen_id=portal.citizen["id"], grant_id=grant.id, item="phone_number"
        )
        db.commit()
    info = portal.userinfo(token["access_token"]).json()
    assert "phone_number" not in info
    assert "phone_number_verified" not in info
    assert info["email"] == portal.citizen["profile"]["email"]
    # The next sign-in asks for it again: it is no longer granted.
    _token, _nonce, prompted = portal.login()
    assert prompted
    assert "phone_number" in portal.ua.consent_pages[-1]


def test_a_code_issued_before_the_withdrawal_is_refused(live, meta, portal):
    portal.login()  # consented
    verifier = secrets.token_urlsafe(48)
    url, _state = portal.client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=secrets.token_urlsafe(16)
    )
    out = portal.ua.authorize(url)
    assert out.code
    portal.withdraw(f"/account/portals/{portal.grant_id()}/withdraw")
    with pytest.raises(OAuthError) as exc:
        portal.client.fetch_token(authorization_response=out.location, code_verifier=verifier)
    assert exc.value.error == "invalid_grant"
