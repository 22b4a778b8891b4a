"""The conversation engine: ``step(definition, state, event) -> (state, outputs)``.

Pure and synchronous: no I/O, no clock, no Telegram, no database. The definition passed
in is already in the user's language (see ``core.localise``), so the engine matches typed
replies against the labels the user actually saw. Channels turn their input into events
and the outputs into their own messages; storage saves the new state and the answers.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Sequence
from dataclasses import replace

from core.definition import Conversation, Option, Step
from core.languages import LANGUAGES, Language
from core.model import (
    Action,
    Answer,
    AnswerKind,
    Ask,
    AskForPerson,
    Button,
    Command,
    ConsentChoice,
    ContactChoice,
    Erase,
    Event,
    Finished,
    InlineButton,
    Media,
    Output,
    ReadAloud,
    Repeat,
    Restart,
    Say,
    SetProfile,
    ShowMyData,
    ShowNews,
    Stale,
    State,
    Submitted,
    Text,
    Voice,
    VoiceNote,
)
from core.textmatch import as_number, has_words, norm, numbers
from core.texts import SYNONYMS, UI, fill

Result = tuple[State, list[Output]]
SKIP, HELP, DONE, SEND, MORE, LISTEN = "_skip", "_help", "_done", "_send", "_more", "_listen"
PERSON = "_person"
#: The personal settings (ACCESSIBILITY.md requirement 20), by id and the UI text of their button.
#: Profile keys after which the channel shows the next step again (language or track changed).
REDRAWN = frozenset({"language", "settings"})
SETTINGS = (("easy", "simpler_words"), ("pictures", "pictures"), ("voice", "voice"),
            ("screen-reader", "screen_reader"))
CARRY_ON, START_AGAIN = "_carry_on", "_start_again"
ERASE, KEEP = "_erase", "_keep"
SUMMARY_ANSWER_CHARS = 120


def ui(conv: Conversation, key: str, **values: object) -> str:
    return fill(conv.ui.get(key) or UI[key], ChainMap(values, conv.ui) if values else conv.ui)  # type: ignore[arg-type]


def start(conv: Conversation) -> State:
    return State(conversation=conv.id, version=conv.version, current=conv.first.id)


def begin(conv: Conversation) -> Result:
    """A fresh state for ``conv`` and the outputs that open it."""
    state = start(conv)
    return state, show(conv, state)


def step(conv: Conversation, state: State, event: Event) -> Result:
    """Apply one event to the state and say what to do."""
    if state.status == "done" and not state.interrupt:
        return _when_done(conv, state, event)
    if isinstance(event, Command):
        return _command(conv, state, event)
    if isinstance(event, Action):
        return _action(conv, state, event)
    if isinstance(event, Repeat):
        return state, show(conv, state)
    if isinstance(event, Stale):
        return _stale(conv, state, event)
    if state.status == "paused":
        resumed = replace(state, status="active", seq=state.seq + 1)
        return resumed, [Say(ui(conv, "welcome_back")), *show(conv, resumed)]
    control = _control(conv, state, event.text) if isinstance(event, Text) else ""
    if control == LISTEN:
        return state, _read_aloud(conv, state)
    if control == PERSON:
        return state, [AskForPerson(), Say(ui(conv, "person_asked")), *show(conv, state)]
    if state.interrupt:
        return _interrupt(conv, state, event)
    return _answer(conv, state, event)


# ---- showing the current step ----------------------------------------------------------


def show(conv: Conversation, state: State, prefix: str = "") -> list[Output]:
    """The message(s) for the current step, with ``prefix`` (a short note) first."""
    return [_with_listen(conv, out) for out in _show(conv, state, prefix)]


def _with_listen(conv: Conversation, out: Output) -> Output:
    """Every question can be heard: a Listen button after its answers (not on the language list)."""
    if not isinstance(out, Ask) or out.step in ("_language", "_settings") or _is_language(conv, out.step):
        return out
    return replace(out, buttons=(*out.buttons, Button(LISTEN, _decorated(conv, ui(conv, "listen"), "🔊"))))


def _is_language(conv: Conversation, step_id: str) -> bool:
    return conv.has_step(step_id) and conv.step(step_id).kind == "language"


def _decorated(conv: Conversation, label: str, symbol: str) -> str:
    """A label with its emoji after the words, unless screen-reader mode is on."""
    return label if "screen-reader" in _settings_on(conv) else f"{label} {symbol}"


def _settings_on(conv: Conversation) -> set[str]:
    return {s for s in conv.ui.get("settings_on", "").split(",") if s}


def _show(conv: Conversation, state: State, prefix: str) -> list[Output]:
    if state.interrupt == "language":
        return [_ask_language(conv, state, prefix)]
    if state.interrupt == "settings":
        return [_ask_settings(conv, state, prefix)]
    if state.interrupt == "delete":
        buttons = (Button(ERASE, ui(conv, "delete_yes")), Button(KEEP, ui(conv, "delete_no")))
        text = _join(prefix, ui(conv, "delete_question"))
        return [Ask("_delete", text, buttons, seq=state.seq, placeholder=ui(conv, "placeholder_choice"))]
    if state.interrupt == "restart":
        buttons = (Button(CARRY_ON, ui(conv, "carry_on")), Button(START_AGAIN, ui(conv, "start_again")))
        text = _join(prefix, ui(conv, "restart_question"))
        return [Ask("_restart", text, buttons, seq=state.seq, placeholder=ui(conv, "placeholder_choice"))]
    current = conv.step(state.current)
    if current.kind == "check":
        return [_ask_check(conv, state, current, prefix)]
    if current.kind == "info":
        return [_ask_info(conv, state, current, prefix)]
    if current.kind == "language":
        return [_ask_language(conv, state, prefix, current)]
    return [_ask_question(conv, state, current, prefix)]


def _join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def _progress(conv: Conversation, step_id: str) -> str:
    if step_id not in conv.progress:
        return ""
    n, total = conv.progress[step_id]
    return ui(conv, "progress", n=n, total=total)


def _text(conv: Conversation, current: Step) -> str:
    question = fill(current.text.strip(), conv.ui)
    progress = _progress(conv, current.id)
    return f"{progress}\n{question}" if progress else question


def _option_label(conv: Conversation, opt: Option) -> str:
    """The label, with the option's emoji after the words (none in screen-reader mode)."""
    return _decorated(conv, opt.label, opt.symbol) if opt.symbol else opt.label


