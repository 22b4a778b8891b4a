"""Load conversation files (``conversations/*.yaml``) and check them completely.

Every problem is collected with its file, line and a plain reason, so an author sees them all
at once. The YAML is read with ``yaml.compose`` (safe loader) so that every value keeps its line.

Checks on routes (unreachable steps, loops, no end, route length, progress) run only once the
step ids and routes are sound; otherwise one typo would cause a cascade of knock-on problems.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, get_args

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from core.definition import (
    CHOICE_KINDS,
    POLARITIES,
    PRIORITY_CODES,
    PROFILE_KEYS,
    QUESTION_KINDS,
    Branch,
    Conversation,
    Option,
    Step,
    StepKind,
)
from core.textmatch import norm

# ---- the format ---------------------------------------------------------------------------

KINDS: tuple[StepKind, ...] = get_args(StepKind)
TOP_KEYS = ("id", "version", "title", "then", "steps")
STEP_KEYS = ("id", "kind", "short", "text", "easy", "skip", "profile", "more", "easy_more", "done", "ordered",
             "options", "next")
OPTION_KEYS = ("id", "label", "easy", "hide_in_easy", "symbol", "priorities", "polarity", "escape", "also")
BRANCH_KEYS = ("if", "goto")
#: Kinds whose options come from the file (``language`` steps get theirs from the engine).
OPTION_KINDS = CHOICE_KINDS - {"language"}
OPTION_COUNTS: Mapping[str, int] = {"yesno": 2, "scale": 3}  # exact number of options (T9 for scale)

# ---- thresholds from ACCESSIBILITY.md section 4 (standard track) ---------------------------

@dataclass(frozen=True)
class Limits:
    """Thresholds T3-T7 for one track."""

    track: str
    sentence_words: int  # T3
    message_words: int  # T4
    sentences: int  # T5
    choices: int  # T6, plus at most one escape option
    button_words: int  # T7
    button_chars: int  # T7


STANDARD = Limits("standard", 15, 40, 4, 4, 4, 24)
EASY = Limits("Easy Read", 12, 25, 3, 3, 3, 16)
MAX_SENTENCE_WORDS = STANDARD.sentence_words
MAX_MESSAGE_WORDS = STANDARD.message_words
MAX_SENTENCES = STANDARD.sentences
MAX_CHOICES = STANDARD.choices
MAX_BUTTON_WORDS = STANDARD.button_words
MAX_BUTTON_CHARS = STANDARD.button_chars
MAX_QUESTIONS = 10  # T10
PLACEHOLDER_WORDS = 3  # a {placeholder} such as {council} counts as this many words
ALLOWED_CAPITALS = frozenset({"OK", "TV"})  # T14: not treated as acronyms

_ID = re.compile(r"[a-z0-9-]+")
_WORD = re.compile(r"[\w'’]+")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_SENTENCE_END = re.compile(r"(?<=[.!?؟۔।])\s+")
_CAPITALS = re.compile(r"\b[A-Z]{2,}s?\b")
_PICTO = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2300-\u23ff\u24c2\u25aa-\u25fe\u2600-\u27bf"
    "\u2934\u2935\u2b05-\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
)
_MODIFIERS = "\ufe0f\u20e3\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f"
_ONE_EMOJI = f"(?:[\U0001f1e6-\U0001f1ff]{{2}}|[#*0-9]\ufe0f?\u20e3|[{_PICTO}][{_MODIFIERS}]*)"
_EMOJI = re.compile(f"{_ONE_EMOJI}(?:\u200d{_ONE_EMOJI})*")

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_SCALARS = SafeConstructor()


# ---- problems -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a conversation file; ``line`` is 1-based (0: the whole file)."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        if self.line > 0:
            return f"{self.path}:{self.line}: {self.message}"
        return f"{self.path}: {self.message}"


class ConversationError(Exception):
    """Conversation files have problems; ``problems`` holds all of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class _Ctx:
    """Where problems of one file are collected while it is read."""

    path: str
    problems: list[Problem] = field(default_factory=list)
    routes_ok: bool = True  # step ids, kinds and routes were read cleanly

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))


class _Field(NamedTuple):
    line: int  # the line of the key
    node: Node  # the value


class _Fields(dict[str, _Field]):
    """The known keys of a mapping, and the known keys that unknown keys look like typos of."""

    def __init__(self) -> None:
        super().__init__()
        self.guessed: set[str] = set()


@dataclass
class _Draft:
    """What one file gave, even with problems, for the checks across files."""

    id: str
    then: str | None = None
    then_line: int = 0
    conversation: Conversation | None = None


# ---- public API ---------------------------------------------------------------------------


