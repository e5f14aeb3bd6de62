"""The authorization policy as a pure function: each named check and each outcome."""

from __future__ import annotations

import pytest
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError

from idp.oauth import policy
from idp.oauth.policy import SessionFacts, decide, parse_ask

NOW = 1_900_000_000


def ask(**params: str) -> policy.AuthorizationAsk:
    return parse_ask(params, "https://portal.example.vn/callback")


def session(age: int = 60, *, fresh: bool = False, hint: bool | None = None) -> SessionFacts:
    return SessionFacts(auth_time=NOW - age, fresh=fresh, hint_matches=hint)


def test_signed_in_and_consented_is_answered() -> None:
    assert decide(ask(), session(), (), now=NOW) == policy.Decision(policy.ANSWER)


def test_nobody_signed_in_must_log_in() -> None:
    decision = decide(ask(), None, None, now=NOW)
    assert decision == policy.Decision(policy.LOGIN, ("login_required",))


def test_prompt_none_without_a_session_is_login_required() -> None:
    decision = decide(ask(prompt="none"), None, None, now=NOW)
    assert (decision.outcome, decision.error) == (policy.REFUSE, "login_required")


def test_prompt_login_asks_again_unless_signed_in_for_this_request() -> None:
    assert decide(ask(prompt="login"), session(), (), now=NOW).checks == ("prompt_login",)
    assert decide(ask(prompt="login"), session(fresh=True), (), now=NOW).outcome == policy.ANSWER


def test_max_age_counts_from_the_sign_in() -> None:
    assert decide(ask(max_age="600"), session(age=600), (), now=NOW).outcome == policy.ANSWER
    late = decide(ask(max_age="600"), session(age=601), (), now=NOW)
    assert (late.outcome, late.checks) == (policy.LOGIN, ("max_age_exceeded",))
    zero = decide(ask(max_age="0"), session(age=1), (), now=NOW)
    assert zero.checks == ("max_age_exceeded",)


def test_an_id_token_hint_for_someone_else_asks_to_sign_in() -> None:
    assert decide(ask(), session(hint=True), (), now=NOW).outcome == policy.ANSWER
    other = decide(ask(), session(hint=False), (), now=NOW)
    assert other.checks == ("id_token_hint_mismatch",)
    silent = decide(ask(prompt="none"), session(hint=False), (), now=NOW)
    assert silent.error == "login_required"


def test_several_login_checks_are_all_named() -> None:
    decision = decide(ask(prompt="login", max_age="5"), session(age=10, hint=False), (), now=NOW)
    assert decision.checks == ("prompt_login", "max_age_exceeded", "id_token_hint_mismatch")


def test_missing_consent_shows_the_consent_page_with_its_checks() -> None:
    decision = decide(ask(), session(), ("claims_not_granted", "notice_changed"), now=NOW)
    assert decision == policy.Decision(policy.CONSENT, ("claims_not_granted", "notice_changed"))


def test_prompt_none_with_missing_consent_is_consent_required() -> None:
    decision = decide(ask(prompt="none"), session(), ("notice_changed",), now=NOW)
    assert (decision.outcome, decision.error) == (policy.REFUSE, "consent_required")


def test_login_comes_before_consent() -> None:
    decision = decide(ask(prompt="login"), session(), ("claims_not_granted",), now=NOW)
    assert decision.outcome == policy.LOGIN


def test_a_denied_interaction_is_access_denied_whatever_else() -> None:
    decision = decide(ask(), None, None, now=NOW, denied=True)
    assert (decision.outcome, decision.error) == (policy.REFUSE, "access_denied")


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"request": "x.y.z"}, RequestNotSupportedError),
        ({"request_uri": "https://x"}, RequestURINotSupportedError),
        ({"max_age": "-1"}, InvalidRequestError),
        ({"max_age": "١٢"}, InvalidRequestError),
        ({"max_age": "12345678901"}, InvalidRequestError),
        ({"claims": "[]"}, InvalidRequestError),
        ({"claims": "{"}, InvalidRequestError),
    ],
)
def test_malformed_parameters_are_refused_to_the_portal(params: dict, error: type) -> None:
    with pytest.raises(error) as caught:
        ask(**params)
    assert caught.value.redirect_uri == "https://portal.example.vn/callback"


def test_parse_keeps_what_the_policy_needs() -> None:
    parsed = ask(prompt="login consent", max_age="30", claims='{"userinfo":{"cccd":null}}')
    assert parsed.prompts == {"login", "consent"}
    assert parsed.max_age == 30
    assert parsed.claims_request == {"userinfo": {"cccd": False}}
    assert parsed.id_token_hint is None


def test_parse_keeps_the_hint_and_nothing_invented() -> None:
    assert ask(id_token_hint="a.b.c").id_token_hint == "a.b.c"
    assert ask(id_token_hint="").id_token_hint is None
    assert ask().prompts == frozenset()
    assert ask(max_age="1234567890").max_age == 1234567890  # ten digits are fine


def test_malformed_parameters_say_what_is_wrong() -> None:
    with pytest.raises(InvalidRequestError) as bad_age:
        ask(max_age="soon")
    assert bad_age.value.description == "Invalid 'max_age'."
    with pytest.raises(InvalidRequestError) as bad_claims:
        ask(claims="[]")
    assert bad_claims.value.description == "'claims' must be a JSON object"


def test_refusals_name_their_checks() -> None:
    assert decide(ask(), None, None, now=NOW, denied=True).checks == ()
    silent = decide(ask(prompt="none"), None, None, now=NOW)
    assert silent.checks == ("login_required",)
    consent = decide(ask(prompt="none"), session(), ("notice_changed",), now=NOW)
    assert consent.checks == ("notice_changed",)
