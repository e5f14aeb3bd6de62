"""The authorization policy: whether /authorize answers now, asks, or refuses.

One pure function, ``decide``, takes what the request asks (``AuthorizationAsk``), what
the browser's sign-in session proves (``SessionFacts``) and what the citizen's consent
lacks (the failing consent checks), and returns a named ``Decision``. It reads nothing
and writes nothing; the view gathers the facts, calls it and acts on the result::

    denied ─────────────────────────────────────────────► refuse access_denied
    no second factor for an essential level ─ prompt=none ► refuse interaction_required
                                             └─ otherwise ► enrol  (set one up)
    login checks fail ── prompt=none ───────────────────► refuse login_required
                      └─ otherwise ─────────────────────► login  (sign-in page)
    verified data needed, only declared ─ prompt=none ──► refuse interaction_required
                                        └─ otherwise ───► unverified (where to verify)
    consent checks fail ─ prompt=none ──────────────────► refuse consent_required
                        └─ otherwise ───────────────────► consent (consent page)
    nothing fails ──────────────────────────────────────► answer (code to the portal)

Check names (they drive the pages and go into the ``interaction.prompt`` event):
``login_required``, ``prompt_login``, ``max_age_exceeded``, ``id_token_hint_mismatch``
(OIDC Core §3.1.2.1, §3.1.2.3), ``acr_below_required`` (the level asked is above the
session's and the citizen has a second factor: step up, asking only for the code) and
``second_factor_missing`` (an essential level the citizen cannot reach without
enrolling: never silently lowered), and consent's ``claims_not_granted``, ``notice_changed``,
``prompt_consent`` (see ``idp.consent.policy``).
"""

from __future__ import annotations

from dataclasses import dataclass

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError

from idp import assurance
from idp.claims import ClaimsRequestError, parse_claims_request

LOGIN_REQUIRED = "login_required"
PROMPT_LOGIN = "prompt_login"
MAX_AGE_EXCEEDED = "max_age_exceeded"
ID_TOKEN_HINT_MISMATCH = "id_token_hint_mismatch"
ACR_BELOW_REQUIRED = assurance.ACR_BELOW_REQUIRED
SECOND_FACTOR_MISSING = assurance.SECOND_FACTOR_MISSING
VERIFIED_DATA_MISSING = "verified_data_missing"

#: Outcomes of ``decide``.
ANSWER = "answer"
LOGIN = "login"
CONSENT = "consent"
ENROL = "enrol"
UNVERIFIED = "unverified"
REFUSE = "refuse"

#: Errors a refusal names (OAuth 2.0 §4.1.2.1, OIDC Core §3.1.2.6).
ACCESS_DENIED = "access_denied"
CONSENT_REQUIRED = "consent_required"
INTERACTION_REQUIRED = "interaction_required"


@dataclass(frozen=True)
class AuthorizationAsk:
    """What an authorization request asks of the policy, parsed and checked."""

    prompts: frozenset[str]
    max_age: int | None
    claims_request: dict[str, dict[str, bool]]
    id_token_hint: str | None
    #: The level of assurance asked (0: none), whether it is essential, and for an
    #: essential ``claims.id_token.acr`` the values the ``acr`` claim must be one of.
    acr_level: int = 0
    acr_essential: bool = False
    acr_values: tuple[str, ...] = ()

    @property
    def silent(self) -> bool:
        """Return whether the portal forbids any page (``prompt=none``)."""
        return "none" in self.prompts


@dataclass(frozen=True)
class SessionFacts:
    """What the browser's sign-in session proves for this request."""

    auth_time: int
    #: The citizen signed in during this very interaction (the sign-in step is done).
    fresh: bool
    #: None without an ``id_token_hint``; else whether it names the signed-in citizen.
    hint_matches: bool | None = None
    #: The session's level of assurance (1: password, 2: password + second factor).
    level: int = 1
    #: Whether the citizen has a confirmed second factor (can be stepped up).
    has_factor: bool = False


@dataclass(frozen=True)
class Decision:
    """The policy's answer: an outcome, the checks that failed, the error of a refusal."""

    outcome: str
    checks: tuple[str, ...] = ()
    error: str | None = None


def _requested_level(
    params: dict[str, str], default_acr: str | None
) -> tuple[int, bool, tuple[str, ...]]:
    """Return (level, essential, values) asked by the request or the portal's default.

    OIDC Core §5.5.1.1: an essential ``claims.id_token.acr`` with ``value(s)`` must be
    answered with one of them, so any of them will do (the lowest sets the floor).
    ``acr_values`` (§3.1.2.1) are voluntary, in order of preference: the first one we
    know is aimed at. Values we do not know are ignored. The portal's registered
    default applies when the request names no level, as a requirement.
    """
    claimed = assurance.essential_acr_request(params.get("claims"))
    if claimed is not None:
        essential, values = claimed
        known = assurance.known(values)
        if known:
            if essential:
                return min(assurance.level_of(v) for v in known), True, tuple(known)
            return assurance.level_of(known[0]), False, ()
    preferred = assurance.known((params.get("acr_values") or "").split())
    if preferred:
        return assurance.level_of(preferred[0]), False, ()
    if default_acr and assurance.level_of(default_acr):
        return assurance.level_of(default_acr), True, ()
    return 0, False, ()


