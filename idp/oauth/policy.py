"""The authorization policy: whether /authorize answers now, asks, or refuses.

One pure function, ``decide``, takes what the request asks (``AuthorizationAsk``), what
the browser's sign-in session proves (``SessionFacts``) and what the citizen's consent
lacks (the failing consent checks), and returns a named ``Decision``. It reads nothing
and writes nothing; the view gathers the facts, calls it and acts on the result::

    denied ─────────────────────────────────────────────► refuse access_denied
    login checks fail ── prompt=none ───────────────────► refuse login_required
                      └─ otherwise ─────────────────────► login  (sign-in page)
    consent checks fail ─ prompt=none ──────────────────► refuse consent_required
                        └─ otherwise ───────────────────► consent (consent page)
    nothing fails ──────────────────────────────────────► answer (code to the portal)

Check names (they drive the pages and go into the ``interaction.prompt`` event):
``login_required``, ``prompt_login``, ``max_age_exceeded``, ``id_token_hint_mismatch``
(OIDC Core §3.1.2.1, §3.1.2.3) and consent's ``claims_not_granted``, ``notice_changed``,
``prompt_consent`` (see ``idp.consent.policy``).
"""

from __future__ import annotations

from dataclasses import dataclass

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError

from idp.claims import ClaimsRequestError, parse_claims_request

LOGIN_REQUIRED = "login_required"
PROMPT_LOGIN = "prompt_login"
MAX_AGE_EXCEEDED = "max_age_exceeded"
ID_TOKEN_HINT_MISMATCH = "id_token_hint_mismatch"

#: Outcomes of ``decide``.
ANSWER = "answer"
LOGIN = "login"
CONSENT = "consent"
REFUSE = "refuse"

#: Errors a refusal names (OAuth 2.0 §4.1.2.1, OIDC Core §3.1.2.6).
ACCESS_DENIED = "access_denied"
CONSENT_REQUIRED = "consent_required"


@dataclass(frozen=True)
class AuthorizationAsk:
    """What an authorization request asks of the policy, parsed and checked."""

    prompts: frozenset[str]
    max_age: int | None
    claims_request: dict[str, dict[str, bool]]
    id_token_hint: str | None

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


@dataclass(frozen=True)
class Decision:
    """The policy's answer: an outcome, the checks that failed, the error of a refusal."""

    outcome: str
    checks: tuple[str, ...] = ()
    error: str | None = None


def parse_ask(params: dict[str, str], redirect_uri: str | None) -> AuthorizationAsk:
    """Parse the policy's parameters; raise the OAuth error a malformed one deserves.

    Errors carry ``redirect_uri`` (already verified by Authlib) so the portal hears them.
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
    return AuthorizationAsk(
        prompts=frozenset((params.get("prompt") or "").split()),
        max_age=max_age,
        claims_request=claims_request,
        id_token_hint=params.get("id_token_hint") or None,
    )


def login_checks(ask: AuthorizationAsk, session: SessionFacts | None, *, now: int) -> list[str]:
    """Return the failing sign-in checks (empty when the session is good enough)."""
    if session is None:
        return [LOGIN_REQUIRED]
    if session.fresh:
        # The citizen has just signed in for this very request: nothing more to prove.
        return []
    checks = []
    if "login" in ask.prompts:
        checks.append(PROMPT_LOGIN)
    if ask.max_age is not None and now - session.auth_time > ask.max_age:
        checks.append(MAX_AGE_EXCEEDED)
    if session.hint_matches is False:
        checks.append(ID_TOKEN_HINT_MISMATCH)
    return checks


def decide(
    ask: AuthorizationAsk,
    session: SessionFacts | None,
    consent_checks: tuple[str, ...] | None,
    *,
    now: int,
    denied: bool = False,
) -> Decision:
    """Return what /authorize must do, by named checks (see the module docstring).

    ``consent_checks`` are the failing consent checks for the signed-in citizen (None
    when nobody is signed in); ``denied`` is true once the citizen said no on the page.
    """
    if denied:
        return Decision(REFUSE, (), ACCESS_DENIED)
    failing = login_checks(ask, session, now=now)
    if failing:
        if ask.silent:
            return Decision(REFUSE, tuple(failing), LOGIN_REQUIRED)
        return Decision(LOGIN, tuple(failing))
    if consent_checks:
        if ask.silent:
            return Decision(REFUSE, tuple(consent_checks), CONSENT_REQUIRED)
        return Decision(CONSENT, tuple(consent_checks))
    return Decision(ANSWER)
