"""Webhook mode (VOICES_UPDATE_SOURCE=webhook) against the fake Bot API, which delivers to it as
Telegram does: in order, and again after anything but a 2xx.

T1 a request without the right secret; T2/R4 the same update twice; T3 the route's path and the
logs; T6 moving from polling to a webhook and back; R10 a database that cannot take the update.
R3 (``kill -9`` around the 200) is in test_webhook_crash.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import sqlite3
from argparse import Namespace
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from admin.app import make_app
from bot.ratelimit import RateLimiter
from bot.runner import TelegramChannel
from bot.webhook import SECRET_HEADER, WebhookRoute, webhook_path
from core.loader import load_conversations
from core.service import Voices
from core.settings import Secret, Settings
from core.storage import models as m
from core.storage.db import close_db, init_db
from tests.bot.conftest import WELCOME_TO_FEEDBACK, lexicon, make_settings, say
from tests.fakes.botapi import FakeBotAPI
from voices import webhook_cli

SECRET = "webhook-secret-" + "s3cr3t" * 6


@dataclass
class Hooked:
    fake: FakeBotAPI
    settings: Settings
    route: WebhookRoute
    server: TestServer
    channel: TelegramChannel | None = None

    @property
    def url(self) -> str:
        return str(self.server.make_url(self.route.path))

    async def start_channel(self) -> TelegramChannel:
        self.channel = _channel(self.settings)
        await self.channel.start(poll=False)
        self.route.receive = self.channel.receive
        return self.channel

    async def stop_channel(self) -> None:
        self.route.receive = None
        if self.channel is not None:
            await self.channel.stop()
            self.channel = None

    async def set_webhook(self) -> None:
        args = Namespace(action="set")
        assert await webhook_cli.run(self.settings, args) == 0


def _channel(settings: Settings) -> TelegramChannel:
    service = Voices(settings, load_conversations(settings.conversations_dir), risks=lexicon())
    unlimited = RateLimiter(overall_rate=10_000, broadcast_rate=10_000, chat_gap=0)
    return TelegramChannel(settings, service, poll_timeout=1, limiter=unlimited)


@contextlib.asynccontextmanager
async def hooked_app(fake: FakeBotAPI, url: str) -> AsyncIterator[Hooked]:
    """The admin's server with the webhook route on it (as ``voices serve`` mounts it), and a
    channel that takes its updates; the webhook is not yet set at the fake."""
    await init_db(url)
    base = make_settings(url, fake)
    app = make_app(base)
    route = WebhookRoute(Secret(SECRET))
    app.router.add_post(route.path, route.handle)
    server = TestServer(app)
    await server.start_server()
    settings = replace(base, update_source="webhook", webhook_url=str(server.make_url("")).rstrip("/"),
                       webhook_secret=Secret(SECRET))
    hooked = Hooked(fake, settings, route, server)
    try:
        yield hooked
    finally:
        await hooked.stop_channel()
        await server.close()
        await close_db()


@pytest.fixture
async def hooked(fake: FakeBotAPI, db_url: str) -> AsyncIterator[Hooked]:
    """Webhook mode on SQLite and on PostgreSQL, the webhook set."""
    async with hooked_app(fake, db_url) as h:
        await h.start_channel()
        await h.set_webhook()
        yield h


async def post(h: Hooked, body: object, secret: str | None = SECRET, raw: bytes | None = None) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with aiohttp.ClientSession() as session:
        if raw is not None:
            response = await session.post(h.url, data=raw, headers=headers)
        else:
            response = await session.post(h.url, json=body, headers=headers)
        return response.status


async def test_a_conversation_over_the_webhook(hooked: Hooked) -> None:
    user = hooked.fake.user(9001)
    replies = await say(user, "/start")
    assert replies[-1].text == "Which language do you want to use?"
    replies = await say(user, "English")
    assert replies[-1].text.endswith("What would help you?")
    assert {status for _, status in hooked.fake.webhook_deliveries} == {200}
    assert hooked.fake.pending_updates == []
    assert await m.InboxUpdate.filter(processed_at=None).count() == 0
    assert not hooked.fake.polling and hooked.fake.request_counts.get("getUpdates", 0) == 0


# ---- T1 ---------------------------------------------------------------------------------------


async def test_t1_no_secret_or_a_wrong_one_is_refused_and_stores_nothing(
        hooked: Hooked, caplog: pytest.LogCaptureFixture) -> None:
    update = {"update_id": 555, "message": {"message_id": 1, "date": 0, "chat": {"id": 9, "type": "private"},
                                            "from": {"id": 9, "is_bot": False, "first_name": "Probe"},
                                            "text": "/start"}}
    probes = [None, "", "wrong", SECRET[:-1], SECRET + "x", SECRET.upper(), SECRET[:1], "a" * 300]
    with caplog.at_level(logging.DEBUG):
        statuses = [await post(hooked, update, secret) for secret in probes]
    assert statuses == [401] * len(probes)
    assert await m.InboxUpdate.filter(update_id=555).count() == 0
    assert hooked.fake.sent(9) == []
    assert "webhook: refused a request without the right secret" in caplog.text
    assert "wrong" not in caplog.text and SECRET[:20] not in caplog.text and "aaaa" not in caplog.text
    # The same address keeps guessing: 429 for a while. Telegram's own requests (the right secret)
    # still go through: behind a load balancer they may come from the same address.
    statuses = [await post(hooked, update, "guess") for _ in range(4)]
    assert statuses[-2:] == [429, 429]
    assert await m.InboxUpdate.filter(update_id=555).count() == 0
    assert await post(hooked, update) == 200
    assert await m.InboxUpdate.filter(update_id=555).count() == 1


async def test_t1_right_secret_but_not_an_update(hooked: Hooked) -> None:
    assert await post(hooked, None, raw=b"{not json") == 400
    assert await post(hooked, [1, 2, 3]) == 400
    assert await post(hooked, {"update_id": "7"}) == 400
    assert await post(hooked, {"update_id": -1}) == 400
    assert await post(hooked, {"update_id": 7, "message": "x" * 300_000}) == 400  # far bigger than any update
    assert await m.InboxUpdate.all().count() == 0


async def test_an_update_sent_in_pieces_is_read_whole(hooked: Hooked) -> None:
    user = hooked.fake.user(9006)
    await say(user, "/start")
    update = {**user.last_update, "update_id": 20_001}
    update["message"] = {**update["message"], "message_id": 998, "text": "English" + " " * 150_000}
    body = json.dumps(update).encode()

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start:start + 8192]
            await asyncio.sleep(0)

    async with aiohttp.ClientSession() as session:
        response = await session.post(hooked.url, data=pieces(), headers={SECRET_HEADER: SECRET})
        assert response.status == 200
    assert await m.InboxUpdate.filter(update_id=20_001).count() == 1


# ---- T2 / R4 ----------------------------------------------------------------------------------


async def test_t2_the_same_update_twice_one_after_the_other_and_at_once(hooked: Hooked) -> None:
    user = hooked.fake.user(9002)
    await say(user, "/start")
    update = {**user.last_update}
    update["update_id"] = 10_001
    update["message"] = {**update["message"], "message_id": 999, "text": "English"}
    assert await post(hooked, update) == 200
    await user.settle(quiet=0.5)
    assert user.sent[-1].text.endswith("What would help you?")
    before = len(user.sent)
    assert await post(hooked, update) == 200  # hours later, say: acknowledged, no side effect
    await user.settle(quiet=0.5)
    assert len(user.sent) == before
    again = {**update, "update_id": 10_002, "message": {**update["message"], "text": "Done"}}
    statuses = await asyncio.gather(*(post(hooked, again) for _ in range(5)))  # five connections at once
    assert statuses == [200] * 5
    await user.settle(quiet=0.5)
    assert len(user.sent) == before + 1  # one answer, one reply
    assert await m.InboxUpdate.filter(update_id__in=[10_001, 10_002]).count() == 2


# ---- T3 ---------------------------------------------------------------------------------------


async def test_t3_the_path_and_the_logs_hold_no_token_or_secret(
        fake: FakeBotAPI, db_url: str, everything_logged: io.StringIO) -> None:
    path = webhook_path(Secret(SECRET))
    assert fake.token not in path and fake.token.split(":")[1] not in path and SECRET not in path
    assert path != webhook_path(Secret(SECRET + "2")) and len(path.rsplit("/", 1)[1]) == 32
    canary = "canary 8812: nobody listens at school"
    async with hooked_app(fake, db_url) as h:
        await h.start_channel()
        await h.set_webhook()
        user = fake.user(9003, first_name="Quentin-Canary")
        for text in [*WELCOME_TO_FEEDBACK, canary]:
            await say(user, text)
        assert fake.webhook_url.endswith(path)
    logged = everything_logged.getvalue()
    assert logged  # something was logged at DEBUG
    for secret in (fake.token, fake.token.split(":")[1], SECRET, path, canary, "Quentin"):
        assert secret not in logged


# ---- T6 ---------------------------------------------------------------------------------------


async def test_t6_from_polling_to_a_webhook_and_back_drops_nothing(fake: FakeBotAPI, db_url: str) -> None:
    async with hooked_app(fake, db_url) as h:
        user = fake.user(9004)
        polling = _channel(replace(h.settings, update_source="polling"))
        await polling.start()
        await say(user, "/start")
        await polling.stop()  # 1. stop the polling process
        await user.send("English")  # sent in between: Telegram keeps it
        await h.start_channel()  # 2. start the webhook processes
        await h.set_webhook()  # 3. the deploy step
        replies = await user.replies(1, timeout=10)
        assert replies[-1].text.endswith("What would help you?")

        assert await webhook_cli.run(h.settings, Namespace(action="delete")) == 0  # and back
        await user.send("None of these")  # no webhook, no poller yet: kept at Telegram
        await asyncio.sleep(0.5)
        assert len(fake.pending_updates) == 1
        await h.stop_channel()
        polling = _channel(replace(h.settings, update_source="polling"))
        await polling.start()
        try:
            replies = await user.replies(1, timeout=10)
            assert replies[-1].buttons  # the next question, answered by the polling process
            await fake.wait_confirmed()
        finally:
            await polling.stop()
        assert await m.InboxUpdate.all().count() == 3
        assert await m.InboxUpdate.filter(processed_at=None).count() == 0


# ---- R10 --------------------------------------------------------------------------------------


async def test_r10_a_locked_database_means_503_and_telegram_retries(fake: FakeBotAPI, tmp_path: Path) -> None:
    async with hooked_app(fake, f"sqlite://{tmp_path / 'voices.db'}") as hooked:
        await hooked.start_channel()
        await hooked.set_webhook()
        await _locked_then_free(hooked, tmp_path / "voices.db")


async def _locked_then_free(hooked: Hooked, path: Path) -> None:
    user = hooked.fake.user(9005)
    await say(user, "/start")
    locker = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        await user.send("English")
        await hooked.fake.wait_for(lambda: any(s == 503 for _, s in hooked.fake.webhook_deliveries), 20,
                                   "a 503 while the database is locked")
        assert hooked.fake.pending_updates  # not acknowledged, so Telegram still has it
        locker.execute("ROLLBACK")
    finally:
        locker.close()
    replies = await user.replies(1, timeout=20)
    assert replies[-1].text.endswith("What would help you?")
    await user.settle(quiet=0.5)
    assert sum(s.text.endswith("What would help you?") for s in user.sent) == 1
    assert hooked.fake.pending_updates == []
