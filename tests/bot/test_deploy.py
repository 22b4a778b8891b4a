"""SECURITY.md R15: a graceful deploy (SIGTERM) with 50 conversations in flight.

The real ``voices serve`` runs against the fake Bot API. Fifty people send an answer at the same
moment and the bot is told to stop; it is then started again, as a deploy does. Every answer
must be stored exactly once, everyone must get their next question, and the bot must be back
within 30 seconds.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from tests.bot.conftest import WELCOME_TO_FEEDBACK
from tests.bot.processes import bot_process, db_scalar, wait_until
from tests.fakes.botapi import FakeBotAPI, FakeUser

pytestmark = pytest.mark.slow
PEOPLE = 50
TO_TEXT_QUESTION = [*WELCOME_TO_FEEDBACK, "School or college", "Not going well"]
NEXT = "Question 4 of 4"


async def say(user: FakeUser, text: str) -> None:
    seen = len(user.sent)
    await user.send(text)
    await user.fake.wait_for(lambda: len(user.sent) > seen, 30, f"a reply to {text!r}")
    await user.settle(quiet=0.3, timeout=30)


async def to_the_text_question(user: FakeUser) -> None:
    for text in TO_TEXT_QUESTION:
        await say(user, text)


async def test_r15_sigterm_with_50_conversations_in_flight(fake: FakeBotAPI, db_url: str,
                                                            tmp_path: Path) -> None:
    async with bot_process(fake, db_url, tmp_path / "bot") as bot:
        await bot.start()
        people = [fake.user(6000 + n) for n in range(PEOPLE)]
        await asyncio.gather(*(to_the_text_question(p) for p in people))
        for person in people:
            await person.send(f"the answer of {person.id}")
        assert bot.proc is not None
        bot.proc.send_signal(signal.SIGTERM)  # the deploy: some answers are being handled right now
        stopping = time.monotonic()
        assert await bot.stop() == 0, bot.log_tail()
        await bot.start()
        down = time.monotonic() - stopping
        assert down < 30, f"the bot was down for {down:.1f} s"
        await wait_until(lambda: all(any(NEXT in s.text for s in p.sent) for p in people), 60,
                         "everyone's next question", bot)
        for person in people:
            await person.settle(quiet=0.3)
            assert sum(NEXT in s.text for s in person.sent) <= 2, person.id  # at worst sent once more
        stored = await db_scalar(bot.database_url, "SELECT COUNT(*) FROM answer WHERE step_id = 'tell-bad'")
        distinct = await db_scalar(bot.database_url,
                                   "SELECT COUNT(DISTINCT text) FROM answer WHERE step_id = 'tell-bad'")
        assert (stored, distinct) == (PEOPLE, PEOPLE)
        sql = "SELECT COUNT(*) FROM inbox_update WHERE processed_at IS NULL"
        assert await db_scalar(bot.database_url, sql) == 0
