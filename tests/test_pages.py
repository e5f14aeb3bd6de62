"""Pages about the service: the privacy notice (the same text as docs/privacy.md, in
both languages), help, and the operator's identity in every page's header and footer."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from idp import create_app
from idp.pages import privacy_html

ROOT = Path(__file__).resolve().parents[1]


def test_the_privacy_page_is_the_privacy_document(client):
    page = client.get("/privacy?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    source = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    first_heading = re.search(r"^# (.+)$", source, re.M).group(1)
    assert f"<h1>{first_heading.split(':')[0]}" in html
    # Every section of the document is on the page, tables included.
    for heading in re.findall(r"^## (.+)$", source, re.M):
        plain = re.sub(r"[*`]", "", heading)
        assert plain.split(" (")[0][:30] in re.sub(r"<[^>]+>", "", html), heading
    assert "<table>" in html
    # Links to the repository's other files become text (they are not pages here).
    assert 'href="integration.md"' not in html


def test_the_vietnamese_privacy_page_is_vietnamese_or_says_it_is_not_yet(client):
    html = client.get("/privacy?lang=vi").get_data(as_text=True)
    assert '<html lang="vi">' in html
    if (ROOT / "idp" / "content" / "privacy.vi.md").is_file():
        assert str(privacy_html("vi")) != str(privacy_html("en"))
        assert 'id="privacy-notice" lang="vi"' in html
        assert 'id="privacy-untranslated"' not in html
    else:
        # The English original, marked as English, with a word in the page's language.
        assert 'id="privacy-untranslated"' in html
        assert "chưa được dịch" in html
        assert 'id="privacy-notice" lang="en"' in html
    english = client.get("/privacy?lang=en").get_data(as_text=True)
    assert 'id="privacy-untranslated"' not in english


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_help_and_privacy_are_linked_from_every_page(client, lang):
    for path in ("/", "/signin", "/register", "/help", "/privacy"):
        html = client.get(f"{path}?lang={lang}").get_data(as_text=True)
        assert re.search(r'<a href="/privacy" id="footer-privacy">', html), path
        assert re.search(r'<a href="/help" id="footer-help">', html), path


def test_the_operator_is_named_on_every_page(settings, db, store, backend, tmp_path):
    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')
    tuned = replace(
        settings,
        operator_name="UBND thành phố Đà Nẵng",
        operator_name_en="Da Nang City People's Committee",
        operator_hotline="1022",
        operator_logo=logo,
    )
    app = create_app(
        tuned,
        engine=backend.engine,
        session_factory=lambda: db,
        store=store,
        limiter=backend.new_limiter(tuned),
    )
    client = app.test_client()
    vi = client.get("/signin?lang=vi").get_data(as_text=True)
    en = client.get("/signin?lang=en").get_data(as_text=True)
    assert "UBND thành phố Đà Nẵng" in vi
    assert "Da Nang City People's Committee" in en.replace("&#39;", "'")
    assert 'href="tel:1022"' in vi
    assert 'src="/operator-logo"' in vi
    served = client.get("/operator-logo")
    assert served.status_code == 200
    assert served.mimetype == "image/svg+xml"
    assert "default-src 'none'" in served.headers["Content-Security-Policy"]
    served.close()
    help_page = client.get("/help?lang=en").get_data(as_text=True)
    assert 'id="help-hotline"' in help_page


def test_no_logo_no_logo_route(client):
    assert client.get("/operator-logo").status_code == 404