def load_file(path: Path | str) -> tuple[Conversation | None, list[Problem]]:
    """One conversation file, checked; the conversation is None when it has any problem."""
    draft, problems = _load(Path(path))
    return draft.conversation, problems


def load_dir(directory: Path | str) -> tuple[dict[str, Conversation], list[Problem]]:
    """Every ``*.yaml`` file in ``directory``, then the checks across files.

    Returns the conversations without problems, and every problem found.
    """
    directory = Path(directory)
    problems = _check_folder(directory)
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    drafts: list[tuple[_Draft, str]] = []
    for path in files:
        draft, found = _load(path)
        drafts.append((draft, _display(path)))
        problems += found
    problems += _check_then(drafts)
    order = {shown: i for i, (_, shown) in enumerate(drafts)}
    problems.sort(key=lambda p: (order.get(p.path, -1), p.line))
    good = {d.id: d.conversation for d, _ in drafts if d.conversation is not None}
    return good, problems


def load_conversations(directory: Path | str) -> dict[str, Conversation]:
    """Every conversation in ``directory``; raises ConversationError listing all problems."""
    conversations, problems = load_dir(directory)
    if problems:
        raise ConversationError(problems)
    return conversations


# ---- files --------------------------------------------------------------------------------


def _display(path: Path) -> str:
    """The path as given, made relative to the working folder when it is inside it."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


def _check_folder(directory: Path) -> list[Problem]:
    shown = _display(directory)
    if not directory.is_dir():
        return [Problem(shown, 0, "this folder does not exist")]
    problems = [
        Problem(_display(p), 0, "conversation files must end in '.yaml'; this file is not read")
        for p in sorted(directory.glob("*.yml"))
    ]
    if not any(directory.glob("*.yaml")):
        problems.append(Problem(shown, 0, "there are no conversation files (*.yaml) in this folder"))
    return problems


def _check_then(drafts: Sequence[tuple[_Draft, str]]) -> list[Problem]:
    """``then`` names a conversation in the folder, and following ``then`` never loops."""
    known = sorted(d.id for d, _ in drafts)
    problems = [
        Problem(shown, d.then_line, f"top level: 'then' names conversation '{d.then}', but there is no "
                                    f"file '{d.then}.yaml'{_suggest(d.then, known)}")
        for d, shown in drafts
        if d.then and d.then not in known
    ]
    links = {d.id: d.then for d, _ in drafts if d.then}
    in_loop: set[str] = set()
    for draft, shown in drafts:
        chain = [draft.id]
        while (following := links.get(chain[-1])) is not None and following not in chain:
            chain.append(following)
        if following == draft.id and not in_loop & set(chain):
            in_loop.update(chain)
            route = " -> ".join([*chain, draft.id])
            reason = f"top level: 'then' makes a loop ({route}); conversations must not start each other"
            problems.append(Problem(shown, draft.then_line, reason))
    return problems


def _load(path: Path) -> tuple[_Draft, list[Problem]]:
    ctx = _Ctx(_display(path))
    root = _parse(ctx, path)
    draft = _read_conversation(ctx, root, path.stem) if root is not None else _Draft(path.stem)
    ctx.problems.sort(key=lambda p: p.line)
    return draft, ctx.problems


def _parse(ctx: _Ctx, path: Path) -> Node | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        ctx.add(0, "the file is not UTF-8 text")
        return None
    except OSError as error:
        ctx.add(0, f"cannot read the file: {error.strerror or error}")
        return None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = ", ".join(part for part in (error.context, error.problem) if part) or "unreadable"
        ctx.add(mark.line + 1 if mark else 0, f"YAML syntax error: {reason}")
        return None
    except yaml.YAMLError as error:
        ctx.add(0, f"YAML error: {error}")
        return None
    if root is None:
        ctx.add(1, "the file is empty")
    return root


# ---- reading values -----------------------------------------------------------------------


def _line(node: Node) -> int:
    return node.start_mark.line + 1 if node.start_mark is not None else 0


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a set of 'key: value' lines"
    if isinstance(node, SequenceNode):
        return "a list"
    kinds = {_NULL: "empty", _BOOL: "true/false", _INT: "a number", _FLOAT: "a number"}
    return kinds.get(node.tag, f"'{_clip(str(node.value))}'")


def _clip(text: str, size: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"


def _suggest(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _name(node: Node, what: str, number: int) -> str:
    """How to name a step or option in messages: by its id if it has one, else by its number."""
    for key, value in node.value if isinstance(node, MappingNode) else ():
        named = isinstance(key, ScalarNode) and key.value == "id" and isinstance(value, ScalarNode)
        if named and value.tag != _NULL and str(value.value).strip():
            return f"{what} '{_clip(str(value.value).strip())}'"
    return f"{what} {number}"


def _fields(
    ctx: _Ctx, node: Node, where: str, known: Sequence[str], required: Sequence[str] = ()
) -> _Fields | None:
    """The known keys of a mapping; reports unknown, repeated and missing keys."""
    if not isinstance(node, MappingNode):
        ctx.add(_line(node), f"{where}: expected a set of 'key: value' lines, not {_describe(node)}")
        return None
    found = _Fields()
    for key_node, value_node in node.value:
        key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
        if key in found:
            ctx.add(_line(key_node), f"{where}: key '{key}' appears twice")
        elif key in known:
            found[key] = _Field(_line(key_node), value_node)
        else:
            found.guessed.update(difflib.get_close_matches(key, list(known), n=1, cutoff=0.6))
            ctx.add(_line(key_node), f"{where}: unknown key '{key}'{_suggest(key, known)}")
    for key in required:
        if key not in found and key not in found.guessed:
            ctx.add(_line(node), f"{where}: missing key '{key}'")
    return found


def _text(ctx: _Ctx, fields: Mapping[str, _Field], key: str, where: str, *, filled: bool = True) -> str:
    """A text value ('' when absent); reports wrong types and, if ``filled``, empty text."""
    f = fields.get(key)
    if f is None:
        return ""
    if not isinstance(f.node, ScalarNode):
        ctx.add(f.line, f"{where}: '{key}' must be text, not {_describe(f.node)}")
        return ""
    value = "" if f.node.tag == _NULL else str(f.node.value).strip()
    if filled and not value:
        ctx.add(f.line, f"{where}: '{key}' is empty")
    return value


def _id(ctx: _Ctx, fields: Mapping[str, _Field], key: str, where: str, *, filled: bool = True) -> str:
    value = _text(ctx, fields, key, where, filled=filled)
    if value and not _ID.fullmatch(value):
        ctx.add(
            fields[key].line,
            f"{where}: '{key}' is '{_clip(value)}', but an id may only use small letters a-z, "
            "digits 0-9 and '-'",
        )
    return value


def _flag(ctx: _Ctx, fields: Mapping[str, _Field], key: str, where: str) -> bool:
    f = fields.get(key)
    if f is None:
        return False
    if isinstance(f.node, ScalarNode) and f.node.tag == _BOOL:
        return _SCALARS.construct_yaml_bool(f.node)
    ctx.add(f.line, f"{where}: '{key}' must be true or false, not {_describe(f.node)}")
    return False


def _one_of(ctx: _Ctx, fields: Mapping[str, _Field], key: str, where: str, allowed: Iterable[str]) -> str:
    value = _text(ctx, fields, key, where)
    if value and value not in allowed:
        choices = ", ".join(sorted(allowed))
        ctx.add(fields[key].line, f"{where}: '{key}' cannot be '{value}'{_suggest(value, allowed)}; "
                                  f"use one of: {choices}")
        return ""
    return value


def _words(ctx: _Ctx, node: Node, line: int, what: str) -> list[str] | None:
    """A list of text items such as ``[a, b]``; None (reported) if it is not one."""
    if not isinstance(node, SequenceNode):
        ctx.add(line, f"{what} must be a list such as [a, b], not {_describe(node)}")
        return None
    items: list[str] = []
    for item in node.value:
        if isinstance(item, ScalarNode) and item.tag != _NULL and str(item.value).strip():
            items.append(str(item.value).strip())
        else:
            ctx.add(_line(item), f"{what}: each item must be a word or id, not {_describe(item)}")
    return items


def _list(ctx: _Ctx, fields: Mapping[str, _Field], key: str, where: str) -> tuple[str, ...]:
    f = fields.get(key)
    if f is None:
        return ()
    return tuple(_words(ctx, f.node, f.line, f"{where}: '{key}'") or ())


# ---- the conversation ---------------------------------------------------------------------


def _read_conversation(ctx: _Ctx, root: Node, stem: str) -> _Draft:
    top = "top level"
    fields = _fields(ctx, root, top, TOP_KEYS, ("id", "version", "title", "steps"))
    if fields is None:
        return _Draft(stem)
    conv_id = _id(ctx, fields, "id", top)
    if conv_id and conv_id != stem:
        ctx.add(fields["id"].line, f"{top}: 'id' is '{conv_id}', but the file is '{stem}.yaml'; "
                                   "they must match")
    version = _version(ctx, fields)
    title = _text(ctx, fields, "title", top)
    if title:
        _check_plain(ctx, fields["title"].line, f"{top}: 'title'", title)
    then = _id(ctx, fields, "then", top, filled=False) or None
    steps = _read_steps(ctx, fields.get("steps"))
    steps_line = fields["steps"].line if "steps" in fields else 1
    progress = _check_steps(ctx, steps, steps_line) if steps else {}
    draft = _Draft(stem, then, fields["then"].line if "then" in fields else 0)
    if not ctx.problems:
        draft.conversation = Conversation(
            id=conv_id, version=version, title=title, steps=tuple(steps), then=then,
            progress=progress, path=ctx.path,
        )
    return draft


def _version(ctx: _Ctx, fields: Mapping[str, _Field]) -> int:
    f = fields.get("version")
    if f is None:
        return 0
    if isinstance(f.node, ScalarNode) and f.node.tag == _INT:
        number = _SCALARS.construct_yaml_int(f.node)
        if number > 0:
            return number
    ctx.add(f.line, f"top level: 'version' must be a whole number above 0, not {_describe(f.node)}")
    return 0


def _read_steps(ctx: _Ctx, f: _Field | None) -> list[Step]:
    if f is None:
        return []
    if not isinstance(f.node, SequenceNode) or not f.node.value:
        ctx.add(f.line, f"top level: 'steps' must be a list of steps, not {_describe(f.node)}")
        return []
    steps = [_read_step(ctx, node, n) for n, node in enumerate(f.node.value, 1)]
    if None in steps:
        ctx.routes_ok = False
    return [s for s in steps if s is not None]


def _read_step(ctx: _Ctx, node: Node, number: int) -> Step | None:
    where = _name(node, "step", number)
    fields = _fields(ctx, node, where, STEP_KEYS, ("id", "kind", "text"))
    if fields is None:
        return None
    step_id = _id(ctx, fields, "id", where)
    kind = _kind(ctx, fields, where)
    if not step_id or kind is None:
        ctx.routes_ok = False
    step = Step(
        id=step_id,
        kind=kind or "info",
        text=_text(ctx, fields, "text", where),
        short=_text(ctx, fields, "short", where),
        options=_read_options(ctx, fields.get("options"), where),
        skip=_flag(ctx, fields, "skip", where),
        next=_read_next(ctx, fields.get("next"), where),
        profile=_one_of(ctx, fields, "profile", where, PROFILE_KEYS) or None,
        more=_text(ctx, fields, "more", where),
        done=_text(ctx, fields, "done", where),
        easy=_text(ctx, fields, "easy", where),
        easy_more=_text(ctx, fields, "easy_more", where),
        ordered=_flag(ctx, fields, "ordered", where),
        line=_line(node),
    )
    if kind is not None:
        _check_kind(ctx, step, fields, where)
    _check_step_texts(ctx, step, fields, where)
    return step


def _kind(ctx: _Ctx, fields: Mapping[str, _Field], where: str) -> StepKind | None:
    value = _text(ctx, fields, "kind", where)
    for kind in KINDS:
        if value == kind:
            return kind
    if value:
        ctx.add(fields["kind"].line, f"{where}: unknown kind '{value}'{_suggest(value, KINDS)}; "
                                     f"use one of: {', '.join(KINDS)}")
    return None


def _read_options(ctx: _Ctx, f: _Field | None, where: str) -> tuple[Option, ...]:
    if f is None:
        return ()
    if not isinstance(f.node, SequenceNode) or not f.node.value:
        ctx.add(f.line, f"{where}: 'options' must be a list of options, not {_describe(f.node)}")
        return ()
    options = (_read_option(ctx, node, n, where) for n, node in enumerate(f.node.value, 1))
    return tuple(o for o in options if o is not None)


def _read_option(ctx: _Ctx, node: Node, number: int, where: str) -> Option | None:
    here = f"{where}, {_name(node, 'option', number)}"
    fields = _fields(ctx, node, here, OPTION_KEYS, ("id", "label"))
    if fields is None:
        return None
    option_id = _id(ctx, fields, "id", here)
    option = Option(
        id=option_id,
        label=_text(ctx, fields, "label", here),
        symbol=_text(ctx, fields, "symbol", here),
        priorities=_codes(ctx, fields, here),
        polarity=_one_of(ctx, fields, "polarity", here, POLARITIES) or None,
        escape=_flag(ctx, fields, "escape", here),
        also=_list(ctx, fields, "also", here),
        easy=_text(ctx, fields, "easy", here),
        hide_in_easy=_flag(ctx, fields, "hide_in_easy", here),
        line=_line(node),
    )
    before = len(ctx.problems)
    if option.label:
        _check_button(ctx, fields["label"].line, f"{here}: label", option.label)
    if option.easy and not option.hide_in_easy:
        _check_button(ctx, fields["easy"].line, f"{here}: Easy Read label", option.easy, EASY)
    elif option.label and not option.hide_in_easy and len(ctx.problems) == before:
        _check_button(ctx, fields["label"].line, f"{here}: label", option.label, EASY)
    if option.symbol:
        _check_symbol(ctx, fields["symbol"].line, here, option.symbol)
    return option


def _codes(ctx: _Ctx, fields: Mapping[str, _Field], where: str) -> tuple[str, ...]:
    codes = _list(ctx, fields, "priorities", where)
    for code in codes:
        if code not in PRIORITY_CODES:
            ctx.add(fields["priorities"].line, f"{where}: unknown priority code '{code}'"
                    f"{_suggest(code, PRIORITY_CODES)}; use one of: {', '.join(sorted(PRIORITY_CODES))}")
    return tuple(c for c in codes if c in PRIORITY_CODES)


# ---- routes -------------------------------------------------------------------------------


def _read_next(ctx: _Ctx, f: _Field | None, where: str) -> tuple[Branch, ...]:
    if f is None:
        return ()
    if isinstance(f.node, ScalarNode) and f.node.tag != _NULL and str(f.node.value).strip():
        return (Branch(goto=str(f.node.value).strip(), line=f.line),)
    if not isinstance(f.node, SequenceNode) or not f.node.value:
        ctx.add(f.line, f"{where}: 'next' must be a step id or a list of branches, not {_describe(f.node)}")
        ctx.routes_ok = False
        return ()
    read = [_read_branch(ctx, node, n, where) for n, node in enumerate(f.node.value, 1)]
    branches = [b for b in read if b is not None]
    if len(branches) < len(read):
        ctx.routes_ok = False
    for n, branch in enumerate(branches[:-1], 1):
        if not branch.step:
            ctx.add(branch.line, f"{where}: branch {n} has no 'if', so it always matches and the branches "
                                 "after it are never used; put it last")
    return tuple(branches)


def _read_branch(ctx: _Ctx, node: Node, number: int, where: str) -> Branch | None:
    here = f"{where}, branch {number}"
    fields = _fields(ctx, node, here, BRANCH_KEYS, ("goto",))
    if fields is None:
        return None
    goto = _text(ctx, fields, "goto", here)
    condition = _condition(ctx, fields.get("if"), here)
    if not goto or condition is None:
        return None
    return Branch(goto=goto, step=condition[0], any_of=condition[1], line=_line(node))


def _condition(ctx: _Ctx, f: _Field | None, where: str) -> tuple[str, tuple[str, ...]] | None:
    """``if: {step: [option, ...]}`` as (step, options); ("", ()) when absent; None if malformed."""
    if f is None:
        return "", ()
    if not isinstance(f.node, MappingNode) or len(f.node.value) != 1:
        ctx.add(f.line, f"{where}: 'if' must name one step and a list of its option ids, "
                        "such as {who: [young-person, helper]}")
        return None
    key_node, value_node = f.node.value[0]
    step_id = str(key_node.value) if isinstance(key_node, ScalarNode) else ""
    option_ids = _words(ctx, value_node, f.line, f"{where}: 'if'")
    if isinstance(value_node, SequenceNode) and not value_node.value:
        ctx.add(f.line, f"{where}: 'if' must list at least one option id")
    if not step_id or not option_ids:
        return None
    return step_id, tuple(option_ids)


# ---- checks on one step -------------------------------------------------------------------


def _check_kind(ctx: _Ctx, step: Step, fields: _Fields, where: str) -> None:
    kind = step.kind
    present = set(fields) | fields.guessed
    if kind in QUESTION_KINDS and "short" not in present:
        ctx.add(step.line, f"{where}: missing key 'short' (a {kind} step needs a short name "
                           "for 'check your answers')")
    if kind in OPTION_KINDS and "options" not in present:
        ctx.add(step.line, f"{where}: missing key 'options' (a {kind} step needs options to pick from)")
    if kind not in OPTION_KINDS and "options" in fields:
        extra = " (the engine lists the languages itself)" if kind == "language" else ""
        ctx.add(fields["options"].line, f"{where}: a {kind} step must not have 'options'{extra}")
    if kind == "end" and "next" in fields:
        ctx.add(fields["next"].line, f"{where}: an end step must not have 'next'")
    used_by = {"done": ({"multi", "info"}, "multi and info"), "skip": (QUESTION_KINDS, "question"),
               "profile": (QUESTION_KINDS, "question")}
    for key, (kinds, name) in used_by.items():
        if key in fields and kind not in kinds:
            ctx.add(fields[key].line, f"{where}: '{key}' is only used by {name} steps, not by a {kind} step")
    if kind in OPTION_KINDS and step.options:
        _check_options(ctx, step, fields["options"].line, where)


def _check_options(ctx: _Ctx, step: Step, line: int, where: str) -> None:
    exact = OPTION_COUNTS.get(step.kind)
    if exact is not None and len(step.options) != exact:
        rule = " (T9: a scale has 3 points)" if step.kind == "scale" else ""
        ctx.add(line, f"{where}: a {step.kind} step needs exactly {exact} options, "
                      f"not {len(step.options)}{rule}")
    escapes = [o for o in step.options if o.escape]
    if len(escapes) > 1:
        ctx.add(escapes[1].line, f"{where}: only one option may have 'escape: true' "
                                 f"(found {len(escapes)})")
    for limits in (STANDARD, EASY):
        shown = [o for o in step.options if limits is STANDARD or not o.hide_in_easy]
        choices = len(shown) - len([o for o in shown if o.escape])
        allowed = STANDARD.choices if step.ordered else limits.choices  # ranges in order read easily
        if choices <= allowed or (limits is EASY and (choices > STANDARD.choices or exact is not None)):
            continue  # fine, or already reported for the standard track or by the exact count
        track = "" if limits is STANDARD else " on the Easy Read track (hide some there with 'hide_in_easy')"
        ctx.add(line, f"{where}: {choices} answers to pick from; offer at most {allowed}, plus one "
                      f"'escape' answer such as 'Something else'{track} (T6)")
    _check_unique_options(ctx, step, where)


def _check_unique_options(ctx: _Ctx, step: Step, where: str) -> None:
    ids: set[str] = set()
    labels: dict[str, Option] = {}
    for option in step.options:
        if option.id and option.id in ids:
            ctx.add(option.line, f"{where}: option id '{option.id}' is used twice")
        ids.add(option.id)
        first = labels.setdefault(norm(option.label), option)
        if option.label and first is not option:
            ctx.add(option.line, f"{where}: option '{option.id}' has the same label as option "
                                 f"'{first.id}' ('{option.label}')")
    _check_typed_words(ctx, step, where)


def _check_typed_words(ctx: _Ctx, step: Step, where: str) -> None:
    """Each word in 'also' means one option only, and not another option's label."""
    meaning = {norm(o.label): o.id for o in reversed(step.options) if o.label}
    for option in step.options:
        for word in sorted({norm(w) for w in option.also} - {""}):
            other = meaning.setdefault(word, option.id)
            if other != option.id:
                ctx.add(option.line, f"{where}: option '{option.id}': typing '{word}' would also match "
                                     f"option '{other}'")


