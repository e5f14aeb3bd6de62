"""The authorization interaction: an explicit single-use state machine in the store.

An authorization request that cannot be answered at once (the citizen must sign in or
consent) is parked in the shared store under an opaque id, bound to the browser that
started it, with a TTL. Any worker can serve any step::

    /authorize ──► login_pending ──(password | step-up code)──► authenticated ──► consent_pending
                    │    │                                        ▲  │               │   │
                    │    └(password, level 2)► second_factor_pending ─(code)         │   │
                    │                                                │               │   │
                    │                                                └(nothing new)┐ │   │
                    │                                                              ▼ ▼   ▼
                    └─────────────────────────────────────────────────────► consented | denied
                                                                                  │
                                            /authorize/resume/<id> takes it (single use)
                                            and answers the portal with a code or error.

A level-2 sign-in from scratch goes through ``second_factor_pending`` (the password was
right, the code is still to come); a step-up (signed in at level 1) goes straight from
``login_pending`` to ``authenticated`` with the code alone. Every transition checks the
current state. Whether to prompt is decided by named checks
(``login_required``, ``prompt_login``, ``max_age_exceeded``, ``id_token_hint_mismatch``,
``acr_below_required``, ``second_factor_missing``, ``claims_not_granted``,
``prompt_consent``); the failing names drive the pages.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from idp.hashing import digest
from idp.store import Store

LOGIN_PENDING = "login_pending"
SECOND_FACTOR_PENDING = "second_factor_pending"
AUTHENTICATED = "authenticated"
CONSENT_PENDING = "consent_pending"
CONSENTED = "consented"
DENIED = "denied"

_TRANSITIONS = {
    LOGIN_PENDING: {AUTHENTICATED, SECOND_FACTOR_PENDING},
    SECOND_FACTOR_PENDING: {AUTHENTICATED, LOGIN_PENDING},
    AUTHENTICATED: {CONSENT_PENDING, CONSENTED, LOGIN_PENDING},
    CONSENT_PENDING: {CONSENTED, DENIED, LOGIN_PENDING},
    CONSENTED: set(),
    DENIED: set(),
}
_FINAL = {CONSENTED, DENIED}

# Parameters worth keeping to replay the authorization request (OIDC Core §3.1.2.1).
KEPT_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "ui_locales",
    "claims_locales",
    "id_token_hint",
    "login_hint",
    "acr_values",
    "display",
    "response_mode",
    "claims",
)


class TransitionError(Exception):
    """The interaction is not in a state that allows this step."""


@dataclass
class Interaction:
    """One parked authorization request and how far it got."""

    id: str
    binding: str  # the digest of the browser's binding value (web.browser_binding)
    params: dict[str, str]
    state: str
    checks: list[str] = field(default_factory=list)
    citizen_id: str | None = None
    login_done: bool = False
    consent_done: bool = False
    #: The level of assurance the sign-in should reach (0: none asked).
    acr_level: int = 0
    created_at: int = field(default_factory=lambda: int(time.time()))

    @property
    def prompts(self) -> set[str]:
        """Return the ``prompt`` values of the request."""
        return set((self.params.get("prompt") or "").split())


def _key(iid: str) -> str:
    # The id travels in URLs; the store keeps only its digest (as for codes and sessions).
    return f"interaction:{digest(iid)}"


def _record(inter: Interaction) -> dict[str, Any]:
    """Return what the store keeps: everything but the id (the key holds its digest)."""
    data = asdict(inter)
    del data["id"]
    return data


def start(
    store: Store,
    *,
    params: dict[str, str],
    binding: str,
    state: str,
    checks: list[str],
    citizen_id: str | None,
    ttl: int,
    acr_level: int = 0,
) -> Interaction:
    """Park an authorization request and return its interaction."""
    kept = {k: params[k] for k in KEPT_PARAMS if isinstance(params.get(k), str)}
    inter = Interaction(
        id=secrets.token_urlsafe(24),
        binding=digest(binding),
        params=kept,
        state=state,
        checks=list(checks),
        citizen_id=citizen_id,
        acr_level=acr_level,
    )
    store.put(_key(inter.id), _record(inter), ttl)
    return inter


def load(store: Store, iid: object, binding: str | None) -> Interaction | None:
    """Return the interaction if it exists and belongs to this browser."""
    if not isinstance(iid, str) or not 10 <= len(iid) <= 64 or not binding:
        return None
    data = store.get(_key(iid))
    if not data or not secrets.compare_digest(data.get("binding", ""), digest(binding)):
        return None
    return Interaction(id=iid, **data)


def advance(store: Store, inter: Interaction, new_state: str, ttl: int, **changes: Any) -> None:
    """Move to ``new_state`` if the state machine allows it (or stay), saving changes."""
    stay = new_state == inter.state and new_state not in _FINAL
    if not stay and new_state not in _TRANSITIONS[inter.state]:
        raise TransitionError(f"{inter.state} -> {new_state}")
    inter.state = new_state
    for key, value in changes.items():
        setattr(inter, key, value)
    store.put(_key(inter.id), _record(inter), ttl)


def take(store: Store, inter: Interaction) -> Interaction | None:
    """Consume the interaction atomically (it answers the portal once)."""
    data = store.take(_key(inter.id))
    if not data or data.get("binding") != inter.binding:
        return None
    return Interaction(id=inter.id, **data)
