"""Listen, read-aloud and the personal settings, over the fake Bot API."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bot.pictures import OPENMOJI_DIR
from core.storage import models as m
from tests.bot.conftest import Harness, say
from tests.bot.test_conversation import through_welcome

MISSING = shutil.which("espeak-ng") is None or shutil.which("ffprobe") is None
pytestmark = pytest.mark.skipif(MISSING, reason="needs espeak-ng and ffmpeg (.ci/run installs them)")


def probe(data: bytes) -> str:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,channels,sample_rate",
         "-of", "compact", "-"], input=data, capture_output=True, check=True)
    return result.stdout.decode()


async def test_listen_sends_the_question_as_a_voice_note_with_its_keyboard(harness: Harness) -> None:
    user = harness.fake.user(5001)
    await through_welcome(user)
    replies = await say(user, "Listen 🔊", timeout=30)
    voice = replies[-1]
    assert voice.method == "sendVoice"
    assert voice.caption == "Question 1 of 4\nWhat do you want to tell us about?"
    assert voice.buttons[0] == "School or college 🏫" and voice.buttons[-1] == "Listen 🔊"
    assert voice.voice is not None and len(voice.voice) < 1_000_000
    assert "codec_name=opus|sample_rate=48000|channels=1" in probe(voice.voice)
    replies = await say(user, "Listen 🔊", timeout=30)  # the second time Telegram's copy is re-used
    assert voice.file_id and harness.fake.calls("sendVoice")[-1]["voice"] == voice.file_id
    assert await m.Answer.filter(step_id="area").count() == 0  # listening is not an answer


async def test_somali_questions_are_sent_as_words_with_a_clear_note(harness: Harness) -> None:
    user = harness.fake.user(5002)
    await through_welcome(user)
    await say(user, "/language")
    replies = await say(user, "Soomaali (Somali)")
    listen = replies[-1].buttons[-1]
    replies = await say(user, listen, timeout=30)
    assert replies[0].method == "sendMessage" and "Soomaali" in replies[0].text
    assert replies[-1].method == "sendMessage" and replies[-1].buttons[-1] == listen


async def test_settings_read_out_loud_and_screen_reader(harness: Harness) -> None:
    user = harness.fake.user(5003)
    await through_welcome(user)
    replies = await say(user, "/settings")
    assert "Read out loud: off." in replies[-1].text
    replies = await say(user, "Read out loud", timeout=30)
    assert "Read out loud: on." in replies[-1].content  # now read aloud, as a caption
    await say(user, "Screen reader", timeout=30)
    replies = await say(user, "Done", timeout=30)
    question = replies[-1]
    assert question.method == "sendVoice" and question.caption.endswith("What do you want to tell us about?")
    keyboard = question.reply_markup["keyboard"]
    assert all(len(row) == 1 for row in keyboard)  # one button per row
    assert keyboard[-1][0]["text"] == "Listen"  # no decorative emoji
    assert (await m.Respondent.get()).settings == "screen-reader,voice"


async def test_choosing_simpler_words_at_the_start_gives_the_easy_read_track(harness: Harness) -> None:
    user = harness.fake.user(5004)
    await say(user, "/start")
    await say(user, "English")
    await say(user, "Simpler words")
    replies = await say(user, "Done", timeout=30)
    assert replies[-1].text == "Who is answering?"
    assert replies[-1].buttons[:3] == ["A young person", "Helping someone", "Parent or carer"]
    assert (await m.Respondent.get()).settings == "easy"


async def test_pictures_show_each_answer_with_its_words(harness: Harness) -> None:
    if not (OPENMOJI_DIR / "color" / "svg").exists() or shutil.which("rsvg-convert") is None:
        pytest.skip("needs the openmoji package and rsvg-convert (make install, .ci/run)")
    user = harness.fake.user(5005)
    await through_welcome(user)
    await say(user, "/settings")
    await say(user, "Pictures")
    replies = await say(user, "Done", timeout=30)
    album = [msg for msg in replies if msg.method == "sendMediaGroup"]
    captions = ["School or college 🏫", "Health or care 🩺", "Becoming an adult 🌱", "Help for families 👪",
                "Something else 💬"]
    assert [msg.caption for msg in album] == captions
    files = [harness.fake.file(msg.file_id or "") for msg in album]
    assert all(f is not None and f.data.startswith(b"\x89PNG") for f in files)
    assert replies[-1].method == "sendMessage" and replies[-1].text.startswith("Question 1 of 4")
