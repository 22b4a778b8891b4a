"""Risk detection: a data-driven lexicon of phrases and patterns in every language (issue 5, part 1).

The lexicon is data: one YAML file per language in ``safeguarding/lexicon/`` (``en.yaml``,
``pl.yaml``, ...) plus ``common.yaml`` for language-independent emoji and number patterns. Each file
holds ``entries``; an entry is ``{id, category, severity, phrases, patterns, except, except_patterns}``.

* ``phrases`` are plain words, normalised like the user's text (below). A ``*`` at the start or end
  lets the phrase run into a longer word on that side ("suicid*" matches "suicidal"; "*يضربني"
  matches "ويضربني"). Repeated letters are tolerated both ways ("kill" matches "kil" and "kiiilll").
* ``patterns`` are regular expressions on the normalised text; ``\\b`` in them is rewritten to a
  boundary that works for Indic and Arabic scripts (Python's ``\\b`` treats vowel signs as non-word
  characters). Patterns must not nest quantifiers (the tests lint this).
* ``except`` phrases (and ``except_patterns``) make a match of that entry harmless when they match
  text overlapping it ("beat me at fifa"), so one harmless idiom does not hide another disclosure.

``Lexicon.detect`` checks the person's language, English and the common file, always: people mix
languages and use English slang. It is pure (no I/O, no logging) and returns the most severe match.
``Risk.matched`` is the entry id, never the user's words. High recall is the aim: false alarms are
accepted (SECURITY.md finding 3); every free-text answer is read by a person anyway.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from re import _parser  # type: ignore[attr-defined]  # the stdlib's regex parser, for the lint
from typing import Any

import yaml

CATEGORIES = ("danger-now", "self-harm", "abuse", "worried-about-child", "bullying-violence")
# Not risks: requests the bot must not answer itself but pass to a person (SECURITY.md P3, P8), and the
# question whether we keep secrets, which gets an honest answer (S8). They
# live in their own directory (``safeguarding/requests/``), in the same format.
REQUEST_CATEGORIES = ("data-request", "complaint", "secrecy")  # secrecy: "will you tell anyone?" (S8)
COMMON = "common"
ENGLISH = "en"


@dataclass(frozen=True)
class Risk:
    category: str
    matched: str  # the lexicon entry id, never the user's text
    severity: int  # 1 high ... 3 low


class LexiconError(ValueError):
    """A lexicon file is malformed (bad YAML, unknown category, regex that does not compile...)."""


# ----------------------------------------------------------------------------------------------
# Normalisation
# ----------------------------------------------------------------------------------------------

_MARKS = (  # combining marks of the scripts in use: Latin, Arabic, and the whole Indic blocks
    "\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0900-\u0dff"
    "\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
)
WORD_CLASS = f"[\\w{_MARKS}]"
"""A letter, digit or combining mark: a vowel sign inside a Gurmukhi or Bengali word is part of it.
Indic punctuation (the danda) is in the Indic blocks but never reaches matching: it becomes a space."""
LEFT = f"(?<!{WORD_CLASS})"
RIGHT = f"(?!{WORD_CLASS})"
BOUNDARY = f"(?:{LEFT}(?={WORD_CLASS})|(?<={WORD_CLASS}){RIGHT})"
_WORD = re.compile(WORD_CLASS)

_APOSTROPHES = frozenset("'’‘ʼ`´")
_DROP = frozenset(
    "\u0640\u0a71\u0a3c\u09bc\u0abc"  # tatweel; Gurmukhi addak; nuktas (Gurmukhi, Bengali, Gujarati)
    + "".join(chr(c) for c in range(0x064B, 0x0660)) + "\u0670"  # Arabic harakat, superscript alef
    + "".join(chr(c) for c in range(0xFE00, 0xFE10)) + "\u20e3"  # variation selectors, keycap
)
_FOLD = str.maketrans({
    "\u064a": "\u06cc", "\u0649": "\u06cc", "\u0626": "\u06cc",  # ya forms -> Farsi/Urdu ya
    "\u0643": "\u06a9",  # kaf -> keheh
    "\u06c1": "\u0647", "\u06d5": "\u0647", "\u0629": "\u0647", "\u06c3": "\u0647",  # heh / ta marbuta
    "\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627",  # alef forms
    "\u0624": "\u0648",  # waw with hamza
    "\u0a02": "\u0a70",  # Gurmukhi bindi -> tippi
})
_LATIN = {"ł": "l", "đ": "d", "ø": "o", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe"}
_LEET = {"3": "e", "0": "o", "@": "a", "$": "s", "4": "a", "5": "s", "7": "t"}
_LEET_CHARS = frozenset([*_LEET, "1"])
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")
_SPACES = re.compile(r"\s+")


def _clean_char(ch: str) -> str:
    """One character after NFKC and casefold: dropped, folded, or kept."""
    if ch in _DROP or ch in _APOSTROPHES:
        return ""
    cat = unicodedata.category(ch)
    if cat == "Cf" or "\U0001f3fb" <= ch <= "\U0001f3ff":  # zero-width, bidi controls; skin tones
        return ""
    if cat == "Nd" and not ch.isascii():
        return str(unicodedata.digit(ch))
    if "\u00c0" <= ch <= "\u024f" or "\u1e00" <= ch <= "\u1eff":
        return _plain_latin(ch)
    return ch.translate(_FOLD)


def _plain_latin(ch: str) -> str:
    """Latin letters lose their accents: Polish and Romanian are often typed without them."""
    special = _LATIN.get(ch)
    if special is not None:
        return special
    return "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))


def _spaces_for_punctuation(text: str) -> str:
    """Punctuation, maths/currency symbols and controls become spaces; emoji (So) stay."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        out.append(" " if cat[0] in "PZC" or cat in ("Sm", "Sc", "Sk") else ch)
    return "".join(out)


