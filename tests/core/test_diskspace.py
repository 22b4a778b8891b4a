"""Watching the database's disk (SECURITY.md R12: "alert at 80 % full"), with a fake ``disk_usage``."""

from __future__ import annotations

import asyncio
import logging
from collections import namedtuple
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.diskspace import DiskWatch, percent_used, size, sqlite_file, watched_folder
from core.settings import Settings

TOTAL = 10**12  # a 1 TB disk
Usage = namedtuple("Usage", "total used free")  # what shutil.disk_usage returns
MOMENT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


class FakeDisk:
    """A disk whose fullness the test sets; ``fail`` makes the next measurements raise it."""

    def __init__(self) -> None:
        self.percent = 0.0
        self.fail: Exception | None = None
        self.asked: list[Path] = []

    def __call__(self, path: Path) -> Usage:
        self.asked.append(path)
        if self.fail is not None:
            raise self.fail
        used = int(TOTAL * self.percent / 100)
        return Usage(TOTAL, used, TOTAL - used)


def watch(tmp_path: Path, disk: FakeDisk, threshold: float = 80.0) -> DiskWatch:
    settings = Settings(database_url=f"sqlite://{tmp_path / 'voices.db'}", disk_alert_percent=threshold)
    return DiskWatch(settings, usage=disk, clock=lambda: MOMENT, interval=0.01)


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "voices.diskspace"]


# percents measured one after another -> alert after each, and the log lines they make
CASES = {
    "below": ([50.0, 79.9], [False, False], []),
    "at the line": ([80.0], [True], [("WARNING", "the database's disk is 80.0% full (200 GB free); "
                                                  "the alert is at 80%")]),
    "above": ([97.5], [True], [("WARNING", "the database's disk is 97.5% full (25 GB free); "
                                           "the alert is at 80%")]),
    "stays above: one warning": ([85.0, 90.0, 99.0], [True, True, True],
                                 [("WARNING", "the database's disk is 85.0% full (150 GB free); "
                                              "the alert is at 80%")]),
    "back below: info once": ([85.0, 60.0, 50.0], [True, False, False],
                              [("WARNING", "the database's disk is 85.0% full (150 GB free); "
                                           "the alert is at 80%"),
                               ("INFO", "the database's disk is 60.0% full (400 GB free), "
                                        "under the alert at 80% again")]),
    "over again: a new warning": ([90.0, 10.0, 81.0], [True, False, True],
                                  [("WARNING", "the database's disk is 90.0% full (100 GB free); "
                                               "the alert is at 80%"),
                                   ("INFO", "the database's disk is 10.0% full (900 GB free), "
                                            "under the alert at 80% again"),
                                   ("WARNING", "the database's disk is 81.0% full (190 GB free); "
                                               "the alert is at 80%")]),
}


@pytest.mark.parametrize(("percents", "alerts", "logged"), CASES.values(), ids=CASES.keys())
def test_alert_and_log_lines_follow_the_threshold(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                  percents: list[float], alerts: list[bool],
                                                  logged: list[tuple[str, str]]) -> None:
    disk = FakeDisk()
    w = watch(tmp_path, disk)
    assert w.status() is None  # nothing measured yet
    caplog.set_level(logging.INFO, logger="voices.diskspace")
    seen = []
    for percent in percents:
        disk.percent = percent
        status = w.check()
        assert status is not None and status == w.status()
        assert status.percent_used == pytest.approx(percent)
        assert status.free_bytes == TOTAL - int(TOTAL * percent / 100)
        assert status.checked_at == MOMENT
        seen.append(status.alert)
    assert seen == alerts
    assert records(caplog) == logged
    assert disk.asked == [tmp_path] * len(percents)  # the database file's folder


def test_threshold_comes_from_the_settings(tmp_path: Path) -> None:
    disk = FakeDisk()
    disk.percent = 60.0
    low, high = watch(tmp_path, disk, threshold=50.0).check(), watch(tmp_path, disk, threshold=95.0).check()
    assert low is not None and low.alert is True
    assert high is not None and high.alert is False


