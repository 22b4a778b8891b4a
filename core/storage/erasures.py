"""The erasure log: every erasure, in a file kept outside the database (SECURITY.md R20).

An erasure (the bot's /delete, an admin's "Erase this person's data") deletes the person's rows and
leaves a tombstone, both inside the database. A backup taken before the erasure still holds them,
so restoring it would bring a deleted child's answers back. Each erasure therefore also appends
one line to this file, holding only the person's ``key_hash`` (the pseudonym ``respondent`` and
``tombstone`` are keyed by) and the UTC time::

    {"key_hash": "3f1c...", "at": "2027-03-01T10:15:00.123456+00:00"}

After a restore, :func:`reapply` erases again everyone the log names whose record is older than
their logged erasure. The file must live on storage that is backed up on its own and is never put
back from a database backup.

The line is written (and fsynced) before the erasure's transaction commits. A crash in between
leaves a logged erasure that the database never made; re-applying it later erases someone who
asked to be erased, which is always right. The other way round, an erasure committed but not
logged, cannot happen.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from core.storage import turns
from core.storage.db import connection

log = logging.getLogger("voices.erasures")

MAX_KEY = 64  # respondent.key_hash is a CharField(max_length=64)
CHUNK = 500  # key hashes per IN (...) query


@dataclass(frozen=True)
class Erasure:
    key_hash: str
    at: dt.datetime  # UTC


# ---- writing ----------------------------------------------------------------------------------


def line(key_hash: str, at: dt.datetime) -> bytes:
    """One log line: the pseudonym and the time, nothing else."""
    if not _valid_key(key_hash):
        raise ValueError("not a key hash")
    if at.tzinfo is None:
        raise ValueError("the time of an erasure must be timezone-aware")
    record = {"key_hash": key_hash, "at": at.astimezone(dt.UTC).isoformat()}
    return (json.dumps(record, separators=(",", ":")) + "\n").encode("ascii")


def append(path: Path, key_hash: str, at: dt.datetime) -> None:
    """Append one erasure to the log and fsync it (and its directory, when the file is new).

    O_APPEND puts each line at the end even with several processes writing. A line torn by a
    crash is left as it is (reading skips it), and the next line starts on a line of its own.
    """
    data = line(key_hash, at)
    fd, created = _open(path)
    try:
        if not created and _torn(fd):
            data = b"\n" + data
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)


async def record(path: Path, key_hash: str, at: dt.datetime) -> None:
    """:func:`append`, off the event loop (an fsync can take a while on a busy disk)."""
    await asyncio.to_thread(append, path, key_hash, at)


def _open(path: Path) -> tuple[int, bool]:
    """The log opened for appending (and reading its last byte); whether this call created it."""
    try:
        return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600), True
    except FileExistsError:
        return os.open(path, os.O_RDWR | os.O_APPEND), False


def _torn(fd: int) -> bool:
    """Whether the file does not end with a newline (its last write was cut short)."""
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- reading ----------------------------------------------------------------------------------


def read(path: Path) -> list[Erasure]:
    """Every readable line of the log, in order ([] if there is no log yet).

    Lines that cannot be read (the last one torn by a crash, or damaged) are skipped with a
    warning that gives their line numbers, never their contents.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    found: list[Erasure] = []
    bad: list[int] = []
    for number, text in enumerate(raw.split(b"\n"), start=1):
        if not text.strip():
            continue
        erasure = _parse(text)
        if erasure is None:
            bad.append(number)
        else:
            found.append(erasure)
    if bad:
        shown = ", ".join(str(n) for n in bad[:10]) + (", ..." if len(bad) > 10 else "")
        log.warning("Skipped %d unreadable line(s) of the erasure log %s (line %s)", len(bad), path, shown)
    return found


def _parse(text: bytes) -> Erasure | None:
    try:
        value: Any = json.loads(text)
        key_hash, at = value["key_hash"], dt.datetime.fromisoformat(value["at"])
    except (ValueError, TypeError, KeyError):  # (UnicodeDecodeError and JSONDecodeError are ValueErrors)
        return None
    if not _valid_key(key_hash) or at.tzinfo is None:
        return None
    return Erasure(key_hash, at.astimezone(dt.UTC))


