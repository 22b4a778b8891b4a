"""Typed application keys: everything a view needs is passed in through these, not globals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web

from admin.throttle import Throttle
from core.diskspace import DiskWatch
from core.pollwatch import PollWatchdog
from core.service import Voices
from core.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AdminConfig:
    """How the admin behaves; tests replace the clock and the timeouts."""

    secure_cookies: bool = False  # True when served over HTTPS: `__Host-` cookie with Secure
    idle_timeout: timedelta = timedelta(minutes=30)
    idle_warning: timedelta = timedelta(minutes=25)
    absolute_timeout: timedelta = timedelta(hours=12)
    invite_lifetime: timedelta = timedelta(days=7)
    clock: Callable[[], datetime] = field(default=utc_now)

    @property
    def cookie_name(self) -> str:
        return "__Host-voices-admin" if self.secure_cookies else "voices-admin"


SETTINGS = web.AppKey("settings", Settings)
BOT_RUNNING = web.AppKey("bot_running", bool)
# How full the database's disk is (SECURITY.md R12): measured by the process that runs the jobs.
DISK_WATCH = web.AppKey("disk_watch", DiskWatch)
# When the bot last heard from Telegram (SECURITY.md R8): the bot's poller keeps it.
POLL_WATCHDOG = web.AppKey("poll_watchdog", PollWatchdog)
CONFIG = web.AppKey("admin_config", AdminConfig)
THROTTLE = web.AppKey("admin_throttle", Throttle)
# The service the bot runs: its loaded conversations, and exactly what a campaign sends (previews).
VOICES = web.AppKey("voices", Voices)
