"""Restore drill benchmark (SECURITY.md R20): back up, restore, re-apply the erasure log, on SQLite.

    .venv/bin/python bench/bench_restore.py                                 # 2,000 responses, 100 erasures
    .venv/bin/python bench/bench_restore.py --responses 100000 --erasures 1000

Fills a fresh SQLite file with ``voices demo-data``'s synthetic responses, takes a backup with
``voices backup``'s own code (VACUUM INTO), logs ``--erasures`` of the people as erased after the
backup, restores the backup over the database (the copy an operator makes with Voices stopped),
then re-applies the log as ``voices serve`` and ``voices restore-erasures`` do, and checks that
those people are gone. Prints seconds for each step.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from admin.demo import fill  # noqa: E402
from core.settings import Secret, Settings  # noqa: E402
from core.storage import erasures  # noqa: E402
from core.storage import models as m  # noqa: E402
from core.storage.db import close_db, init_db  # noqa: E402
from voices import cli  # noqa: E402


async def _fill(settings: Settings, responses: int) -> int:
    await init_db(settings.database_url)
    try:
        await fill(responses, seed=1)
        return await m.Respondent.all().count()
    finally:
        await close_db()


async def _log_erasures(settings: Settings, count: int) -> int:
    """Log ``count`` people as erased now (after the backup), as /delete would have."""
    await init_db(settings.database_url)
    try:
        keys = await m.Respondent.all().order_by("id").limit(count).values_list("key_hash", flat=True)
    finally:
        await close_db()
    now = datetime.now(UTC)
    for key_hash in keys:
        erasures.append(settings.erasure_log, str(key_hash), now)
    return len(keys)


def _restore(database: Path, backup: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, database)


async def _reapply(settings: Settings) -> tuple[float, float, int, int]:
    started = time.perf_counter()
    await init_db(settings.database_url)
    opened = time.perf_counter()
    try:
        erased = await cli.reapply_erasures(settings)
        left = await m.Respondent.all().count()
    finally:
        await close_db()
    return opened - started, time.perf_counter() - opened, erased, left


def _timed_backup(settings: Settings, target: Path) -> float:
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.backup(settings, target) == 0
    return time.perf_counter() - started


def run(responses: int, count: int, folder: Path) -> None:
    database, backup = folder / "voices.db", folder / "nightly.db"
    settings = Settings(database_url=f"sqlite://{database}", secret_key=Secret("bench"),
                        erasure_log=folder / "voices-erasures.log")
    people = asyncio.run(_fill(settings, responses))
    size = database.stat().st_size / 1e6
    print(f"database: {responses:,} responses from {people:,} people, {size:.1f} MB")

    took = _timed_backup(settings, backup)
    print(f"{'backup (VACUUM INTO):':27}{took:7.3f} s  ({backup.stat().st_size / 1e6:.1f} MB)")

    started = time.perf_counter()
    logged = asyncio.run(_log_erasures(settings, count))
    logging_took = time.perf_counter() - started
    each = logging_took / logged * 1000
    print(f"{f'log {logged} erasures:':27}{logging_took:7.3f} s  ({each:.2f} ms each, with fsync)")

    started = time.perf_counter()
    _restore(database, backup)
    print(f"{'restore (copy over db):':27}{time.perf_counter() - started:7.3f} s")

    opened, took, erased, left = asyncio.run(_reapply(settings))
    print(f"{'open + migrate check:':27}{opened:7.3f} s")
    print(f"{f're-apply {erased} erasures:':27}{took:7.3f} s  ({people - left} people gone)")
    assert erased == logged and left == people - logged

    _, again, erased, _ = asyncio.run(_reapply(settings))
    print(f"{'re-apply again (no-op):':27}{again:7.3f} s  ({erased} erased)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--responses", type=int, default=2000)
    p.add_argument("--erasures", type=int, default=100)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="voices-bench-restore-") as folder:
        run(args.responses, args.erasures, Path(folder))


if __name__ == "__main__":
    main()
