"""The consent side of the interaction policy, shared by /authorize and the consent page.

Both must agree on exactly what is asked: the page shows what this computes, and the
decision is checked against it again on submit (never against the form).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.citizens import identity
from idp.citizens import service as citizens
from idp.claims import (
    SCOPE_ITEMS,
    VERIFIABLE_ITEMS,
    essential_items,
    items_of_scopes,
    parse_claims_request,
    requested_items,
)
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
    #: Requested items the portal accepts only verified, whose values are only declared.
    unverified: tuple[str, ...] = ()

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
    # The registration is the upper bound: a ``claims`` member outside the portal's
    # registered scopes is ignored like an unknown claim (OIDC Core §5.5).
    items = requested_items(scopes, claims_request) & registered_items(portal)
    citizen = citizens.get_citizen(db, citizen_id)
    on_file = citizens.items_on_file(citizen) if citizen is not None else frozenset()
    if consent_done:
        # The citizen has just answered the consent page of this very request: what they
        # left unticked is simply not shared; they are not asked again.
        prompt = consent_grants.Prompt((), (), ())
    else:
        prompt = consent_grants.evaluate(
            db,
            state,
            notice,
            items=items,
            scopes=scopes,
            prompt_consent="consent" in prompts,
            on_file=on_file,
        )
    unverified: tuple[str, ...] = ()
    needed = items & frozenset(
        i for i, spec in (notice.purposes if notice else {}).items() if spec.get("verified")
    )
    if needed and citizen is not None:
        verified = identity.assurance_of(db, citizen).verified_items()
        unverified = tuple(i for i in VERIFIABLE_ITEMS if i in needed and i not in verified)
    return ConsentNeeds(
        prompt,
        state,
        notice,
        claims_request,
        frozenset(scopes),
        frozenset(essential_items(claims_request)),
        unverified,
    )


def verified_required(db: Session, portal: Portal) -> frozenset[str]:
    """Return the items the portal registered as needing verified data (``verified``)."""
    notice = notices.current_notice(db, portal.id)
    declared = notice.purposes if notice else {}
    return frozenset(i for i, spec in declared.items() if spec.get("verified"))


def registered_items(portal: Portal) -> frozenset[str]:
    """Return the consent items the portal's registered scopes cover (its upper bound)."""
    return items_of_scopes(portal.scope.split())


def releasable_items(db: Session, *, portal: Portal, grant_id: str) -> frozenset[str]:
    """Return the items that may leave for this grant now, on every channel.

    Granted, live, declared on the terms the citizen accepted (a changed purpose pauses
    the item until re-consent) and within the portal's registration.
    """
    notice = notices.current_notice(db, portal.id)
    live = consent_grants.releasable_items(db, grant_id=grant_id, notice=notice)
    return live & registered_items(portal)


def granted_scope(
    db: Session, *, portal: Portal, grant_id: str, requested: Iterable[str]
) -> list[str]:
    """Return the requested scope values that consent grants now, in request order.

    RFC 6749 §3.3: the issued scope is what was requested and granted. ``openid`` and
    ``offline_access`` (as granted) stay; a claim scope stays while at least one of its
    items is releasable; a scope none of whose items is releasable is dropped.
    """
    grant = consent_grants.get_grant(db, grant_id)
    if grant is None or grant.revoked_at is not None:
        return []
    items = releasable_items(db, portal=portal, grant_id=grant_id)
    plain = grant.scopes | {"openid"}
    out: list[str] = []
    for scope in dict.fromkeys(requested):
        if scope in consent_grants.PLAIN_SCOPES:
            keep = scope in plain
        else:
            keep = bool(set(SCOPE_ITEMS.get(scope, ())) & items)
        if keep:
            out.append(scope)
    return out
