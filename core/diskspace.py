"""Watching how full the database's disk is (SECURITY.md R12: "alert at 80 % full").

:class:`DiskWatch` measures the disk every minute and compares how full it is with
``VOICES_DISK_ALERT_PERCENT`` (default 80). Crossing the line logs one warning, going back under it
one info line; in between, :meth:`DiskWatch.status` gives the admin its banner and ``/healthz`` its
figures. The log lines carry figures only (percent used, bytes free).

*How full* is counted as ``df`` counts it: used / (used + free to this process). On ext4 a few
percent are reserved for root, so the disk that is "100 % full" for Voices may still have space
for root; what matters is when Voices' own writes start to fail.

Which disk:

* SQLite: the folder that holds the database file (the WAL and journal go there too). An
  in-memory database has no disk, so there is nothing to watch.
* PostgreSQL (and any other server database): the database's disk is on the database server, out
  of reach of ``statvfs``; watch it there, with the hosting's monitoring.
  ``pg_database_size()`` says how big the database is, not how full its disk is, so it is no
  substitute. Here Voices watches the local folder that holds ``VOICES_ERASURE_LOG``, the one file
  it must always be able to append to (SECURITY.md R20).

The measurement runs in a worker thread: ``statvfs`` on a hung network mount would otherwise stop
the event loop, and with it the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from tortoise.backends.base.config_generator import expand_db_url

from core.settings import Settings

log = logging.getLogger("voices.diskspace")

INTERVAL = 60.0  # seconds between measurements


class Usage(Protocol):
    """What :func:`shutil.disk_usage` returns (its fields, in bytes)."""

    @property
    def used(self) -> int: ...

    @property
    def free(self) -> int: ...


UsageFunction = Callable[[Path], Usage]


@dataclass(frozen=True)
class DiskStatus:
    """One measurement. ``alert``: at or above the threshold."""

    percent_used: float
    free_bytes: int
    alert: bool
    checked_at: datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a SQLite URL, as SQLite opens it; ``None`` for an in-memory database.

    ``sqlite://voices.db`` is relative to the working directory, ``sqlite:///abs/path.db`` absolute;
    a query string (``?synchronous=FULL``) is not part of the path.
    """
    file_path = str(expand_db_url(database_url)["credentials"].get("file_path", ""))
    if file_path.startswith("file:"):  # an SQLite URI filename
        file_path = file_path.removeprefix("file:").split("?", 1)[0]
    if file_path in ("", ":memory:"):
        return None
    return Path(file_path).absolute()


def watched_folder(settings: Settings) -> Path | None:
    """The folder whose disk :class:`DiskWatch` measures (see the module docstring)."""
    if urlsplit(settings.database_url).scheme == "sqlite":
        found = sqlite_file(settings.database_url)
        return found.parent if found is not None else None
    return settings.erasure_log.absolute().parent


def percent_used(usage: Usage) -> float:
    """How full, as ``df`` reports it; a disk with no room at all counts as full."""
    room = usage.used + usage.free
    return 100.0 * usage.used / room if room > 0 else 100.0


def size(n: int) -> str:
    """Bytes for people: ``1.2 GB``, ``350 MB``, ``12 kB`` (decimal units, as disks are sold)."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}" if n < 10 * scale else f"{n // scale} {unit}"
    return f"{n} bytes"


class DiskWatch:
    """Measures the database's disk every ``interval`` seconds while the server runs.

    ``usage`` (default :func:`shutil.disk_usage`) and ``clock`` are for tests. :meth:`check` takes
    one measurement and can be called on its own. The admin's ``make_app`` puts an unstarted watch
    on the app (making one reads no disk); the process that runs the background jobs starts it, so
    one process measures and logs, however many serve the admin.
    """

    def __init__(self, settings: Settings, *, usage: UsageFunction = shutil.disk_usage,
                 clock: Callable[[], datetime] = utc_now, interval: float = INTERVAL) -> None:
        self.path = watched_folder(settings)
        self.threshold = settings.disk_alert_percent
        self.interval = interval
        self._usage = usage
        self._clock = clock
        self._status: DiskStatus | None = None
        self._failing = False
        self._task: asyncio.Task[None] | None = None

    def status(self) -> DiskStatus | None:
        """The last good measurement; ``None`` before the first one or with nothing to watch."""
        return self._status

    def check(self) -> DiskStatus | None:
        """Measure once and log a change of state; the status afterwards.

        A failed measurement (the folder gone, a mount away) logs a warning once and keeps the last
        good status, whose ``checked_at`` shows how old it is.
        """
        if self.path is None:
            return None
        try:
            usage = self._usage(self.path)
        except Exception as exc:  # a monitor must not stop on what it measures; the type is enough
            if not self._failing:
                log.warning("cannot measure the database's disk: %s", type(exc).__name__)
            self._failing = True
            return self._status
        if self._failing:
            log.info("measuring the database's disk again")
            self._failing = False
        return self._record(usage)

    def _record(self, usage: Usage) -> DiskStatus:
        percent = percent_used(usage)
        alert = percent >= self.threshold
        was_alert = self._status is not None and self._status.alert
        if alert and not was_alert:
            log.warning("the database's disk is %.1f%% full (%s free); the alert is at %g%%",
                        percent, size(usage.free), self.threshold)
        elif was_alert and not alert:
            log.info("the database's disk is %.1f%% full (%s free), under the alert at %g%% again",
                     percent, size(usage.free), self.threshold)
        self._status = DiskStatus(percent, usage.free, alert, self._clock())
        return self._status

    def start(self) -> None:
        """Start measuring (needs a running event loop); nothing to watch: log it and do nothing."""
        if self.path is None:
            log.info("the database is in memory: no disk to watch")
            return
        self._task = asyncio.create_task(self._run(), name="voices-disk-watch")

    async def stop(self) -> None:
        """Stop at once: there is nothing to finish, and a measurement stuck on a hung mount must not
        hold up a shutdown."""
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.check)
            except Exception as exc:  # check() catches measuring errors; anything else is logged, not fatal
                log.error("disk watch failed: %s", type(exc).__name__)
            await asyncio.sleep(self.interval)
