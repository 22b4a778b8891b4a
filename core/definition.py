"""Conversation definitions: plain, immutable data loaded from ``conversations/*.yaml``.

The loader (``core.loader``) builds these from YAML and checks them; the engine
(``core.engine``) only reads them. Text fields hold English source strings (gettext
msgids) until ``core.localise`` swaps in a language's translations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

StepKind = Literal["language", "single", "multi", "scale", "yesno", "text", "info", "check", "end"]

#: Step kinds that ask the user something and wait for an answer.
QUESTION_KINDS: frozenset[str] = frozenset({"language", "single", "multi", "scale", "yesno", "text"})
#: Step kinds answered by picking from options.
CHOICE_KINDS: frozenset[str] = frozenset({"language", "single", "multi", "scale", "yesno"})

PRIORITY_CODES: frozenset[str] = frozenset(
    {"multi-agency", "families", "provision", "provision.mainstream", "provision.specialist", "adulthood"}
)
POLARITIES: frozenset[str] = frozenset({"works-well", "not-working", "improve"})
#: Respondent attributes a step may set with ``profile:``.
PROFILE_KEYS: frozenset[str] = frozenset({"language", "role", "age_band", "consent", "contact", "settings"})


@dataclass(frozen=True)
class Option:
    """One answer a user can pick. ``id`` is stable across versions and languages."""

    id: str
    label: str
    symbol: str = ""  # at most one emoji, shown after the words (dropped in screen-reader mode)
    priorities: tuple[str, ...] = ()
    polarity: str | None = None
    escape: bool = False  # the one extra "I don't know" / "Something else" answer
    also: tuple[str, ...] = ()  # other words that mean this option when typed
    easy: str = ""  # the label on the Easy Read track ("" = the same as ``label``)
    hide_in_easy: bool = False  # left out on the Easy Read track (fewer choices there)
    line: int = 0


@dataclass(frozen=True)
class Branch:
    """Go to ``goto`` when the answer to step ``step`` is one of ``any_of``.

    A branch with ``step`` empty always matches (the default route).
    """

    goto: str
    step: str = ""
    any_of: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Step:
    id: str
    kind: StepKind
    text: str
    short: str = ""  # short name of the question, used in "check your answers"
    options: tuple[Option, ...] = ()
    skip: bool = False  # /skip allowed
    next: tuple[Branch, ...] = ()  # tried in order; empty means "the step after this in the file"
    profile: str | None = None  # respondent attribute this answer sets
    more: str = ""  # optional longer text behind a "Tell me more" button
    done: str = ""  # text of the "Next"/"Done" button for info and multi steps
    easy: str = ""  # the text on the Easy Read track ("" = the same as ``text``)
    easy_more: str = ""  # ``more`` on the Easy Read track
    ordered: bool = False  # the options are ordered ranges, such as age bands
    line: int = 0

    @property
    def is_question(self) -> bool:
        return self.kind in QUESTION_KINDS

    def option(self, option_id: str) -> Option | None:
        for opt in self.options:
            if opt.id == option_id:
                return opt
        return None


@dataclass(frozen=True)
class Conversation:
    id: str
    version: int
    title: str
    steps: tuple[Step, ...]
    then: str | None = None  # conversation to start when this one ends
    language: str = "en"  # language the text fields are in
    ui: Mapping[str, str] = field(default_factory=dict)  # engine texts (see core.texts)
    progress: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # step id -> (n, total)
    path: str = ""  # source file, for error messages

    @property
    def first(self) -> Step:
        return self.steps[0]

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def has_step(self, step_id: str) -> bool:
        return any(s.id == step_id for s in self.steps)

    def index(self, step_id: str) -> int:
        for i, s in enumerate(self.steps):
            if s.id == step_id:
                return i
        raise KeyError(step_id)
