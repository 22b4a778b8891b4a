"""The yearly surveys (conversations/annual-parent.yaml and annual-young-person.yaml).

Table-driven: both files are loaded with the project's loader, checked against the survey's brief
(at most 10 questions, the four priorities each with all three polarities, wave 2027), and walked
through the engine on the standard and the Easy Read track, answering or skipping every question.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from core import engine
from core.definition import Conversation, Step
from core.i18n import read_catalogue
from core.languages import LANGUAGES
from core.loader import EASY, MAX_QUESTIONS, load_file
from core.localise import localise
from core.model import (
    Answer,
    Ask,
    Command,
    Event,
    Finished,
    Output,
    Say,
    State,
    Submitted,
    Text,
    Voice,
    VoiceNote,
)
from core.settings import ROOT
from core.storage.models import PRIORITIES
from core.textmatch import norm

NAMES = ("annual-parent", "annual-young-person")
WAVE = 2027
QUESTIONS = 9  # every route asks this many: a scale and a "tell us more" per priority, then "one thing"
FAMILIES = ("multi-agency", "families", "provision", "adulthood")
POLARITIES = ("works-well", "not-working", "improve")
#: The "tell us more" step that follows a scale, by the polarity of the answer (None: skipped).
FOLLOW_UP = {"works-well": "good", "improve": "better", "not-working": "bad", None: "better"}
VALUES = {"council": "Test Council", "read_by": "Friday 4 December", "contact": "Call the test team on 0000."}
PROGRESS = re.compile(r"^Question (\d+) of (\d+)$", re.M)


def load(name: str) -> Conversation:
    conv, problems = load_file(ROOT / "conversations" / f"{name}.yaml")
    assert [str(p) for p in problems] == []
    assert conv is not None
    return conv


SOURCES = {name: load(name) for name in NAMES}


def family(code: str) -> str:
    """provision.mainstream and provision.specialist belong to the provision family."""
    return code.split(".")[0]


def scales(conv: Conversation) -> list[Step]:
    return [s for s in conv.steps if s.kind == "scale"]


# ---- the shape of the two files ----------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_loads_cleanly_as_the_2027_wave(name: str) -> None:
    conv = SOURCES[name]
    assert conv.id == name
    assert conv.version == WAVE
    assert conv.then is None
    assert conv.steps[-1].kind == "end" and [s.kind for s in conv.steps].count("check") == 1


@pytest.mark.parametrize("name", NAMES)
def test_at_most_ten_questions_and_the_same_count_on_every_route(name: str) -> None:
    conv = SOURCES[name]
    questions = {s.id for s in conv.steps if s.is_question}
    # The loader gives every question its place only when the count is the same on every route.
    assert set(conv.progress) == questions
    assert {total for _, total in conv.progress.values()} == {QUESTIONS}
    assert QUESTIONS <= MAX_QUESTIONS == 10
    assert sorted({n for n, _ in conv.progress.values()}) == list(range(1, QUESTIONS + 1))
    # The first message says how many questions there are, on both tracks.
    for easy in (False, True):
        first = localise(conv, str, "en", VALUES, easy=easy).first
        assert first.kind == "info"
        assert f"{QUESTIONS} questions" in first.text


@pytest.mark.parametrize("name", NAMES)
def test_each_priority_family_has_every_polarity(name: str) -> None:
    conv = SOURCES[name]
    found: dict[str, set[str]] = {f: set() for f in FAMILIES}
    for step in conv.steps:
        for option in step.options:
            for code in option.priorities:
                if option.polarity:
                    found.setdefault(family(code), set()).add(option.polarity)
    assert found == {f: set(POLARITIES) for f in FAMILIES}
    known = {code for code, _ in PRIORITIES}
    used = {code for step in conv.steps for option in step.options for code in option.priorities}
    assert used and used <= known


@pytest.mark.parametrize("name", NAMES)
def test_each_scale_asks_about_one_priority_with_one_answer_per_polarity(name: str) -> None:
    conv = SOURCES[name]
    assert [family(s.options[0].priorities[0]) for s in scales(conv)] == list(FAMILIES)
    for step in scales(conv):
        assert step.skip, f"{step.id} cannot be skipped"
        assert sorted(o.polarity or "" for o in step.options) == sorted(POLARITIES)
        assert len({o.priorities for o in step.options}) == 1
        # each answer leads to its own "tell us more"; a skipped scale goes to the "better" one
        for option in step.options:
            chosen = {step.id: Answer(step.id, "choice", step.text, options=(option.id,))}
            assert engine.next_step(conv, step, chosen) == f"{step.id}-{FOLLOW_UP[option.polarity]}"
        skipped = {step.id: Answer(step.id, "skipped", step.text)}
        assert engine.next_step(conv, step, skipped) == f"{step.id}-{FOLLOW_UP[None]}"


def test_both_surveys_use_the_same_step_ids() -> None:
    parent, young = (SOURCES[name] for name in NAMES)
    assert [(s.id, s.kind) for s in parent.steps] == [(s.id, s.kind) for s in young.steps]
    assert parent.progress == young.progress


# ---- walking through the engine ------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How a person answers: the polarity picked on each scale (None: skip) and each text reply."""

    name: str
    pick: Callable[[int], str | None]
    reply: Callable[[int], Event]


