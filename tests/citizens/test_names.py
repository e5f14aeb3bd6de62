"""Normalisation and validation of the parts of a citizen's name."""

from __future__ import annotations

import unicodedata

import pytest

from idp.citizens.validation import normalize_name, normalize_optional_name


def test_nfd_input_gives_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Nguyễn")
    assert decomposed != "Nguyễn"
    assert normalize_name(decomposed) == "Nguyễn"
    assert normalize_name(decomposed) == unicodedata.normalize("NFC", "Nguyễn")
    assert unicodedata.is_normalized("NFC", normalize_name(decomposed))


def test_whitespace_is_stripped_and_collapsed() -> None:
    assert normalize_name("  Thị \t  Minh\u00a0 Khai \n") == "Thị Minh Khai"


@pytest.mark.parametrize(
    "name",
    ["Đặng", "Trần", "Lê-Nguyễn", "O'Brien", "N’Guyễn", "Ê Đê", "Müller", "Иван", "明"],
)
def test_accepts_letters_of_any_script(name: str) -> None:
    assert normalize_name(name) == name


def test_accepts_combining_marks_after_letters() -> None:
    # Devanagari keeps vowel signs as combining marks even after NFC.
    assert normalize_name("हिंदी") == "हिंदी"


@pytest.mark.parametrize(
    "name",
    ["Nguyen2", "An!", "Lê@", "Bình_", "Hoa.", "Thu😀", "Lan\u200b", "Mai\x00", "A\u0301\u200d"],
)
def test_rejects_digits_and_symbols(name: str) -> None:
    with pytest.raises(ValueError, match="letters, spaces, hyphens and apostrophes"):
        normalize_name(name)


@pytest.mark.parametrize("name", ["-An", "'Lan", "\u2019Lan"])
def test_must_start_with_a_letter(name: str) -> None:
    with pytest.raises(ValueError, match=r"^Start the name with a letter\.$"):
        normalize_name(name)


def test_combining_mark_must_follow_a_letter() -> None:
    with pytest.raises(ValueError, match="letters, spaces, hyphens and apostrophes"):
        normalize_name("\u0301An")
    with pytest.raises(ValueError, match="letters, spaces, hyphens and apostrophes"):
        normalize_name("An -\u0301")


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_required(name: str) -> None:
    with pytest.raises(ValueError, match="Enter a name"):
        normalize_name(name)


def test_length_limit_counts_normalised_characters() -> None:
    assert normalize_name("A" * 50) == "A" * 50
    # 50 NFC characters arrive as 100 code points when decomposed.
    decomposed = unicodedata.normalize("NFD", "ễ" * 50)
    assert len(decomposed) > 50
    assert normalize_name(decomposed) == "ễ" * 50
    with pytest.raises(ValueError, match="at most 50 characters"):
        normalize_name("A" * 51)
    with pytest.raises(ValueError, match="at most 50 characters"):
        normalize_name("A" * 100_000)


def test_optional_name() -> None:
    assert normalize_optional_name("") == ""
    assert normalize_optional_name("   ") == ""
    assert normalize_optional_name(" Văn ") == "Văn"
    with pytest.raises(ValueError, match="letters"):
        normalize_optional_name("V4n")
