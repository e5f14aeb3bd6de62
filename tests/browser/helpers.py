"""What a citizen does and sees in the browser tests: shared steps and page readers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import expect


def path_of(url: str) -> str:
    """Return the path of a URL."""
    return urlsplit(url).path


def on_provider(live: Any, urls: list[str]) -> list[str]:
    """Return the provider paths among the URLs, in order."""
    return [path_of(u) for u in urls if u.startswith(live.url + "/")]


def claim(page: Any, name: str, column: int = 2) -> str:
    """Return a claim the portal shows (column 2: ID token, 3: userinfo)."""
    return page.locator(f'#claims tr[data-claim="{name}"] td:nth-child({column})').inner_text()


def claims_shown(page: Any) -> set[str]:
    """Return the names of the claims in the portal's claims table."""
    return set(
        page.locator("#claims tr[data-claim]").evaluate_all(
            "rows => rows.map(r => r.dataset.claim)"
        )
    )


def assert_no_horizontal_scroll(page: Any) -> None:
    """Fail if the page is wider than the viewport (it would scroll sideways on a phone)."""
    width = page.evaluate(
        "[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
    )
    assert width[0] <= width[1], f"{page.url} scrolls sideways: scrollWidth/clientWidth {width}"


def assert_clean(page: Any) -> None:
    """Fail on any CSP violation or script error seen by the page."""
    assert page.log.csp_violations() == []
    assert page.log.errors == []


def sign_in(page: Any, citizen: dict[str, Any], *, at: str | None = None) -> None:
    """Fill and submit the provider's sign-in form (no consent decision yet).

    With ``at`` (a portal's URL), start from that portal's home page and its login link.
    """
    if at is not None:
        page.goto(at + "/")
        page.click("#login")
        expect(page.locator("#password")).to_be_visible()
    page.fill("#identifier", citizen["identifier"])
    page.fill("#password", citizen["password"])
    page.locator('form button[type="submit"]').click()


def consent_items(page: Any) -> list[dict[str, Any]]:
    """Return the claim items the consent page asks for, in page order.

    Each: ``item``, ``purpose`` (the purpose line), ``required`` (marked so), ``ticked``.
    """
    return page.locator("#requested-claims > li[data-claim]").evaluate_all("""
        items => items.map(li => {
            const box = li.querySelector('input[type="checkbox"][name="claim"]');
            const purpose = li.querySelector('p.purpose');
            return {
                item: li.dataset.claim,
                value: box ? box.value : null,
                purpose: purpose ? purpose.textContent.trim().replace(/\\s+/g, ' ') : null,
                required: li.querySelector('.badge.required') !== null,
                ticked: box ? box.checked : null,
            };
        })""")


def already_granted(page: Any) -> list[str]:
    """Return the items listed as already granted (empty if the list is absent)."""
    return page.locator("#already-granted > li[data-claim]").evaluate_all(
        "items => items.map(li => li.dataset.claim)"
    )


def wait_for_consent(page: Any) -> None:
    """Wait until the consent page is shown."""
    expect(page.locator("#approve")).to_be_visible()
    assert path_of(page.url) == "/consent", page.url


def agree_to_all(page: Any) -> None:
    """Tick every optional claim box (they start unticked; required ones cannot change)."""
    boxes = page.locator('#requested-claims input[type="checkbox"][name="claim"]:not([disabled])')
    for n in range(boxes.count()):
        boxes.nth(n).check()


def signed_out_by_provider(page: Any, portal_url: str, within: float = 10.0) -> None:
    """Reload the portal until it says the provider ended its session (a logout token
    travels through the provider's queue: it arrives within moments, not at once)."""
    import time

    deadline = time.monotonic() + within
    while True:
        page.goto(portal_url + "/")
        if page.locator("#portal-withdrawn").count():
            return
        assert time.monotonic() < deadline, "the portal never heard of the logout"
        page.wait_for_timeout(200)