def _leet(text: str, one: str) -> str:
    """Leetspeak inside words that hold letters: "k1ll" -> "kill", "$uicide" -> "suicide"."""
    table = str.maketrans({**_LEET, "1": one})
    return " ".join(t.translate(table) if any(c.isalpha() for c in t) else t for t in text.split())


def normalise(text: str, leet: str | None = None) -> str:
    """NFKC, casefold, no zero-width/bidi controls or harakat, punctuation to spaces, letters
    repeated three or more times cut to two; with ``leet`` ("i" or "l" for the digit 1), leetspeak
    inside words is undone first."""
    folded = "".join(_clean_char(ch) for ch in unicodedata.normalize("NFKC", text).casefold())
    if leet is not None:
        folded = _leet(folded, leet)
    spaced = _spaces_for_punctuation(folded)
    return _SPACES.sub(" ", _REPEATS.sub(r"\1\1", spaced)).strip()


_SPACED = re.compile(r"(?<!\S)(?:[^\W\d_] ){2,}[^\W\d_](?!\S)")


def _join_spaced(text: str) -> str:
    """ "k i l l myself" -> "kill myself": letters typed one at a time with spaces between."""
    return _SPACED.sub(lambda m: m.group().replace(" ", ""), text)


def variants(text: str) -> list[str]:
    """The normalised forms to match: plain first, then spaced-out letters joined, then the two
    leetspeak readings, each only if it differs."""
    plain = normalise(text)
    out = [plain]
    joined = _join_spaced(plain)
    if joined != plain:
        out.append(joined)
    if any(c in _LEET_CHARS for c in text):
        for one in ("i", "l"):
            v = normalise(text, leet=one)
            if v not in out:
                out.append(v)
    return out


def squeeze(text: str) -> str:
    """Runs of the same letter or mark cut to one: the key under which phrases are compared."""
    out: list[str] = []
    for ch in text:
        if out and ch == out[-1] and unicodedata.category(ch)[0] in "LM":
            continue
        out.append(ch)
    return "".join(out)


# ----------------------------------------------------------------------------------------------
# Compiling phrases and patterns
# ----------------------------------------------------------------------------------------------

_END = ""
_BACKSLASH_B = re.compile(r"(?<!\\)((?:\\\\)*)\\b")


@dataclass(frozen=True)
class Phrase:
    key: str  # normalised and squeezed
    left_open: bool
    right_open: bool


@dataclass(frozen=True)
class Entry:
    id: str
    category: str
    severity: int
    language: str
    phrases: tuple[Phrase, ...]
    patterns: tuple[re.Pattern[str], ...]
    excepts: re.Pattern[str] | None

    @property
    def rank(self) -> tuple[int, int]:
        """Lower is more urgent: severity, then the order of the risk categories, then requests."""
        order = CATEGORIES + REQUEST_CATEGORIES
        return self.severity, order.index(self.category) if self.category in order else len(order)


def parse_phrase(raw: str) -> Phrase:
    """ "suicid*" -> Phrase("suicid", left_open=False, right_open=True)."""
    text = raw.strip()
    left_open, right_open = text.startswith("*"), text.endswith("*")
    key = squeeze(normalise(text.strip("*")))
    if not key:
        raise LexiconError(f"phrase {raw!r} is empty once normalised")
    return Phrase(key, left_open, right_open)


def _char_regex(ch: str) -> str:
    """A letter or mark matches one or more of itself (possessively); anything else exactly."""
    esc = re.escape(ch)
    return f"{esc}{esc}*+" if unicodedata.category(ch)[0] in "LM" else esc