def _valid_key(key_hash: object) -> bool:
    return isinstance(key_hash, str) and 0 < len(key_hash) <= MAX_KEY and key_hash.isascii() \
        and key_hash.isprintable() and " " not in key_hash


def latest(erasures: Sequence[Erasure]) -> dict[str, dt.datetime]:
    """Each person's latest logged erasure (anyone whose record is older is to be erased)."""
    out: dict[str, dt.datetime] = {}
    for e in erasures:
        if e.key_hash not in out or e.at > out[e.key_hash]:
            out[e.key_hash] = e.at
    return out


# ---- re-applying ------------------------------------------------------------------------------


async def reapply(log_path: Path, now: dt.datetime) -> int:
    """Erase again everyone the log names whose record was made at or before their erasure.

    For a database restored from a backup. Someone whose record is newer than their logged
    erasure came back and started again, and is left alone. Every logged person ends with a
    tombstone. Idempotent. Returns how many people were erased. ``now`` stamps the tombstones of
    the people erased here (newer than anything in the backup, so the admin also takes their
    responses out of its counts and search copy: ``admin.queries.rollup.forget_erased``).
    """
    wanted = latest(read(log_path))
    if not wanted:
        return 0
    keys = sorted(wanted)
    created = await _created(keys)
    erased = 0
    for key_hash in keys:
        if key_hash in created and created[key_hash] <= wanted[key_hash]:
            erased += await _erase(key_hash, wanted[key_hash], now)
    await _tombstones(wanted)
    return erased


async def _created(keys: Sequence[str]) -> dict[str, dt.datetime]:
    """When each of these people's records was made, for those who have one."""
    conn = connection()
    out: dict[str, dt.datetime] = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        marks = ", ".join("?" for _ in chunk)
        for row in await turns.rows(conn, f"SELECT key_hash, created_at FROM respondent "
                                          f"WHERE key_hash IN ({marks})", chunk):
            out[str(row["key_hash"])] = _utc(row["created_at"])
    return out


async def _erase(key_hash: str, erased_at: dt.datetime, now: dt.datetime) -> int:
    """Erase the person as /delete does, if their record still predates the erasure (1 if erased)."""
    async with in_transaction() as conn:
        person, _ = await turns.load(conn, key_hash)  # locks their row on PostgreSQL, as a turn does
        if person is None or not await _made_by(conn, person.id, erased_at):
            return 0
        found = await turns.rows(conn, "SELECT last_update_id FROM tombstone WHERE key_hash = ?", (key_hash,))
        last = found[0]["last_update_id"] if found else None  # (kept: late copies stay ignored)
        await turns.erase(conn, person, key_hash, None if last is None else int(last), now)
    return 1


async def _made_by(conn: BaseDBAsyncClient, person_id: int, at: dt.datetime) -> bool:
    found = await turns.rows(conn, "SELECT created_at FROM respondent WHERE id = ?", (person_id,))
    return bool(found) and _utc(found[0]["created_at"]) <= at


async def _tombstones(wanted: dict[str, dt.datetime]) -> None:
    """A tombstone for every logged person who has none, dated with their logged erasure."""
    conn = connection()
    keys = sorted(wanted)
    have: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        marks = ", ".join("?" for _ in chunk)
        found = await turns.rows(conn, f"SELECT key_hash FROM tombstone WHERE key_hash IN ({marks})", chunk)
        have.update(str(r["key_hash"]) for r in found)
    missing = [[k, wanted[k]] for k in keys if k not in have]
    if missing:
        insert = ("INSERT INTO tombstone (key_hash, deleted_at, last_update_id) VALUES (?, ?, NULL) "
                  "ON CONFLICT (key_hash) DO NOTHING")
        async with in_transaction() as tx:
            await tx.execute_many(turns.sql(tx, insert), missing)


def _utc(value: object) -> dt.datetime:
    """A datetime read back from either database (SQLite gives tortoise's text), in UTC."""
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
