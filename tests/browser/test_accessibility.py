"""WCAG 2.2 AA: axe-core finds no violation, of any impact, on any page of the provider
and of the demo portals — at 360 px and 1280 px, in Vietnamese and English, signed in and
out, with and without form errors.

axe-core runs in Debian's chromium (injected from ``axe-playwright-python``'s bundled
copy) with its default rules plus every rule tagged with a WCAG 2.0–2.2 A or AA level,
experimental ones included (``label-content-name-mismatch``, ``target-size``). Pages look
the same on both backends, so this runs on the embedded one.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import agree_to_all, sign_in, wait_for_consent

pytestmark = [pytest.mark.browser, pytest.mark.live]

WIDTHS = {"phone": {"width": 360, "height": 780}, "desktop": {"width": 1280, "height": 900}}
LANGS = {"vi": "vi-VN", "en": "en-US"}


def _axe_script() -> str:
    from axe_playwright_python.base import AXE_SCRIPT

    return AXE_SCRIPT


def axe_violations(page: Any) -> list[str]:
    """Run axe-core on the page; return one line per violation and element."""
    page.evaluate(_axe_script())
    result = page.evaluate(
        """async () => {
            // Every rule of WCAG 2.0-2.2 A and AA, the experimental ones included.
            const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];
            const extra = axe.getRules(tags).map(r => r.ruleId);
            const rules = Object.fromEntries(extra.map(id => [id, {enabled: true}]));
            const out = await axe.run(document, {resultTypes: ['violations'], rules});
            return out.violations.map(v => v.nodes.map(n =>
                `${v.id} (${v.impact}) ${n.target.join(' ')}: ${n.failureSummary}`
            )).flat();
        }"""
    )
    return [f"{page.url} :: {line}" for line in result]


class Audit:
    """Collects the violations of every page a journey shows."""

    def __init__(self, page: Any):
        self.page = page
        self.found: list[str] = []
        self.seen: list[str] = []

    def check(self, label: str) -> None:
        self.page.wait_for_load_state("load")
        self.seen.append(label)
        self.found.extend(f"[{label}] {v}" for v in axe_violations(self.page))


@pytest.fixture
def audit_page(browsing: Any, request: pytest.FixtureRequest) -> Any:
    width, lang = request.param
    return browsing.new_page(viewport=WIDTHS[width], locale=LANGS[lang]), lang


def _cases() -> list[Any]:
    return [pytest.param((w, lang), id=f"{w}-{lang}") for w in WIDTHS for lang in LANGS]


@pytest.mark.parametrize("audit_page", _cases(), indirect=True)
def test_every_page_has_no_axe_violation(audit_page, live, portals, backend):
    if backend.name != "embedded":
        pytest.skip("pages are the same on both backends: audited once, on the embedded one")
    page, lang = audit_page
    land, _ = portals
    audit = Audit(page)
    citizen = live.make_citizen()

    # Signed out.
    page.goto(f"{live.url}/?lang={lang}")
    audit.check("home")
    page.goto(f"{live.url}/signin")
    audit.check("signin")
    page.fill("#identifier", citizen["identifier"])
    page.fill("#password", "not the password")
    page.locator('form button[type="submit"]').click()
    expect(page.locator(".error, .error-summary").first).to_be_visible()
    audit.check("signin with an error")
    page.goto(f"{live.url}/register")
    audit.check("register")
    page.locator('form#register-form button[type="submit"]').click()
    expect(page.locator(".error-summary")).to_be_visible()
    audit.check("register with errors")
    page.goto(f"{live.url}/recover")
    audit.check("recover")
    page.goto(f"{live.url}/authorize?client_id=nobody&response_type=code")
    audit.check("error page")
    page.goto(f"{live.url}/staff/signin")
    audit.check("staff sign-in")

    # A portal, its sign-in, consent, and back.
    page.goto(land.url + "/")
    audit.check("demo portal signed out")
    page.click("#login")
    expect(page.locator("#password")).to_be_visible()
    sign_in(page, citizen)
    wait_for_consent(page)
    audit.check("consent")
    agree_to_all(page)
    page.click("#approve")
    page.wait_for_url(land.url + "/**")
    audit.check("demo portal signed in")

    # Signed in.
    for path, label in (
        ("/account", "account"),
        ("/account/portals", "connected portals"),
        ("/account/history", "data history"),
        ("/account/second-factor", "second factor"),
    ):
        page.goto(live.url + path)
        audit.check(label)

    assert audit.found == [], "\n".join(audit.found)


def _contrast(one: tuple[int, int, int], two: tuple[int, int, int]) -> float:
    def luminance(rgb: tuple[int, int, int]) -> float:
        parts = []
        for c in rgb:
            v = c / 255
            parts.append(v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4)
        return 0.2126 * parts[0] + 0.7152 * parts[1] + 0.0722 * parts[2]

    hi, lo = sorted((luminance(one), luminance(two)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rgb(css: str) -> tuple[int, int, int]:
    import re

    r, g, b = (int(x) for x in re.findall(r"\d+", css)[:3])
    return r, g, b


FOCUS_STYLE = """el => {
    const s = getComputedStyle(el);
    let bg = 'rgb(255, 255, 255)';
    for (let n = el.parentElement; n; n = n.parentElement) {
        const c = getComputedStyle(n).backgroundColor;
        if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') { bg = c; break; }
    }
    return {tag: el.tagName, outline: s.outlineStyle, width: parseFloat(s.outlineWidth),
            color: s.outlineColor, shadow: s.boxShadow, background: bg,
            height: el.getBoundingClientRect().height,
            // A link inside a sentence is exempt from the target size (WCAG 2.5.8).
            inline: el.tagName === 'A' && !el.closest('header, nav, footer') &&
                    ['P', 'LI', 'DD', 'TD'].includes(el.parentElement.tagName) &&
                    el.parentElement.textContent.trim() !== el.textContent.trim(),
            width_px: el.getBoundingClientRect().width};
}"""


def test_focus_is_visible_at_3_to_1_on_every_control_and_targets_are_24px(page, live, backend):
    """Tab through the sign-in and registration pages: every control shows a focus ring
    with a part at 3:1 or more against the background it sits on (WCAG 1.4.11, 2.4.7),
    the first stop is the skip link to the main content, and every target is at least
    24 px high (WCAG 2.5.8)."""
    if backend.name != "embedded":
        pytest.skip("pages are the same on both backends: checked once, on the embedded one")
    for path in ("/signin", "/register", "/recover"):
        page.goto(live.url + path)
        page.keyboard.press("Tab")
        first = page.evaluate("document.activeElement.className")
        assert first == "skip-link", f"{path}: the first tab stop is {first!r}"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        page.goto(live.url + path)
        seen = 0
        for _ in range(60):
            page.keyboard.press("Tab")
            handle = page.evaluate_handle("document.activeElement")
            if page.evaluate("el => el === document.body", handle):
                break
            style = page.evaluate(FOCUS_STYLE, handle)
            if style["tag"] == "MAIN":
                continue
            seen += 1
            assert style["outline"] == "solid", (path, page.evaluate("el => el.outerHTML", handle))
            assert style["width"] >= 2, (path, style)
            ring = _rgb(style["color"])
            halo = _rgb(style["shadow"]) if "rgb" in style["shadow"] else ring
            background = _rgb(style["background"])
            best = max(_contrast(ring, background), _contrast(halo, background))
            assert best >= 3, (path, style, best)
            if not style["inline"]:
                assert style["height"] >= 24, (
                    path,
                    page.evaluate("el => el.outerHTML", handle),
                    style,
                )
        assert seen >= 3, f"{path}: only {seen} controls reached by Tab"
