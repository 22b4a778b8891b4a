"""Translations: gettext catalogues in ``locales/<lang>/LC_MESSAGES/voices.po``, read with babel.

The ``.po`` files are compiled in memory the first time a language is used, so there is no
``.mo`` file to build or to forget. Entries marked fuzzy are left out, as ``msgfmt`` would.
"""

from __future__ import annotations

import gettext
import re
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DOMAIN = "voices"


def po_path(locales_dir: Path, language: str) -> Path:
    return locales_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(locales_dir: Path, language: str) -> Catalog | None:
    path = po_path(locales_dir, language)
    if not path.exists():
        return None
    with path.open("rb") as fh:
        return read_po(fh, abort_invalid=True)


@lru_cache(maxsize=64)
def translations(locales_dir: Path, language: str) -> gettext.NullTranslations:
    """The catalogue for ``language`` compiled in memory, or English (the source) if there is none."""
    catalogue = None if language == "en" else read_catalogue(locales_dir, language)
    if catalogue is None:
        return gettext.NullTranslations()
    compiled = BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def has_catalogue(locales_dir: Path, language: str) -> bool:
    return language == "en" or po_path(locales_dir, language).exists()


_REVIEW = re.compile(r"^# Review status:\s*(.+)$", re.M)


def review_status(locales_dir: Path, language: str) -> str:
    """Who has checked the translation so far: the catalogue's "# Review status:" comment line.

    It is kept in the header comment because ``pybabel update`` keeps that and drops unknown
    header fields.
    """
    if language == "en":
        return "source"
    path = po_path(locales_dir, language)
    if not path.exists():
        return "missing"
    found = _REVIEW.search(path.read_text(encoding="utf-8"))
    return found.group(1).strip() if found else "not stated"