def _ask_settings(conv: Conversation, state: State, prefix: str) -> Ask:
    on = _settings_on(conv)
    words = {key: ui(conv, "on" if key in on else "off") for key, _ in SETTINGS}
    status = ui(conv, "settings_now", easy=words["easy"], pictures=words["pictures"], voice=words["voice"],
                reader=words["screen-reader"])
    buttons = (*(Button(key, ui(conv, text)) for key, text in SETTINGS), Button(DONE, ui(conv, "done")))
    text = _join(prefix, status, ui(conv, "settings_question"))
    return Ask("_settings", text, buttons, seq=state.seq, placeholder=ui(conv, "placeholder_choice"))


def _controls(conv: Conversation, state: State, current: Step) -> tuple[Button, ...]:
    """Skip and Help, offered after two replies that did not match."""
    if state.tries < 2:
        return ()
    skip = (Button(SKIP, ui(conv, "skip")),) if current.skip else ()
    return (*skip, Button(HELP, ui(conv, "help_button")))


def _ask_question(conv: Conversation, state: State, current: Step, prefix: str) -> Ask:
    buttons = tuple(Button(o.id, _option_label(conv, o), picture=o.symbol) for o in current.options)
    if current.kind == "multi":
        buttons += (Button(DONE, current.done or ui(conv, "done")),)
    if current.kind == "text" and current.skip and state.tries >= 2:
        buttons = (Button(SKIP, ui(conv, "skip")),)
    controls = _controls(conv, state, current)
    buttons += tuple(b for b in controls if b not in buttons)
    free = current.kind == "text"
    placeholder = ui(conv, "placeholder_text" if free else "placeholder_choice")
    return Ask(current.id, _join(prefix, _text(conv, current)), buttons, seq=state.seq,
               placeholder=placeholder, free_text=free)


def _ask_info(conv: Conversation, state: State, current: Step, prefix: str) -> Ask:
    buttons: tuple[Button, ...] = (Button(DONE, current.done or ui(conv, "next")),)
    if current.more:
        buttons += (Button(MORE, ui(conv, "tell_me_more")),)
    return Ask(current.id, _join(prefix, _text(conv, current)), buttons, seq=state.seq,
               placeholder=ui(conv, "placeholder_choice"))


