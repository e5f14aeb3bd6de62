"""Levels of assurance over HTTP: level-2 sign-in (password, then code), step-up (the
code alone), an essential level never lowered, the portal's default level, ``acr`` /
``amr`` / ``auth_time`` in ID tokens and introspection. Both backends."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from idp.assurance import ACR_PASSWORD as L1
from idp.assurance import ACR_SECOND_FACTOR as L2
from idp.citizens import factors, service
from idp.citizens.sso import SSO_COOKIE
from idp.portals import service as portals
from tests.consent.helpers import Browser, body
from tests.support.factories import new_citizen, new_portal
from tests.support.forms import continue_link, hidden_fields
from tests.support.totp import Authenticator, enrol
from tests.support.useragent import Outcome

_PAGE_KIND = {"/signin": "signin:password", "/signin:code": "signin:code"}


class CodeBrowser(Browser):
    """A citizen's browser that also answers the code page (with the app, or a code)."""

    def __init__(self, client: Any, citizen: Any, app: Authenticator | None = None):
        super().__init__(client, citizen)
        self.app = app
        self.pages: list[str] = []  # the provider's sign-in pages, as "signin:kind"
        self.recovery_code: str | None = None

    @property
    def left_page(self) -> str | None:
        """The page that told how many recovery codes are left, if one was shown."""
        return self.ua.notices[-1] if self.ua.notices else None

    def next_code(self) -> str:
        """Return what the citizen types on the code page: a recovery code, or the app's."""
        if self.recovery_code is not None:
            code, self.recovery_code = self.recovery_code, None
            return code
        assert self.app is not None, "code asked but the citizen has no app"
        self.app.clock.advance()  # a new step: the app shows a new code
        return self.app.code()

    def _record(self, shown: list[str]) -> None:
        self.pages.extend(_PAGE_KIND[p] for p in shown if p in _PAGE_KIND)

    def follow(self, resp: Any, portal: Any) -> Any:
        shown: list[str] = []
        out = self.ua.follow(
            resp,
            identifier=self.citizen.identifier,
            password=self.citizen.password,
            code=self.next_code,
            pages=shown,
        )
        self._record(shown)
        return out

    def authorize(self, portal: Any, **kw: Any) -> Outcome:
        outcome = super().authorize(portal, code=self.next_code, **kw)
        self._record(outcome.pages)
        return outcome


@pytest.fixture
def citizen(db, settings):
    return new_citizen(db, settings)


@pytest.fixture
def portal(db):
    return new_portal(db, scope="openid profile")


@pytest.fixture
def app_(db, store, settings, citizen, clock):
    app, codes = enrol(db, store, settings, citizen.id, clock)
    app.recovery = codes
    return app


@pytest.fixture
def browser(client, citizen):
    return CodeBrowser(client, citizen)


def _sid(client) -> str:
    return client.get_cookie(SSO_COOKIE).value


def _age_session(store, settings, sid: str, seconds: int) -> int:
    """Pretend the session started ``seconds`` ago; return its new auth_time."""
    sso = service.load_session(store, sid)
    key = service._session_key(sid)
    data = store.get(key)
    data["auth_time"] = sso.auth_time - seconds
    store.put(key, data, settings.session_ttl)
    return data["auth_time"]


def test_discovery_lists_the_two_levels(client):
    assert client.get("/.well-known/openid-configuration").get_json()["acr_values_supported"] == [
        L1,
        L2,
    ]


def test_password_sign_in_is_level_1(browser, portal):
    _, _, claims = browser.sign_in_flow(portal)
    assert (claims["acr"], claims["amr"]) == (L1, ["pwd"])


def test_sign_in_at_level_2_asks_the_password_then_the_code(browser, portal, app_):
    browser.app = app_
    _, token, claims = browser.sign_in_flow(portal, acr_values=L2)
    assert browser.pages == ["signin:password", "signin:code"]
    assert (claims["acr"], claims["amr"]) == (L2, ["pwd", "otp"])
    assert isinstance(claims["auth_time"], int)
    info = browser.introspect(portal, token["access_token"]).get_json()
    assert (info["acr"], info["amr"]) == (L2, ["pwd", "otp"])


def test_step_up_asks_only_the_code(browser, portal, app_, client, store, settings):
    browser.sign_in_flow(portal)  # level 1
    old_sid = _sid(client)
    old_auth_time = _age_session(store, settings, old_sid, 120)
    browser.app = app_
    browser.pages.clear()
    _, token, claims = browser.sign_in_flow(portal, acr_values=L2)
    assert browser.pages == ["signin:code"]
    assert (claims["acr"], claims["amr"]) == (L2, ["pwd", "otp"])
    assert claims["auth_time"] > old_auth_time
    # The session was upgraded under a new id; the old one is dead.
    assert _sid(client) != old_sid
    assert service.load_session(store, old_sid) is None
    assert service.load_session(store, _sid(client)).acr == L2
    info = browser.introspect(portal, token["access_token"]).get_json()
    assert (info["acr"], info["amr"]) == (L2, ["pwd", "otp"])


