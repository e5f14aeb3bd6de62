"""Translations: every message has Vietnamese, the .mo files are current, pages switch language.

The catalogue is extracted in-process with Babel's own API and the repository's babel.cfg,
the same way ``scripts/i18n.sh`` runs ``pybabel extract``. When a test here fails after
you added or changed a message: run ``scripts/i18n.sh``, translate the new entries in
``idp/translations/vi/LC_MESSAGES/messages.po``, then ``scripts/i18n.sh compile``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from babel.messages import extract
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.support.forms import csrf_token

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "idp" / "translations"
LOCALES = ("vi", "en")
HINT = "run scripts/i18n.sh, translate the new entries, then scripts/i18n.sh compile"

# The same keywords as `pybabel extract -k _l -k lazy_gettext` (see scripts/i18n.sh).
KEYWORDS: dict[str, Any] = {**extract.DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}

# A printf conversion as Python's % operator reads it: %(name)s, %d, %% ...
_CONVERSION = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +\-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?"
    r"(?P<type>[diouxXeEfFgGcrsa%])"
)
_HTML_LANG = re.compile(r'<html lang="([^"]+)">')
_FIELD_ERROR = re.compile(r'<p class="error" id="([a-z_]+)-error" role="alert">([^<]*)</p>')


def _mapping(path: Path) -> tuple[list[tuple[str, str]], dict[str, dict[str, Any]]]:
    try:  # Babel >= 2.14
        from babel.messages.frontend import parse_mapping_cfg
    except ImportError:  # pragma: no cover - older Babel
        from babel.messages.frontend import parse_mapping as parse_mapping_cfg
    with path.open(encoding="utf-8") as fileobj:
        return parse_mapping_cfg(fileobj, filename=str(path))


def _msgid(message: str | tuple[str, ...]) -> str | tuple[str, ...]:
    """Return the catalogue key of an extracted message (a tuple for ngettext)."""
    if isinstance(message, tuple):
        return tuple(m for m in message if m is not None)
    return message


@pytest.fixture(scope="module")
def extracted() -> dict[tuple[str | tuple[str, ...], str | None], list[str]]:
    """Extract the messages now, from the working tree: {(msgid, context): [locations]}."""
    method_map, options_map = _mapping(ROOT / "babel.cfg")
    found: dict[tuple[str | tuple[str, ...], str | None], list[str]] = {}
    for filename, lineno, message, _comments, context in extract.extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        found.setdefault((_msgid(message), context), []).append(f"{filename}:{lineno}")
    return found


def _catalog(locale: str) -> Catalog:
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as fileobj:
        return read_po(fileobj, locale=locale)


@pytest.fixture(scope="module")
def vi() -> Catalog:
    """The Vietnamese catalogue as committed."""
    return _catalog("vi")


def _texts(value: str | tuple[str, ...] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _conversions(text: str) -> tuple[Counter[tuple[str | None, str]], int]:
    """Return the %-conversions of ``text`` and how many stray "%" signs remain."""
    found = Counter((m.group("name"), m.group("type")) for m in _CONVERSION.finditer(text))
    return found, _CONVERSION.sub("", text).count("%")


def _report(problems: Iterable[str]) -> str:
    return "\n".join(["", *problems, f"({HINT})"])


# -- (a) every extracted message has Vietnamese -----------------------------------------


def test_extraction_finds_the_messages(extracted) -> None:
    """A sanity check on babel.cfg: Python (lazy) and template messages are both found."""
    ids = {msgid for msgid, _ctx in extracted}
    assert "Sign in" in ids  # templates (jinja2 extractor)
    assert "Enter a name." in ids  # lazy_gettext as _l in idp/citizens/validation.py
    assert len(ids) > 100
    files = {loc.rsplit(":", 1)[0] for locs in extracted.values() for loc in locs}
    assert not [f for f in files if f.startswith((".venv", "tests"))]


def test_every_message_has_a_vietnamese_translation(extracted, vi) -> None:
    problems = []
    for (msgid, context), locations in sorted(extracted.items(), key=str):
        where = ", ".join(locations[:2])
        message = vi.get(msgid, context)
        if message is None:
            problems.append(f"missing from vi/messages.po: {msgid!r} ({where})")
        elif message.fuzzy:
            problems.append(f"fuzzy in vi/messages.po (check it, drop the flag): {msgid!r}")
        elif not all(s.strip() for s in _texts(message.string)) or not _texts(message.string):
            problems.append(f"not translated in vi/messages.po: {msgid!r} ({where})")
    assert not problems, _report(problems)


def test_every_locale_has_a_catalogue() -> None:
    for locale in LOCALES:
        catalog = _catalog(locale)
        assert str(catalog.locale) == locale
        assert not catalog.fuzzy, f"{locale}/messages.po has a fuzzy header"
        assert (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo").is_file()


# -- (b) placeholders and safe text -------------------------------------------------------


def test_placeholders_match(vi) -> None:
    problems = []
    for message in vi:
        if not message.id or not message.string:
            continue
        ids = _texts(message.id)
        for text in _texts(message.string):
            if not text:
                continue
            # Plural forms may drop the number (e.g. "one"); every conversion must exist.
            expected = [_conversions(i) for i in ids]
            if _conversions(text) not in expected:
                problems.append(f"placeholders differ: {message.id!r} -> {text!r}")
    assert not problems, _report(problems)


def test_translations_are_nfc_and_add_no_markup(vi) -> None:
    # Jinja's gettext marks template translations safe: a "<" or "&" they add is raw HTML.
    problems = []
    for message in vi:
        if not message.id:
            continue
        source = "".join(_texts(message.id))
        for text in _texts(message.string):
            if text != unicodedata.normalize("NFC", text):
                problems.append(f"not NFC: {text!r}")
            if any(c in text and c not in source for c in "<>&"):
                problems.append(f"adds markup characters: {text!r}")
            if text and (text != text.strip()) != (source != source.strip()):
                problems.append(f"leading/trailing space differs: {message.id!r} -> {text!r}")
    assert not problems, _report(problems)


# -- (c) the compiled catalogues are current ------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_mo_matches_po(locale: str) -> None:
    """The committed .mo holds exactly the .po's translated, non-fuzzy messages."""
    po = _catalog(locale)
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo").open("rb") as fileobj:
        mo = read_mo(fileobj)
    # What `pybabel compile` (babel.messages.mofile.write_mo, use_fuzzy=False) keeps.
    want = {(m.id, m.context): m.string for m in po if m.id and m.string and not m.fuzzy}
    have = {(m.id, m.context): m.string for m in mo if m.id}
    stale = sorted(str(k[0]) for k in want.keys() ^ have.keys()) + sorted(
        str(k[0]) for k in want.keys() & have.keys() if want[k] != have[k]
    )
    assert not stale, _report([f"{locale}/messages.mo is out of date for {s!r}" for s in stale])
    assert dict(mo.mime_headers).get("Language") == locale


