"""Levels of assurance in the pure authorization policy: what a request asks (OIDC Core
§3.1.2.1 ``acr_values``, §5.5.1.1 essential ``acr``), the portal's default, and the
``acr_below_required`` / ``second_factor_missing`` checks."""

from __future__ import annotations

import json

import pytest

from idp.assurance import ACR_PASSWORD as L1
from idp.assurance import ACR_SECOND_FACTOR as L2
from idp.oauth import policy
from idp.oauth.policy import SessionFacts, decide, parse_ask, reported_acr

NOW = 1_900_000_000
REDIRECT = "https://portal.example.vn/callback"


def ask(default_acr: str | None = None, **params: str) -> policy.AuthorizationAsk:
    return parse_ask(params, REDIRECT, default_acr)


def essential(*values: str, is_essential: bool = True) -> str:
    spec: dict = {"essential": is_essential}
    if len(values) == 1:
        spec["value"] = values[0]
    elif values:
        spec["values"] = list(values)
    return json.dumps({"id_token": {"acr": spec}})


def session(level: int = 1, *, factor: bool = True, fresh: bool = False) -> SessionFacts:
    return SessionFacts(auth_time=NOW - 60, fresh=fresh, level=level, has_factor=factor)


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, (0, False, ())),
        ({"acr_values": L2}, (2, False, ())),
        ({"acr_values": f"{L2} {L1}"}, (2, False, ())),  # the preferred one is aimed at
        ({"acr_values": f"urn:unknown {L1}"}, (1, False, ())),  # unknown values ignored
        ({"acr_values": "urn:unknown"}, (0, False, ())),
        ({"acr_values": "1"}, (1, False, ())),  # the legacy value still means level 1
        ({"claims": essential(L2)}, (2, True, (L2,))),
        ({"claims": essential(L1, L2)}, (1, True, (L1, L2))),  # any one will do
        ({"claims": essential(L2, is_essential=False)}, (2, False, ())),
        ({"claims": essential()}, (0, False, ())),  # acr asked, no level
        ({"claims": essential(L2), "acr_values": L1}, (2, True, (L2,))),
    ],
)
def test_the_level_a_request_asks(kw, expected) -> None:
    parsed = ask(**kw)
    assert (parsed.acr_level, parsed.acr_essential, parsed.acr_values) == expected


def test_the_portal_default_applies_only_when_the_request_names_no_level() -> None:
    assert (ask(L2).acr_level, ask(L2).acr_essential) == (2, True)
    assert ask(L2, acr_values=L1).acr_level == 1


def test_level_1_session_with_a_factor_is_stepped_up() -> None:
    decision = decide(ask(acr_values=L2), session(1), (), now=NOW)
    assert decision == policy.Decision(policy.LOGIN, ("acr_below_required",))
    # Even right after the password in this very interaction: the code is still due.
    assert decide(ask(acr_values=L2), session(1, fresh=True), (), now=NOW).checks == (
        "acr_below_required",
    )
    assert decide(ask(acr_values=L2), session(2), (), now=NOW).outcome == policy.ANSWER


def test_essential_level_without_a_factor_is_never_lowered() -> None:
    for asked in (ask(claims=essential(L2)), ask(L2)):
        decision = decide(asked, session(1, factor=False), (), now=NOW)
        assert decision == policy.Decision(policy.ENROL, ("second_factor_missing",))


def test_voluntary_level_without_a_factor_is_answered_at_the_level_achieved() -> None:
    asked = ask(acr_values=L2)
    assert decide(asked, session(1, factor=False), (), now=NOW).outcome == policy.ANSWER
    assert reported_acr(asked, 1) == L1


def test_prompt_none_refuses_what_needs_a_page() -> None:
    step_up = decide(ask(acr_values=L2, prompt="none"), session(1), (), now=NOW)
    assert (step_up.outcome, step_up.error) == (policy.REFUSE, "login_required")
    enrol = decide(ask(claims=essential(L2), prompt="none"), session(1, factor=False), (), now=NOW)
    assert (enrol.outcome, enrol.error) == (policy.REFUSE, "interaction_required")
    assert enrol.checks == ("second_factor_missing",)


def test_prompt_login_asks_the_password_before_enrolling() -> None:
    asked = ask(claims=essential(L2), prompt="login")
    decision = decide(asked, session(1, factor=False), (), now=NOW)
    assert decision.outcome == policy.LOGIN
    assert "prompt_login" in decision.checks


def test_max_age_and_level_together() -> None:
    asked = ask(acr_values=L2, max_age="10")
    decision = decide(asked, session(1), (), now=NOW)
    assert decision.checks == ("max_age_exceeded", "acr_below_required")


def test_the_reported_acr_is_one_of_the_essential_values() -> None:
    assert reported_acr(ask(claims=essential(L1)), 2) == L1  # §5.5.1.1: one of the values
    assert reported_acr(ask(claims=essential(L1, L2)), 2) == L2
    assert reported_acr(ask(), 2) == L2
    assert reported_acr(ask(acr_values=L1), 2) == L2  # the level achieved


def test_a_value_above_the_session_level_is_never_reported() -> None:
    # Of the essential values, only those the session meets can be reported.
    assert reported_acr(ask(claims=essential(L1, L2)), 1) == L1
    assert reported_acr(ask(claims=essential(L2, L1)), 1) == L1
    assert reported_acr(ask(claims=essential(L2)), 1) == L1  # not met: the level achieved


def test_the_registered_default_level_applies_when_the_request_names_none() -> None:
    assert ask(default_acr=L2).acr_level == 2
    assert ask(default_acr=L1).acr_level == 1
    assert ask(default_acr=L2).acr_essential is True
    unknown = ask(default_acr="urn:unknown")
    assert (unknown.acr_level, unknown.acr_essential) == (0, False)
