"""Tests for core.loader: each bad snippet gives exactly the expected problems, with lines.

In the snippets, a line ending in ``#!`` is where the expected problem is reported
(``#!2`` when two problems are reported on that line).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from core.definition import Branch
from core.loader import ConversationError, Problem, load_conversations, load_dir, load_file

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "conversations"
DATA = Path(__file__).resolve().parent / "data"

HEAD = "id: demo\nversion: 1\ntitle: Demo\nsteps:\n"
PICK = """\
  - id: pick
    kind: single
    short: Pick
    text: Which fruit do you like?
    options:
      - id: apple
        label: Apple
      - id: pear
        label: Pear
"""
BYE = "  - id: bye\n    kind: end\n    text: Thank you.\n"


def _marked(text: str) -> list[int]:
    """The 1-based lines marked ``#!`` (listed twice for ``#!2``)."""
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), 1):
        found = re.search(r"#!(\d?)\s*$", line)
        if found:
            lines += [number] * int(found.group(1) or 1)
    return lines


def _load(tmp_path: Path, text: str, name: str = "demo") -> tuple[object, list[Problem]]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_file(path)


def pick(old: str = "", new: str = "", then: str = "", end: str = BYE) -> str:
    """The demo file with ``old`` replaced by ``new`` in step 'pick', ``then`` after it."""
    return HEAD + PICK.replace(old, new) + then + end


def after(steps: str, end: str = BYE) -> str:
    """The demo file with ``steps`` (YAML of one or more steps) between 'pick' and 'bye'."""
    return HEAD + PICK + steps + end


def ending(text: str) -> str:
    """The demo file whose end step has the (folded) ``text``, reported on the marked line."""
    return HEAD + PICK + f"  - id: bye\n    kind: end\n    text: >- #!\n      {text}\n"


SAY = "  - id: say\n    kind: text\n    short: Say\n    text: Why?\n"
BRANCH = "    next:\n      - if: {%s} #!\n        goto: bye\n"
PLUM = "      - id: plum\n        label: Plum\n"

TWO_MORE = "".join(f"      - id: x{n}\n        label: Fruit {n}\n" for n in range(2))