# -- (d) pages in Vietnamese by default, English on request, the choice kept ----------


def _page(client: Any, path: str) -> tuple[str, str]:
    resp = client.get(path)
    assert resp.status_code == 200, path
    body = resp.get_data(as_text=True)
    match = _HTML_LANG.search(body)
    assert match, path
    return match.group(1), body


def test_known_locales(app: Any) -> None:
    from flask_babel import get_babel

    with app.app_context():
        known = {str(locale) for locale in get_babel(app).instance.list_translations()}
    assert {"vi", "en"} <= known


def _expect(
    client: Any, path: str, lang: str, shows: tuple[str, ...], hides: tuple[str, ...] = ()
) -> None:
    got, body = _page(client, path)
    assert got == lang, f"{path}: <html lang={got!r}>, expected {lang!r}"
    missing = [s for s in shows if s not in body]
    assert not missing, f"{path} ({lang}) lacks {missing}"
    leaked = [s for s in hides if s in body]
    assert not leaked, f"{path} ({lang}) shows {leaked}"


def test_pages_are_vietnamese_by_default_and_english_on_request(client: Any) -> None:
    _expect(client, "/signin", "vi", ("Đăng nhập", "Mật khẩu"), ("Sign in", "Password"))
    _expect(client, "/signin?lang=en", "en", ("Sign in", "Password"), ("Đăng nhập",))
    # The choice is kept in the session for the next pages.
    _expect(client, "/signin", "en", ("Sign in",), ("Đăng nhập",))
    _expect(client, "/register", "en", ("Create my account", "Middle name"))
    _expect(client, "/register?lang=vi", "vi", ("Tạo tài khoản", "Tên đệm"), ("Middle name",))
    _expect(client, "/", "vi", ("Đăng nhập",), ("Sign in",))