# ---- checks on words (ACCESSIBILITY.md section 4) ------------------------------------------


def _check_step_texts(ctx: _Ctx, step: Step, fields: Mapping[str, _Field], where: str) -> None:
    for key in ("text", "more"):
        value, easy = (step.text, step.easy) if key == "text" else (step.more, step.easy_more)
        easy_key = "easy" if key == "text" else "easy_more"
        before = len(ctx.problems)
        if value:
            _check_plain(ctx, fields[key].line, f"{where}: '{key}'", value)
            _check_message(ctx, fields[key].line, f"{where}: '{key}'", value)
        if easy:
            _check_plain(ctx, fields[easy_key].line, f"{where}: '{easy_key}'", easy)
            _check_message(ctx, fields[easy_key].line, f"{where}: '{easy_key}'", easy, EASY)
        elif value and len(ctx.problems) == before:  # the same text serves the Easy Read track
            _check_message(ctx, fields[key].line, f"{where}: '{key}'", value, EASY)
    if step.text and step.is_question:
        _check_question_last(ctx, fields["text"].line, where, step)
    if step.short:
        _check_plain(ctx, fields["short"].line, f"{where}: 'short'", step.short)
    if step.done:
        _check_button(ctx, fields["done"].line, f"{where}: 'done' button", step.done)


