"""What a password may be (NIST SP 800-63B 5.1.1.2), and how it is hashed and checked.

- Length only, no composition rules: 8 to 128 characters of any Unicode, counted after
  NFKC normalisation (the form that is hashed, so "Ｐａｓｓ" typed on a full-width
  keyboard and "Pass" are the same password).
- Refused: only white space; one of the 100,000 most common passwords found in breaches
  (``data/common-passwords.txt.gz``, source and licence in its header); a password made of
  the citizen's own data (CCCD, phone number, date of birth, email name, names), which
  anyone who knows the citizen, and every portal given that data, could try.

The common list is held as a sorted array of 64-bit digests (800 kB for 100,000 entries),
not as 100,000 Python strings, and loaded once per process at first use.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import re
import threading
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from importlib import resources

from flask_babel import lazy_gettext as _l

from idp.citizens.validation import ValidationErrors

MIN_LENGTH = 8
RECOMMENDED_LENGTH = 15
MAX_LENGTH = 128
#: What may remain of a password once the citizen's own data is taken out of it.
OWN_DATA_REST = 4

_COMMON_FILE = "common-passwords.txt.gz"
_common: array | None = None
_common_lock = threading.Lock()
_SEPARATORS = re.compile(r"[\s._\-/\\,:;'\"+()]+")


def normalize(password: str) -> str:
    """Return the form of ``password`` that is hashed and checked (NFKC)."""
    return unicodedata.normalize("NFKC", password)


def _key(text: str) -> int:
    """Return the 64-bit digest a candidate is compared under (case-insensitive)."""
    return int.from_bytes(hashlib.blake2b(text.casefold().encode(), digest_size=8).digest())


def _load_common() -> array:
    global _common
    with _common_lock:
        if _common is None:
            raw = resources.files("idp.citizens").joinpath("data", _COMMON_FILE).read_bytes()
            keys = array("Q")
            header = True
            for line in gzip.decompress(raw).decode("utf-8").splitlines():
                if header and line.startswith("#"):
                    continue
                header = False
                if line:
                    keys.append(_key(line))
            _common = array("Q", sorted(keys))
        return _common


def common_count() -> int:
    """Return how many common passwords are refused."""
    return len(_load_common())


def is_common(password: str) -> bool:
    """Return whether ``password`` (normalised) is on the list of common passwords."""
    keys = _load_common()
    key = _key(normalize(password))
    i = bisect_left(keys, key)
    return i < len(keys) and keys[i] == key


def _fold(text: str) -> str:
    """Return ``text`` case-folded, without diacritics and separators (for comparisons)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub("", bare)


def own_values(
    *,
    cccd: str | None = None,
    phone: str | None = None,
    birthdate: dt.date | None = None,
    email: str | None = None,
    names: Iterable[str] = (),
) -> list[str]:
    """Return the forms of the citizen's own data a password must not be made of."""
    values: list[str] = []
    if cccd:
        values.append(cccd)
    if phone:
        digits = "".join(c for c in phone if c.isdigit())
        national = digits[2:] if digits.startswith("84") else digits.lstrip("0")
        values += [digits, national, "0" + national]
    if birthdate:
        d, m, y = f"{birthdate.day:02d}", f"{birthdate.month:02d}", f"{birthdate.year:04d}"
        values += [d + m + y, y + m + d, m + d + y, d + m + y[2:], y]
    if email and "@" in email:
        values.append(email.split("@", 1)[0])
    values += [n for n in names if n]
    folded = {_fold(v) for v in values}
    # Longest first, so that "0912345678" is taken out before "912345678".
    return sorted((v for v in folded if len(v) >= 3), key=len, reverse=True)


def _made_of_own_data(password: str, own: Iterable[str]) -> bool:
    rest = _fold(password)
    if not rest:
        return False
    for value in own:
        if len(value) >= 9 and value.isdigit() and value in rest:
            return True  # the CCCD or the phone number, anywhere in the password
        rest = rest.replace(value, "")
    return len(rest) < OWN_DATA_REST


def check_policy(password: object, own: Iterable[str] = ()) -> str:
    """Return the normalised password if acceptable; raise ValidationErrors otherwise.

    ``own``: the citizen's own data (``own_values``), refused as a password.
    """
    if not isinstance(password, str) or not password:
        raise ValidationErrors({"password": _l("Enter a password.")})
    if len(password) > MAX_LENGTH * 4:  # before normalising: NFKC can expand text
        password = password[: MAX_LENGTH * 4]
    normal = normalize(password)
    if not normal.strip():
        raise ValidationErrors(
            {"password": _l("The password cannot be only spaces. Use words or characters.")}
        )
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in normal):
        raise ValidationErrors(
            {"password": _l("The password contains control characters that cannot be typed.")}
        )
    if len(normal) < MIN_LENGTH:
        raise ValidationErrors(
            {"password": _l("The password must have at least %(n)d characters.", n=MIN_LENGTH)}
        )
    if len(normal) > MAX_LENGTH:
        raise ValidationErrors(
            {"password": _l("The password must have at most %(n)d characters.", n=MAX_LENGTH)}
        )
    if _made_of_own_data(normal, own):
        raise ValidationErrors(
            {
                "password": _l(
                    "This password is made of your own details (citizen ID, phone number, "
                    "date of birth or name), which others may know. Choose another."
                )
            }
        )
    if is_common(normal):
        raise ValidationErrors(
            {
                "password": _l(
                    "This password is one of the most common passwords, which are tried "
                    "first by anyone guessing. Choose another, such as a few words together."
                )
            }
        )
    return normal
