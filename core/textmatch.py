"""Normalising what people type so that answers match however they are written."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
_VARIATION = {chr(c) for c in range(0xFE00, 0xFE10)} | {"\u20e3"}
_DROP_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "So", "Sk", "Sm"}


def clean(text: str) -> str:
    """Drop control, zero-width, bidi and emoji characters; keep letters, marks and digits."""
    out = []
    for ch in unicodedata.normalize("NFKC", text):
        if ch in _VARIATION:
            continue
        cat = unicodedata.category(ch)
        if cat in _DROP_CATEGORIES or cat.startswith("P"):
            out.append(" ")
        else:
            out.append(ch)
    return _SPACES.sub(" ", "".join(out)).strip()


def norm(text: str) -> str:
    """The form used to compare a reply with an option: cleaned and case-folded."""
    return clean(text).casefold()


def has_words(text: str) -> bool:
    """True if the text holds at least one letter or digit (not only emoji or spaces)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def as_number(text: str) -> int | None:
    """"2", " 2 ", "2." or "2)" -> 2; anything else -> None."""
    m = _NUMBER.match(unicodedata.normalize("NFKC", text))
    return int(m.group(1)) if m else None


def numbers(text: str) -> list[int] | None:
    """"1, 3" or "1 3" or "1 and 3" -> [1, 3] for multiple choice; None if not only numbers."""
    parts = [p for p in re.split(r"[\s,;&]+|\band\b", unicodedata.normalize("NFKC", text)) if p]
    if not parts or not all(p.isdigit() and len(p) <= 2 for p in parts):
        return None
    return [int(p) for p in parts]
