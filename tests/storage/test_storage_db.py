"""Schema migrations, connection settings and database start-up, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tortoise.context import get_current_context
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.models import Model

from core.storage import db as storage_db
from core.storage import models
from core.storage.db import close_db, connection, init_db, schema_status, tortoise_config
from core.storage.models import Priority, Respondent, Session
from tests.conftest import _pg_connect, pg_database

ROOT = Path(__file__).resolve().parents[2]
# Every migration file, in order, and every table the models declare (plus tortoise's record).
MIGRATIONS = sorted(p.stem for p in (ROOT / "core" / "migrations").glob("[0-9][0-9][0-9][0-9]_*.py"))
TABLES = {
    model._meta.db_table
    for model in vars(models).values()
    if isinstance(model, type) and issubclass(model, Model) and model is not Model
} | {"tortoise_migrations", "bulletin_response"}  # the last: Bulletin.responses (many to many)


async def _tables() -> set[str]:
    conn = connection()
    if conn.capabilities.dialect == "sqlite":
        _, rows = await conn.execute_query("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        _, rows = await conn.execute_query(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
        )
    # answer_search*: SQLite's full-text index of answers (migration 0004) and its shadow tables.
    return {row[0] for row in rows if not row[0].startswith("answer_search")} - {"sqlite_sequence"}


async def _index_columns(table: str) -> set[tuple[str, ...]]:
    conn = connection()
    if conn.capabilities.dialect == "sqlite":
        _, indexes = await conn.execute_query(f'PRAGMA index_list("{table}")')
        result = set()
        for index in indexes:
            _, cols = await conn.execute_query(f'PRAGMA index_info("{index[1]}")')
            result.add(tuple(col[2] for col in cols))
        return result
    _, rows = await conn.execute_query(
        "SELECT array_agg(a.attname ORDER BY k.n) AS cols FROM pg_index i "
        "JOIN pg_class t ON t.oid = i.indrelid "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
        "WHERE t.relname = $1 GROUP BY i.indexrelid",
        [table],
    )
    return {tuple(row[0]) for row in rows}


async def test_migrations_create_schema_and_record_it(db: str) -> None:
    assert await _tables() == TABLES
    assert await schema_status(db) == MIGRATIONS


async def test_schema_status_of_a_new_database_is_empty(db_url: str) -> None:
    assert await schema_status(db_url) == []
    await init_db(db_url)
    await close_db()
    # read with a connection of its own, the database being closed
    assert await schema_status(db_url) == MIGRATIONS


async def test_init_db_again_is_a_no_op(db: str) -> None:
    respondent = await Respondent.create(channel="telegram", key_hash="a" * 64)
    conn = connection()
    _, before = await conn.execute_query('SELECT "name", "applied_at" FROM "tortoise_migrations"')
    await init_db(db)
    await init_db(db)
    conn = connection()
    _, after = await conn.execute_query('SELECT "name", "applied_at" FROM "tortoise_migrations"')
    assert [tuple(row) for row in after] == [tuple(row) for row in before]
    assert len(after) == len(MIGRATIONS)
    assert await Respondent.filter(ref=respondent.ref).count() == 1
    assert await Priority.all().count() == 6


async def test_models_and_migrations_agree(db: str) -> None:
    """What `tortoise makemigrations` would do: no changes left to put in a migration."""
    ctx = get_current_context()
    assert ctx is not None and ctx.apps is not None
    config = tortoise_config(db)["apps"]
    writers = await MigrationAutodetector(ctx.apps, config).changes()
    assert [writer.name for writer in writers] == []


async def test_indexes_for_admin_filters(db: str) -> None:
    response = await _index_columns("response")
    assert ("status", "started_at") in response
    assert ("started_at",) in response
    assert ("conversation_id", "conversation_version") in response
    assert ("respondent_id",) in response
    assert ("response_id", "step_id") in await _index_columns("answer")
    answer_priority = await _index_columns("answer_priority")
    assert ("answer_id", "priority_id", "source") in answer_priority
    assert ("priority_id",) in answer_priority
    assert ("processed_at",) in await _index_columns("inbox_update")


async def test_upgrade_false_refuses_an_unmigrated_database(db_url: str) -> None:
    with pytest.raises(RuntimeError, match="pending migrations: 0001_initial, 0002_priorities"):
        await init_db(db_url, upgrade=False)
    await init_db(db_url)
    await close_db()
    await init_db(db_url, upgrade=False)
    try:
        assert await Priority.all().count() == 6
    finally:
        await close_db()


async def test_sqlite_is_wal_with_normal_sync_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'wal.db'}"
    await init_db(url)
    try:
        conn = connection()
        _, mode = await conn.execute_query("PRAGMA journal_mode")
        _, sync = await conn.execute_query("PRAGMA synchronous")
        _, busy = await conn.execute_query("PRAGMA busy_timeout")
        _, fks = await conn.execute_query("PRAGMA foreign_keys")
        assert mode[0][0] == "wal"
        assert sync[0][0] == 1  # NORMAL
        assert busy[0][0] == 5000
        assert fks[0][0] == 1
        assert (tmp_path / "wal.db-wal").is_file()
    finally:
        await close_db()
    assert (tmp_path / "wal.db").is_file()


async def test_sqlite_full_durability(tmp_path: Path) -> None:
    await init_db(f"sqlite://{tmp_path / 'full.db'}", durability="full")
    try:
        _, sync = await connection().execute_query("PRAGMA synchronous")
        assert sync[0][0] == 2  # FULL
    finally:
        await close_db()


async def test_sqlite_not_in_wal_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="journal_mode=delete, not WAL"):
        await init_db(f"sqlite://{tmp_path / 'delete.db'}?journal_mode=DELETE")
    assert storage_db._context is None


async def test_postgres_without_synchronous_commit_is_refused() -> None:
    """SECURITY.md R14: a confirmed answer must survive a crash of the server."""
    async with pg_database() as url:
        name = url.rsplit("/", 1)[1]
        conn = await _pg_connect(url)
        try:
            await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        finally:
            await conn.close()
        with pytest.raises(RuntimeError, match="synchronous_commit=off"):
            await init_db(url)
        assert storage_db._context is None
        conn = await _pg_connect(url)
        try:
            await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = local')
        finally:
            await conn.close()
        await init_db(url)  # on, local and the remote_* settings all keep a commit on this server
        await close_db()


async def test_sqlite_in_memory(tmp_path: Path) -> None:
    await init_db("sqlite://:memory:")
    try:
        await Respondent.create(channel="terminal", key_hash="m" * 64)
        assert await Respondent.all().count() == 1
        assert await Priority.all().count() == 6
        assert await schema_status("sqlite://:memory:") == MIGRATIONS
    finally:
        await close_db()


async def test_sqlite_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    await init_db("sqlite://relative.db")
    try:
        await Respondent.create(channel="terminal", key_hash="r" * 64)
    finally:
        await close_db()
    assert (tmp_path / "relative.db").is_file()
    assert await schema_status("sqlite://relative.db") == MIGRATIONS


def test_config_for_sqlite() -> None:
    config = tortoise_config("sqlite://voices.db")
    conn = config["connections"]["default"]
    assert conn["engine"] == "tortoise.backends.sqlite"
    creds = conn["credentials"]
    assert creds["file_path"] == "voices.db"
    assert creds["journal_mode"] == "WAL"
    assert creds["synchronous"] == "NORMAL"
    assert creds["busy_timeout"] == 5000
    assert creds["foreign_keys"] == "ON"
    assert config["apps"] == {
        "voices": {
            "models": ["core.storage.models"],
            "migrations": "core.migrations",
            "default_connection": "default",
        }
    }
    assert (
        tortoise_config("sqlite://voices.db", "full")["connections"]["default"]["credentials"]["synchronous"]
        == "FULL"
    )
    url_wins = tortoise_config("sqlite:///srv/v.db?synchronous=OFF", "full")
    assert url_wins["connections"]["default"]["credentials"]["synchronous"] == "OFF"
    assert url_wins["connections"]["default"]["credentials"]["file_path"] == "/srv/v.db"
    assert tortoise_config("sqlite://:memory:")["connections"]["default"]["credentials"]["file_path"] == (
        ":memory:"
    )
    with pytest.raises(ValueError, match="durability"):
        tortoise_config("sqlite://voices.db", "fast")


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_config_for_postgres(scheme: str) -> None:
    creds = tortoise_config(f"{scheme}://u:p@db.example:6543/voices")["connections"]["default"]["credentials"]
    assert (creds["host"], creds["port"], creds["user"], creds["password"], creds["database"]) == (
        "db.example",
        6543,
        "u",
        "p",
        "voices",
    )
    assert (creds["minsize"], creds["maxsize"]) == (1, 10)
    sized = tortoise_config(f"{scheme}://u@h/v?min_size=2&max_size=15")["connections"]["default"]
    assert sized["credentials"]["min_size"] == 2
    assert sized["credentials"]["max_size"] == 15
    assert "minsize" not in sized["credentials"] and "maxsize" not in sized["credentials"]
    big_min = tortoise_config(f"{scheme}://u@h/v?min_size=12")["connections"]["default"]["credentials"]
    assert big_min["maxsize"] == 12


async def test_deleting_a_respondent_deletes_the_session(db: str) -> None:
    keep = await Respondent.create(channel="telegram", key_hash="k" * 64)
    gone = await Respondent.create(channel="telegram", key_hash="g" * 64)
    await Session.create(respondent=keep, conversation_id="welcome", conversation_version=1, state="{}")
    await Session.create(respondent=gone, conversation_id="welcome", conversation_version=1, state="{}")
    await gone.delete()
    assert await Session.filter(respondent_id=gone.id).count() == 0
    assert await Session.filter(respondent_id=keep.id).count() == 1


_RACE = """
import asyncio, sys
sys.path.insert(0, sys.argv[2])
from core.storage.db import close_db, init_db, schema_status
async def main():
    await init_db(sys.argv[1])
    print(",".join(await schema_status(sys.argv[1])))
    await close_db()
asyncio.run(main())
"""


async def test_workers_starting_together_migrate_once(db_url: str) -> None:
    if not db_url.startswith("postgres"):
        pytest.skip("several processes migrating at once is a PostgreSQL set-up")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", _RACE, db_url, str(ROOT)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    procs = [run() for _ in range(3)]
    results = await asyncio.gather(*(asyncio.to_thread(p.communicate, timeout=60) for p in procs))
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == ",".join(MIGRATIONS)
