"""One leader per database: only the process holding the lock polls Telegram and sends campaigns.

Two ``voices serve`` processes on the same bot token (a deploy overlap, a second copy started by
mistake) would each call ``getUpdates`` and get ``409 Conflict`` in turn, and would each send
broadcasts, doubling the rate Telegram sees (SECURITY.md T5, SCALE.md 4.3). With this lock the
second process serves the admin and waits; it takes over within seconds of the first one stopping,
including after ``kill -9``, because both kinds of lock die with their holder:

* PostgreSQL: a session-level ``pg_try_advisory_lock`` on a connection of its own;
* SQLite (one machine): an exclusive ``flock`` on a file beside the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from pathlib import Path
from typing import IO, Any

import asyncpg
from tortoise.backends.base.config_generator import expand_db_url

from core.storage.db import POSTGRES_ENGINES, SQLITE_ENGINE, _asyncpg_args, _is_memory


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(f"voices:{name}".encode()).digest()[:8], "big", signed=True)


class LeaderLock:
    """``await lock.acquire()`` once, or ``await lock.wait(stopping)`` until it is ours."""

    def __init__(self, database_url: str, name: str = "telegram") -> None:
        self.name = name
        self._connection: dict[str, Any] = expand_db_url(database_url)
        self._pg: asyncpg.Connection | None = None
        self._file: IO[bytes] | None = None
        self.held = False

    async def acquire(self) -> bool:
        """Take the lock if nobody holds it; True if this process now leads."""
        if self.held:
            return True
        engine = self._connection["engine"]
        if engine in POSTGRES_ENGINES:
            self.held = await self._acquire_postgres()
        elif engine == SQLITE_ENGINE:
            self.held = self._acquire_file()
        else:
            self.held = True
        return self.held

    async def wait(self, stopping: asyncio.Event, every: float = 5.0) -> bool:
        """Try until the lock is ours (True) or ``stopping`` is set (False)."""
        while not stopping.is_set():
            if await self.acquire():
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=every)
        return False

    async def release(self) -> None:
        self.held = False
        if self._pg is not None:
            pg, self._pg = self._pg, None
            with contextlib.suppress(Exception):
                await pg.close()  # a session-level advisory lock ends with its session
        if self._file is not None:
            handle, self._file = self._file, None
            handle.close()  # closing the file drops the flock

    async def _acquire_postgres(self) -> bool:
        if self._pg is None:
            self._pg = await asyncpg.connect(**_asyncpg_args(self._connection["credentials"]))
        got = bool(await self._pg.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(self.name)))
        if not got:
            await self.release()
        return got

    def _acquire_file(self) -> bool:
        path = str(self._connection["credentials"].get("file_path", ""))
        if _is_memory(path):
            return True  # an in-memory database belongs to this process alone
        lock_path = Path(f"{path}.{self.name}.lock")
        handle = open(lock_path, "ab")  # noqa: SIM115 (held open for as long as the lock is)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        os.chmod(lock_path, 0o600)
        self._file = handle
        return True