def phrase_regex(phrase: Phrase) -> str:
    body = "".join(_char_regex(ch) for ch in phrase.key)
    return ("" if phrase.left_open else LEFT) + body + ("" if phrase.right_open else RIGHT)


def _trie_regex(node: dict[str, Any]) -> str:
    alternatives = [_char_regex(ch) + _trie_regex(child) for ch, child in sorted(node.items()) if ch != _END]
    if _END in node:
        alternatives.append("" if node[_END] else RIGHT)
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"


def trie_regex(phrases: Iterable[Phrase]) -> str | None:
    """One regex matching any of the phrases, as a trie so that it stays fast with thousands."""
    trie: dict[str, Any] = {}
    for phrase in phrases:
        node = trie
        for ch in phrase.key:
            node = node.setdefault(ch, {})
        node[_END] = node.get(_END, False) or phrase.right_open
    return _trie_regex(trie) if trie else None


def rewrite_boundaries(pattern: str) -> str:
    """``\\b`` in a lexicon pattern becomes a boundary that knows vowel signs are inside words."""
    return _BACKSLASH_B.sub(lambda m: m.group(1) + BOUNDARY, pattern)


def pattern_problems(pattern: str) -> list[str]:
    """Reasons a pattern could backtrack badly: a quantifier inside a quantifier, or an unbounded
    quantifier over a broad class (``.``, ``\\S``, ``[^...]``). Bounded gaps like ``.{0,40}`` are fine."""
    problems: list[str] = []

    def walk(items: Any, inside_repeat: bool) -> None:
        for op, av in items:
            name = str(op)
            if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                _low, high, body = av
                if inside_repeat:
                    problems.append("nested quantifier")
                if high == _parser.MAXREPEAT and not _narrow(list(body)):
                    problems.append("unbounded quantifier over a broad class")
                walk(body, True)
            else:
                for sub in _subpatterns(av):
                    walk(sub, inside_repeat)

    walk(_parser.parse(pattern), False)
    return problems


def _subpatterns(av: Any) -> Iterator[Any]:
    """The nested sub-patterns of one parsed regex item (groups, branches, lookarounds)."""
    for part in av if isinstance(av, tuple | list) else (av,):
        if isinstance(part, _parser.SubPattern):
            yield part
        elif isinstance(part, list):
            yield from (p for p in part if isinstance(p, _parser.SubPattern))


def _narrow(body: list[Any]) -> bool:
    """A single literal, or a positive character class without negated categories."""
    if len(body) != 1:
        return False
    op, av = body[0]
    if str(op) == "LITERAL":
        return True
    if str(op) != "IN":
        return False
    return not any(str(o) == "NEGATE" or (str(o) == "CATEGORY" and "_NOT_" in str(a)) for o, a in av)


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------

_KEYS = {"id", "category", "severity", "phrases", "patterns", "except", "except_patterns"}


def _strings(raw: dict[str, Any], key: str, where: str) -> list[str]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise LexiconError(f"{where}: '{key}' must be a list of non-empty strings")
    return value


def fold_pattern(pattern: str) -> str:
    """A lexicon pattern's letters folded as the text's are (accents, Arabic letter forms, nukta),
    without casefolding (``\\S`` must stay ``\\S``): patterns are written in lower case."""
    return "".join(_clean_char(ch) for ch in unicodedata.normalize("NFKC", pattern))


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    pattern = fold_pattern(pattern)
    try:
        problems = pattern_problems(pattern)
        compiled = re.compile(rewrite_boundaries(pattern))
    except re.error as exc:
        raise LexiconError(f"{where}: pattern {pattern!r} does not compile: {exc}") from exc
    if problems:
        raise LexiconError(f"{where}: pattern {pattern!r}: {', '.join(problems)}")
    return compiled


def _excepts(raw: dict[str, Any], where: str) -> re.Pattern[str] | None:
    parts = [phrase_regex(parse_phrase(p)) for p in _strings(raw, "except", where)]
    for pattern in _strings(raw, "except_patterns", where):
        parts.append(_compile(pattern, where).pattern)
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