def _check_plain(ctx: _Ctx, line: int, what: str, text: str) -> None:
    """T8 (no emoji inside text) and T14 (no acronyms)."""
    if _EMOJI.search(text):
        ctx.add(line, f"{what} has an emoji in it; meaning must be in words, and emoji go only in "
                        "an option's 'symbol' (T8)")
    for word in sorted(set(_CAPITALS.findall(text)) - ALLOWED_CAPITALS):
        ctx.add(line, f"{what} has '{word}': use plain words, not acronyms or capitals (T14)")


def _count_words(text: str) -> int:
    placeholders = len(_PLACEHOLDER.findall(text))
    return len(_WORD.findall(_PLACEHOLDER.sub(" ", text))) + PLACEHOLDER_WORDS * placeholders


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def _check_message(ctx: _Ctx, line: int, what: str, text: str, limits: Limits = STANDARD) -> None:
    """T3 (words per sentence), T4 (words per message), T5 (sentences per message)."""
    note = f" (each {{placeholder}} counts as {PLACEHOLDER_WORDS})" if _PLACEHOLDER.search(text) else ""
    track = "" if limits is STANDARD else f" on the {limits.track} track"
    words = _count_words(text)
    if words > limits.message_words:
        ctx.add(line, f"{what} has {words} words{note}; a message may have at most "
                      f"{limits.message_words}{track} (T4)")
    sentences = _sentences(text)
    if len(sentences) > limits.sentences:
        ctx.add(line, f"{what} has {len(sentences)} sentences; a message may have at most "
                      f"{limits.sentences}{track} (T5)")
    for sentence in sentences:
        count = _count_words(sentence)
        if count > limits.sentence_words:
            ctx.add(line, f"{what} has a sentence of {count} words{note}: '{_clip(sentence)}'; "
                          f"keep sentences to {limits.sentence_words} words or fewer{track} (T3)")