def _ask_language(conv: Conversation, state: State, prefix: str, current: Step | None = None) -> Ask:
    """The languages, each in its own script; the one the definition is in comes first."""
    buttons = tuple(Button(lang.code, lang.label) for lang in _languages(conv))
    question = _text(conv, current) if current else ui(conv, "language_question")
    step_id = current.id if current else "_language"
    return Ask(step_id, _join(prefix, question), buttons, seq=state.seq, placeholder="")


def _path_answers(conv: Conversation, state: State) -> list[tuple[Step, Answer]]:
    """Answers on the route the user took from the first step, in order."""
    out: list[tuple[Step, Answer]] = []
    for step_id in _route(conv, state):
        answer = state.answers.get(step_id)
        if answer is not None:
            out.append((conv.step(step_id), answer))
    return out


def _ask_check(conv: Conversation, state: State, current: Step, prefix: str) -> Ask:
    lines, inline = [], []
    for n, (question, answer) in enumerate(_path_answers(conv, state), start=1):
        shown = _short(answer.label)
        lines.append(ui(conv, "summary_line", n=n, question=question.short or question.id, answer=shown))
        inline.append(InlineButton(ui(conv, "change", n=n), "change", question.id))
    body = _join(prefix, "\n".join(lines), fill(current.text.strip(), conv.ui))
    return Ask(current.id, body, (Button(SEND, ui(conv, "send")),), tuple(inline), seq=state.seq,
               placeholder=ui(conv, "placeholder_choice"))


def _short(label: str) -> str:
    label = " ".join(label.split())
    return label if len(label) <= SUMMARY_ANSWER_CHARS else label[: SUMMARY_ANSWER_CHARS - 1] + "…"


# ---- routing ---------------------------------------------------------------------------


def next_step(conv: Conversation, current: Step, answers: dict[str, Answer] | State) -> str:
    """The id of the step after ``current``, following branches on earlier answers."""
    given = answers.answers if isinstance(answers, State) else answers
    for branch in current.next:
        if not branch.step:
            return branch.goto
        answer = given.get(branch.step)
        if answer is not None and set(answer.options) & set(branch.any_of):
            return branch.goto
    index = conv.index(current.id)
    return conv.steps[index + 1].id if index + 1 < len(conv.steps) else current.id


def _route(conv: Conversation, state: State) -> list[str]:
    """Steps from the first one, following answers, up to the first unanswered question."""
    seen: list[str] = []
    current = conv.first
    while current.id not in seen:
        seen.append(current.id)
        if current.kind in ("check", "end"):
            break
        if current.is_question and current.id not in state.answers:
            break
        current = conv.step(next_step(conv, current, state))
    return seen


def _advance(conv: Conversation, state: State, answered: Step) -> Result:
    """Move on from ``answered``; while changing an answer, go back to the check step."""
    target = next_step(conv, answered, state)
    if state.changing:
        target = _after_change(conv, state)
    history = tuple(s for s in _route(conv, replace(state, current=target))
                    if conv.step(s).is_question and s in state.answers)
    moved = replace(state, current=target, history=history, tries=0, picked=(), seq=state.seq + 1,
                    changing=state.changing and conv.step(target).kind != "check")
    return _enter(conv, moved)


def _after_change(conv: Conversation, state: State) -> str:
    """The first step on the route that still needs an answer, else the check step."""
    for step_id in _route(conv, state):
        s = conv.step(step_id)
        if s.kind in ("check", "end") or (s.is_question and step_id not in state.answers):
            return step_id
    return state.current


def _enter(conv: Conversation, state: State) -> Result:
    current = conv.step(state.current)
    if current.kind != "end":
        earlier = state.answers.get(current.id) if current.is_question else None
        note = ui(conv, "your_answer", answer=_short(earlier.label)) if earlier else ""
        return state, show(conv, state, note)
    outputs: list[Output] = []
    if not any(s.kind == "check" for s in conv.steps):
        outputs.append(Submitted())
    outputs += [Say(fill(current.text.strip(), conv.ui), close_keyboard=True), Finished(conv.then)]
    return replace(state, status="done"), outputs