# (name, file text, phrases expected in the problems, in line order)
CASES: list[tuple[str, str, list[str]]] = [
    ("valid", pick(), []),
    # the Easy Read track
    (
        "Easy Read: 4 choices",
        pick("    options:", "    options: #!", TWO_MORE),
        ["4 answers to pick from; offer at most 3, plus one 'escape' answer such as 'Something else' "
         "on the Easy Read"],
    ),
    (
        "Easy Read: a hidden choice makes it 3",
        pick("        label: Pear\n", "        label: Pear\n        hide_in_easy: true\n" + "".join(
            f"      - id: x{n}\n        label: Fruit {n}\n" for n in range(2))),
        [],
    ),
    (
        "Easy Read: ordered ranges may have 4",
        pick("    options:", "    ordered: true\n    options:", "".join(
            f"      - id: x{n}\n        label: {n} to {n + 1}\n" for n in range(2))),
        [],
    ),
    (
        "Easy Read: label too long",
        pick("label: Pear", "label: Pear\n        easy: A ripe green pear #!2"),
        ["Easy Read label 'A ripe green pear' has 4 words; a button may have at most 3 on the Easy Read",
         "has 17 characters; a button may have at most 16 on the Easy Read track (T7)"],
    ),
    (
        "Easy Read: the standard label serves and is too long there",
        pick("label: Pear", "label: Pears or red apples #!2"),
        ["'Pears or red apples' has 4 words; a button may have at most 3 on the Easy Read track",
         "has 19 characters; a button may have at most 16 on the Easy Read track (T7)"],
    ),
    (
        "Easy Read: text too long",
        pick("text: Which fruit do you like?", "text: Which fruit do you like?\n    easy: >- #!\n      "
             "I would like to know which one of all these fruits you like the best?"),
        ["has a sentence of 15 words", "keep sentences to 12 words or fewer on the Easy Read track (T3)"],
    ),
    # keys
    (
        "unknown top key",
        HEAD.replace("title: Demo", "titel: Demo #!") + PICK + BYE,
        ["unknown key 'titel' (did you mean 'title'?)"],
    ),
    (
        "unknown step key",
        pick("    options:", "    optons: #!"),
        ["step 'pick': unknown key 'optons' (did you mean 'options'?)"],
    ),
    (
        "unknown option key",
        pick("label: Pear", "lable: Pear #!"),
        ["option 'pear': unknown key 'lable' (did you mean 'label'?)"],
    ),
    (
        "unknown key, nothing close",
        pick("short: Pick", "short: Pick\n    colour: red #!"),
        ["unknown key 'colour'"],
    ),
    (
        "unknown branch key",
        pick(then="    next:\n      - iff: {pick: [apple]} #!\n        goto: bye\n"),
        ["branch 1: unknown key 'iff' (did you mean 'if'?)"],
    ),
    ("repeated key", pick("short: Pick", "short: Pick\n    short: Again #!"), ["key 'short' appears twice"]),
    ("missing top key", "id: demo #!\ntitle: Demo\nsteps:\n" + PICK + BYE, ["missing key 'version'"]),
    ("missing text", pick(end="  - id: bye #!\n    kind: end\n"), ["step 'bye': missing key 'text'"]),
    (
        "missing short",
        pick("    short: Pick\n", "", end=BYE).replace("id: pick", "id: pick #!"),
        ["missing key 'short'"],
    ),
    (
        "missing options",
        HEAD + "  - id: pick #!\n    kind: single\n    short: Pick\n    text: Which?\n" + BYE,
        ["missing key 'options'"],
    ),
    (
        "missing option label",
        pick("      - id: pear\n        label: Pear\n", "      - id: pear #!\n"),
        ["option 'pear': missing key 'label'"],
    ),
    # types
    (
        "version not a number",
        pick().replace("version: 1", "version: one #!"),
        ["'version' must be a whole number above 0"],
    ),
    ("version zero", pick().replace("version: 1", "version: 0 #!"), ["whole number above 0"]),
    (
        "skip not a flag",
        pick("short: Pick", "short: Pick\n    skip: maybe #!"),
        ["'skip' must be true or false"],
    ),
    (
        "options not a list",
        HEAD + PICK.split("    options:")[0] + "    options: {a: b} #!\n" + BYE,
        ["'options' must be a list of options"],
    ),
    (
        "text not text",
        pick("text: Which fruit do you like?", "text: [a, b] #!"),
        ["'text' must be text, not a list"],
    ),
    ("step not a mapping", after("  - just words #!\n"), ["step 2: expected a set of 'key: value'"]),
    ("top level is a list", "- a #!\n- b\n", ["top level: expected a set of 'key: value' lines, not a list"]),
    ("no steps", "id: demo\nversion: 1\ntitle: Demo\nsteps: [] #!\n", ["'steps' must be a list of steps"]),
    # ids
    (
        "bad step id",
        pick("id: pick", "id: Pick_One #!"),
        ["'id' is 'Pick_One', but an id may only use small letters"],
    ),
    ("bad option id", pick("id: pear", "id: big pear #!"), ["'id' is 'big pear'"]),
    (
        "id is not the file name",
        pick().replace("id: demo", "id: other #!"),
        ["'id' is 'other', but the file is 'demo.yaml'"],
    ),
    (
        "duplicate step id",
        pick(end=BYE + BYE.replace("  - id: bye", "  - id: bye #!")),
        ["the id 'bye' is used by an earlier step too"],
    ),
    (
        "duplicate option id",
        pick(then="      - id: apple #!\n        label: Plum\n"),
        ["option id 'apple' is used twice"],
    ),
    (
        "duplicate label",
        pick(then="      - id: plum #!\n        label: apple\n"),
        ["option 'plum' has the same label as option 'apple'"],
    ),
    (
        "typed word matches two options",
        pick(then="      - id: plum #!\n        label: Plum\n        also: [pear]\n"),
        ["typing 'pear' would also match option 'pear'"],
    ),
    (
        "typed word is a later label",
        pick("label: Apple", "label: Apple\n        also: [Pear]").replace("- id: apple", "- id: apple #!"),
        ["option 'apple': typing 'pear' would also match option 'pear'"],
    ),
    # routes
    (
        "next to a missing step",
        pick(then="    next: byee #!\n"),
        ["goes to step 'byee', but there is no such step (did you mean 'bye'?)"],
    ),
    ("goto end is not special", pick(then="    next:\n      - goto: end #!\n"), ["'end' is not special"]),
    (
        "if names a missing step",
        pick(then=BRANCH % "pik: [apple]"),
        ["'if' names step 'pik', but there is no such step (did you mean 'pick'?)"],
    ),
    (
        "if names a later step",
        HEAD + "  - id: hi\n    kind: info\n    text: Hello.\n" + BRANCH % "pick: [apple]" + PICK + BYE,
        ["which comes later"],
    ),
    (
        "if names a missing option",
        pick(then=BRANCH % "pick: [aple]"),
        ["step 'pick' has no option 'aple' (did you mean 'apple'?)"],
    ),
    ("if names a step without options", after(SAY + BRANCH % "say: [x]"), ["which has no options to test"]),
    ("if is not one step", pick(then=BRANCH % "pick: [apple], x: [y]"), ["'if' must name one step"]),
    (
        "default branch not last",
        pick(then="    next:\n      - goto: bye #!\n      - if: {pick: [apple]}\n        goto: bye\n"),
        ["branch 1 has no 'if'", "put it last"],
    ),
    (
        "unreachable step",
        pick(then="    next: bye\n  - id: lost #!\n    kind: info\n    text: Hello.\n"),
        ["step 'lost': no route from the first step reaches this step"],
    ),
    (
        "no end step",
        pick("id: pick", "id: pick #!", end="").replace("steps:", "steps: #!"),
        ["no end step can be reached", "it is the last step in the file and not an end step"],
    ),
    (
        "loop",
        pick(then="    next:\n      - if: {pick: [apple]}\n        goto: bye\n      - goto: pick #!\n"),
        ["goes back to step 'pick', which makes a loop"],
    ),
    # kinds
    (
        "options on a text step",
        after(SAY + "    options: #!\n" + PLUM),
        ["a text step must not have 'options'"],
    ),
    (
        "options on a language step",
        after(SAY.replace("kind: text", "kind: language") + "    options: #!\n" + PLUM),
        ["the engine lists the languages itself"],
    ),
    (
        "yesno with 3 options",
        pick("kind: single", "kind: yesno", PLUM).replace("options:", "options: #!"),
        ["a yesno step needs exactly 2 options, not 3"],
    ),
    (
        "scale with 4 options",
        pick("kind: single", "kind: scale", PLUM + PLUM.replace("lum", "each")).replace(
            "options:", "options: #!"
        ),
        ["a scale step needs exactly 3 options, not 4 (T9"],
    ),
    ("end with next", pick(end=BYE + "    next: pick #!\n"), ["an end step must not have 'next'"]),
    (
        "two check steps",
        after(
            "  - id: check\n    kind: check\n    text: Check.\n"
            "  - id: check2 #!\n    kind: check\n    text: Check again.\n"
        ),
        ["there can be only one check step"],
    ),
    (
        "two escapes",
        pick(
            "label: Pear",
            "label: Pear\n        escape: true",
            "      - id: unsure #!\n        label: Not sure\n        escape: true\n",
        ),
        ["only one option may have 'escape: true'"],
    ),
    (
        "done on a text step",
        after(SAY + "    done: Go #!\n"),
        ["'done' is only used by multi and info steps"],
    ),
    ("bad kind", pick("kind: single", "kind: singel #!"), ["unknown kind 'singel' (did you mean 'single'?)"]),
    (
        "bad profile",
        pick("short: Pick", "short: Pick\n    profile: roll #!"),
        ["'profile' cannot be 'roll' (did you mean 'role'?)"],
    ),
    (
        "bad priority",
        pick("label: Pear", "label: Pear\n        priorities: [provison] #!"),
        ["unknown priority code 'provison' (did you mean 'provision'?)"],
    ),
    (
        "bad polarity",
        pick("label: Pear", "label: Pear\n        polarity: good #!"),
        ["'polarity' cannot be 'good'"],
    ),
    # empty texts
    (
        "empty text",
        pick(end="  - id: bye\n    kind: end\n    text: '' #!\n"),
        ["step 'bye': 'text' is empty"],
    ),
    ("empty label", pick("label: Pear", "label: #!"), ["'label' is empty"]),
    ("empty short", pick("short: Pick", "short: ' ' #!"), ["'short' is empty"]),
    # accessibility rules (ACCESSIBILITY.md section 4)
    (
        "T6 too many choices",
        pick(
            "    options:",
            "    options: #!",
            "".join(f"      - id: x{n}\n        label: Fruit {n}\n" for n in range(3)),
        ),
        ["5 answers to pick from; offer at most 4"],
    ),
    (
        "T7 too many words",
        pick("label: Pear", "label: A big green pear please #!"),
        ["has 5 words; a button may have at most 4 (T7)"],
    ),
    (
        "T7 too many characters",
        pick("label: Pear", "label: Pomegranates and clementines #!"),
        ["has 28 characters; a button may have at most 24 (T7)"],
    ),
    ("T8 emoji in a label", pick("label: Pear", "label: Pear 🍐 #!"), ["label has an emoji in it"]),
    (
        "T8 emoji in text",
        pick("text: Which fruit do you like?", "text: Which fruit 🍎 do you like? #!"),
        ["'text' has an emoji in it"],
    ),
    (
        "T8 two emoji in a symbol",
        pick("label: Pear", "label: Pear\n        symbol: 🍐🍐 #!"),
        ["'symbol' has 2 emoji; use at most one (T8)"],
    ),
    (
        "T8 symbol is not an emoji",
        pick("label: Pear", "label: Pear\n        symbol: P #!"),
        ["'symbol' must be one emoji"],
    ),
    (
        "T3 long sentence",
        ending("Thank you very much for all of the answers that you gave us here today, friend."),
        ["has a sentence of 16 words", "(T3)"],
    ),
    (
        "T4 long message",
        ending(
            "Thank you"
            + " very much" * 6
            + "."
            + " We are glad you came" * 3
            + ". Thanks"
            + " again" * 11
            + "."
        ),
        ["has 41 words", "(T4)"],
    ),
    (
        "T4 placeholders count as 3 words",
        ending("Hi there {a} {b} {c}. Hi {d} {e} {f}. Hi {g} {h} {i}. Hi {j} {k} {l}."),
        ["has 41 words (each {placeholder} counts as 3)"],
    ),
    (
        "T5 too many sentences",
        ending("One. Two! Three? Four. Five."),
        ["has 5 sentences; a message may have at most 4 (T5)"],
    ),
    (
        "question not last",
        pick("text: Which fruit do you like?", "text: Which fruit? Pick one. #!"),
        ["the question must be the last line of 'text'"],
    ),
    ("T14 acronym", ending("Thank you for your SEND answers."), ["has 'SEND': use plain words"]),
    # the file itself
    (
        "YAML syntax error",
        ending("x").replace("text: >- #!\n      x", "text: Choose one: apple #!"),
        ["YAML syntax error: mapping values are not allowed here"],
    ),
    ("empty file", "#!\n", ["the file is empty"]),
    (
        "two documents",
        "id: demo\n--- #!\nid: x\n",
        ["YAML syntax error: expected a single document in the stream, but found another document"],
    ),
    ("if options not a list", pick(then=BRANCH % "pick: apple"), ["'if' must be a list such as [a, b]"]),
    (
        "next is empty",
        pick(then="    next: #!\n"),
        ["'next' must be a step id or a list of branches, not empty"],
    ),
    (
        "T7 done button",
        after("  - id: hi\n    kind: info\n    text: Hello.\n    done: I have read all of it #!\n"),
        ["'done' button 'I have read all of it' has 6 words"],
    ),
]