PLANS = [
    Plan("all works well, typed", lambda i: "works-well", lambda i: Text(f"Answer number {i}.")),
    Plan("all could be better, voice", lambda i: "improve",
         lambda i: Voice(VoiceNote(f"file-{i}", duration=4))),
    Plan("all not working, typed", lambda i: "not-working", lambda i: Text("It did not help.")),
    Plan("mixed", lambda i: (*POLARITIES, None)[i % 4], lambda i: Command("skip") if i % 2 else Text("Yes.")),
    Plan("every question skipped", lambda i: None, lambda i: Command("skip")),
]


@dataclass
class Walk:
    state: State
    last: list[Output]
    asked: list[tuple[str, int, int]]  # step id, n and total of "Question n of total"
    check: Ask | None
    first: Ask


def walk(conv: Conversation, plan: Plan) -> Walk:
    state, outputs = engine.begin(conv)
    first = _ask(outputs)
    asked: list[tuple[str, int, int]] = []
    check: Ask | None = None
    scale_no = text_no = 0
    for _ in range(60):  # far more turns than a survey takes
        if state.status == "done":
            break
        ask = _ask(outputs)
        assert ask.step == state.current
        step = conv.step(ask.step)
        if step.is_question:
            progress = PROGRESS.findall(ask.text)
            assert len(progress) == 1, ask.text
            asked.append((step.id, int(progress[0][0]), int(progress[0][1])))
            assert ask.text.endswith(step.text.strip())  # the question is the last line
        event: Event
        if step.kind == "info":
            event = Text(ask.buttons[0].label)  # Next
        elif step.kind == "scale":
            wanted = plan.pick(scale_no)
            scale_no += 1
            if wanted is None:
                event = Command("skip")
            else:
                option = next(o for o in step.options if o.polarity == wanted)
                event = Text(next(b.label for b in ask.buttons if b.id == option.id))  # the tap
        elif step.kind == "text":
            assert ask.free_text and [b.id for b in ask.buttons] == ["_listen"], "typing or a voice note"
            event = plan.reply(text_no)
            text_no += 1
        elif step.kind == "check":
            check = ask
            event = Text(next(b.label for b in ask.buttons if b.id == "_send"))
        else:
            raise AssertionError(f"unexpected step {step.id} ({step.kind})")
        state, outputs = engine.step(conv, state, event)
    assert state.status == "done", f"stuck at {state.current}"
    return Walk(state, outputs, asked, check, first)


def _ask(outputs: list[Output]) -> Ask:
    found = [o for o in outputs if isinstance(o, Ask)]
    assert found, f"no question in {outputs}"
    return found[-1]


