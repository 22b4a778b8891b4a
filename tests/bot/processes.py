"""The real bot (``python -m voices.cli serve``) as a child process talking to an in-process FakeBotAPI.

The fake runs in the test's event loop, so everything here waits with asyncio (never blocks), and
every wait is bounded. Each start writes its own log file (``bot-N.log`` in the work directory),
whose tail is quoted when something goes wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiosqlite
import asyncpg

from tests.fakes.botapi import FakeBotAPI

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 45.0  # the first start after a cold disk cache imports slowly
STOP_TIMEOUT = 20.0
SECRET_KEY = "crash-test-secret-key"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until(predicate: Callable[[], object], timeout: float, what: str,
                     bot: BotProcess | None = None, interval: float = 0.005) -> None:
    """Poll ``predicate`` (letting the fake serve meanwhile); fail after ``timeout`` or if ``bot`` dies."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if bot is not None and not bot.running:
            raise AssertionError(
                f"the bot exited ({bot.returncode}) while waiting for {what}\n{bot.log_tail()}")
        if loop.time() >= deadline:
            tail = "\n" + bot.log_tail() if bot is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{tail}")
        await asyncio.sleep(interval)


async def pg_connect(database_url: str) -> asyncpg.Connection:
    parts = urlsplit(database_url)
    return await asyncpg.connect(urlunsplit(("postgresql", parts.netloc, parts.path, "", "")), timeout=5)


async def db_scalar(database_url: str, sql: str) -> Any:
    """One value from the bot's database, on a connection of our own (the bot may be running)."""
    if database_url.startswith("sqlite://"):
        path = Path(database_url[len("sqlite://"):]).absolute()
        async with aiosqlite.connect(path.as_uri() + "?mode=ro", uri=True) as db:
            rows = list(await db.execute_fetchall(sql))
            return rows[0][0]
    conn = await pg_connect(database_url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


class BotProcess:
    """One bot deployment (a database, a work directory) that can be started, killed and restarted."""

    def __init__(self, fake: FakeBotAPI, database_url: str, workdir: Path) -> None:
        self.fake = fake
        self.database_url = database_url
        self.workdir = workdir
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.extra_env: dict[str, str] = {}  # more settings, e.g. for webhook mode

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("VOICES_", "TELEGRAM_")) and k != "DATABASE_URL"}
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        return {
            **keep,
            "PYTHONPATH": path,
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": self.database_url,
            "TELEGRAM_BOT_TOKEN": self.fake.token,
            "TELEGRAM_API_BASE_URL": self.fake.base_url,
            "VOICES_PORT": str(free_port()),
            "VOICES_SECRET_KEY": SECRET_KEY,
            "VOICES_LOG_LEVEL": "WARNING",
            **self.extra_env,
        }

    def log_path(self, start: int) -> Path:
        return self.workdir / f"bot-{start}.log"

    def logs(self) -> str:
        """The output of every start so far."""
        parts = []
        for n in range(1, self.starts + 1):
            path = self.log_path(n)
            text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
            parts.append(f"--- start {n} ---\n{text}")
        return "\n".join(parts)

    def log_tail(self, chars: int = 3000) -> str:
        return "bot output:\n" + self.logs()[-chars:]

    async def start(self, timeout: float = START_TIMEOUT, poll: bool = True) -> None:
        """Start ``voices serve`` and wait until its first long poll is waiting at the fake.

        ``poll=False``: do not wait for that (a second process on the same database does not poll).
        """
        assert not self.running, "the bot is already running"
        # A killed bot's long poll can linger in the fake for a moment: let it go first.
        if poll:
            await wait_until(lambda: not self.fake.polling, 5.0, "the previous bot's poll to end")
        self.starts += 1
        before = self.fake.request_counts.get("getUpdates", 0)
        with self.log_path(self.starts).open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "voices.cli", "serve", cwd=self.workdir, env=self.env(),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT)
        if not poll:
            return
        await wait_until(lambda: self.fake.polling and self.fake.request_counts.get("getUpdates", 0) > before,
                         timeout, "the bot to start polling", self)

    async def undelivered(self) -> int:
        """Sessions whose last messages the bot has not (yet) recorded as sent."""
        sql = 'SELECT COUNT(*) FROM "session" WHERE "delivered_version" < "version"'
        return int(await db_scalar(self.database_url, sql))

    async def wait_delivered(self, timeout: float = 10.0) -> None:
        """Wait until the bot has recorded that every session's last messages were sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := await self.undelivered()) != 0:
            if loop.time() >= deadline:
                raise AssertionError(
                    f"{left} session(s) still undelivered after {timeout}s\n{self.log_tail()}")
            await asyncio.sleep(0.01)

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a power cut or an OOM kill."""
        if self.running:
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)

    async def stop(self) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code (killed if it does not exit)."""
        assert self.proc is not None
        if self.running:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            await self.kill()
            raise AssertionError(
                f"the bot did not stop within {STOP_TIMEOUT}s of SIGTERM\n{self.log_tail()}") from None


@contextlib.asynccontextmanager
async def bot_process(fake: FakeBotAPI, database_url: str, workdir: Path) -> AsyncIterator[BotProcess]:
    """A :class:`BotProcess` (not started yet) that is always killed on the way out."""
    workdir.mkdir(parents=True, exist_ok=True)
    bot = BotProcess(fake, database_url, workdir)
    try:
        yield bot
    finally:
        with contextlib.suppress(Exception):
            await bot.kill()