def reported_acr(ask: AuthorizationAsk, level: int) -> str:
    """Return the ``acr`` to put in the ID token for a session at ``level``.

    An essential ``acr`` with values gets the highest of them the session meets
    (OIDC Core §5.5.1.1); otherwise the level achieved.
    """
    met = [v for v in ask.acr_values if assurance.level_of(v) <= level]
    if met:
        return max(met, key=assurance.level_of)
    return assurance.acr_of(max(1, min(level, 2)))


def parse_ask(
    params: dict[str, str], redirect_uri: str | None, default_acr: str | None = None
) -> AuthorizationAsk:
    """Parse the policy's parameters; raise the OAuth error a malformed one deserves.

    Errors carry ``redirect_uri`` (already verified by Authlib) so the portal hears them.
    ``default_acr`` is the portal's registered level, used when the request names none.
    """
    if params.get("request"):
        raise RequestNotSupportedError(redirect_uri=redirect_uri)
    if params.get("request_uri"):
        raise RequestURINotSupportedError(redirect_uri=redirect_uri)
    raw_max_age = params.get("max_age")
    max_age = None
    if raw_max_age:
        if not raw_max_age.isascii() or not raw_max_age.isdigit() or len(raw_max_age) > 10:
            raise InvalidRequestError("Invalid 'max_age'.", redirect_uri=redirect_uri)
        max_age = int(raw_max_age)
    try:
        claims_request = parse_claims_request(params.get("claims"))
    except ClaimsRequestError as exc:
        raise InvalidRequestError(str(exc), redirect_uri=redirect_uri) from None
    level, essential, values = _requested_level(params, default_acr)
    return AuthorizationAsk(
        prompts=frozenset((params.get("prompt") or "").split()),
        max_age=max_age,
        claims_request=claims_request,
        id_token_hint=params.get("id_token_hint") or None,
        acr_level=level,
        acr_essential=essential,
        acr_values=values,
    )


def login_checks(ask: AuthorizationAsk, session: SessionFacts | None, *, now: int) -> list[str]:
    """Return the failing sign-in checks (empty when the session is good enough)."""
    if session is None:
        return [LOGIN_REQUIRED]
    checks = []
    # A citizen who has just signed in for this very request proved who they are; the
    # level is judged even then (password done, code still to come).
    if not session.fresh:
        if "login" in ask.prompts:
            checks.append(PROMPT_LOGIN)
        if ask.max_age is not None and now - session.auth_time > ask.max_age:
            checks.append(MAX_AGE_EXCEEDED)
        if session.hint_matches is False:
            checks.append(ID_TOKEN_HINT_MISMATCH)
    if session.level < ask.acr_level:
        if session.has_factor:
            checks.append(ACR_BELOW_REQUIRED)
        elif ask.acr_essential:
            checks.append(SECOND_FACTOR_MISSING)
        # Otherwise a voluntary level is answered at the level achieved (§3.1.2.1).
    return checks


def decide(
    ask: AuthorizationAsk,
    session: SessionFacts | None,
    consent_checks: tuple[str, ...] | None,
    *,
    now: int,
    denied: bool = False,
    unverified: tuple[str, ...] = (),
) -> Decision:
    """Return what /authorize must do, by named checks (see the module docstring).

    ``consent_checks`` are the failing consent checks for the signed-in citizen (None
    when nobody is signed in); ``denied`` is true once the citizen said no on the page;
    ``unverified`` are requested items the portal accepts only verified and the
    citizen's values are only declared.
    """
    if denied:
        return Decision(REFUSE, (), ACCESS_DENIED)
    failing = login_checks(ask, session, now=now)
    if SECOND_FACTOR_MISSING in failing:
        # Never a lower level than an essential request asked: enrol (after any other
        # sign-in the request needs, so prompt=login still asks for the password).
        if ask.silent:
            return Decision(REFUSE, tuple(failing), INTERACTION_REQUIRED)
        if failing == [SECOND_FACTOR_MISSING]:
            return Decision(ENROL, tuple(failing))
    if failing:
        if ask.silent:
            return Decision(REFUSE, tuple(failing), LOGIN_REQUIRED)
        return Decision(LOGIN, tuple(failing))
    if unverified:
        # Nothing online can fix it: the citizen is shown where to get verified.
        if ask.silent:
            return Decision(REFUSE, (VERIFIED_DATA_MISSING,), INTERACTION_REQUIRED)
        return Decision(UNVERIFIED, (VERIFIED_DATA_MISSING,))
    if consent_checks:
        if ask.silent:
            return Decision(REFUSE, tuple(consent_checks), CONSENT_REQUIRED)
        return Decision(CONSENT, tuple(consent_checks))
    return Decision(ANSWER)