# ---- answering ------------------------------------------------------------------------


def _answer(conv: Conversation, state: State, event: Event) -> Result:
    current = conv.step(state.current)
    if current.kind == "info":
        return _answer_info(conv, state, current, event)
    if current.kind == "check":
        return _answer_check(conv, state, current, event)
    if current.kind == "text":
        return _answer_text(conv, state, current, event)
    return _answer_choice(conv, state, current, event)


def _retry(conv: Conversation, state: State, key: str) -> Result:
    retried = replace(state, tries=state.tries + 1)
    current = conv.step(state.current)
    note = ui(conv, key)
    if retried.tries >= 2:
        extra = "offer_help" if current.skip else "offer_help_no_skip"
        note = f"{note} {ui(conv, extra)}"
    return retried, show(conv, retried, note)


def _control(conv: Conversation, state: State, text: str) -> str:
    """Which control button (Skip, Help, Done, Send) the text names, if any."""
    said = norm(text)
    controls = ((SKIP, "skip"), (HELP, "help_button"), (DONE, "done"), (SEND, "send"), (MORE, "tell_me_more"),
                (LISTEN, "listen"), (PERSON, "talk_to_person"))
    for control, key in controls:
        if said and said == norm(ui(conv, key)):
            return control
    current = conv.step(state.current) if not state.interrupt else None
    if current is not None and current.done and said == norm(current.done):
        return DONE
    return ""


def _answer_info(conv: Conversation, state: State, current: Step, event: Event) -> Result:
    if isinstance(event, Text):
        control = _control(conv, state, event.text)
        if control == HELP:
            return _help(conv, state)
        if control == MORE and current.more:
            return state, [Say(fill(current.more.strip(), conv.ui)), *show(conv, state)]
        return _advance(conv, state, current)
    return _retry(conv, state, "reask_info")


def _answer_text(conv: Conversation, state: State, current: Step, event: Event) -> Result:
    if isinstance(event, Voice):
        return _record(conv, state, current, _voice_answer(conv, current, event.note))
    if isinstance(event, Media):
        return _retry(conv, state, "media_text")
    if not isinstance(event, Text):
        return state, show(conv, state)
    asked = _skip_or_help(conv, state, event.text)
    if asked is not None:
        return asked
    if not has_words(event.text):
        return _retry(conv, state, "reask_text")
    answer = Answer(current.id, "text", _question(conv, current), text=event.text, label=event.text)
    return _record(conv, state, current, answer)


def _skip_or_help(conv: Conversation, state: State, text: str) -> Result | None:
    """The Skip and Help buttons (or their words) work on every question."""
    control = _control(conv, state, text)
    if control == SKIP:
        return _skip(conv, state)
    if control == HELP:
        return _help(conv, state)
    return None


def _voice_answer(conv: Conversation, current: Step, note: VoiceNote) -> Answer:
    label = ui(conv, "voice_answer", seconds=note.duration)
    return Answer(current.id, "voice", _question(conv, current), voice=note, label=label)


def _question(conv: Conversation, current: Step) -> str:
    return fill(current.text.strip(), conv.ui)


def _options(conv: Conversation, current: Step) -> list[tuple[str, str]]:
    """(id, label) pairs for a choice step, in the order shown."""
    if current.kind == "language":
        return [(lang.code, lang.label) for lang in _languages(conv)]
    return [(o.id, _option_label(conv, o)) for o in current.options]


def match(conv: Conversation, current: Step, text: str) -> str | None:
    """The option id a typed reply or tapped button means, or None."""
    shown = _options(conv, current)
    number = as_number(text)
    if number is not None:
        return shown[number - 1][0] if 1 <= number <= len(shown) else None
    said = norm(text)
    if not said:
        return None
    for option_id, label in shown:
        if said == norm(label):
            return option_id
    for option_id, words in _aliases(conv, current):
        if said in words:
            return option_id
    return None


def _aliases(conv: Conversation, current: Step) -> list[tuple[str, set[str]]]:
    if current.kind == "language":
        return [(lang.code, {norm(lang.native), norm(lang.english), lang.code}) for lang in LANGUAGES]
    out = []
    for opt in current.options:
        words = {norm(opt.label), *(norm(w) for w in opt.also)}
        if conv.language == "en":
            words |= {norm(w) for w in SYNONYMS.get(opt.id, ())}
        out.append((opt.id, words))
    return out


