"""Reading-age checks on the English source (ACCESSIBILITY.md T1, T2, T12 and T13).

Flesch scores are unstable on short strings, so T1 and T2 are applied to a whole flow (every
text of a conversation on one track, joined); T12 and T13 to each message. The formulas are
for English only: the translations get the structural checks in ``core.catalogues``.
textstat is pinned to 0.7.8, which scores offline (newer versions download data at first use).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import textstat

from core.definition import Conversation
from core.localise import localise
from core.texts import UI, fill

textstat.set_lang("en_GB")
# Words ending -ed/-en after a form of "to be" (with an optional adverb between): a heuristic.
_PASSIVE = re.compile(r"\b(?:am|is|are|was|were|be|been|being)\s+(?:\w+ly\s+)?(\w+(?:ed|en))\b", re.I)
_NOT_PARTICIPLES = frozenset({"open", "often", "even", "children", "seven", "ten", "when", "then", "kitten",
                              "hidden", "garden", "happen", "listen", "need", "sure", "ready", "tired"})
SAMPLE = {"council": "the council", "read_by": "Friday 4 December", "contact": "", "team": "the team",
          "emergency": "999", "childline": "0800 1111", "samaritans": "116 123", "shout": "85258",
          "nspcc": "0808 800 5000", "phone": "0116 000 0000"}


@dataclass(frozen=True)
class Limits:
    track: str
    grade: float  # T1: Flesch-Kincaid grade at most
    ease: float  # T2: Flesch reading ease at least
    polysyllables: int  # T12: words of 3+ syllables per message at most


STANDARD = Limits("standard", 4.0, 80.0, 2)
EASY = Limits("Easy Read", 3.0, 85.0, 1)
FLOW_WORDS = 60  # a flow shorter than this is not scored (the formulas need text to work on)


def check_flow(name: str, texts: Iterable[str], limits: Limits) -> list[str]:
    """Reasons a flow (the texts one person reads in order) fails T1, T2, T12 or T13."""
    messages = [fill(t, SAMPLE).strip() for t in texts if t.strip()]
    reasons = [r for m in messages for r in _message(m, limits)]
    joined = " ".join(messages)
    if len(joined.split()) >= FLOW_WORDS:
        grade, ease = textstat.flesch_kincaid_grade(joined), textstat.flesch_reading_ease(joined)
        if grade > limits.grade:
            reasons.append(f"{name} ({limits.track}): reading grade {grade:.1f}, at most {limits.grade} (T1)")
        if ease < limits.ease:
            reasons.append(f"{name} ({limits.track}): reading ease {ease:.1f}, at least {limits.ease} (T2)")
    return reasons


def _message(text: str, limits: Limits) -> list[str]:
    reasons = []
    long_words = textstat.polysyllabcount(text)
    if long_words > limits.polysyllables:
        reasons.append(f"'{_clip(text)}' ({limits.track}): {long_words} words of 3 or more syllables; "
                       f"at most {limits.polysyllables} (T12)")
    for found in _PASSIVE.finditer(text):
        if found.group(1).lower() not in _NOT_PARTICIPLES:
            reasons.append(f"'{_clip(text)}': '{found.group(0)}' reads as passive; say who does it (T13)")
    return reasons


def check_english(conversations: dict[str, Conversation]) -> list[str]:
    """T1, T2, T12 and T13 over every conversation on both tracks, and the engine's own texts."""
    reasons: list[str] = []
    for conv in conversations.values():
        for limits, easy in ((STANDARD, False), (EASY, True)):
            local = localise(conv, str, "en", {}, easy=easy)
            texts = [s.text for s in local.steps] + [s.more for s in local.steps if s.more]
            reasons += check_flow(f"{conv.id}.yaml", texts, limits)
    reasons += check_flow("core/texts.py", [t for t in UI.values() if len(t.split()) > 2], STANDARD)
    return reasons


def _clip(text: str, size: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"
