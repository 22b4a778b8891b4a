"""The languages Voices speaks: each named in its own script, English name after."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str
    native: str
    english: str
    rtl: bool = False

    @property
    def label(self) -> str:
        if self.native == self.english:
            return self.native
        return f"{self.native} ({self.english})"


LANGUAGES: tuple[Language, ...] = (
    Language("en", "English", "English"),
    Language("pl", "Polski", "Polish"),
    Language("gu", "ગુજરાતી", "Gujarati"),
    Language("pa", "ਪੰਜਾਬੀ", "Punjabi"),
    Language("ur", "اردو", "Urdu", rtl=True),
    Language("ar", "العربية", "Arabic", rtl=True),
    Language("ro", "Română", "Romanian"),
    Language("so", "Soomaali", "Somali"),
    Language("bn", "বাংলা", "Bengali"),
)
BY_CODE: dict[str, Language] = {lang.code: lang for lang in LANGUAGES}
DEFAULT = "en"


def best_match(telegram_code: str | None) -> str:
    """Map Telegram's ``language_code`` (e.g. ``pl``, ``en-GB``, ``pa-IN``) to one we speak."""
    if not telegram_code:
        return DEFAULT
    base = telegram_code.split("-")[0].split("_")[0].lower()
    return base if base in BY_CODE else DEFAULT