def _answer_choice(conv: Conversation, state: State, current: Step, event: Event) -> Result:
    if isinstance(event, (Voice, Media)):
        return _retry(conv, state, "media_choice")
    if not isinstance(event, Text):
        return state, show(conv, state)
    asked = _skip_or_help(conv, state, event.text)
    if asked is not None:
        return asked
    if current.kind == "multi":
        return _answer_multi(conv, state, current, event.text, _control(conv, state, event.text) == DONE)
    chosen = match(conv, current, event.text)
    if chosen is None:
        return _retry(conv, state, "reask")
    return _choose(conv, state, current, (chosen,))


def _plain_labels(conv: Conversation, current: Step) -> dict[str, str]:
    """Option labels without their emoji: how an answer reads back and is stored."""
    if current.kind == "language":
        return dict(_options(conv, current))
    return {o.id: o.label for o in current.options}


def _choose(conv: Conversation, state: State, current: Step, chosen: Sequence[str]) -> Result:
    labels = _plain_labels(conv, current)
    label = ", ".join(labels[c] for c in chosen)
    kind: AnswerKind = "multi" if current.kind == "multi" else "choice"
    answer = Answer(current.id, kind, _question(conv, current), options=tuple(chosen), label=label)
    state, outputs = _record(conv, state, current, answer)
    if current.profile and chosen:
        outputs = [SetProfile(current.profile, ",".join(chosen)), *outputs]
        if current.profile in REDRAWN:
            # the channel shows the next step again in the new language or track (a Repeat event)
            outputs = outputs[:1]
    return state, outputs


def _answer_multi(conv: Conversation, state: State, current: Step, text: str, done: bool) -> Result:
    if done:
        if not state.picked:
            return _retry(conv, state, "pick_one")
        order = [o.id for o in current.options]
        return _choose(conv, state, current, sorted(state.picked, key=order.index))
    picks = _multi_picks(conv, current, text)
    if picks is None:
        return _retry(conv, state, "reask")
    picked = set(state.picked)
    for option_id in picks:
        picked ^= {option_id}
    order = [o.id for o in current.options]
    new = replace(state, picked=tuple(sorted(picked, key=order.index)), tries=0, seq=state.seq + 1)
    labels = _plain_labels(conv, current)
    note = ui(conv, "picked", labels=", ".join(labels[p] for p in new.picked)) if new.picked else ""
    return new, show(conv, new, note)


def _multi_picks(conv: Conversation, current: Step, text: str) -> list[str] | None:
    chosen = match(conv, current, text)
    if chosen is not None:
        return [chosen]
    many = numbers(text)
    if many and all(1 <= n <= len(current.options) for n in many):
        return [current.options[n - 1].id for n in dict.fromkeys(many)]
    return None


def _record(conv: Conversation, state: State, current: Step, answer: Answer) -> Result:
    answers = {**state.answers, current.id: answer}
    return _advance(conv, replace(state, answers=answers), current)


def _skip(conv: Conversation, state: State) -> Result:
    current = conv.step(state.current)
    if current.kind == "info":
        return _advance(conv, state, current)
    if not (current.is_question and current.skip):
        return state, show(conv, state, ui(conv, "cannot_skip"))
    answer = Answer(current.id, "skipped", _question(conv, current), label=ui(conv, "skipped"))
    return _record(conv, state, current, answer)


def _answer_check(conv: Conversation, state: State, current: Step, event: Event) -> Result:
    if not isinstance(event, Text):
        return _retry(conv, state, "media_choice")
    control = _control(conv, state, event.text)
    if control == SEND or norm(event.text) in {"send", "yes"}:
        submitted = replace(state, changing=False)
        new, outputs = _advance(conv, submitted, current)
        return new, [Submitted(), *outputs]
    if control == HELP:
        return _help(conv, state)
    target = _change_target(conv, state, event.text)
    if target:
        return _change(conv, state, target)
    return _retry(conv, state, "reask")


def _change_target(conv: Conversation, state: State, text: str) -> str:
    """"Change 2", "2" or "change 2" -> the id of the 2nd answered question."""
    words = norm(text).replace(norm(ui(conv, "change", n="")), " ").strip()
    number = as_number(words)
    answered = _path_answers(conv, state)
    if number is not None and 1 <= number <= len(answered):
        return answered[number - 1][0].id
    return ""


