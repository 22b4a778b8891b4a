"""Scripted users talk to the running bot over the fake Bot API (real HTTP both ways)."""

from __future__ import annotations

import asyncio

import pytest

from bot import runner
from core.i18n import translations
from core.settings import ROOT
from core.storage import models as m
from core.texts import fill
from tests.bot.conftest import WELCOME_TO_FEEDBACK, Harness, say
from tests.fakes.botapi import FakeUser


async def through_welcome(user: FakeUser) -> None:
    for text in WELCOME_TO_FEEDBACK:
        await say(user, text)


async def test_a_young_person_answers_welcome_and_feedback_end_to_end(harness: Harness) -> None:
    user = harness.fake.user(1001, language_code="en")
    replies = await say(user, "/start")
    assert replies[-1].text == "Which language do you want to use?"
    assert replies[-1].buttons[0] == "English" and "ગુજરાતી (Gujarati)" in replies[-1].buttons
    replies = await say(user, "English")
    assert replies[-1].text.endswith("What would help you?")
    assert replies[-1].buttons[:5] == ["Simpler words", "Pictures", "Read out loud", "Screen reader",
                                       "None of these"]
    await say(user, "None of these")
    replies = await say(user, "Done")
    assert replies[-1].text == "Who is answering?" and len(replies[-1].buttons) == 5
    replies = await say(user, "A young person")
    assert replies[-1].text == "How old are you?"
    replies = await say(user, "13 to 15")
    assert replies[-1].text.startswith("Please answer with an adult who helps you")
    replies = await say(user, "Next")
    assert "robot from Leicestershire County Council" in replies[-1].text
    assert replies[-1].buttons == ["Next", "Listen 🔊"]
    replies = await say(user, "Next")
    assert replies[-1].buttons == ["Next", "Tell me more", "Listen 🔊"]
    await say(user, "Next")
    replies = await say(user, "Yes, that is OK")
    assert replies[-1].text.endswith("Can we send you messages?")
    assert replies[-1].buttons[:2] == ["Yes, send messages", "No thanks"]
    replies = await say(user, "Yes, send messages")
    assert replies[-1].text.startswith("Question 1 of 4\n")
    replies = await say(user, "School or college")
    assert replies[-1].text == "Question 2 of 4\nHow is it going?"
    replies = await say(user, "Going well 🙂")
    assert replies[-1].buttons == ["Listen 🔊"] and replies[-1].text.startswith("Question 3 of 4")
    await say(user, "My teacher gives me more time.")
    replies = await say(user, "/skip")
    summary, question = replies[-2], replies[-1]
    assert "3. What you told us: My teacher gives me more time." in summary.text
    assert [text for text, _ in summary.inline][:2] == ["Change 1", "Change 2"]
    assert question.buttons == ["Send my answers", "Listen 🔊"]
    replies = await say(user, "Send my answers")
    assert "will read your answers by" in replies[-1].text and replies[-1].removes_keyboard

    respondent = await m.Respondent.get()
    assert respondent.key_hash != "1001" and "1001" not in respondent.key_hash
    # under 16: asked to answer with an adult helping, so the answers count as assisted
    assert (respondent.chat_id, respondent.role, respondent.answered_by) == (1001, "young-person", "assisted")
    assert (respondent.age_band, respondent.consent) == ("13-15", "yes")
    feedback = await m.Response.get(conversation_id="feedback")
    assert feedback.status == "submitted" and feedback.answered_by == "assisted"
    answers = {a.step_id: a for a in await m.Answer.filter(response_id=feedback.id)}
    assert set(answers) == {"area", "how", "tell-good", "more"}
    assert answers["tell-good"].text == "My teacher gives me more time."
    assert answers["how"].polarity == "works-well" and answers["more"].kind == "skipped"
    codes = await m.AnswerPriority.filter(answer_id=answers["area"].id).values_list("priority_id", flat=True)
    assert codes == ["provision"]
    assert (await m.Response.get(conversation_id="welcome")).status == "submitted"


async def test_commands_and_descriptions_are_registered(harness: Harness) -> None:
    names = harness.fake.command_names()
    assert names == ["start", "help", "back", "skip", "stop", "language", "settings", "privacy", "mydata",
                     "delete", "news"]
    assert harness.fake.descriptions[""].startswith("I am a robot from Leicestershire County Council.")
    assert "Leicestershire County Council" in harness.fake.short_descriptions[""]