def parse_entry(raw: Any, language: str, where: str, categories: tuple[str, ...] = CATEGORIES) -> Entry:
    """One YAML entry, validated."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise LexiconError(f"{where}: an entry must be a mapping with an 'id'")
    where = f"{where} entry {raw['id']}"
    if set(raw) - _KEYS:
        raise LexiconError(f"{where}: unknown keys {sorted(set(raw) - _KEYS)}")
    if raw.get("category") not in categories:
        raise LexiconError(f"{where}: category must be one of {', '.join(categories)}")
    if raw.get("severity") not in (1, 2, 3):
        raise LexiconError(f"{where}: severity must be 1, 2 or 3")
    phrases = tuple(parse_phrase(p) for p in _strings(raw, "phrases", where))
    patterns = tuple(_compile(p, where) for p in _strings(raw, "patterns", where))
    if not phrases and not patterns:
        raise LexiconError(f"{where}: needs phrases or patterns")
    return Entry(raw["id"], raw["category"], raw["severity"], language, phrases, patterns,
                 _excepts(raw, where))


def parse_file(data: Any, language: str, where: str, categories: tuple[str, ...] = CATEGORIES) -> list[Entry]:
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise LexiconError(f"{where}: expected a mapping with a list of 'entries'")
    return [parse_entry(raw, language, where, categories) for raw in data["entries"]]


def load_lexicon(directory: Path, categories: tuple[str, ...] = CATEGORIES) -> Lexicon:
    """Read every ``<language>.yaml`` in the directory (and ``common.yaml``). Raises LexiconError."""
    files: dict[str, list[Entry]] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise LexiconError(f"{path.name}: {exc}") from exc
        files[path.stem] = parse_file(data, path.stem, path.name, categories)
    return Lexicon(files)


# ----------------------------------------------------------------------------------------------
# Detection
# ----------------------------------------------------------------------------------------------

_WINDOW = 120  # characters either side of a match in which an 'except' phrase is looked for


class _Matcher:
    """The compiled entries of one lexicon file."""

    def __init__(self, entries: list[Entry]) -> None:
        self.by_key: dict[str, list[tuple[Entry, Phrase]]] = {}
        for entry in entries:
            for phrase in entry.phrases:
                self.by_key.setdefault(phrase.key, []).append((entry, phrase))
        self.phrases = self._phrase_regex([p for e in entries for p in e.phrases])
        self.patterns = [(pattern, entry) for entry in entries for pattern in entry.patterns]

    @staticmethod
    def _phrase_regex(phrases: list[Phrase]) -> re.Pattern[str] | None:
        bounded = trie_regex(p for p in phrases if not p.left_open)
        open_left = trie_regex(p for p in phrases if p.left_open)
        parts = ([LEFT + bounded] if bounded else []) + ([open_left] if open_left else [])
        return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None

    def hits(self, text: str) -> Iterator[Entry]:
        """Entries that match the normalised text and are not made harmless by an 'except'."""
        found: set[str] = set()
        for entry, start, end in self._candidates(text):
            if entry.id not in found and not _excepted(entry, text, start, end):
                found.add(entry.id)
                yield entry

    def _candidates(self, text: str) -> Iterator[tuple[Entry, int, int]]:
        pos = 0
        while self.phrases is not None and (m := self.phrases.search(text, pos)) is not None:
            start, end = m.span()
            for entry, phrase in self.by_key.get(squeeze(m.group()), ()):
                if (phrase.left_open or not _word_at(text, start - 1)) and (
                        phrase.right_open or not _word_at(text, end)):
                    yield entry, start, end
            pos = start + 1
        for pattern, entry in self.patterns:
            for m in pattern.finditer(text):
                yield entry, m.start(), m.end()


def _word_at(text: str, i: int) -> bool:
    return 0 <= i < len(text) and _WORD.match(text[i]) is not None


def _excepted(entry: Entry, text: str, start: int, end: int) -> bool:
    if entry.excepts is None:
        return False
    window_start = max(0, start - _WINDOW)
    for m in entry.excepts.finditer(text, window_start, min(len(text), end + _WINDOW)):
        if m.start() < end and m.end() > start:
            return True
    return False


class Lexicon:
    """The loaded lexicon; ``detect`` is pure and safe to call from any thread."""

    def __init__(self, files: dict[str, list[Entry]]) -> None:
        self.files = files
        self.entries = [entry for entries in files.values() for entry in entries]
        self._matchers = {lang: _Matcher(entries) for lang, entries in files.items()}

    @property
    def languages(self) -> list[str]:
        return sorted(lang for lang in self.files if lang != COMMON)

    def _in_scope(self, language: str) -> list[_Matcher]:
        """The person's language, English and the language-independent file (unknown: the last two)."""
        langs = dict.fromkeys([language.split("-")[0].casefold(), ENGLISH, COMMON])
        return [self._matchers[lang] for lang in langs if lang in self._matchers]

    def detect(self, text: str, language: str) -> Risk | None:
        """The most severe risk in the text, or None."""
        best: Entry | None = None
        matchers = self._in_scope(language)
        for variant in variants(text):
            for matcher in matchers:
                for entry in matcher.hits(variant):
                    if best is None or entry.rank < best.rank:
                        best = entry
        return None if best is None else Risk(best.category, best.id, best.severity)
