"""SECURITY.md R3: webhook mode, ``kill -9`` just before the 200 and just after it.

The real ``voices serve`` runs with VOICES_UPDATE_SOURCE=webhook; the fake Bot API delivers to it
as Telegram does (again and again until a 2xx). PostgreSQL locks taken by the test stop the bot at
the exact point: before the update is stored (a lock on the inbox table), or after it is stored and
acknowledged but before the answer is (a lock on the person's session row).
"""

from __future__ import annotations

import asyncio
from argparse import Namespace
from pathlib import Path

import asyncpg
import pytest

from core.settings import Secret, Settings
from tests.bot.processes import BotProcess, bot_process, free_port, pg_connect, wait_until
from tests.conftest import pg_database
from tests.fakes.botapi import FakeBotAPI, FakeUser
from voices import webhook_cli

pytestmark = pytest.mark.slow
SECRET = "crash-webhook-secret-" + "x7" * 20


async def replied(user: FakeUser, ending: str, bot: BotProcess, timeout: float = 30.0) -> None:
    await wait_until(lambda: any(s.text.endswith(ending) for s in user.unread()), timeout,
                     f"a reply ending {ending!r}", bot)
    await user.settle(quiet=0.3)


async def lock_waits(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"))


async def wait_for_lock_wait(conn: asyncpg.Connection, bot: BotProcess) -> None:
    for _ in range(400):
        if await lock_waits(conn):
            return
        assert bot.running, bot.log_tail()
        await asyncio.sleep(0.05)
    raise AssertionError("the bot never waited for the test's lock\n" + bot.log_tail())


async def test_r3_kill_just_before_and_just_after_the_200(fake: FakeBotAPI, tmp_path: Path) -> None:
    async with pg_database() as url, bot_process(fake, url, tmp_path / "bot") as bot:
        port = free_port()
        address = f"http://127.0.0.1:{port}"
        bot.extra_env = {"VOICES_UPDATE_SOURCE": "webhook", "VOICES_WEBHOOK_URL": address,
                         "VOICES_WEBHOOK_SECRET": SECRET, "VOICES_PORT": str(port)}
        await bot.start(poll=False)
        deploy = Settings(telegram_token=Secret(fake.token), telegram_base_url=fake.base_url,
                          update_source="webhook", webhook_url=address, webhook_secret=Secret(SECRET))
        assert await webhook_cli.run(deploy, Namespace(action="set")) == 0
        user = fake.user(9101)
        await user.send("/start")
        await replied(user, "Which language do you want to use?", bot)
        conn = await pg_connect(url)
        try:
            await _killed_before_the_200(fake, user, bot, conn)
            await _killed_after_the_200(fake, user, bot, conn)
        finally:
            await conn.close()


async def _killed_before_the_200(fake: FakeBotAPI, user: FakeUser, bot: BotProcess,
                                 conn: asyncpg.Connection) -> None:
    """Not stored, so not acknowledged: Telegram sends it again, and it is answered once."""
    blocker = conn.transaction()
    await blocker.start()
    await conn.execute("LOCK TABLE inbox_update IN EXCLUSIVE MODE")
    update = await user.send("English")
    await wait_for_lock_wait(conn, bot)
    await bot.kill()
    await blocker.rollback()
    uid = update["update_id"]
    assert (uid, 200) not in fake.webhook_deliveries
    assert await conn.fetchval("SELECT count(*) FROM inbox_update WHERE update_id = $1", uid) == 0
    await bot.start(poll=False)
    await replied(user, "What would help you?", bot)
    assert (uid, 200) in fake.webhook_deliveries
    assert sum(s.text.endswith("What would help you?") for s in user.sent) == 1
    assert await conn.fetchval("SELECT count(*) FROM inbox_update WHERE update_id = $1 "
                               "AND processed_at IS NOT NULL", uid) == 1


async def _killed_after_the_200(fake: FakeBotAPI, user: FakeUser, bot: BotProcess,
                                conn: asyncpg.Connection) -> None:
    """Stored and acknowledged, not yet answered: Telegram will not send it again, and the stored
    update is processed when the bot starts again."""
    blocker = conn.transaction()
    await blocker.start()
    await conn.execute("SELECT 1 FROM session FOR UPDATE")
    answered = len(user.sent)
    update = await user.send("None of these")
    uid = update["update_id"]
    await wait_until(lambda: (uid, 200) in fake.webhook_deliveries, 10, "the 200", bot)
    await wait_for_lock_wait(conn, bot)
    await bot.kill()
    await blocker.rollback()
    assert fake.pending_updates == []  # Telegram is done with it
    assert await conn.fetchval("SELECT count(*) FROM inbox_update WHERE update_id = $1 "
                               "AND processed_at IS NULL", uid) == 1
    assert len(user.sent) == answered
    await bot.start(poll=False)
    await wait_until(lambda: len(user.sent) > answered, 30, "the answer after the restart", bot)
    await user.settle(quiet=0.5)
    assert await conn.fetchval("SELECT count(*) FROM inbox_update WHERE update_id = $1 "
                               "AND processed_at IS NOT NULL", uid) == 1
    assert [d for d in fake.webhook_deliveries if d[0] == uid] == [(uid, 200)]  # delivered once
    assert len(user.sent) == answered + 1  # answered once
