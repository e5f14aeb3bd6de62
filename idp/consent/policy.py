"""The consent side of the interaction policy, shared by /authorize and the consent page.

Both must agree on exactly what is asked: the page shows what this computes, and the
decision is checked against it again on submit (never against the form).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.claims import essential_items, parse_claims_request, requested_items
from idp.consent import grants as consent_grants
from idp.consent import notices
from idp.consent.models import Notice
from idp.portals.models import Portal


@dataclass(frozen=True)
class ConsentNeeds:
    """What an authorization request needs from the citizen's consent."""

    prompt: consent_grants.Prompt
    state: consent_grants.ConsentState
    notice: Notice | None
    claims_request: dict[str, dict[str, bool]]
    scopes: frozenset[str]
    essential: frozenset[str]

    @property
    def satisfied(self) -> bool:
        """Return whether the request can be answered without a consent page."""
        return not self.prompt.checks


def consent_needs(
    db: Session,
    *,
    citizen_id: str,
    portal: Portal,
    params: dict[str, str],
    consent_done: bool,
    claims_request: dict[str, dict[str, bool]] | None = None,
) -> ConsentNeeds:
    """Evaluate the named consent checks for a (parked or live) authorization request.

    Raises ClaimsRequestError when the ``claims`` parameter is malformed.
    """
    if claims_request is None:
        claims_request = parse_claims_request(params.get("claims"))
    scopes = set(portal.get_allowed_scope(params.get("scope") or "").split())
    prompts = set((params.get("prompt") or "").split())
    state = consent_grants.consent_state(db, citizen_id=citizen_id, portal_id=portal.id)
    # OIDC Core §11: offline_access only with prompt=consent (or consent given before).
    if (
        "offline_access" in scopes
        and "consent" not in prompts
        and ("offline_access" not in state.scopes)
    ):
        scopes.discard("offline_access")
    notice = notices.current_notice(db, portal.id)
    if consent_done:
        # The citizen has just answered the consent page of this very request: what they
        # left unticked is simply not shared; they are not asked again.
        prompt = consent_grants.Prompt((), (), ())
    else:
        prompt = consent_grants.evaluate(
            db,
            state,
            notice,
            items=requested_items(scopes, claims_request),
            scopes=scopes,
            prompt_consent="consent" in prompts,
        )
    return ConsentNeeds(
        prompt,
        state,
        notice,
        claims_request,
        frozenset(scopes),
        frozenset(essential_items(claims_request)),
    )
