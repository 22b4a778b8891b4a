"""Loading gettext catalogues from ``locales/<lang>/LC_MESSAGES/voices.mo`` with babel."""

from __future__ import annotations

import gettext
from functools import lru_cache
from pathlib import Path

from babel.support import Translations

DOMAIN = "voices"


@lru_cache(maxsize=64)
def translations(locales_dir: Path, language: str) -> gettext.NullTranslations:
    """The compiled catalogue for ``language``, or English (the source) if there is none."""
    if language == "en":
        return gettext.NullTranslations()
    found = Translations.load(str(locales_dir), [language], DOMAIN)
    return found


def has_catalogue(locales_dir: Path, language: str) -> bool:
    return language == "en" or (locales_dir / language / "LC_MESSAGES" / f"{DOMAIN}.mo").exists()