async def test_several_users_at_once_never_see_each_others_answers(harness: Harness) -> None:
    users = [harness.fake.user(2000 + n) for n in range(6)]
    areas = ["School or college", "Health or care", "Becoming an adult", "Help for families"]

    async def answer(n: int, user: FakeUser) -> None:
        await through_welcome(user)
        await say(user, areas[n % 4])
        await say(user, "Not going well")
        await say(user, f"secret words of user {n}")

    await asyncio.gather(*(answer(n, u) for n, u in enumerate(users)))
    for n, user in enumerate(users):
        texts = "\n".join(msg.text or "" for msg in user.sent)
        assert f"secret words of user {n}" not in texts  # not echoed before the check step
        others = [f"secret words of user {k}" for k in range(6) if k != n]
        assert not any(o in texts for o in others)
        assert user.last_keyboard() == ["Listen 🔊"]
    rows = await m.Answer.filter(step_id="tell-bad").prefetch_related("response__respondent")
    by_chat = {a.response.respondent.chat_id: a.text for a in rows}
    assert by_chat == {2000 + n: f"secret words of user {n}" for n in range(6)}


async def test_back_stop_and_resume_at_the_same_question(harness: Harness) -> None:
    user = harness.fake.user(3001)
    await through_welcome(user)
    await say(user, "Health or care")
    replies = await say(user, "/back")
    assert replies[-1].text.startswith("Your answer was: Health or care")
    await say(user, "Help for families")
    replies = await say(user, "/stop")
    assert replies[-1].removes_keyboard and "We have saved your answers." in replies[-1].text
    replies = await say(user, "I am back")
    assert replies[0].text.startswith("Welcome back")
    assert replies[-1].text == "Question 2 of 4\nHow is it going?"
    answer = await m.Answer.get(step_id="area")
    assert answer.option_ids == ["family-help"]
    assert await m.Answer.filter(step_id="area").count() == 1


async def test_help_and_privacy_name_a_person_and_keep_the_place(harness: Harness) -> None:
    user = harness.fake.user(3002)
    await through_welcome(user)
    replies = await say(user, "/help")
    assert any("0116 000 0000" in (r.text or "") for r in replies)
    assert replies[-1].text.startswith("Question 1 of 4")
    replies = await say(user, "/privacy")
    assert "not your name" in (replies[0].text or "")
    assert replies[-1].text.startswith("Question 1 of 4")


async def test_language_command_changes_language(harness: Harness) -> None:
    user = harness.fake.user(3003)
    await through_welcome(user)
    replies = await say(user, "/language")
    assert len(replies[-1].buttons) == 9
    replies = await say(user, "Polski (Polish)")
    polish = translations(ROOT / "locales", "pl").gettext
    question = fill(polish("Question {n} of {total}"), {"n": 1, "total": 4})
    assert replies[-1].text == f"{question}\n{polish('What do you want to tell us about?')}"
    assert replies[-1].buttons[-1] == f"{polish('Listen')} 🔊"
    assert (await m.Respondent.get()).language == "pl"


async def test_start_mid_survey_offers_carry_on_or_start_again(harness: Harness) -> None:
    user = harness.fake.user(3004)
    await through_welcome(user)
    await say(user, "School or college")
    replies = await say(user, "/start")
    assert replies[-1].buttons == ["Carry on", "Start again", "Listen 🔊"]
    replies = await say(user, "Start again")
    assert replies[-1].text.startswith("Question 1 of 4")
    statuses = sorted(await m.Response.filter(conversation_id="feedback").values_list("status", flat=True))
    assert statuses == ["abandoned", "in-progress"]
    assert await m.Answer.filter(step_id="area").count() == 1  # the first answer is kept


async def test_change_from_check_with_an_inline_button(harness: Harness) -> None:
    user = harness.fake.user(3005)
    await through_welcome(user)
    for text in ["Health or care", "Could be better", "Quicker letters", "/skip"]:
        replies = await say(user, text)
    change_1 = next(data for text, data in replies[-2].inline if text == "Change 1")
    assert change_1 is not None
    await user.press(change_1)
    assert (await user.callback_answer()).show_alert is False  # the spinner stops
    replies = await user.settle(quiet=0.2)
    assert replies[-1].text.startswith("Your answer was: Health or care")
    replies = await say(user, "School or college")
    assert "1. Part of life: School or college" in replies[-2].text
    # the old message's Change button is stale now
    await user.press(change_1)
    await user.callback_answer()
    replies = await user.settle(quiet=0.2)
    assert replies[0].text.startswith("That question has moved on")
    assert (await m.Answer.get(step_id="area")).option_ids == ["school"]


async def test_updates_that_could_not_be_stored_are_fetched_again(harness: Harness,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = runner.inbox_add
    failures = []

    async def flaky(source: str, updates: list[tuple[int, dict[str, object]]]) -> list[int]:
        if not failures:
            failures.append(len(updates))
            raise ConnectionError("database away")
        return await real(source, updates)

    monkeypatch.setattr(runner, "inbox_add", flaky)
    user = harness.fake.user(3006)
    replies = await user.send("/start") and await user.replies(1, timeout=8)
    assert failures == [1]
    assert replies[-1].text == "Which language do you want to use?"
    assert await m.InboxUpdate.filter(processed_at=None).count() == 0
