"""Odd and hostile input over the fake Bot API: a kind reply, no crash, nothing lost or doubled."""

from __future__ import annotations

import asyncio

import pytest

from core.storage import models as m
from tests.bot.conftest import Harness, say
from tests.bot.test_conversation import through_welcome
from tests.fakes.botapi import FakeUser

AWKWARD_TEXTS = [
    "x" * 4096,
    "<b>bold</b> & <i>not</i> </pre> &amp; *star* _under_ `tick` ```block``` [link](x) \\",
    "مدرستي جيدة 123 ABC",  # right to left with numbers and Latin
    "a\u202eb\u200bc\u200dd\u0007e\u0301 👨‍👩‍👧",  # bidi override, zero width, a control character
    "{{7*7}} ${jndi:ldap://x} '; DROP TABLE response;-- =cmd|' /C calc'!A0",
]


async def at_text_question(user: FakeUser) -> None:
    await through_welcome(user)
    await say(user, "School or college")
    await say(user, "Not going well")


@pytest.mark.parametrize("text", AWKWARD_TEXTS)
async def test_awkward_text_is_stored_exactly_and_echoed_safely(harness: Harness, text: str) -> None:
    user = harness.fake.user(4001)
    await at_text_question(user)
    await say(user, text)
    replies = await say(user, "/skip")
    assert replies[-1].buttons == ["Send my answers", "Listen 🔊"]
    answer = await m.Answer.get(step_id="tell-bad")
    assert answer.text == text
    assert harness.fake.errors == []  # never "can't parse entities", never "message is too long"
    assert all(r.parse_mode is None for r in user.sent)


async def test_media_where_a_button_is_expected_gets_a_kind_reask(harness: Harness) -> None:
    user = harness.fake.user(4002)
    await through_welcome(user)
    sends = [user.send_sticker(), user.send_photo(), user.send_location(), user.send_contact(),
             user.send_document("virus.exe", "application/x-msdownload", 2_000_000), user.send_poll(),
             user.send_dice(), user.send_voice(b"OggS fake")]
    for send in sends:
        await send
        replies = await user.replies(1)
        assert replies[-1].text.startswith("I cannot use that for this question.")
        assert "What do you want to tell us about?" in replies[-1].text
    assert await m.Answer.filter(step_id="area").count() == 0
    assert harness.fake.calls("getFile") == []  # nothing downloaded


async def test_media_where_text_is_expected_and_a_voice_note_is_an_answer(harness: Harness) -> None:
    user = harness.fake.user(4003)
    await at_text_question(user)
    await user.send_sticker()
    replies = await user.replies(1)
    assert replies[-1].text.startswith("I cannot use that here.")
    for text in ["   ", "🙂🙂🙂"]:
        replies = await say(user, text)
        assert replies[-1].text.startswith("Please tell me in words.")
    await user.send_voice(b"OggS voice bytes", duration=4)
    replies = await user.replies(1)
    assert replies[-1].text.startswith("Question 4 of 4")
    answer = await m.Answer.get(step_id="tell-bad")
    assert answer.kind == "voice" and answer.voice_duration == 4 and answer.voice_file_id
    assert answer.text is None
    clip = await m.VoiceClip.get(answer_id=answer.id)  # downloaded and kept with the answer
    assert (bytes(clip.data), clip.mime, clip.size) == (b"OggS voice bytes", "audio/ogg", 16)


async def test_a_voice_note_that_is_too_long_or_not_audio(harness: Harness) -> None:
    user = harness.fake.user(4011)
    await at_text_question(user)
    await user.send_voice(b"OggS long", duration=400)
    replies = await user.replies(1)
    assert replies[-1].text == "That voice note is too long for me. Please send one under 5 minutes."
    assert await m.Answer.filter(step_id="tell-bad").count() == 0
    await user.send_voice(b"MZ\x90\x00 not audio at all", duration=3)
    replies = await user.replies(1)
    assert replies[-1].text.startswith("Question 4 of 4")  # the answer counts, the file is not kept
    assert await m.VoiceClip.all().count() == 0


async def test_after_two_misses_skip_and_help_are_offered(harness: Harness) -> None:
    user = harness.fake.user(4004)
    await through_welcome(user)
    await say(user, "banana")
    replies = await say(user, "42")
    assert replies[-1].buttons[-2:] == ["Help", "Listen 🔊"]
    replies = await say(user, "Help")
    assert any("0116 000 0000" in (r.text or "") for r in replies)
    assert replies[-1].text.startswith("Question 1 of 4")


async def test_an_edited_message_changes_nothing(harness: Harness) -> None:
    user = harness.fake.user(4005)
    await at_text_question(user)
    await say(user, "The bus is late")
    sent = user.last_update["message"]["message_id"]
    await user.edit(sent, "Something else entirely")
    replies = await user.replies(1)
    assert "To change it, type /back" in replies[-1].text
    answers = await m.Answer.filter(step_id="tell-bad").values_list("text", flat=True)
    assert answers == ["The bus is late"]