@pytest.mark.parametrize("path", ["/", "/signin", "/register"])
def test_vietnamese_pages_show_no_english_msgid(client: Any, vi: Catalog, path: str) -> None:
    _lang, body = _page(client, path)
    text = html.unescape(body)
    leaks = [
        m.id
        for m in vi
        if isinstance(m.id, str) and " " in m.id and m.id != m.string and m.id in text
    ]
    assert not leaks, _report(f"English on the Vietnamese page {path}: {s!r}" for s in leaks)


# -- (e) validation messages in the citizen's language --------------------------------


def _register_errors(client: Any, query: str = "") -> tuple[str, dict[str, str]]:
    page = client.get(f"/register{query}")
    form = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "family_name": "",  # Enter a name.
        "middle_name": "Văn",
        "given_name": "A" * 51,  # Use at most %(max)d characters.
        "birthdate": "1990/12/31",  # Enter the date of birth as day/month/year, ...
        "gender": "",  # Choose male or female.
        "cccd": "12345",  # The citizen ID number (CCCD) must be exactly 12 digits.
        "phone": "12",  # Enter a valid phone number, ...
        "email": "x@",  # Enter a valid email address, ...
        "province": "",  # Choose a province or city.
        "commune": "",  # Choose a commune or ward.
        "street": "",  # Enter your street address.
        "password": "mật khẩu dài",
        "password_confirm": "mật khẩu dài",
    }
    resp = client.post("/register", data=form)
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    errors = {name: html.unescape(text) for name, text in _FIELD_ERROR.findall(body)}
    return body, errors


def test_registration_errors_are_vietnamese(client: Any, vi: Catalog) -> None:
    body, errors = _register_errors(client)
    assert _HTML_LANG.search(body).group(1) == "vi"
    assert errors == {
        "family_name": "Vui lòng nhập mục này.",
        "given_name": "Chỉ được nhập tối đa 50 ký tự.",
        "birthdate": "Vui lòng nhập ngày sinh theo dạng ngày/tháng/năm, ví dụ 15/05/1990.",
        "gender": "Vui lòng chọn Nam hoặc Nữ.",
        "cccd": "Số căn cước công dân (CCCD) phải gồm đúng 12 chữ số.",
        "phone": "Vui lòng nhập số điện thoại hợp lệ, ví dụ 0905 123 456.",
        "email": "Vui lòng nhập địa chỉ email hợp lệ, ví dụ ten@example.com.",
        "province": "Vui lòng chọn tỉnh/thành phố.",
        "commune": "Vui lòng chọn xã/phường.",
        "street": "Vui lòng nhập số nhà, tên đường.",
    }
    # And each is the catalogue's translation of the message validation.py raised.
    translations = {
        m.string % {"max": 50} if "%(max)d" in m.id else m.string
        for m in vi
        if isinstance(m.id, str) and m.id
    }
    assert set(errors.values()) <= translations
    assert "Vui lòng sửa các mục được đánh dấu bên dưới." in body


def test_registration_errors_follow_the_chosen_language(client: Any) -> None:
    body, errors = _register_errors(client, "?lang=en")
    assert _HTML_LANG.search(body).group(1) == "en"
    assert errors["family_name"] == "Enter a name."
    assert errors["given_name"] == "Use at most 50 characters."
    assert errors["cccd"] == "The citizen ID number (CCCD) must be exactly 12 digits."
    assert "Please correct the fields marked below." in body


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-US,en;q=0.9", "en"),
        ("en-GB", "en"),
        ("vi-VN,vi;q=0.9,en;q=0.8", "vi"),
        ("fr-FR,en;q=0.5", "en"),
        ("fr-FR", "vi"),  # nothing we speak: the default
        ("", "vi"),
        ("*", "vi"),
        ("garbage;;q=abc,,", "vi"),
    ],
)
def test_the_browser_language_is_followed_when_nothing_else_says(
    client: Any, header: str, expected: str
) -> None:
    page = client.get("/signin", headers={"Accept-Language": header} if header else {})
    assert _HTML_LANG.search(page.get_data(as_text=True)).group(1) == expected


def test_an_explicit_choice_outranks_the_browser_and_is_remembered(client: Any) -> None:
    english = {"Accept-Language": "en-US"}
    client.get("/signin?lang=vi", headers=english)
    page = client.get("/signin", headers=english)
    assert _HTML_LANG.search(page.get_data(as_text=True)).group(1) == "vi"
