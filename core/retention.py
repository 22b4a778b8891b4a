"""The retention job: answers older than the configured period are anonymised (SECURITY.md P4).

A response past its date loses its link to the person and every word, voice clip and transcript
they gave; the choices they picked stay, with no one behind them, so the yearly figures hold.
Safeguarding alerts are kept under their own basis (and hold no words). It runs once a day in
``voices serve`` and can be run by hand; each run is safe to repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from tortoise.transactions import in_transaction

from core.storage.turns import execute, rows

log = logging.getLogger("voices.retention")
DAY = 24 * 60 * 60


async def anonymise_older_than(now: dt.datetime, days: int) -> int:
    """Anonymise every response started more than ``days`` ago; the number anonymised."""
    cutoff = now - dt.timedelta(days=days)
    async with in_transaction() as conn:
        found = await rows(conn, "SELECT id FROM response WHERE started_at < ? AND respondent_id IS NOT NULL",
                           (cutoff,))
        ids = [int(r["id"]) for r in found]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            await execute(conn, f"DELETE FROM voice_clip WHERE answer_id IN "
                                f"(SELECT id FROM answer WHERE response_id IN ({marks}))", chunk)
            await execute(conn, f"UPDATE answer SET text = NULL, transcript = NULL, voice_file_id = NULL, "
                                f"voice_unique_id = NULL, label = '', updated_at = ? "
                                f"WHERE response_id IN ({marks}) AND kind IN ('text', 'voice')",
                          [now, *chunk])
            await execute(conn, f"UPDATE response SET respondent_id = NULL, updated_at = ? "
                                f"WHERE id IN ({marks})", [now, *chunk])
    if ids:
        log.info("retention: %s responses anonymised", len(ids))
    return len(ids)


class RetentionJob:
    """Runs :func:`anonymise_older_than` once a day while the server runs."""

    def __init__(self, days: int, clock: Callable[[], dt.datetime]) -> None:
        self.days, self.clock = days, clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await anonymise_older_than(self.clock(), self.days)
            except Exception as exc:  # the job must go on; the failure is logged (type only)
                log.error("retention job failed: %s", type(exc).__name__)
            await asyncio.sleep(DAY)
