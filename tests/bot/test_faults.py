"""Faults from SECURITY.md's test list, against a running channel and the fake Bot API.

T7  a handler raises while processing a child's message
R7  sendMessage times out, but Telegram delivered it
R8  Telegram cannot be reached for a while (scaled down from 10 minutes to seconds)
R10 the database cannot be used for a while (a locked SQLite file; PostgreSQL refusing connections)
R12 the database's disk is full (SQLite's own "database or disk is full", via max_page_count)
R14 PostgreSQL restarts in the middle of a turn's transaction

Each fault lands between two answers: the reply to the first is held at the fake, the second is
sent and stored in the inbox, then the fault starts and the hold is released, so the second answer
meets the fault. Afterwards every answer is stored exactly once and the person is at the next question.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.ratelimit import RateLimiter
from bot.runner import TelegramChannel
from core.loader import load_conversations
from core.service import Voices
from core.settings import Settings
from core.storage import models as m
from core.storage.db import connection
from tests.bot.conftest import lexicon, make_settings, say
from tests.bot.test_bad_input import at_text_question
from tests.conftest import opened_db, pg_database
from tests.fakes.botapi import FakeBotAPI, FakeUser, SentMessage
from tests.fakes.tcpproxy import TcpProxy

WAIT_TEXT = "Sorry, I am slow just now. I have your message."
ERROR_TEXT = "Sorry, something went wrong. Your answers are safe."
AT_CHECK = "Send my answers"  # a button of the step after the last text question


@contextlib.asynccontextmanager
async def running(settings: Settings, **options: Any) -> AsyncIterator[TelegramChannel]:
    service = Voices(settings, load_conversations(settings.conversations_dir), risks=lexicon())
    unlimited = RateLimiter(overall_rate=10_000, broadcast_rate=10_000, chat_gap=0)
    channel = TelegramChannel(settings, service, poll_timeout=1, limiter=unlimited, **options)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


async def fault_between_answers(fake: FakeBotAPI, user: FakeUser, fault: Callable[[], Awaitable[None]],
                                second: str = "second answer") -> None:
    """Answer the last two text questions, with ``fault`` starting after the second is in the inbox."""
    await at_text_question(user)
    hold = fake.hold("sendMessage")  # the first message of the reply to the first answer
    await user.send("first answer")
    await hold.wait()
    await user.send(second)
    await fake.wait_confirmed()  # stored in the bot's inbox, waiting behind the first
    await fault()
    hold.release()


async def answers_once(fake: FakeBotAPI, user: FakeUser, timeout: float = 30.0,
                       second: str = "second answer") -> list[SentMessage]:
    """Wait for the step after the second answer; check both answers are stored exactly once."""
    await fake.wait_for(lambda: any(AT_CHECK in s.buttons for s in user.sent), timeout, "the check step")
    await user.settle(quiet=0.3)
    texts = [a.text for a in await m.Answer.filter(step_id__in=["tell-bad", "more"]).order_by("id")]
    assert texts == ["first answer", second]
    replies = [s.text for s in user.sent]
    assert not any(ERROR_TEXT in r for r in replies)
    assert sum(WAIT_TEXT in r for r in replies) <= 1
    assert sum("Question 4 of 4" in r for r in replies) == 1  # the question after the first answer, once
    return user.sent


# ---- T7 ---------------------------------------------------------------------------------------


async def test_t7_a_handler_that_raises(fake: FakeBotAPI, db_url: str,
                                        everything_logged: io.StringIO) -> None:
    """A kind message; the log (everything at DEBUG) has the update id and the error's type only."""
    canary = "my secret canary words 7731"
    async with opened_db(db_url) as url, \
            running(make_settings(url, fake)) as channel:
        user = fake.user(7001, first_name="Zebedee")
        await at_text_question(user)
        real = channel.service.handle

        async def broken(incoming: Any) -> Any:
            if getattr(incoming.event, "text", None) == canary:
                raise RuntimeError(f"failed on {canary}")
            return await real(incoming)

        channel.service.handle = broken  # type: ignore[method-assign]
        update = await user.send(canary)
        replies = await user.replies(1)
        assert replies[-1].text.startswith(ERROR_TEXT)
        failed = await m.InboxUpdate.get(update_id=update["update_id"])
        assert (failed.attempts, failed.error) == (1, "RuntimeError")
        logged = everything_logged.getvalue()
        assert f"update {update['update_id']} failed: RuntimeError" in logged
        assert canary not in logged and "Zebedee" not in logged and "canary" not in logged
        channel.service.handle = real  # type: ignore[method-assign]
        replies = await say(user, "after the error")  # the conversation goes on
        assert "Question 4 of 4" in replies[-1].text
        assert await m.Answer.filter(text=canary).count() == 0