def _check_question_last(ctx: _Ctx, line: int, where: str, step: Step) -> None:
    sentences = _sentences(step.text)
    last = sentences[-1] if sentences else ""
    endings = ("?", "؟", ".") if step.kind == "text" else ("?", "؟")
    if not last.endswith(endings):
        also = " (or '.', as in 'Tell us why.')" if step.kind == "text" else ""
        ctx.add(line, f"{where}: the question must be the last line of 'text', ending with '?'{also}; "
                      f"the text ends with '{_clip(last)}'")


def _check_button(ctx: _Ctx, line: int, what: str, label: str, limits: Limits = STANDARD) -> None:
    """T7 (short buttons), T8 (emoji only in 'symbol') and T14."""
    track = "" if limits is STANDARD else f" on the {limits.track} track"
    words = _count_words(label)
    if words > limits.button_words:
        ctx.add(line, f"{what} '{label}' has {words} words; a button may have at most "
                      f"{limits.button_words}{track} (T7)")
    if len(label) > limits.button_chars:
        ctx.add(line, f"{what} '{label}' has {len(label)} characters; a button may have at most "
                      f"{limits.button_chars}{track} (T7)")
    _check_plain(ctx, line, what, label)


def _check_symbol(ctx: _Ctx, line: int, where: str, symbol: str) -> None:
    found = _EMOJI.findall(symbol)
    if len(found) > 1:
        ctx.add(line, f"{where}: 'symbol' has {len(found)} emoji; use at most one (T8)")
    elif not _EMOJI.fullmatch(symbol):
        ctx.add(line, f"{where}: 'symbol' must be one emoji, not '{_clip(symbol)}' (T8)")