async def test_two_taps_on_the_same_button_store_one_answer(harness: Harness) -> None:
    user = harness.fake.user(4006)
    await through_welcome(user)
    await user.tap("School or college")
    await user.tap("School or college")
    await user.replies(1)
    await user.settle(quiet=0.3)
    assert await m.Answer.filter(step_id="area").count() == 1
    questions = [r for r in user.sent if (r.text or "").startswith("Question 2 of 4")]
    assert len(questions) == 1  # one next question, not two
    assert await m.Answer.filter(step_id="how").count() == 0


@pytest.mark.parametrize(
    "data",
    ["x" * 64, "1:1:change:area", "999999:0:change:area", "nonsense", "1:99999:launch:rocket", ""],
)
async def test_forged_callback_data_is_answered_and_changes_nothing(harness: Harness, data: str) -> None:
    user = harness.fake.user(4007)
    await through_welcome(user)
    await say(user, "Health or care")
    before = await m.Session.get()
    query = {"id": "forged-1", "from": user.as_dict(), "chat_instance": "1", "data": data,
             "message": {"message_id": 1, "date": 0, "chat": {"id": user.id, "type": "private"}}}
    await harness.fake.inject({"callback_query": query})
    replies = await user.replies(1)
    assert replies[-1].text.startswith("That question has moved on")
    assert harness.fake.callback_answer("forged-1") is not None
    after = await m.Session.get()
    assert after.state == before.state or '"current":"how"' in after.state
    assert await m.Answer.filter(step_id="area").count() == 1


async def test_a_button_of_another_users_session_is_refused(harness: Harness) -> None:
    alice, bob = harness.fake.user(4101), harness.fake.user(4102)
    for user in (alice, bob):
        await through_welcome(user)
        for text in ["Help for families", "Going well", "Kind staff", "/skip"]:
            await say(user, text)
    alice_change = next(data for text, data in alice.last_inline() if text == "Change 1")
    assert alice_change is not None
    bob_session = await m.Session.get(respondent__chat_id=bob.id)
    summary = next(msg for msg in reversed(bob.sent) if msg.inline)
    await bob.press(alice_change, message_id=summary.message_id)
    replies = await bob.settle(quiet=0.3)
    assert replies[0].text.startswith("That question has moved on")
    state = (await m.Session.get(id=bob_session.id)).state
    assert '"current":"check"' in state


async def test_the_same_update_twice_is_processed_once(harness: Harness) -> None:
    user = harness.fake.user(4008)
    await through_welcome(user)
    update = await user.send("Becoming an adult")
    await user.replies(1)
    await user.settle(quiet=0.2)
    await harness.fake.inject(update)
    await asyncio.sleep(0.5)
    assert user.unread() == []
    assert await m.Answer.filter(step_id="area").count() == 1


async def test_group_chats_get_a_polite_reply_and_nothing_is_stored(harness: Harness) -> None:
    harness.fake.user(4009)
    await harness.fake.group_message(-100123, 4009, "/start")
    await harness.fake.wait_for(lambda: bool(harness.fake.left_chats), timeout=5)
    texts = [s.text for s in harness.fake.sent(-100123)]
    assert texts == ["Please send me a message directly. I do not take answers in groups."]
    assert await m.Respondent.all().count() == 0
    assert await m.InboxUpdate.filter(processed_at=None).count() == 0


async def test_a_forwarded_message_is_the_users_own_words_only(harness: Harness) -> None:
    user = harness.fake.user(4010)
    await at_text_question(user)
    await user.forward("Words someone else wrote")
    await user.replies(1)
    answer = await m.Answer.get(step_id="tell-bad")
    assert answer.text == "Words someone else wrote"
    stored = str(await m.Respondent.all().values()) + str(await m.Answer.all().values())
    assert "Alex" not in stored and "777" not in stored


async def test_a_flood_from_one_chat_is_not_read_and_others_are_unaffected(harness: Harness) -> None:
    """SECURITY.md B14: 60 messages at once; 20 read, one note, the rest set aside, nothing stuck."""
    flooder, other = harness.fake.user(4020), harness.fake.user(4021)
    await through_welcome(flooder)
    await through_welcome(other)
    await asyncio.gather(*(flooder.send(f"message {i}") for i in range(60)))
    replies = await say(other, "School or college")
    assert replies[-1].text.startswith("Question 2 of 4")  # answered at once, flood or not
    texts = [m.text or "" for m in await flooder.settle(quiet=1.0, timeout=30)]
    notes = [t for t in texts if t.startswith("You sent a lot of messages very fast")]
    assert len(notes) == 1
    assert len(texts) <= 2 * 20 + 1  # replies to the 20 messages read (two at most each), and the note
    pending = await m.InboxUpdate.filter(processed_at=None).count()
    assert pending == 0  # every update is marked done, read or not
