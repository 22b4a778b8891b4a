"""A disclosure gets calm signposts in the same turn, in the person's language, and an alert (S1-S5)."""

from __future__ import annotations

import json

from core.i18n import translations
from core.settings import ROOT
from core.storage import models as m
from tests.bot.conftest import Harness, say
from tests.fakes.botapi import FakeUser

START = ["/start", "English", "None of these", "Done"]


async def to_question_3(user: FakeUser, role: str, age: str | None) -> None:
    for text in [*START, role, *([age] if age else []), "Next", "Next", "1", "2", "1", "Not going well"]:
        await say(user, text)


async def test_a_childs_disclosure_gets_signposts_before_the_next_question(harness: Harness) -> None:
    user = harness.fake.user(7001)
    await to_question_3(user, "A young person", "16 to 18")
    replies = await say(user, "my stepdad hits me")
    texts = [r.text or "" for r in replies]
    assert texts[0].startswith("Thank you for telling us. It is not your fault.")
    assert "call 999" in texts[1] and "Childline is free on 0800 1111" in texts[1]
    assert texts[-1].startswith("Question 4 of 4")  # then the survey carries on
    assert all("secret" not in t.lower() for t in texts)
    alert = await m.SafeguardingAlert.get()
    assert alert.source == "answer" and alert.category and "stepdad" not in alert.matched
    assert (await m.Response.get(conversation_id="feedback")).flagged


async def test_a_disclosure_in_polish_is_answered_in_polish(harness: Harness) -> None:
    user = harness.fake.user(7002, language_code="pl")
    await say(user, "/start")
    await say(user, "Polski (Polish)")
    # none of these, done, a young person, 16 to 18, next, next, yes, no messages, school, not going well
    for text in ["5", "6", "1", "3", "1", "1", "1", "2", "1", "3"]:
        await say(user, text)
    replies = await say(user, "ojczym mnie bije")
    polish = translations(ROOT / "locales", "pl").gettext
    thanks = ("Thank you for telling us. It is not your fault. A person at the council will read this to "
              "keep you safe.")
    assert replies[0].text == polish(thanks)
    assert "0800 1111" in (replies[1].text or "")
    assert await m.SafeguardingAlert.filter(language="pl").count() == 1


async def test_a_young_adult_gets_adult_numbers_and_a_harmless_idiom_gets_none(harness: Harness) -> None:
    user = harness.fake.user(7003)
    await to_question_3(user, "A young person", "19 to 25")
    replies = await say(user, "this survey is killing me lol, but the bus is late")
    assert replies[0].text.startswith("Question 4 of 4")  # no signposts, no alert, no shaming
    assert await m.SafeguardingAlert.all().count() == 0
    replies = await say(user, "I want to kill myself")
    assert "Samaritans are free on 116 123" in (replies[1].text or "") and "Childline" not in replies[1].text
    assert await m.SafeguardingAlert.all().count() == 1


async def test_delete_over_telegram_and_a_redelivered_old_update(harness: Harness) -> None:
    user = harness.fake.user(7004)
    await to_question_3(user, "A young person", "16 to 18")
    old = await user.send("The bus is late")
    await user.replies(1)
    await user.settle(quiet=0.2)
    replies = await say(user, "/delete")
    assert replies[-1].buttons[:2] == ["Yes, delete them", "No, keep them"]
    replies = await say(user, "Yes, delete them")
    assert replies[-1].text == "We have deleted your answers and everything we kept about you."
    assert replies[-1].removes_keyboard
    assert await m.Respondent.all().count() == 0 and await m.Answer.all().count() == 0
    await harness.fake.inject(old)  # Telegram sends an old message again: it must not come back
    await harness.fake.inject({**old, "update_id": old["update_id"] + 1000, "message": {**old["message"]}})
    await user.replies(1)
    assert await m.Answer.all().count() == 0  # a new message starts afresh, with nothing from before


async def test_talk_to_a_person_creates_a_request_an_officer_sees(harness: Harness) -> None:
    user = harness.fake.user(7005)
    await to_question_3(user, "A parent or carer", None)
    replies = await say(user, "/help")
    assert replies[-1].buttons[-1] == "Talk to a person"
    replies = await say(user, "Talk to a person")
    assert replies[0].text == "We have told a person at the council. They will read your answers soon."
    alert = await m.SafeguardingAlert.get()
    assert (alert.source, alert.category) == ("request", "request") and alert.response_id


async def test_mydata_sends_the_answers_in_words_and_as_a_file(harness: Harness) -> None:
    user = harness.fake.user(7006)
    await to_question_3(user, "A young person", "16 to 18")
    await say(user, "The bus is late every day")
    replies = await say(user, "/mydata")
    assert replies[0].text == "Here is everything we keep about you."
    assert "What is not going well? Tell us what happened.\n→ The bus is late every day" in replies[1].text
    document = next(r for r in replies if r.method == "sendDocument")
    assert document.caption == "This file has the same, for a computer."
    stored = harness.fake.file(document.file_id or "")
    assert stored is not None
    data = json.loads(stored.data)
    assert data["you"]["age_band"] == "16-18"
    assert "chat_id" not in data["you"] and "key_hash" not in data["you"]
    assert any(a["text"] == "The bus is late every day" for r in data["responses"] for a in r["answers"])
    assert replies[-1].text.startswith("Question 4 of 4")  # and back to where they were