# ---- checks on all steps ------------------------------------------------------------------


def _check_steps(ctx: _Ctx, steps: Sequence[Step], line: int) -> dict[str, tuple[int, int]]:
    """Checks across the steps of a file; returns the progress map (empty when not fixed)."""
    seen: set[str] = set()
    for step in steps:
        if step.id and step.id in seen:
            ctx.add(step.line, f"step '{step.id}': the id '{step.id}' is used by an earlier step too")
            ctx.routes_ok = False
        seen.add(step.id)
    checks = [s for s in steps if s.kind == "check"]
    if len(checks) > 1:
        ctx.add(checks[1].line, f"step '{checks[1].id}': there can be only one check step "
                                f"('{checks[0].id}' is one already)")
    routes_ok = _check_references(ctx, steps)
    if not (ctx.routes_ok and routes_ok):
        return {}
    return _check_graph(ctx, steps, line)


def _check_references(ctx: _Ctx, steps: Sequence[Step]) -> bool:
    """``goto`` and ``if`` name existing steps and options; False if a ``goto`` is unknown."""
    index = {s.id: i for i, s in reversed(list(enumerate(steps))) if s.id}
    ok = True
    for i, step in enumerate(steps):
        where = f"step '{step.id}'" if step.id else f"step {i + 1}"
        for branch in step.next:
            if branch.goto not in index:
                special = branch.goto == "end"
                hint = " ('end' is not special: name a step whose kind is end)" if special else ""
                ctx.add(branch.line, f"{where}: goes to step '{branch.goto}', but there is no such step"
                                     f"{_suggest(branch.goto, index)}{hint}")
                ok = False
            if branch.step:
                _check_if(ctx, branch, where, i, steps, index)
    return ok