def _change(conv: Conversation, state: State, step_id: str) -> Result:
    changing = replace(state, current=step_id, changing=True, tries=0, picked=(), seq=state.seq + 1)
    answer = state.answers.get(step_id)
    note = ui(conv, "your_answer", answer=_short(answer.label)) if answer else ""
    return changing, show(conv, changing, note)


# ---- commands, buttons and interruptions ------------------------------------------------


def _command(conv: Conversation, state: State, event: Command) -> Result:
    name = event.name
    if name == "help":
        return _help(conv, state)
    if name == "privacy":
        return _privacy(conv, state)
    if name == "mydata":
        return state, [ShowMyData(), *show(conv, state)]
    if name == "news":
        return state, [ShowNews(), ContactChoice(offer_start=True), *show(conv, state)]
    if name == "stop":
        stopped = replace(state, status="paused", seq=state.seq + 1)
        return stopped, [Say(ui(conv, "stopped"), close_keyboard=True), ContactChoice()]
    if name in ("language", "settings", "delete"):
        asking = replace(state, interrupt=name, seq=state.seq + 1)
        return asking, show(conv, asking)
    if state.status == "paused":
        state = replace(state, status="active")
    if name == "start":
        return _restart_offer(conv, state)
    if name == "back":
        return _back(conv, replace(state, interrupt=""))
    return _skip(conv, replace(state, interrupt=""))


def _help(conv: Conversation, state: State) -> Result:
    """Help names a person to contact and offers to ask one (with the question's own buttons)."""
    person = Button(PERSON, ui(conv, "talk_to_person"))
    asks = [replace(out, buttons=(*out.buttons, person)) if isinstance(out, Ask) else out
            for out in show(conv, state)]
    return state, [Say(ui(conv, "help")), Say(ui(conv, "contact")), *asks]


def _privacy(conv: Conversation, state: State) -> Result:
    link = ui(conv, "privacy_link", url=conv.ui["privacy_url"]) if conv.ui.get("privacy_url") else ""
    return state, [Say(_join(ui(conv, "privacy"), link)), ConsentChoice(), *show(conv, state)]


def _restart_offer(conv: Conversation, state: State) -> Result:
    if not state.answers:
        return replace(state, interrupt=""), show(conv, replace(state, interrupt=""))
    asking = replace(state, interrupt="restart", seq=state.seq + 1)
    return asking, show(conv, asking)


def _back(conv: Conversation, state: State) -> Result:
    history = [s for s in state.history if s != state.current]
    if not history:
        return state, show(conv, state, ui(conv, "back_first"))
    previous = history[-1]
    back = replace(state, current=previous, history=tuple(history[:-1]), tries=0, picked=(),
                   seq=state.seq + 1, changing=False)
    answer = state.answers.get(previous)
    note = ui(conv, "your_answer", answer=_short(answer.label)) if answer else ""
    return back, show(conv, back, note)


def _read_aloud(conv: Conversation, state: State) -> list[Output]:
    asks = [out for out in show(conv, state) if isinstance(out, Ask)]
    return [ReadAloud(asks[-1])] if asks else []


def _interrupt(conv: Conversation, state: State, event: Event) -> Result:
    if not isinstance(event, Text):
        return _retry(conv, state, "media_choice")
    if state.interrupt == "settings":
        return _answer_settings(conv, state, event.text)
    if state.interrupt == "delete":
        return _answer_delete(conv, state, event.text)
    if state.interrupt == "language":
        chosen = _match_language(conv, event.text)
        if chosen is None:
            return _retry(conv, state, "reask")
        return replace(state, interrupt="", tries=0, seq=state.seq + 1), [SetProfile("language", chosen)]
    said = norm(event.text)
    if said in (norm(ui(conv, "carry_on")), "1"):
        resumed = replace(state, interrupt="", tries=0, seq=state.seq + 1)
        return resumed, show(conv, resumed)
    if said in (norm(ui(conv, "start_again")), "2"):
        return replace(state, interrupt="", seq=state.seq + 1), [Restart()]
    return _retry(conv, state, "reask")


