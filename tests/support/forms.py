"""Reading the provider's pages: form tokens, the interaction id, consent check boxes.

Every function takes the page's HTML text, whichever client fetched it.
"""

from __future__ import annotations

import re

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_INTERACTION = re.compile(r'name="interaction" value="([^"]+)"')
_CHECKBOX = re.compile(r'<input type="checkbox" name="claim" value="([^"]+)"([^>]*)>')


def csrf_token(html: str) -> str:
    """Return the page's CSRF token (the page must carry one)."""
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def interaction_id(html: str) -> str | None:
    """Return the interaction id the page's form carries, or None."""
    match = _INTERACTION.search(html)
    return match.group(1) if match else None


def hidden_fields(html: str) -> dict[str, str]:
    """Return the CSRF token and interaction id a submitted form sends back (when present)."""
    fields = {}
    if match := _CSRF.search(html):
        fields["csrf_token"] = match.group(1)
    if (interaction := interaction_id(html)) is not None:
        fields["interaction"] = interaction
    return fields


def checked_claims(html: str) -> list[str]:
    """Return the claim boxes a citizen who agrees to everything ticks and submits.

    Optional items start unticked; this is every box that can be ticked. Required items
    have a disabled (ticked) box: agreeing grants them, and a browser does not send them.
    """
    return [value for value, rest in _CHECKBOX.findall(html) if " disabled" not in rest]


def ticked_claims(html: str) -> list[str]:
    """Return the claim boxes ticked as the page stands (required ones included)."""
    return [value for value, rest in _CHECKBOX.findall(html) if " checked" in rest]


def as_is_claims(html: str) -> list[str]:
    """Return what a browser submits for the page untouched (ticked, enabled boxes)."""
    return [
        value
        for value, rest in _CHECKBOX.findall(html)
        if " checked" in rest and " disabled" not in rest
    ]


def required_claims(html: str) -> list[str]:
    """Return the items the page shows as required (a ticked box that cannot be cleared)."""
    return [value for value, rest in _CHECKBOX.findall(html) if " disabled" in rest]


def shown_claims(html: str) -> list[str]:
    """Return every claim checkbox on a consent page."""
    return [value for value, _ in _CHECKBOX.findall(html)]


def continue_link(html: str) -> str:
    """Return the target of a page's "continue" link."""
    match = re.search(r'id="continue" href="([^"]+)"', html)
    assert match, "no continue link on the page"
    return match.group(1).replace("&amp;", "&")


def withdraw_grant_id(html: str, client_id: str) -> str:
    """Return the grant id of a portal's withdraw form on the connected-portals page."""
    section = html.split(f'data-client-id="{client_id}"', 1)[1]
    match = re.search(r'/account/portals/([0-9a-f-]{36})/withdraw(?:/confirm)?"', section)
    assert match, "no withdraw form for the portal"
    return match.group(1)
