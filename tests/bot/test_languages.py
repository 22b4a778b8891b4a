"""The whole welcome + feedback conversation in every language and on both tracks, over the fake
Bot API: everything the person reads is in their language, and their answers are stored."""

from __future__ import annotations

import asyncio

from core.bidi import FSI
from core.i18n import translations
from core.languages import LANGUAGES
from core.settings import ROOT
from core.storage import models as m
from core.textmatch import norm
from tests.bot.conftest import Harness
from tests.fakes.botapi import FakeUser, SentMessage

CASES = [(lang.code, easy) for lang in LANGUAGES for easy in (False, True)]


async def step(user: FakeUser, text: str, most: int = 3) -> list[SentMessage]:
    """Send one message; the bot answers with at most ``most`` messages in a row (T11)."""
    await user.send(text)
    first = await user.replies(1, timeout=15)
    replies = first + await user.settle(quiet=0.3, timeout=15)
    assert len(replies) <= most, [r.summary() for r in replies]
    return replies


def english(language: str, text: str) -> bool:
    """Whether ``text`` is an English source string that should have been translated."""
    if language == "en":
        return False
    t = translations(ROOT / "locales", language).gettext
    return any(t(msgid) != msgid and msgid in text for msgid in ENGLISH_PROBES)


ENGLISH_PROBES = ["Who is answering?", "What do you want to tell us about?", "How is it going?",
                  "Please check your answers.", "Thank you for your feedback.", "Send my answers"]


async def test_every_language_and_track_end_to_end(harness: Harness) -> None:
    users = {case: harness.fake.user(6000 + n, language_code=case[0]) for n, case in enumerate(CASES)}

    async def run(language: str, easy: bool, user: FakeUser) -> None:
        label = next(lang.label for lang in LANGUAGES if lang.code == language)
        seen = await step(user, "/start")
        assert norm(seen[-1].buttons[0]) == norm(label)  # Telegram's language comes first, to confirm
        seen += await step(user, seen[-1].buttons[0])
        keyboard = user.last_keyboard()
        # settings: Simpler words (Easy Read) or None of these, then Done (by the label shown)
        seen += await step(user, keyboard[0] if easy else keyboard[-3])
        seen += await step(user, keyboard[-2])
        most = 2 if easy else 3  # T11: at most 3 bot messages in a row, 2 on the Easy Read track
        for text in ["1", "1", "1", "1", "1"]:  # young person, under 13, with an adult, about, privacy
            seen += await step(user, text, most)
        seen += await step(user, "1", most)  # yes to keeping answers
        seen += await step(user, "2", most)  # no messages from us
        seen += await step(user, "1", most)  # school or college
        seen += await step(user, "1", most)  # going well
        seen += await step(user, f"words in {language}", most)
        seen += await step(user, "/skip", most)
        seen += await step(user, user.last_keyboard()[0], most)  # Send my answers, in the language
        texts = [msg.content or "" for msg in seen]
        assert not [t for t in texts if english(language, t)], texts
        if language in ("ar", "ur"):
            assert any(FSI in t for t in texts)  # numbers and Latin words isolated
        assert "/start" in texts[-1]

    await asyncio.gather(*(run(lang, easy, user) for (lang, easy), user in users.items()))
    feedback = await m.Response.filter(conversation_id="feedback", status="submitted") \
        .prefetch_related("respondent")
    assert sorted((r.language, "easy" in r.respondent.settings) for r in feedback) == sorted(CASES)
    for response in feedback:
        texts = await m.Answer.filter(response_id=response.id, step_id="tell-good").values_list("text",
                                                                                                  flat=True)
        assert texts == [f"words in {response.language}"]