def test_step_up_refuses_a_wrong_or_replayed_code(browser, portal, app_, client, store):
    browser.sign_in_flow(portal)
    resp, _, _ = browser.start(portal, acr_values=L2)
    page = client.get(resp.headers["Location"])
    assert 'name="code"' in body(page)
    form = hidden_fields(body(page))
    app_.clock.advance()
    good = app_.code()
    wrong = f"{(int(good) + 1) % 10**6:06d}"
    for bad in (wrong, "", "12345", "x" * 100, "AAAA-BBBB"):
        refused = client.post("/signin", data={**form, "code": bad})
        assert refused.status_code == 401
        assert "signin-error" not in body(refused)
        assert 'id="code-error"' in body(refused)
    assert service.load_session(store, _sid(client)).acr == L1
    assert client.post("/signin", data={**form, "code": good}).status_code == 303
    assert service.load_session(store, _sid(client)).acr == L2
    # The same code in another step-up (another interaction) is refused: used once.
    resp, _, _ = browser.start(portal, acr_values=L2, prompt="login")
    # prompt=login: the password again first, then the code.
    page = client.get(resp.headers["Location"])
    assert 'name="password"' in body(page)
    after = client.post(
        "/signin",
        data={
            **hidden_fields(body(page)),
            "identifier": browser.citizen.identifier,
            "password": browser.citizen.password,
        },
    )
    code_page = client.get(after.headers["Location"])
    replay = client.post(
        "/signin",
        data={**hidden_fields(body(code_page)), "code": good},
    )
    assert replay.status_code == 401


def test_step_up_with_a_recovery_code_tells_how_many_are_left(browser, portal, app_, db):
    browser.sign_in_flow(portal)
    browser.recovery_code = app_.recovery[0]
    _, _, claims = browser.sign_in_flow(portal, acr_values=L2)
    assert claims["acr"] == L2
    assert "9" in browser.left_page
    # Used once: the same recovery code no longer steps up.
    assert (
        factors.use_recovery_code(db, citizen_id=browser.citizen.id, code=app_.recovery[0]) is None
    )


def test_a_level_2_session_answers_level_2_at_once(browser, portal, app_):
    browser.app = app_
    browser.sign_in_flow(portal, acr_values=L2)
    browser.pages.clear()
    _, _, claims = browser.sign_in_flow(portal, acr_values=L2)
    assert browser.pages == []
    assert claims["acr"] == L2


def test_max_age_re_authenticates_at_the_level_asked(
    browser, portal, app_, client, store, settings
):
    browser.app = app_
    browser.sign_in_flow(portal, acr_values=L2)
    _age_session(store, settings, _sid(client), 600)
    browser.pages.clear()
    _, _, claims = browser.sign_in_flow(portal, acr_values=L2, max_age="300")
    assert browser.pages == ["signin:password", "signin:code"]
    assert claims["acr"] == L2


def test_essential_acr_without_a_factor_leads_to_enrolment(browser, portal, client, clock):
    claims_param = json.dumps({"id_token": {"acr": {"essential": True, "value": L2}}})
    resp, verifier, nonce = browser.start(portal, claims=claims_param)
    page = browser.follow(resp, portal)
    assert page.status_code == 200
    assert page.request.path == "/account/second-factor"
    html = body(page)
    assert 'id="enrol-required"' in html
    assert portal.name in html
    assert "<svg" in html
    key = re.search(r'id="manual-key"[^>]*>([^<]+)<', html)[1]
    app = Authenticator(key, clock)
    done = client.post(
        "/account/second-factor/confirm",
        data={**hidden_fields(html), "code": app.code()},
    )
    assert done.status_code == 200
    assert len(re.findall(r"<li><code>", body(done))) == 10
    resume = client.get(continue_link(body(done)))
    final = browser.follow(resume, portal)
    if final.request.path == "/consent":
        final = browser.follow(browser.ua.submit_consent(final), portal)
    query = {k: v[0] for k, v in parse_qs(urlsplit(final.headers["Location"]).query).items()}
    token = browser.token(
        portal, Outcome(final.headers["Location"], query, verifier=verifier, nonce=nonce)
    )
    id_claims = browser.id_token(portal, token, nonce)
    assert (id_claims["acr"], id_claims["amr"]) == (L2, ["pwd", "otp"])


def test_essential_acr_is_never_lowered_silently(browser, portal):
    browser.sign_in_flow(portal)  # signed in, no factor
    claims_param = json.dumps({"id_token": {"acr": {"essential": True, "values": [L2]}}})
    out = browser.authorize(portal, claims=claims_param, prompt="none")
    assert out.error == "interaction_required"
    assert out.code is None


def test_step_up_with_prompt_none_is_login_required(browser, portal, app_):
    browser.sign_in_flow(portal)
    out = browser.authorize(portal, acr_values=L2, prompt="none")
    assert out.error == "login_required"


def test_voluntary_level_without_a_factor_is_answered_at_level_1(browser, portal):
    _, _, claims = browser.sign_in_flow(portal, acr_values=L2)
    assert (claims["acr"], claims["amr"]) == (L1, ["pwd"])


def test_the_portals_default_level_applies(db, browser, app_):
    portal = new_portal(db, scope="openid profile")
    portals.set_default_acr(db, client_id=portal.client_id, default_acr=L2)
    db.commit()
    browser.app = app_
    _, _, claims = browser.sign_in_flow(portal)
    assert browser.pages == ["signin:password", "signin:code"]
    assert claims["acr"] == L2


def test_the_portals_default_level_without_a_factor_is_enrolment(db, browser):
    portal = new_portal(db, scope="openid profile")
    portals.set_default_acr(db, client_id=portal.client_id, default_acr=L2)
    db.commit()
    resp, _, _ = browser.start(portal)
    page = browser.follow(resp, portal)
    assert page.request.path == "/account/second-factor"
    assert portal.name in body(page)


def test_a_legacy_level_1_session_still_works(browser, portal, client, store, settings):
    browser.sign_in_flow(portal)
    key = service._session_key(_sid(client))
    data = store.get(key)
    data["acr"] = "1"  # as sessions were stored before the level URNs
    store.put(key, data, settings.session_ttl)
    _, _, claims = browser.sign_in_flow(portal)
    assert claims["acr"] == L1
