"""A bot that cannot reach Telegram fails /healthz and shows a banner (SECURITY.md R8)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient, TestServer

from admin.app import BOT_RUNNING, POLL_WATCHDOG, make_app
from admin.keys import AdminConfig
from core.pollwatch import PollWatchdog
from core.settings import Settings
from tests.admin.conftest import Admin, Clock, make_user, sign_in
from tests.core.test_pollwatch import Clock as Monotonic


@dataclass
class Watched:
    admin: Admin
    clock: Monotonic
    dog: PollWatchdog


@pytest.fixture
async def watched(db: str) -> AsyncIterator[Watched]:
    settings = Settings(database_url=db)
    app = make_app(settings, AdminConfig(clock=Clock()))
    monotonic = Monotonic()
    app[POLL_WATCHDOG] = dog = PollWatchdog(90, monotonic)
    app[BOT_RUNNING] = True
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Watched(Admin(client, Clock()), monotonic, dog)
    finally:
        await client.close()


def banner(page: str) -> str | None:
    found = re.search(r'<div class="govuk-notification-banner"[^>]*id="telegram-banner">(.*?)</div>\s*</div>',
                      page, re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split()) if found else None


async def test_healthz_fails_while_telegram_cannot_be_reached(watched: Watched) -> None:
    client = watched.admin.client
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["telegram"] == {"polling": "ok"}
    watched.clock.now += 91
    assert watched.dog.overdue()
    response = await client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "failing" and body["telegram"] == {"polling": "failing", "seconds_without": 91}
    watched.dog.heard()
    response = await client.get("/healthz")
    assert response.status == 200 and (await response.json())["status"] == "ok"


async def test_banner_for_signed_in_users_only_while_it_lasts(watched: Watched) -> None:
    response = await watched.admin.client.get("/sign-in")
    watched.clock.now += 200
    watched.dog.overdue()
    assert banner(await response.text()) is None
    await sign_in(watched.admin, await make_user("officer@example.org", "officer"))
    page = await (await watched.admin.client.get("/")).text()
    assert banner(page) == ("Telegram The bot has not reached Telegram for 4 minutes. Messages people send "
                            "are kept by Telegram for 24 hours and will be answered when it works again. "
                            "Tell whoever runs the server.")
    watched.dog.heard()
    page = await (await watched.admin.client.get("/")).text()
    assert banner(page) is None


async def test_no_telegram_figures_when_the_bot_is_off(db: str) -> None:
    app = make_app(Settings(database_url=db), AdminConfig(clock=Clock()))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        response = await client.get("/healthz")
        assert response.status == 200
        assert "telegram" not in await response.json()
    finally:
        await client.close()