def _check_if(
    ctx: _Ctx, branch: Branch, where: str, position: int, steps: Sequence[Step], index: Mapping[str, int]
) -> None:
    at = index.get(branch.step)
    if at is None:
        ctx.add(branch.line, f"{where}: 'if' names step '{branch.step}', but there is no such step"
                             f"{_suggest(branch.step, index)}")
        return
    if at > position:
        ctx.add(branch.line, f"{where}: 'if' names step '{branch.step}', which comes later; "
                             "a branch can only use answers to this step or earlier ones")
        return
    tested = steps[at]
    known = [o.id for o in tested.options]
    if not known:
        ctx.add(branch.line, f"{where}: 'if' names step '{branch.step}', which has no options to test")
    for option_id in branch.any_of if known else ():
        if option_id not in known:
            ctx.add(branch.line, f"{where}: step '{branch.step}' has no option '{option_id}'"
                                 f"{_suggest(option_id, known)}")


# ---- the graph of steps -------------------------------------------------------------------


def _successors(steps: Sequence[Step], i: int, index: Mapping[str, int]) -> tuple[list[int], bool]:
    """Where step ``i`` can go next, and whether it can fall off the end of the file."""
    step = steps[i]
    if step.kind == "end":
        return [], False
    targets = [index[b.goto] for b in step.next]
    if step.next and not step.next[-1].step:
        return targets, False  # the last branch always matches
    if i + 1 < len(steps):
        return [*targets, i + 1], False  # no branch matched: the following step
    return targets, True