@pytest.mark.parametrize("plan", PLANS, ids=[p.name for p in PLANS])
@pytest.mark.parametrize("easy", [False, True], ids=["standard", "easy-read"])
@pytest.mark.parametrize("name", NAMES)
def test_walk_reaches_the_end(name: str, easy: bool, plan: Plan) -> None:
    source = SOURCES[name]
    conv = localise(source, str, "en", VALUES, easy=easy)
    result = walk(conv, plan)

    # The intro is the track's own text, with the council filled in.
    intro = source.first
    assert result.first.text == (intro.easy if easy and intro.easy else intro.text).strip().replace(
        "{council}", "Test Council")

    # Nine questions, numbered 1 to 9 in order, whatever was answered or skipped.
    assert [(n, total) for _, n, total in result.asked] == [(n, QUESTIONS) for n in range(1, QUESTIONS + 1)]
    picks = [plan.pick(i) for i in range(4)]
    expected_route = []
    for scale, picked in zip(scales(source), picks, strict=True):
        expected_route += [scale.id, f"{scale.id}-{FOLLOW_UP[picked]}"]
    assert [step_id for step_id, _, _ in result.asked] == [*expected_route, "one-thing"]

    # Every answer (or skip) is on the route, listed on "check your answers" with a Change button.
    routed = engine.route_answers(conv, result.state)
    assert routed == [step_id for step_id, _, _ in result.asked]
    assert result.check is not None and len(result.check.inline) == QUESTIONS
    answers = result.state.answers
    for scale, picked in zip(scales(source), picks, strict=True):
        answer = answers[scale.id]
        if picked is None:
            assert answer.kind == "skipped" and answer.options == ()
        else:
            option = source.step(scale.id).option(answer.options[0])
            assert option is not None and option.polarity == picked
            assert [family(c) for c in option.priorities] == [family(scale.options[0].priorities[0])]
    if plan.name == "every question skipped":
        assert {a.kind for a in answers.values()} == {"skipped"}

    # The end: sent once, the thank-you says what happens next with the date, nothing follows.
    assert result.state.version == WAVE
    assert sum(isinstance(o, Submitted) for o in result.last) == 1
    thanks = [o for o in result.last if isinstance(o, Say)][-1]
    end = source.steps[-1]
    assert thanks.text == (end.easy if easy and end.easy else end.text).strip().replace(
        "{read_by}", "Friday 4 December")
    assert "Friday 4 December" in thanks.text and thanks.close_keyboard
    assert result.last[-1] == Finished(None)


@pytest.mark.parametrize("easy", [False, True], ids=["standard", "easy-read"])
@pytest.mark.parametrize("name", NAMES)
def test_scale_buttons_fit_the_track(name: str, easy: bool) -> None:
    conv = localise(SOURCES[name], str, "en", VALUES, easy=easy)
    for step in scales(conv):
        state = State(conversation=conv.id, version=conv.version, current=step.id)
        ask = engine.show(conv, state)[-1]
        assert isinstance(ask, Ask)
        answers = [b for b in ask.buttons if not b.id.startswith("_")]
        assert [b.id for b in answers] == [o.id for o in step.options]
        assert len(answers) <= (EASY.choices if easy else 4)
        assert [b.id for b in ask.buttons if b.id.startswith("_")] == ["_listen"]
        if easy:
            assert all(len(o.label) <= EASY.button_chars for o in step.options)


# ---- every language ------------------------------------------------------------------------

OTHER_LANGUAGES = [lang.code for lang in LANGUAGES if lang.code != "en"]


def _texts(conv: Conversation) -> set[str]:
    """Every text of a conversation that is translated (on both tracks)."""
    found = {conv.title}
    for step in conv.steps:
        found |= {step.text, step.easy, step.short, step.more, step.easy_more, step.done}
        for option in step.options:
            found |= {option.label, option.easy, *option.also}
    return found - {""}


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
@pytest.mark.parametrize("name", NAMES)
def test_translated_and_each_typed_word_means_one_answer(name: str, lang: str) -> None:
    catalogue = read_catalogue(ROOT / "locales", lang)
    assert catalogue is not None
    entries = {text: catalogue.get(text) for text in _texts(SOURCES[name])}
    missing = sorted(t for t, entry in entries.items() if entry is None or not entry.string or entry.fuzzy)
    assert missing == []

    def translate(text: str) -> str:
        entry = catalogue.get(text)
        return str(entry.string) if entry is not None else text

    for easy in (False, True):
        conv = localise(SOURCES[name], translate, lang, VALUES, easy=easy)
        assert "{read_by}" in conv.steps[-1].text and "{council}" in conv.first.text
        for step in scales(conv):
            words = [{norm(o.label), *(norm(w) for w in o.also)} for o in step.options]
            for i, mine in enumerate(words):
                others = set().union(*(w for j, w in enumerate(words) if j != i))
                assert not mine & others, f"{lang} {step.id}: {mine & others} would match two answers"
