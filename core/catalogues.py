"""Checks on the translation catalogues: complete, faithful and as plain as the English.

Every text Voices shows (the conversation files and the engine's own texts) must be
translated in every language: there is no silent English fallback. Each translation keeps
the placeholders and commands of its source, and meets the structural thresholds of
ACCESSIBILITY.md (T3-T8) for its track; reading-age formulas are for English only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from babel.messages.extract import extract_from_dir

from core.i18n import po_path, read_catalogue
from core.languages import LANGUAGES
from core.loader import EASY, STANDARD, Limits, Problem

METHODS = [
    ("core/**.py", "python"),
    ("bot/**.py", "python"),
    ("conversations/*.yaml", "core.babel_extract:extract_conversation"),
]
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_COMMAND = re.compile(r"(?<![\w/])/[a-z]+\b")
# Words are split on spaces and punctuation, not matched with \w: in Gujarati, Punjabi and
# Bengali the vowel signs are combining marks, which \w does not match.
_GAP = re.compile(r"[\s,.;:!?؟۔।\-–—/()\"“”«»„]+")
_SENTENCE_END = re.compile(r"(?<=[.!?؟۔।])\s+")
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf]")


@dataclass(frozen=True)
class Source:
    """One text to translate, and what kind of text it is."""

    text: str
    button: bool
    easy: bool


def sources(root: Path) -> dict[str, Source]:
    """Every translatable text in the project, found the way ``pybabel extract`` finds them."""
    found: dict[str, Source] = {}
    for _file, _line, message, comments, _ctx in extract_from_dir(
        str(root), method_map=METHODS, keywords={"N_": None}, comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        text = message if isinstance(message, str) else message[0]
        note = " ".join(comments)
        found.setdefault(text, Source(text, "button" in note, "Easy Read" in note))
    return found


def check_catalogues(root: Path, locales_dir: Path) -> list[Problem]:
    texts = sources(root)
    problems: list[Problem] = []
    for language in LANGUAGES:
        if language.code != "en":
            problems += _check_language(texts, locales_dir, language.code)
    return problems


def _check_language(texts: dict[str, Source], locales_dir: Path, language: str) -> list[Problem]:
    path = str(po_path(locales_dir, language))
    catalogue = read_catalogue(locales_dir, language)
    if catalogue is None:
        return [Problem(path, 0, f"there is no catalogue for '{language}': every text must be translated")]
    problems: list[Problem] = []
    for msgid, source in texts.items():
        entry = catalogue.get(msgid)
        line = entry.lineno if entry is not None and entry.lineno else 0
        if entry is None or not entry.string or entry.fuzzy:
            problems.append(Problem(path, line, f"not translated: '{_clip(msgid)}'"))
            continue
        translated = entry.string if isinstance(entry.string, str) else entry.string[0]
        problems += [Problem(path, line, f"'{_clip(msgid)}': {reason}")
                     for reason in _faithful(msgid, translated) + _plain(translated, source)]
    return problems


def _faithful(source: str, translated: str) -> list[str]:
    reasons = []
    if set(_PLACEHOLDER.findall(source)) != set(_PLACEHOLDER.findall(translated)):
        reasons.append("the translation must keep the placeholders "
                       f"{sorted(set(_PLACEHOLDER.findall(source)))} exactly")
    if set(_COMMAND.findall(source)) != set(_COMMAND.findall(translated)):
        reasons.append(f"the translation must keep the commands {sorted(set(_COMMAND.findall(source)))} "
                       "in English")
    return reasons


def _plain(text: str, source: Source) -> list[str]:
    limits: Limits = EASY if source.easy else STANDARD
    track = " (Easy Read)" if source.easy else ""
    words = _words(_PLACEHOLDER.sub("x", text))
    reasons = []
    if _EMOJI.search(text):
        reasons.append("no emoji in texts or buttons (T8)")
    if source.button:
        if words > limits.button_words or len(text) > limits.button_chars:
            reasons.append(f"a button{track} has at most {limits.button_words} words and "
                           f"{limits.button_chars} characters (T7)")
        return reasons
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s.strip()]
    if words > limits.message_words:
        reasons.append(f"{words} words; at most {limits.message_words}{track} (T4)")
    if len(sentences) > limits.sentences:
        reasons.append(f"{len(sentences)} sentences; at most {limits.sentences}{track} (T5)")
    if any(_words(s) > limits.sentence_words for s in sentences):
        reasons.append(f"a sentence over {limits.sentence_words} words{track} (T3)")
    return reasons


def _words(text: str) -> int:
    return sum(1 for token in _GAP.split(text) if any(ch.isalnum() for ch in token))


def _clip(text: str, size: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"