def _walk(succ: Sequence[Sequence[int]]) -> tuple[list[int], list[tuple[int, int]]]:
    """Steps reachable from the first, in post-order, and the edges that go back (loops)."""
    state: dict[int, bool] = {}  # False while on the current route, True when finished
    order: list[int] = []
    loops: list[tuple[int, int]] = []

    def visit(i: int) -> None:
        state[i] = False
        for j in succ[i]:
            if j not in state:
                visit(j)
            elif state[j] is False:
                loops.append((i, j))
        state[i] = True
        order.append(i)

    visit(0)
    return order, loops


def _check_graph(ctx: _Ctx, steps: Sequence[Step], line: int) -> dict[str, tuple[int, int]]:
    index = {s.id: i for i, s in enumerate(steps)}
    routes = [_successors(steps, i, index) for i in range(len(steps))]
    succ = [targets for targets, _ in routes]
    order, loops = _walk(succ)
    for i, j in loops:
        back = next((b.line for b in steps[i].next if b.goto == steps[j].id), steps[i].line)
        ctx.add(back, f"step '{steps[i].id}': goes back to step '{steps[j].id}', which makes a loop; "
                      "a conversation must only move forward")
    for i in sorted(order):
        if routes[i][1]:
            ctx.add(steps[i].line, f"step '{steps[i].id}': it is the last step in the file and not an end "
                                   "step, so the conversation can stop here; add 'next' or an end step")
    reached = set(order)
    for i, step in enumerate(steps):
        if i not in reached:
            ctx.add(step.line, f"step '{step.id}': no route from the first step reaches this step")
    if not any(steps[i].kind == "end" for i in reached):
        ctx.add(line, "no end step can be reached from the first step; add a step with 'kind: end'")
    if loops:
        return {}
    return _count_questions(ctx, steps, succ, order[::-1], line)


def _count_questions(
    ctx: _Ctx, steps: Sequence[Step], succ: Sequence[Sequence[int]], topo: Sequence[int], line: int
) -> dict[str, tuple[int, int]]:
    """T10, then the progress map: each question's place, if it is the same on every route."""
    before: dict[int, set[int]] = {i: set() for i in topo}
    before[topo[0]].add(0)
    for i in topo:
        asked = 1 if steps[i].is_question else 0
        for j in succ[i]:
            before[j].update(n + asked for n in before[i])
    longest = max(max(before[i]) + steps[i].is_question for i in topo)
    if longest > MAX_QUESTIONS:
        ctx.add(line, f"a route through this conversation asks {longest} questions; "
                      f"keep every route to {MAX_QUESTIONS} or fewer (T10)")
    totals = set[int]().union(*(before[i] for i in topo if steps[i].kind == "end"))
    questions = [i for i in topo if steps[i].is_question]
    if len(totals) != 1 or any(len(before[i]) != 1 for i in questions):
        return {}
    total = totals.pop()
    return {steps[i].id: (min(before[i]) + 1, total) for i in sorted(questions)}


__all__ = [
    "ConversationError",
    "Problem",
    "load_conversations",
    "load_dir",
    "load_file",
]