def test_a_failed_measurement_warns_once_and_keeps_the_last_reading(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    disk = FakeDisk()
    w = watch(tmp_path, disk)
    caplog.set_level(logging.INFO, logger="voices.diskspace")
    disk.percent = 85.0
    before = w.check()
    caplog.clear()
    disk.fail = FileNotFoundError(2, "No such file or directory", str(tmp_path))
    assert w.check() == before  # the last good reading stays, with its time
    assert w.check() == before
    assert records(caplog) == [("WARNING", "cannot measure the database's disk: FileNotFoundError")]
    caplog.clear()
    disk.fail, disk.percent = None, 40.0
    after = w.check()
    assert after is not None and after.alert is False
    assert records(caplog) == [
        ("INFO", "measuring the database's disk again"),
        ("INFO", "the database's disk is 40.0% full (600 GB free), under the alert at 80% again"),
    ]


async def test_the_loop_survives_errors_and_keeps_measuring(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    disk = FakeDisk()
    disk.fail = PermissionError("denied")
    disk.percent = 90.0
    w = watch(tmp_path, disk)
    caplog.set_level(logging.INFO, logger="voices.diskspace")
    w.start()
    try:
        while len(disk.asked) < 3:  # every 0.01 s
            await asyncio.sleep(0.01)
        assert w.status() is None
        disk.fail = None
        async with asyncio.timeout(5):
            while w.status() is None:
                await asyncio.sleep(0.01)
    finally:
        await w.stop()
    status = w.status()
    assert status is not None and status.alert is True and status.percent_used == pytest.approx(90.0)
    assert [level for level, _ in records(caplog)] == ["WARNING", "INFO", "WARNING"]
    asked = len(disk.asked)
    await asyncio.sleep(0.05)
    assert len(disk.asked) == asked  # stopped means stopped
    await w.stop()  # stopping twice is harmless


def test_real_disk_usage_of_the_database_folder(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'voices.db'}"
    status = DiskWatch(Settings(database_url=url, disk_alert_percent=0.0)).check()
    assert status is not None and status.alert is True  # any disk is at least 0 % full
    assert 0.0 <= status.percent_used <= 100.0 and status.free_bytes >= 0
    status = DiskWatch(Settings(database_url=url, disk_alert_percent=100.1)).check()
    assert status is not None and status.alert is False


# ---- which folder is watched ------------------------------------------------------------------


@pytest.mark.parametrize(("url", "relative"), [
    ("sqlite://voices.db", "voices.db"),
    ("sqlite://data/voices.db", "data/voices.db"),
    ("sqlite://./data/voices.db?synchronous=FULL", "data/voices.db"),
])
def test_relative_sqlite_paths_are_from_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, relative: str) -> None:
    monkeypatch.chdir(tmp_path)
    assert sqlite_file(url) == tmp_path / relative
    assert watched_folder(Settings(database_url=url)) == (tmp_path / relative).parent
    w = DiskWatch(Settings(database_url=url))
    monkeypatch.chdir("/")  # the folder is fixed when the watch is made, as the database is opened then
    assert w.path == (tmp_path / relative).parent


@pytest.mark.parametrize(("url", "folder"), [
    ("sqlite:///srv/voices/voices.db", "/srv/voices"),
    ("sqlite:///srv/voices/voices.db?synchronous=FULL&busy_timeout=9000", "/srv/voices"),
    ("sqlite:///voices.db", "/"),
])
def test_absolute_sqlite_paths(url: str, folder: str) -> None:
    assert watched_folder(Settings(database_url=url)) == Path(folder)


@pytest.mark.parametrize("url", ["sqlite://:memory:", "sqlite://:memory:?cache=shared",
                                 "sqlite://file::memory:?cache=shared"])
async def test_an_in_memory_database_has_nothing_to_watch(
        url: str, caplog: pytest.LogCaptureFixture) -> None:
    disk = FakeDisk()
    w = DiskWatch(Settings(database_url=url), usage=disk)
    assert w.path is None
    caplog.set_level(logging.INFO, logger="voices.diskspace")
    w.start()
    assert w.check() is None and w.status() is None
    await w.stop()
    assert disk.asked == []
    assert records(caplog) == [("INFO", "the database is in memory: no disk to watch")]


@pytest.mark.parametrize("url", ["postgres://voices:pw@db.internal:5432/voices",
                                 "postgresql://voices@127.0.0.1/voices?minsize=2"])
def test_postgres_watches_the_erasure_log_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    assert watched_folder(Settings(database_url=url, erasure_log=Path("/var/lib/voices/erasures.log"))) \
        == Path("/var/lib/voices")
    monkeypatch.chdir(tmp_path)
    assert watched_folder(Settings(database_url=url)) == tmp_path  # default voices-erasures.log
    disk = FakeDisk()
    disk.percent = 99.0
    status = DiskWatch(Settings(database_url=url), usage=disk).check()
    assert status is not None and status.alert is True and disk.asked == [tmp_path]


# ---- figures ---------------------------------------------------------------------------------


def test_percent_is_counted_as_df_counts_it() -> None:
    # 5 % reserved for root: used + free < total, and "full" means no room left for Voices
    assert percent_used(Usage(total=100, used=95, free=0)) == 100.0
    assert percent_used(Usage(total=100, used=45, free=50)) == pytest.approx(47.368, abs=0.001)
    assert percent_used(Usage(total=0, used=0, free=0)) == 100.0  # no room at all


@pytest.mark.parametrize(("n", "shown"), [(0, "0 bytes"), (999, "999 bytes"), (1500, "1.5 kB"),
                                          (25_000_000, "25 MB"), (1_234_000_000, "1.2 GB"),
                                          (3 * 10**12, "3.0 TB")])
def test_sizes_for_people(n: int, shown: str) -> None:
    assert size(n) == shown
