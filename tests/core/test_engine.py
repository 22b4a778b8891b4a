"""The engine, tested with tables of cases: events in, state and outputs out. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from core import engine
from core.definition import Branch, Conversation, Option, Step
from core.model import (
    Action,
    Ask,
    AskForPerson,
    Command,
    ContactChoice,
    Event,
    Finished,
    Media,
    Output,
    ReadAloud,
    Repeat,
    Restart,
    Say,
    SetProfile,
    ShowNews,
    Stale,
    State,
    Submitted,
    Text,
    Voice,
    VoiceNote,
)

UI = {"council": "Test Council", "contact": "Call the test team on 0000.", "read_by": "Friday 4 December"}

FEEDBACK = Conversation(
    id="feedback",
    version=3,
    title="Feedback",
    ui=UI,
    progress={"area": (1, 3), "how": (2, 3), "tell-good": (3, 3), "tell-bad": (3, 3)},
    steps=(
        Step("area", "single", "What do you want to tell us about?", short="Part of life", options=(
            Option("school", "School or college", priorities=("provision",)),
            Option("health", "Health or care", priorities=("multi-agency",)),
            Option("other", "Something else", escape=True),
        )),
        Step("how", "scale", "How is it going?", short="How it is going", options=(
            Option("good", "Going well", symbol="🙂", polarity="works-well"),
            Option("ok", "Could be better", symbol="😐", polarity="improve"),
            Option("bad", "Not going well", symbol="🙁", polarity="not-working"),
        ), next=(Branch("tell-good", "how", ("good", "ok")), Branch("tell-bad", "how", ("bad",)))),
        Step("tell-good", "text", "What is going well?", short="What you told us", skip=True,
             next=(Branch("check"),)),
        Step("tell-bad", "text", "What is not going well?", short="What you told us", skip=True),
        Step("check", "check", "Please check your answers."),
        Step("thanks", "end", "Thank you. We will read it by {read_by}."),
    ),
)

WELCOME = Conversation(
    id="welcome",
    version=1,
    title="Welcome",
    ui=UI,
    then="feedback",
    steps=(
        Step("language", "language", "Which language do you want to use?", short="Language",
             profile="language"),
        Step("who", "single", "Who is answering?", short="Who", profile="role", options=(
            Option("young-person", "I am a young person"),
            Option("parent-carer", "I am a parent or carer"),
        ), next=(Branch("age", "who", ("young-person",)), Branch("about"))),
        Step("age", "single", "How old are you?", short="Age", profile="age_band", options=(
            Option("under-13", "Under 13"), Option("13-15", "13 to 15"),
        )),
        Step("about", "info", "I am a robot from {council}.", more="Here is more about us."),
        Step("consent", "yesno", "Is it OK to keep your answers?", short="Agree", profile="consent",
             options=(Option("yes", "Yes, that is OK"), Option("no", "No thanks")),
             next=(Branch("ready", "consent", ("yes",)), Branch("no-consent"))),
        Step("ready", "end", "Thank you."),
        Step("no-consent", "end", "That is OK."),
    ),
)

PICK = Conversation(
    id="pick",
    version=1,
    title="Pick",
    ui=UI,
    steps=(
        Step("help", "multi", "What helps you?", short="Helps", options=(
            Option("quiet", "A quiet room"), Option("time", "More time"), Option("adult", "An adult"),
        )),
        Step("bye", "end", "Bye."),
    ),
)


def run(conv: Conversation, events: Sequence[Event],
        state: State | None = None) -> tuple[State, list[Output]]:
    """Open ``conv`` (unless a state is given) and apply each event; return the last outputs."""
    if state is None:
        state, outputs = engine.begin(conv)
    for event in events:
        state, outputs = engine.step(conv, state, event)
    return state, outputs


def asks(outputs: Sequence[Output]) -> Ask:
    found = [o for o in outputs if isinstance(o, Ask)]
    assert found, f"no question in {outputs}"
    return found[-1]


def T(text: str) -> Text:
    return Text(text)


# ---- matching a reply to an option -------------------------------------------------------

@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("School or college", "school"),  # a reply-keyboard tap
        ("  school   OR college ", "school"),  # case and spacing ignored
        ("1", "school"),  # the option number
        ("2.", "health"),
        ("3)", "other"),  # the escape option counts like any other
        ("health or care!", "health"),  # punctuation ignored
        ("\u200bHealth or care\u200d", "health"),  # zero-width characters ignored
        ("Something else", "other"),
    ],
)
def test_choice_matches(reply: str, expected: str) -> None:
    state, outputs = run(FEEDBACK, [T(reply)])
    assert state.answers["area"].options == (expected,)
    assert state.current == "how"
    assert asks(outputs).step == "how"


@pytest.mark.parametrize(
    ("reply", "option"),
    [("Going well 🙂", "good"), ("going well", "good"), ("Not going well", "bad"), ("2", "ok")],
)
def test_scale_labels_with_and_without_symbol(reply: str, option: str) -> None:
    state, _ = run(FEEDBACK, [T("1"), T(reply)])
    assert state.answers["how"].options == (option,)


@pytest.mark.parametrize("reply", ["9", "0", "maybe", "", "🙂🙂", "<b>school</b> & co", "/admin"])
def test_unmatched_reply_is_reasked_kindly(reply: str) -> None:
    state, outputs = run(FEEDBACK, [T(reply)])
    ask = asks(outputs)
    assert state.current == "area" and state.tries == 1 and not state.answers
    assert ask.text.startswith("Sorry, I did not understand that.")
    assert ask.text.endswith("What do you want to tell us about?")  # the question stays last
    assert [b.id for b in ask.buttons] == ["school", "health", "other", "_listen"]


def test_after_two_misses_skip_and_help_are_offered_and_never_a_restart() -> None:
    state, outputs = run(FEEDBACK, [T("1"), T("hmm"), T("hmm")])
    ask = asks(outputs)
    assert state.current == "how" and state.tries == 2
    assert [b.label for b in ask.buttons][-2:] == ["Help", "Listen 🔊"]
    assert "tap Help" in ask.text
    state, outputs = run(FEEDBACK, [T("hmm"), T("hmm"), T("hmm")], state)
    assert state.current == "how" and state.answers["area"].options == ("school",)
    assert not any(isinstance(o, Restart) for o in outputs)


def test_help_button_after_misses_gives_a_person_and_the_question_again() -> None:
    state, _ = run(FEEDBACK, [T("x"), T("y")])
    state, outputs = run(FEEDBACK, [T("Help")], state)
    says = [o.text for o in outputs if isinstance(o, Say)]
    assert "Call the test team on 0000." in says
    assert asks(outputs).step == "area" and not state.answers


# ---- progress ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("conv", "events", "first_line"),
    [
        (FEEDBACK, [], "Question 1 of 3"),
        (FEEDBACK, [T("1")], "Question 2 of 3"),
        (FEEDBACK, [T("1"), T("3")], "Question 3 of 3"),
        (WELCOME, [], "Which language do you want to use?"),  # no fixed count: no progress
    ],
)
def test_progress_only_when_the_count_is_fixed(conv: Conversation, events: list[Event],
                                               first_line: str) -> None:
    _, outputs = run(conv, events)
    assert asks(outputs).text.splitlines()[0] == first_line


# ---- free text and voice ------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "The teachers listen to me.",
        "مدرستي جيدة 123 OK",  # right to left with numbers and Latin
        "a\u202eb\u200bc\u200d<script>&amp;*_`[x]",  # bidi override, zero-width, markup characters
        "x" * 4096,
        "{{7*7}} ${jndi:ldap://x} '; DROP TABLE response;--",
    ],
)
def test_free_text_is_kept_exactly(text: str) -> None:
    state, outputs = run(FEEDBACK, [T("1"), T("1"), T(text)])
    assert state.answers["tell-good"].text == text
    assert state.answers["tell-good"].kind == "text"
    assert asks(outputs).step == "check"


@pytest.mark.parametrize(
    ("event", "note"),
    [
        (T(""), "Please tell me in words."),
        (T("   "), "Please tell me in words."),
        (T("👍👍"), "Please tell me in words."),
        (T("\u200b\u200d"), "Please tell me in words."),
        (Media("sticker"), "I cannot use that here."),
        (Media("location"), "I cannot use that here."),
    ],
)
def test_text_question_rejects_what_is_not_words(event: Event, note: str) -> None:
    state, outputs = run(FEEDBACK, [T("1"), T("1"), event])
    assert state.current == "tell-good" and "tell-good" not in state.answers
    assert asks(outputs).text.startswith(note)


def test_voice_note_answers_a_text_question() -> None:
    note = VoiceNote("file-1", "uniq-1", duration=7, mime="audio/ogg", size=12000)
    state, _ = run(FEEDBACK, [T("1"), T("1"), Voice(note)])
    answer = state.answers["tell-good"]
    assert answer.kind == "voice" and answer.voice == note and answer.label == "Voice note, 7 seconds"


@pytest.mark.parametrize("event", [Voice(VoiceNote("f")), Media("photo"), Media("contact")])
def test_media_on_a_choice_question_is_reasked(event: Event) -> None:
    state, outputs = run(FEEDBACK, [event])
    assert state.current == "area" and not state.answers
    assert asks(outputs).text.startswith("I cannot use that for this question.")


# ---- back, skip, stop, start -------------------------------------------------------------

def test_back_returns_to_the_previous_answer_and_changing_it_takes_the_new_branch() -> None:
    state, _ = run(FEEDBACK, [T("1"), T("Going well"), T("Good teachers")])
    assert state.current == "check"
    state, outputs = run(FEEDBACK, [Command("back")], state)
    assert state.current == "tell-good"
    state, outputs = run(FEEDBACK, [Command("back")], state)
    assert state.current == "how" and asks(outputs).text.startswith("Your answer was: Going well\n")
    state, outputs = run(FEEDBACK, [T("Not going well"), T("The bus is late")], state)
    assert state.current == "check"
    assert engine.route_answers(FEEDBACK, state) == ["area", "how", "tell-bad"]
    assert "Good teachers" not in asks(outputs).text and "The bus is late" in asks(outputs).text


def test_back_on_the_first_question_says_so() -> None:
    state, outputs = run(FEEDBACK, [Command("back")])
    assert state.current == "area"
    assert asks(outputs).text.startswith("This is the first question.")


@pytest.mark.parametrize(
    ("events", "current", "answer_kind", "note"),
    [
        ([T("1"), T("1"), Command("skip")], "check", "skipped", ""),  # skippable text question
        ([T("1"), T("1"), T("Skip")], "check", "skipped", ""),  # typed Skip works too
        ([Command("skip")], "area", None, "You cannot skip this question."),  # not skippable
    ],
)
def test_skip(events: list[Event], current: str, answer_kind: str | None, note: str) -> None:
    state, outputs = run(FEEDBACK, events)
    assert state.current == current
    if answer_kind:
        assert state.answers["tell-good"].kind == answer_kind
    else:
        assert asks(outputs).text.startswith(note) and not state.answers


def test_stop_pauses_and_any_message_resumes_at_the_same_question() -> None:
    state, outputs = run(FEEDBACK, [T("1"), Command("stop")])
    assert state.status == "paused"
    assert isinstance(outputs[0], Say) and outputs[0].close_keyboard
    state, outputs = run(FEEDBACK, [T("hello again")], state)
    assert state.status == "active" and state.current == "how" and "how" not in state.answers
    assert isinstance(outputs[0], Say) and outputs[0].text.startswith("Welcome back")
    assert asks(outputs).step == "how"


def test_stop_also_offers_to_stop_messages_from_us() -> None:
    _, outputs = run(FEEDBACK, [T("1"), Command("stop")])
    assert outputs[-1] == ContactChoice(offer_start=False)
    done, _ = run(FEEDBACK, [T("1"), T("1"), T("words"), Command("skip"), T("Send my answers")])
    assert done.status == "done"
    _, outputs = run(FEEDBACK, [Command("stop")], done)
    assert isinstance(outputs[0], Say) and outputs[-1] == ContactChoice(offer_start=False)


@pytest.mark.parametrize("finished", [False, True])
def test_news_shows_bulletins_offers_messages_and_keeps_the_place(finished: bool) -> None:
    events: list[Event] = [T("1"), T("1"), T("words"), Command("skip"), T("Send my answers")] if finished \
        else [T("1")]
    before, _ = run(FEEDBACK, events)
    state, outputs = run(FEEDBACK, [Command("news")], before)
    assert outputs[:2] == [ShowNews(), ContactChoice(offer_start=True)]
    assert state == before
    if not finished:
        assert asks(outputs).step == "how"


@pytest.mark.parametrize(("choice", "restarts"), [("Carry on", False), ("Start again", True), ("2", True)])
def test_start_mid_conversation_offers_carry_on_or_start_again(choice: str, restarts: bool) -> None:
    state, outputs = run(FEEDBACK, [T("1"), Command("start")])
    ask = asks(outputs)
    assert [b.label for b in ask.buttons] == ["Carry on", "Start again", "Listen 🔊"]
    state, outputs = run(FEEDBACK, [T(choice)], state)
    assert any(isinstance(o, Restart) for o in outputs) is restarts
    assert state.answers["area"].options == ("school",)  # answers kept either way
    if not restarts:
        assert asks(outputs).step == "how"


def test_start_before_any_answer_just_shows_the_question() -> None:
    state, outputs = run(FEEDBACK, [Command("start")])
    assert asks(outputs).step == "area" and not state.interrupt


# ---- check your answers ------------------------------------------------------------------

def test_check_lists_answers_and_change_returns_to_check() -> None:
    state, outputs = run(FEEDBACK, [T("2"), T("1"), T("x" * 500)])
    ask = asks(outputs)
    assert ask.step == "check"
    assert "1. Part of life: Health or care" in ask.text
    assert "3. What you told us: " + "x" * 119 + "…" in ask.text  # long answers are shortened
    assert [(b.label, b.arg) for b in ask.inline] == [
        ("Change 1", "area"), ("Change 2", "how"), ("Change 3", "tell-good"),
    ]
    state, outputs = run(FEEDBACK, [Action("change", "area", state.seq)], state)
    assert state.current == "area" and state.changing
    assert asks(outputs).text.startswith("Your answer was: Health or care")
    state, outputs = run(FEEDBACK, [T("School or college")], state)
    assert state.current == "check" and not state.changing
    assert "1. Part of life: School or college" in asks(outputs).text


def test_change_that_opens_a_new_branch_asks_it_then_returns_to_check() -> None:
    state, _ = run(FEEDBACK, [T("1"), T("1"), T("fine")])
    state, _ = run(FEEDBACK, [T("change 2")], state)
    assert state.current == "how"
    state, _ = run(FEEDBACK, [T("Not going well")], state)
    assert state.current == "tell-bad"
    state, _ = run(FEEDBACK, [T("late bus")], state)
    assert state.current == "check"
    assert engine.route_answers(FEEDBACK, state) == ["area", "how", "tell-bad"]


def test_send_submits_and_finishes() -> None:
    state, outputs = run(FEEDBACK, [T("1"), T("1"), T("good"), T("Send my answers")])
    assert state.status == "done"
    assert isinstance(outputs[0], Submitted)
    says = [o for o in outputs if isinstance(o, Say)]
    assert says[-1].text == "Thank you. We will read it by Friday 4 December."
    assert says[-1].close_keyboard
    assert outputs[-1] == Finished(None)


@pytest.mark.parametrize(
    ("event", "kind"),
    [(T("hello"), Say), (Command("start"), Restart), (Command("help"), Say)],
)
def test_after_the_end(event: Event, kind: type) -> None:
    state, _ = run(FEEDBACK, [T("1"), T("1"), T("good"), T("Send my answers")])
    state, outputs = run(FEEDBACK, [event], state)
    assert isinstance(outputs[0], kind) and state.status == "done"


# ---- stale and forged buttons ------------------------------------------------------------

@pytest.mark.parametrize(
    "action",
    [
        Action("change", "area", seq=0),  # an old message's button
        Action("change", "nope", seq=-1),
        Action("launch", "x", seq=99),
        Action("", "", seq=0),
    ],
)
def test_stale_or_forged_buttons_change_nothing(action: Action) -> None:
    state, _ = run(FEEDBACK, [T("1"), T("1"), T("ok")])
    after, outputs = run(FEEDBACK, [action], state)
    assert after.answers == state.answers and after.current == "check"
    assert asks(outputs).text.startswith("That question has moved on.")


def test_forged_change_for_a_question_not_on_the_route_is_refused() -> None:
    state, _ = run(FEEDBACK, [T("1"), T("1"), T("ok")])
    after, outputs = run(FEEDBACK, [Action("change", "tell-bad", state.seq)], state)
    assert after.current == "check" and asks(outputs).text.startswith("That question has moved on.")


def test_double_tap_of_the_same_reply_is_ignored_and_other_early_text_is_redirected() -> None:
    state, _ = run(FEEDBACK, [T("School or college")])
    same, outputs = run(FEEDBACK, [Stale("School or college")], state)
    assert outputs == [] and same == state
    other, outputs = run(FEEDBACK, [Stale("Health or care")], state)
    assert other.answers == state.answers and asks(outputs).text.startswith("That question has moved on.")


def test_repeat_shows_the_current_question_again() -> None:
    state, _ = run(FEEDBACK, [T("1")])
    after, outputs = run(FEEDBACK, [Repeat()], state)
    assert after == state and asks(outputs).step == "how"


# ---- profile, language and branching in welcome -------------------------------------------

def test_language_step_sets_the_language_and_waits_for_a_repeat() -> None:
    state, outputs = run(WELCOME, [T("Polski (Polish)")])
    assert outputs == [SetProfile("language", "pl")]
    assert state.current == "who"
    state, outputs = run(WELCOME, [Repeat()], state)
    assert asks(outputs).step == "who"


@pytest.mark.parametrize("reply", ["ગુજરાતી (Gujarati)", "gujarati", "ગુજરાતી", "3"])
def test_language_by_name_script_or_number(reply: str) -> None:
    _, outputs = run(WELCOME, [T(reply)])
    assert outputs == [SetProfile("language", "gu")]


@pytest.mark.parametrize(
    ("who", "next_step"),
    [("I am a young person", "age"), ("I am a parent or carer", "about")],
)
def test_branching_on_who_is_answering(who: str, next_step: str) -> None:
    state, outputs = run(WELCOME, [T("English"), T(who)])
    assert state.current == next_step
    assert outputs[0] == SetProfile("role", state.answers["who"].options[0])


def test_welcome_end_submits_and_names_the_next_conversation() -> None:
    events = [T("English"), T("1"), T("Under 13"), T("Next"), T("yes")]
    state, outputs = run(WELCOME, events)
    assert state.status == "done" and state.answers["consent"].options == ("yes",)
    assert Submitted() in outputs and outputs[-1] == Finished("feedback")


def test_info_step_text_is_filled_and_tell_me_more_works() -> None:
    state, outputs = run(WELCOME, [T("English"), T("2")])
    ask = asks(outputs)
    assert ask.text == "I am a robot from Test Council."
    assert [b.label for b in ask.buttons] == ["Next", "Tell me more", "Listen 🔊"]
    for more in (T("Tell me more"), Action("more", "about", state.seq)):
        after, outputs = run(WELCOME, [more], state)
        assert isinstance(outputs[0], Say) and outputs[0].text == "Here is more about us."
        assert asks(outputs).step == "about" and after.current == "about"


def test_language_command_changes_language_then_returns() -> None:
    state, _ = run(FEEDBACK, [T("1")])
    asking, outputs = run(FEEDBACK, [Command("language")], state)
    assert len(asks(outputs).buttons) == 9
    after, outputs = run(FEEDBACK, [T("العربية (Arabic)")], asking)
    assert outputs == [SetProfile("language", "ar")]
    assert after.current == "how" and not after.interrupt


# ---- multiple choice ---------------------------------------------------------------------

def test_multiple_choice_toggles_and_done() -> None:
    state, outputs = run(PICK, [T("More time"), T("1")])
    assert state.picked == ("quiet", "time")
    assert asks(outputs).text.startswith("You picked: A quiet room, More time.")
    state, _ = run(PICK, [T("More time"), T("Done")], state)
    assert state.answers["help"].options == ("quiet",) and state.status == "done"


def test_multiple_choice_by_numbers_and_done_needs_one() -> None:
    state, outputs = run(PICK, [T("Done")])
    assert asks(outputs).text.startswith("Please pick at least one")
    state, _ = run(PICK, [T("3, 1"), T("Done")], state)
    assert state.answers["help"].options == ("quiet", "adult")


def test_help_and_privacy_keep_the_place() -> None:
    state, _ = run(FEEDBACK, [T("1")])
    for command in ("help", "privacy"):
        after, outputs = run(FEEDBACK, [Command(command)], state)  # type: ignore[arg-type]
        assert after == state and asks(outputs).step == "how"
        assert isinstance(outputs[0], Say)


def test_the_language_the_user_has_now_is_listed_first_and_numbers_follow_the_list() -> None:
    polish = replace(WELCOME, language="pl")
    _, outputs = engine.begin(polish)
    assert [b.id for b in asks(outputs).buttons][:2] == ["pl", "en"]
    _, outputs = run(polish, [T("1")])
    assert outputs == [SetProfile("language", "pl")]


# ---- listening and personal settings --------------------------------------------------------

def test_every_question_can_be_read_aloud_with_its_buttons() -> None:
    state, outputs = run(FEEDBACK, [T("1")])
    assert asks(outputs).buttons[-1].label == "Listen 🔊"
    after, outputs = run(FEEDBACK, [T("Listen 🔊")], state)
    assert after == state
    assert len(outputs) == 1 and isinstance(outputs[0], ReadAloud)
    assert outputs[0].ask.text == "Question 2 of 3\nHow is it going?"
    assert [b.id for b in outputs[0].ask.buttons] == ["good", "ok", "bad", "_listen"]


def test_the_language_list_has_no_listen_button() -> None:
    _, outputs = engine.begin(WELCOME)
    assert "_listen" not in [b.id for b in asks(outputs).buttons]


def test_screen_reader_mode_drops_the_decorative_emoji() -> None:
    reader = replace(FEEDBACK, ui={**UI, "settings_on": "screen-reader"})
    _, outputs = engine.begin(reader)
    assert asks(outputs).buttons[-1].label == "Listen"
    state, outputs = run(reader, [T("1")])
    assert [(b.label, b.picture) for b in asks(outputs).buttons][:3] == [
        ("Going well", "🙂"), ("Could be better", "😐"), ("Not going well", "🙁")]  # pictures still known
    state, _ = run(reader, [T("Going well 🙂")], state)
    assert state.answers["how"].options == ("good",)


@pytest.mark.parametrize(
    ("tap", "expected"),
    [("Simpler words", [SetProfile("toggle", "easy")]), ("Read out loud", [SetProfile("toggle", "voice")]),
     ("Done", [SetProfile("settings_done", "")])],
)
def test_settings_command_toggles_and_returns(tap: str, expected: list[Output]) -> None:
    on = replace(FEEDBACK, ui={**UI, "settings_on": "voice"})
    state, _ = run(on, [T("1")])
    asking, outputs = run(on, [Command("settings")], state)
    ask = asks(outputs)
    assert "Simpler words: off. Pictures: off. Read out loud: on. Screen reader: off." in ask.text
    assert [b.label for b in ask.buttons] == ["Simpler words", "Pictures", "Read out loud", "Screen reader",
                                              "Done"]
    after, outputs = run(on, [T(tap)], asking)
    assert outputs == expected
    assert after.current == "how" and after.answers == state.answers
    assert (after.interrupt == "") == (tap == "Done")


def test_help_offers_a_person_and_asking_for_one_is_passed_on() -> None:
    state, _ = run(FEEDBACK, [T("1")])
    _, outputs = run(FEEDBACK, [Command("help")], state)
    assert asks(outputs).buttons[-1].label == "Talk to a person"
    after, outputs = run(FEEDBACK, [T("Talk to a person")], state)
    assert isinstance(outputs[0], AskForPerson) and after == state
    assert isinstance(outputs[1], Say) and asks(outputs).step == "how"