@pytest.mark.parametrize(("name", "text", "phrases"), CASES, ids=[c[0] for c in CASES])
def test_problems(tmp_path: Path, name: str, text: str, phrases: list[str]) -> None:
    conversation, problems = _load(tmp_path, text)
    lines = _marked(text)
    if len(phrases) > len(lines):  # several phrases of one problem
        assert len(problems) == len(lines), problems
        lines = lines * len(phrases)
    else:
        assert [p.line for p in problems] == lines, problems
    for line, phrase in zip(lines, phrases, strict=True):
        assert any(p.line == line and phrase in p.message for p in problems), (phrase, problems)
    assert (conversation is None) == bool(problems)


@pytest.mark.parametrize(
    ("last", "ok"),
    [
        ("What is going well? Tell us why.", True),
        ("You can type or send a voice note.\n      What would make it better?", True),
        ("Tell us why. You can type or send a voice note", False),
    ],
)
def test_text_steps_may_end_with_a_full_stop(tmp_path: Path, last: str, ok: bool) -> None:
    text = HEAD + f"  - id: say\n    kind: text\n    short: Say\n    text: |\n      {last}\n" + BYE
    _, problems = _load(tmp_path, text)
    assert not problems if ok else "must be the last line" in problems[0].message


def test_route_with_too_many_questions(tmp_path: Path) -> None:
    questions = "".join(f"  - id: q{n}\n    kind: text\n    short: Q{n}\n    text: Why?\n" for n in range(11))
    _, problems = _load(tmp_path, HEAD + questions + BYE)
    assert [(p.line, p.message) for p in problems] == [
        (4, "a route through this conversation asks 11 questions; keep every route to 10 or fewer (T10)")
    ]