def _languages(conv: Conversation) -> list[Language]:
    """The languages as listed: the one the user has now (e.g. from Telegram) first."""
    return sorted(LANGUAGES, key=lambda lang: lang.code != conv.language)


def _answer_delete(conv: Conversation, state: State, text: str) -> Result:
    """/delete asks once; "yes" erases everything, "no" goes back to where the person was."""
    said = norm(text)
    if said in (norm(ui(conv, "delete_yes")), "1"):
        return replace(state, interrupt="", seq=state.seq + 1), [Erase()]
    if said in (norm(ui(conv, "delete_no")), "2"):
        kept = replace(state, interrupt="", tries=0, seq=state.seq + 1)
        return kept, [Say(ui(conv, "kept")), *(show(conv, kept) if kept.status != "done" else [])]
    return _retry(conv, state, "reask")


def _answer_settings(conv: Conversation, state: State, text: str) -> Result:
    """A tap on a setting turns it on or off; Done goes back to where the user was."""
    if _control(conv, state, text) == DONE:
        return replace(state, interrupt="", tries=0, seq=state.seq + 1), [SetProfile("settings_done", "")]
    said = norm(text)
    for key, label in SETTINGS:
        if said == norm(ui(conv, label)):
            return replace(state, tries=0, seq=state.seq + 1), [SetProfile("toggle", key)]
    return _retry(conv, state, "reask")


def _match_language(conv: Conversation, text: str) -> str | None:
    shown = _languages(conv)
    number = as_number(text)
    if number is not None:
        return shown[number - 1].code if 1 <= number <= len(shown) else None
    said = norm(text)
    for lang in LANGUAGES:
        if said in {norm(lang.label), norm(lang.native), norm(lang.english), lang.code}:
            return lang.code
    return None


def _action(conv: Conversation, state: State, event: Action) -> Result:
    if event.seq != state.seq or state.status != "active":
        return _moved_on(conv, state)
    current = conv.step(state.current) if not state.interrupt else None
    answered = {s.id for s, _ in _path_answers(conv, state)}
    if event.name == "change" and current is not None and current.kind == "check" and event.arg in answered:
        return _change(conv, state, event.arg)
    if event.name == "more" and current is not None and current.id == event.arg and current.more:
        return state, [Say(fill(current.more.strip(), conv.ui)), *show(conv, state)]
    return _moved_on(conv, state)


def _moved_on(conv: Conversation, state: State) -> Result:
    if state.status == "paused":
        state = replace(state, status="active", seq=state.seq + 1)
    return state, show(conv, state, ui(conv, "moved_on"))


def _stale(conv: Conversation, state: State, event: Stale) -> Result:
    """A reply sent before the current question was shown (a double tap, or typing ahead)."""
    if state.history:
        last = state.answers.get(state.history[-1])
        if last is not None and norm(last.label) == norm(event.text):
            return state, []  # the same button tapped twice: already recorded
    return _moved_on(conv, state)


def _when_done(conv: Conversation, state: State, event: Event) -> Result:
    if isinstance(event, Command) and event.name == "start":
        return state, [Restart()]
    if isinstance(event, Command) and event.name == "help":
        return state, [Say(ui(conv, "help")), Say(ui(conv, "contact"))]
    if isinstance(event, Command) and event.name == "privacy":
        return _privacy(conv, state)
    if isinstance(event, Command) and event.name == "mydata":
        return state, [ShowMyData()]
    if isinstance(event, Command) and event.name == "news":
        return state, [ShowNews(), ContactChoice(offer_start=True)]
    if isinstance(event, Command) and event.name == "stop":
        return state, [Say(ui(conv, "done_already"), close_keyboard=True), ContactChoice()]
    if isinstance(event, Command) and event.name in ("language", "settings", "delete"):
        asking = replace(state, interrupt=event.name, seq=state.seq + 1)
        return asking, show(conv, asking)
    if isinstance(event, (Action, Stale)):
        return state, []
    return state, [Say(ui(conv, "done_already"), close_keyboard=True)]


def route_answers(conv: Conversation, state: State) -> list[str]:
    """Ids of the answered steps on the user's route: the answers that count when sent.

    Answers given before the user went back and took another branch are left out.
    """
    return [s.id for s, _ in _path_answers(conv, state)]