# ---- R7 ---------------------------------------------------------------------------------------


async def test_r7_a_send_that_times_out_but_was_delivered(fake: FakeBotAPI, db_url: str) -> None:
    """At most one duplicate question; never a duplicate answer."""
    async with opened_db(db_url) as url, \
            running(make_settings(url, fake), send_timeout=1.0):
        user = fake.user(7002)
        await at_text_question(user)
        hold = fake.hold("sendMessage")  # delivered, but the bot hears nothing back
        await user.send("first answer")
        await hold.wait()
        await fake.wait_for(lambda: sum("Question 4 of 4" in s.text for s in user.sent) == 2, 10,
                            "the question sent again after the time-out")
        hold.release()
        await user.settle(quiet=0.5)
        assert sum("Question 4 of 4" in s.text for s in user.sent) == 2  # one duplicate, no more
        await user.send("second answer")
        await fake.wait_for(lambda: any(AT_CHECK in s.buttons for s in user.sent), 10, "the check step")
        texts = [a.text for a in await m.Answer.filter(step_id__in=["tell-bad", "more"]).order_by("id")]
        assert texts == ["first answer", "second answer"]


# ---- R8 ---------------------------------------------------------------------------------------


async def test_r8_telegram_unreachable_then_back(fake: FakeBotAPI, db_url: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """Polling resumes by itself; the watchdog alerts and restarts polling; nothing is lost."""
    async with TcpProxy.in_front_of(fake.base_url) as proxy, opened_db(db_url) as url:
        settings = replace(make_settings(url, fake), telegram_base_url=proxy.through(fake.base_url),
                           poll_watchdog=2.0)
        async with running(settings) as channel:
            user = fake.user(7003)
            replies = await say(user, "/start")
            assert replies[-1].text == "Which language do you want to use?"
            with caplog.at_level(logging.WARNING, logger="voices.bot"):
                proxy.hang()  # packets dropped: the long poll neither answers nor fails
                await user.send("English")
                await fake.wait_for(lambda: channel.watchdog.restarts >= 2, 15, "the watchdog to restart")
                assert channel.watchdog.status()["polling"] == "failing"
                assert "ALERT: no successful getUpdates" in caplog.text
                assert caplog.text.count("ALERT") == 1  # one alert per outage, not one per restart
                await proxy.restore()
                replies = await user.replies(1, timeout=20)
                assert replies[-1].text.endswith("What would help you?")
                await fake.wait_for(lambda: not channel.watchdog.failing, 10, "polling to be healthy")
                assert "polling Telegram works again" in caplog.text
                assert channel.watchdog.status() == {"polling": "ok"}

                await proxy.cut()  # now refused outright, as when the address is blocked
                await user.send("None of these")
                await asyncio.sleep(2.5)
                await proxy.restore()
                replies = await user.replies(1, timeout=20)
                assert "Which of these" in replies[-1].text or replies[-1].buttons
            assert fake.pending_updates == []
            assert await m.InboxUpdate.filter(processed_at=None).count() == 0


async def test_r8_a_reply_lost_to_an_outage_is_sent_again(fake: FakeBotAPI, db_url: str) -> None:
    """The answer is stored, but Telegram cannot take the next question: it comes once Telegram
    can, without the person having to write again (and a refused message is not retried)."""
    async with opened_db(db_url) as url, running(make_settings(url, fake)):
        user = fake.user(7008)
        await at_text_question(user)
        fake.fail_next("sendMessage", status=502, count=2)  # Bad Gateway, twice: the bot gives up
        await user.send("first answer")
        await fake.wait_for(lambda: any("Question 4 of 4" in s.text for s in user.sent), 15,
                            "the next question, sent again")
        await user.settle(quiet=0.5)
        assert sum("Question 4 of 4" in s.text for s in user.sent) == 1
        assert await m.Answer.filter(step_id="tell-bad", text="first answer").count() == 1
        fake.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
        await user.send("second answer")
        await asyncio.sleep(7)  # longer than the resend loop's 5 s: nothing is sent again
        assert not any(AT_CHECK in s.buttons for s in user.sent)
        assert await m.Answer.filter(step_id="more", text="second answer").count() == 1


# ---- R10 --------------------------------------------------------------------------------------


async def test_r10_sqlite_locked_by_a_long_transaction(fake: FakeBotAPI, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "voices.db"
    locker = sqlite3.connect(path, isolation_level=None, timeout=0)

    async def lock() -> None:
        locker.execute("BEGIN EXCLUSIVE")

    async with opened_db(f"sqlite://{path}") as url, running(make_settings(url, fake)):
        user = fake.user(7004)
        with caplog.at_level(logging.WARNING):
            await fault_between_answers(fake, user, lock)
            await fake.wait_for(lambda: any(WAIT_TEXT in s.text for s in user.sent), 20, "the wait message")
            assert "the database cannot be used just now (OperationalError)" in caplog.text
            await asyncio.sleep(1)
            locker.execute("ROLLBACK")
            await answers_once(fake, user)
        assert "second answer" not in caplog.text
    locker.close()


async def test_r10_postgres_refusing_connections(fake: FakeBotAPI) -> None:
    async with pg_database() as direct, TcpProxy.in_front_of(direct, 5432) as proxy, \
            opened_db(proxy.through(direct)) as url, running(make_settings(url, fake)):
        user = fake.user(7005)
        await fault_between_answers(fake, user, proxy.cut)
        await fake.wait_for(lambda: any(WAIT_TEXT in s.text for s in user.sent), 20, "the wait message")
        await asyncio.sleep(3)  # down for a while (60 s in the list; seconds here)
        await proxy.restore()
        await answers_once(fake, user, timeout=45)


# ---- R12 --------------------------------------------------------------------------------------


async def test_r12_sqlite_disk_full(fake: FakeBotAPI, tmp_path: Path) -> None:
    """Writes fail cleanly; nothing is confirmed or lost; once there is room again, all goes on."""
    long_answer = "A long answer that needs new pages. " * 100

    async def fill() -> None:
        # SQLite's own "database or disk is full" (SQLITE_FULL), as from a full volume: no free
        # pages left inside the file, and no new page may be added to it.
        await connection().execute_script("VACUUM; PRAGMA max_page_count = 1;")

    async with opened_db(f"sqlite://{tmp_path / 'voices.db'}") as url, running(make_settings(url, fake)):
        user = fake.user(7006)
        await fault_between_answers(fake, user, fill, second=long_answer)
        await fake.wait_for(lambda: any(WAIT_TEXT in s.text for s in user.sent), 20, "the wait message")
        await user.send("a third message while full")  # cannot even be stored: stays with Telegram
        await asyncio.sleep(2)
        assert fake.pending_updates, "a message was confirmed to Telegram without being stored"
        assert await m.Answer.filter(step_id="more").count() == 0
        await connection().execute_script("PRAGMA max_page_count = 1073741823")  # space freed
        await answers_once(fake, user, second=long_answer)
        await fake.wait_confirmed(timeout=20)


# ---- R14 --------------------------------------------------------------------------------------


async def test_r14_postgres_restart_mid_transaction(fake: FakeBotAPI) -> None:
    """The turn is rolled back whole (answer and state), then done once when the server is back."""
    async with pg_database() as direct, TcpProxy.in_front_of(direct, 5432) as proxy, \
            opened_db(proxy.through(direct)) as url, running(make_settings(url, fake)):
        user = fake.user(7007)
        test_conn = await asyncpg.connect(direct.replace("postgres://", "postgresql://", 1))
        try:
            blocker = test_conn.transaction()

            async def block_the_turn() -> None:
                # The turn locks the person, inserts the answer, then updates the session row,
                # which this transaction holds: the turn waits there, with its answer written.
                await blocker.start()
                await test_conn.execute("SELECT 1 FROM session FOR UPDATE")

            await fault_between_answers(fake, user, block_the_turn)
            await _wait_for_lock_wait(test_conn)
            assert await test_conn.fetchval("SELECT count(*) FROM answer WHERE step_id = 'more'") == 0
            await proxy.cut()  # the server goes away in the middle of the transaction
            await asyncio.sleep(2)
            await blocker.rollback()
            assert await test_conn.fetchval("SELECT count(*) FROM answer WHERE step_id = 'more'") == 0
            await proxy.restore()
            await answers_once(fake, user, timeout=45)
        finally:
            await test_conn.close()


async def _wait_for_lock_wait(conn: asyncpg.Connection, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
           "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
    while not await conn.fetchval(sql):
        assert loop.time() < deadline, "the bot's turn never waited for the session row"
        await asyncio.sleep(0.05)