def test_all_problems_of_a_file_at_once() -> None:
    conversation, problems = load_file(DATA / "many-problems.yaml")
    assert conversation is None
    expected = [
        (3, "top level: 'version' must be a whole number above 0, not 'zero'"),
        (4, "top level: unknown key 'titel' (did you mean 'title'?)"),
        (12, "option 'fruit': label 'Pomegranates or clementines' has 27 characters"),
        (14, "step 'who', option 'maybe': unknown key 'lable' (did you mean 'label'?)"),
        (15, "step 'who', option 'maybe': unknown priority code 'provison' (did you mean 'provision'?)"),
        (16, "step 'who': goes to step 'thank', but there is no such step (did you mean 'thanks'?)"),
        (21, "step 'how': a scale step needs exactly 3 options, not 2"),
        (25, "step 'why': unknown kind 'txt' (did you mean 'text'?)"),
        (28, "step 'who': 'text' is empty"),
        (28, "step 'who': the id 'who' is used by an earlier step too"),
        (31, "step 'thanks': 'text' has 5 sentences; a message may have at most 4 (T5)"),
        (37, "step 'thanks': an end step must not have 'next'"),
    ]
    assert len(problems) == len(expected), problems
    for (line, phrase), problem in zip(expected, problems, strict=True):
        assert problem.line == line and phrase in problem.message, (line, phrase, problem)
    assert all(str(p).startswith(f"{p.path}:{p.line}: ") for p in problems)


