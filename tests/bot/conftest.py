"""A running Telegram channel (the real python-telegram-bot request path over loopback HTTP)
against the fake Bot API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.pictures import OPENMOJI_DIR, Pictures
from bot.ratelimit import RateLimiter
from bot.runner import TelegramChannel
from bot.speech import Speech
from core.loader import load_conversations
from core.risk import Lexicon, load_lexicon
from core.service import Voices
from core.settings import ROOT, Secret, Settings
from tests.fakes.botapi import FakeBotAPI, FakeUser, SentMessage
from voices.logs import setup_logging


@dataclass
class Harness:
    fake: FakeBotAPI
    channel: TelegramChannel
    service: Voices
    settings: Settings


def make_settings(db_url: str, fake: FakeBotAPI) -> Settings:
    return Settings(
        database_url=db_url,
        telegram_token=Secret(fake.token),
        telegram_base_url=fake.base_url,
        secret_key=Secret("test-secret-key"),
        conversations_dir=ROOT / "conversations",
        help_phone="0116 000 0000",
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@functools.cache
def lexicon() -> Lexicon:
    return load_lexicon(ROOT / "safeguarding" / "lexicon")


@pytest.fixture
async def harness(db: str, fake: FakeBotAPI, tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(db, fake)
    service = Voices(settings, load_conversations(settings.conversations_dir), risks=lexicon())
    speech = Speech(tmp_path / "speech", tmp_path / "recordings")
    pictures = Pictures(OPENMOJI_DIR, tmp_path / "pictures")
    # Many scripted users at once, with no flood control at the fake: Telegram's 30 messages/s are
    # kept (and tested) in test_broadcast.py and test_ratelimit.py, not here.
    unlimited = RateLimiter(overall_rate=10_000, broadcast_rate=10_000, chat_gap=0)
    channel = TelegramChannel(settings, service, poll_timeout=1, speech=speech, pictures=pictures,
                              limiter=unlimited)
    await channel.start()
    try:
        yield Harness(fake, channel, service, settings)
    finally:
        await channel.stop()


@pytest.fixture
def everything_logged() -> Iterator[io.StringIO]:
    """Logging set up as ``voices serve`` does, at DEBUG, into a string (SECURITY.md T3, T7)."""
    setup_logging("DEBUG")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    for existing in root.handlers:  # the same filters as the real handler
        for f in existing.filters:
            handler.addFilter(f)
    root.addHandler(handler)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)


async def say(user: FakeUser, text: str, quiet: float = 0.15, timeout: float = 5.0) -> list[SentMessage]:
    """Send a message (or tap a reply button) and return every reply it got."""
    await user.send(text)
    first = await user.replies(1, timeout=timeout)
    return first + await user.settle(quiet=quiet)


WELCOME_TO_FEEDBACK = ["/start", "English", "None of these", "Done", "1", "3", "Next", "Next", "1", "2"]
