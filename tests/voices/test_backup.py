"""The restore drill (SECURITY.md R20): ``voices backup``, a restore, and the erasure log re-applied.

The commands run as real ``voices`` processes on a SQLite file, as an operator would run them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.loader import load_conversations
from core.model import Command, Event, Repeat, Text
from core.service import Incoming, Voices
from core.settings import ROOT, Settings, load_settings
from core.storage import models as m
from core.storage.db import close_db, init_db

pytestmark = pytest.mark.slow

CHILD, OTHER = "1001", "1002"
WORDS = {CHILD: "Ms Fairweather shouts at me", OTHER: "The bus to college is always late"}
START_TIMEOUT = 60.0


@dataclass
class Site:
    """One installation: a SQLite database, an erasure log and a folder for backups."""

    folder: Path

    @property
    def database(self) -> Path:
        return self.folder / "voices.db"

    @property
    def erasure_log(self) -> Path:
        return self.folder / "erasures" / "voices-erasures.log"

    def env(self, **extra: str) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("VOICES_", "TELEGRAM_")) and k != "DATABASE_URL"}
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        return {**keep, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", "DATABASE_URL": f"sqlite://{self.database}",
                "VOICES_ERASURE_LOG": str(self.erasure_log), "VOICES_SECRET_KEY": "drill-key",
                "VOICES_LOG_LEVEL": "WARNING", **extra}

    @property
    def settings(self) -> Settings:
        return load_settings(self.env())

    def voices(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run ``voices ARGS`` in its own process."""
        command = [sys.executable, "-m", "voices.cli", *args]
        return subprocess.run(command, cwd=self.folder, env=self.env(**env), capture_output=True, text=True,
                              timeout=120, check=False)

    def restore(self, backup: Path) -> None:
        """What an operator does with Voices stopped: put the backup in place of the database."""
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.database}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(backup, self.database)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    (tmp_path / "erasures").mkdir()
    return Site(tmp_path)


async def say(service: Voices, who: str, event: Event | str, **extra: Any) -> None:
    message = Text(event) if isinstance(event, str) else event
    await service.handle(Incoming("telegram", who, int(who), message, **extra))


async def answer_feedback(service: Voices, who: str) -> None:
    await say(service, who, Repeat(), open_conversation="feedback")
    for text in ("1", "1", WORDS[who], Command("skip"), "Send my answers"):
        await say(service, who, text)


async def words_held(site: Site) -> set[str]:
    """The typed answers in the database."""
    await init_db(site.settings.database_url)
    try:
        return set(await m.Answer.filter(kind="text").values_list("text", flat=True))
    finally:
        await close_db()


async def tombstones(site: Site) -> set[str]:
    await init_db(site.settings.database_url)
    try:
        return set(await m.Tombstone.all().values_list("key_hash", flat=True))
    finally:
        await close_db()


async def backed_up_then_erased(site: Site) -> tuple[Voices, Path]:
    """Two people answer; last night's backup; then one of them sends /delete."""
    service = Voices(site.settings, load_conversations(ROOT / "conversations"))
    await init_db(site.settings.database_url)
    try:
        await answer_feedback(service, CHILD)
        await answer_feedback(service, OTHER)
    finally:
        await close_db()
    nightly = site.folder / "backups" / "voices-nightly.db"
    nightly.parent.mkdir()
    done = site.voices("backup", str(nightly))
    assert done.returncode == 0, done.stderr
    assert f"to {nightly}" in done.stdout
    assert stat.S_IMODE(nightly.stat().st_mode) == 0o600
    assert [p.name for p in nightly.parent.iterdir()] == [nightly.name]  # no partial copy left behind

    await init_db(site.settings.database_url)
    try:
        await say(service, CHILD, Command("delete"))
        await say(service, CHILD, "Yes, delete them")
    finally:
        await close_db()
    assert await words_held(site) == {WORDS[OTHER]}
    assert len(site.erasure_log.read_text(encoding="ascii").splitlines()) == 1
    return service, nightly


async def test_the_restore_drill_erases_again_whoever_asked_since_the_backup(site: Site) -> None:
    service, nightly = await backed_up_then_erased(site)

    site.restore(nightly)
    assert await words_held(site) == set(WORDS.values())  # the restore brought the child's answers back

    done = site.voices("restore-erasures")
    assert done.returncode == 0, done.stderr
    assert "erased 1 person again" in done.stdout
    assert await words_held(site) == {WORDS[OTHER]}
    assert await tombstones(site) == {service.key("telegram", CHILD)}
    for secret in (CHILD, "Fairweather", service.key("telegram", CHILD)):
        assert secret not in done.stdout + done.stderr

    again = site.voices("restore-erasures")
    assert again.returncode == 0 and "erased 0 people again" in again.stdout
    assert await words_held(site) == {WORDS[OTHER]}


async def test_voices_serve_re_applies_the_log_when_it_starts(site: Site) -> None:
    _, nightly = await backed_up_then_erased(site)
    site.restore(nightly)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voices.cli", "serve", cwd=site.folder, env=site.env(VOICES_PORT=str(port)),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while not seen or "Voices is running" not in seen[-1]:
                line = (await proc.stdout.readline()).decode()
                assert line, "voices serve stopped:\n" + "".join(seen)
                seen.append(line)
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = await proc.communicate()
    output = "".join(seen) + rest.decode()
    assert proc.returncode == 0, output
    assert "Erased 1 person again" in output
    assert await words_held(site) == {WORDS[OTHER]}


async def test_backup_never_overwrites_a_file(site: Site) -> None:
    await init_db(site.settings.database_url)
    await close_db()
    existing = site.folder / "yesterday.db"
    existing.write_bytes(b"yesterday's backup")
    done = site.voices("backup", str(existing))
    assert done.returncode == 1 and "already exists" in done.stderr
    assert existing.read_bytes() == b"yesterday's backup"
    missing = site.voices("backup", str(site.folder / "no-such-folder" / "x.db"))
    assert missing.returncode == 1 and "There is no folder" in missing.stderr


async def test_backup_is_consistent_while_the_bot_is_writing(site: Site) -> None:
    await init_db(site.settings.database_url)
    await m.Respondent.create(channel="telegram", key_hash="a" * 64)
    await close_db()
    writer = sqlite3.connect(site.database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # a turn half done: it holds the write lock
        writer.execute("INSERT INTO respondent (ref, channel, key_hash, language, language_confirmed, "
                       "contact_ok, anonymous, settings, created_at, last_seen_at) VALUES "
                       "('r-b', 'telegram', 'bbbb', 'en', 0, 0, 0, '', '2027-01-01', '2027-01-01')")
        copy = site.folder / "during.db"
        done = site.voices("backup", str(copy))
        writer.execute("COMMIT")
    finally:
        writer.close()
    assert done.returncode == 0, done.stderr
    backup = sqlite3.connect(copy)
    try:
        assert backup.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert backup.execute("SELECT key_hash FROM respondent").fetchall() == [("a" * 64,)]
    finally:
        backup.close()


def test_backup_on_postgresql_points_to_pg_dump(site: Site) -> None:
    target = site.folder / "pg.dump"
    done = site.voices("backup", str(target), DATABASE_URL="postgres://voices@127.0.0.1:5432/voices")
    assert done.returncode == 2 and "pg_dump" in done.stderr and "restore-erasures" in done.stderr
    assert not target.exists()