def test_syntax_error_sample_reports_its_line() -> None:
    conversation, problems = load_file(DATA / "syntax-error.yaml")
    assert conversation is None
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [(7, "YAML syntax error")]


def test_error_strings_have_file_line_reason_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "conv"
    folder.mkdir()
    (folder / "demo.yaml").write_text(pick().replace("version: 1", "version: -2"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for given in (Path("conv/demo.yaml"), folder / "demo.yaml"):
        _, problems = load_file(given)
        assert [str(p) for p in problems] == [
            "conv/demo.yaml:2: top level: 'version' must be a whole number above 0, not a number"
        ]
    assert str(Problem("x.yaml", 0, "no line")) == "x.yaml: no line"


def test_shipped_conversations_load_without_problems() -> None:
    conversations, problems = load_dir(SHIPPED)
    assert [str(p) for p in problems] == []
    assert sorted(conversations) == ["annual-parent", "annual-young-person", "feedback", "welcome"]
    assert load_conversations(SHIPPED).keys() == conversations.keys()


def test_feedback_has_progress_and_welcome_has_none() -> None:
    conversations = load_conversations(SHIPPED)
    feedback, welcome = conversations["feedback"], conversations["welcome"]
    assert feedback.progress["area"] == (1, 4)
    assert feedback.progress["how"] == (2, 4)
    assert {feedback.progress[s] for s in ("tell-good", "tell-better", "tell-bad")} == {(3, 4)}
    assert feedback.progress["more"] == (4, 4)
    assert set(feedback.progress) == {s.id for s in feedback.steps if s.is_question}
    assert welcome.progress == {}
    assert welcome.then == "feedback" and feedback.then is None


def test_shipped_objects_are_built_with_lines() -> None:
    conversations = load_conversations(SHIPPED)
    welcome, feedback = conversations["welcome"], conversations["feedback"]
    assert welcome.path.endswith("welcome.yaml") and welcome.version == 1
    assert [s.id for s in welcome.steps] == [
        "language",
        "settings",
        "who",
        "age",
        "adult-help",
        "age-helped",
        "about",
        "privacy",
        "consent",
        "contact",
        "ready",
        "no-consent",
    ]
    who = welcome.step("who")
    assert who.next == (
        Branch(goto="age", step="who", any_of=("young-person",), line=who.next[0].line),
        Branch(goto="age-helped", step="who", any_of=("helper",), line=who.next[1].line),
        Branch(goto="about", line=who.next[2].line),
    )
    assert who.next[0].line > who.line > 0
    consent = welcome.step("consent")
    assert consent.next[0] == Branch("contact", "consent", ("yes", "anonymous"), consent.next[0].line)
    how = feedback.step("how")
    assert [(b.goto, b.step, b.any_of) for b in how.next] == [
        ("tell-good", "how", ("good",)),
        ("tell-better", "how", ("ok",)),
        ("tell-bad", "", ()),
    ]
    assert feedback.step("tell-good").next == (Branch("more", line=feedback.step("tell-good").next[0].line),)
    area = feedback.step("area")
    assert isinstance(area.options, tuple) and all(o.line > area.line for o in area.options)
    assert area.option("school") is not None and area.option("school").priorities == ("provision",)  # type: ignore[union-attr]
    assert [o.id for o in area.options if o.escape] == ["other"]
    assert [(o.symbol, o.polarity) for o in how.options] == [
        ("🙂", "works-well"),
        ("😐", "improve"),
        ("🙁", "not-working"),
    ]


def test_load_conversations_raises_with_every_problem(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(
        HEAD.replace("title: Demo", "title: ''") + PICK + "  - id: x\n", encoding="utf-8"
    )
    with pytest.raises(ConversationError) as caught:
        load_conversations(tmp_path)
    messages = [p.message for p in caught.value.problems]
    assert len(messages) == 3, messages
    assert "'title' is empty" in messages[0] and "missing key 'kind'" in messages[1]
    assert str(caught.value).count("demo.yaml:") == 3
