"""Database set-up: tortoise configuration, schema migrations, start and stop.

``init_db(url)`` applies any pending migrations from ``core/migrations`` (creating the schema on a
new database, a no-op on an up-to-date one, so it is safe on every start) and then leaves tortoise
ready for queries from any task. On PostgreSQL the migrations run under an advisory lock, so that
several workers starting together do not race; with ``upgrade=False`` a worker refuses to start
on a database that still has migrations to apply (run them as a separate deploy step instead).

Making a migration after changing ``core/storage/models.py``
------------------------------------------------------------

From the project root, with the venv::

    DATABASE_URL=sqlite://:memory: .venv/bin/tortoise -c core.storage.tortoise_conf.TORTOISE_ORM \\
        makemigrations voices --name short_description_of_change

This compares the models with the state the existing migrations build and writes the next
``core/migrations/NNNN_<name>.py``. Read it, then check that it applies on both databases (the
storage tests do: ``.venv/bin/pytest tests/storage``). Data changes go in a migration of their own,
made with ``--empty`` and filled in with ``ops.RunPython``/``ops.RunSQL``. To print the SQL of a
migration: ``.venv/bin/tortoise -c core.storage.tortoise_conf.TORTOISE_ORM sqlmigrate voices NNNN``
(``DATABASE_URL`` chooses the dialect). Never edit a migration that has been released.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import TortoiseContext, get_current_context
from tortoise.migrations.executor import MigrationExecutor
from tortoise.migrations.recorder import MigrationRecorder

APP_LABEL = "voices"
MODELS_MODULE = "core.storage.models"
MIGRATIONS_MODULE = "core.migrations"
CONNECTION = "default"
MIGRATIONS_TABLE = "tortoise_migrations"

SQLITE_ENGINE = "tortoise.backends.sqlite"
POSTGRES_ENGINES = ("tortoise.backends.asyncpg", "tortoise.backends.psycopg")
PG_POOL_MIN = 1
PG_POOL_MAX = 10
SQLITE_BUSY_TIMEOUT_MS = 5000
# pg_advisory_lock key that serialises migrations across processes ("voices" in ASCII).
MIGRATION_LOCK_KEY = 0x766F69636573

_SYNCHRONOUS = {"normal": "NORMAL", "full": "FULL"}

_context: TortoiseContext | None = None
_database_url: str | None = None


def _is_memory(file_path: str) -> bool:
    return file_path in ("", ":memory:") or file_path.startswith("file::memory:")


def tortoise_config(database_url: str, durability: str = "normal") -> dict[str, Any]:
    """The tortoise config for ``database_url`` with app ``voices`` and its migrations.

    SQLite (``sqlite://voices.db`` relative to the working directory, ``sqlite:///abs/path.db``,
    ``sqlite://:memory:``) gets WAL, ``synchronous`` NORMAL (``durability="full"``: FULL, which
    survives power loss at some cost in write speed), a 5 s busy timeout and foreign keys.
    PostgreSQL (``postgres://``, ``postgresql://``) gets a pool of 1..10 connections. Anything
    the URL's query string sets (``?synchronous=FULL``, ``?max_size=20``) wins over these.
    """
    if durability not in _SYNCHRONOUS:
        raise ValueError(f"durability must be 'normal' or 'full', not {durability!r}")
    connection = expand_db_url(database_url)
    engine: str = connection["engine"]
    credentials: dict[str, Any] = connection["credentials"]
    if engine == SQLITE_ENGINE:
        credentials.setdefault("journal_mode", "WAL")
        credentials.setdefault("synchronous", _SYNCHRONOUS[durability])
        credentials.setdefault("busy_timeout", SQLITE_BUSY_TIMEOUT_MS)
        credentials.setdefault("foreign_keys", "ON")
    elif engine in POSTGRES_ENGINES:
        if "minsize" not in credentials and "min_size" not in credentials:
            credentials["minsize"] = PG_POOL_MIN
        if "maxsize" not in credentials and "max_size" not in credentials:
            low = int(credentials.get("min_size") or credentials.get("minsize") or PG_POOL_MIN)
            credentials["maxsize"] = max(PG_POOL_MAX, low)
    return {
        "connections": {CONNECTION: connection},
        "apps": {
            APP_LABEL: {
                "models": [MODELS_MODULE],
                "migrations": MIGRATIONS_MODULE,
                "default_connection": CONNECTION,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def connection() -> BaseDBAsyncClient:
    """The live default connection (after :func:`init_db`)."""
    ctx = get_current_context()
    if ctx is None:
        raise RuntimeError("The database is not open: call init_db() first")
    return ctx.db(CONNECTION)


async def init_db(database_url: str, *, upgrade: bool = True, durability: str = "normal") -> None:
    """Open the database, apply pending migrations (``upgrade``) and make tortoise ready.

    With ``upgrade=False`` nothing is changed and a database with pending migrations is an error.
    Raises ``RuntimeError`` if a SQLite file database is not in WAL mode afterwards.
    """
    global _context, _database_url
    if _context is not None:
        await close_db()
    config = tortoise_config(database_url, durability)
    engine = config["connections"][CONNECTION]["engine"]
    # tortoise caches each model's INSERT/DELETE SQL by connection *name*: after a switch from one
    # database kind to another in the same process it would reuse the other dialect's SQL.
    EXECUTOR_CACHE.clear()
    ctx = TortoiseContext()
    try:
        # Current while it initialises (tortoise needs that); afterwards the global fallback makes
        # it visible to every task (bot handlers, web requests, test bodies), not only this one.
        with ctx:
            await ctx.init(config=config, _enable_global_fallback=True)
        client = ctx.db(CONNECTION)
        executor = MigrationExecutor(client, config["apps"])
        if upgrade:
            async with _migration_lock(config):
                await executor.migrate()
        else:
            pending = [step.migration.name for step in await executor.plan()]
            if pending:
                raise RuntimeError(
                    "The database schema is out of date; pending migrations: "
                    + ", ".join(pending)
                    + ". Apply them first (init_db with upgrade=True, or `tortoise migrate`)."
                )
        if engine == SQLITE_ENGINE:
            await _check_sqlite(client, config["connections"][CONNECTION]["credentials"])
        else:
            await _check_postgres(client)
    except BaseException:
        await ctx.close_connections()
        raise
    _context = ctx
    _database_url = database_url


async def close_db() -> None:
    """Close every connection opened by :func:`init_db` (safe to call twice)."""
    global _context, _database_url
    ctx, _context, _database_url = _context, None, None
    if ctx is not None:
        await ctx.close_connections()


async def schema_status(database_url: str) -> list[str]:
    """Names of the ``voices`` migrations applied to the database, oldest first.

    Uses the open connection when ``database_url`` is the open database; otherwise opens a
    read-only connection of its own (a missing SQLite file or an empty database gives ``[]``).
    """
    if _context is not None and database_url == _database_url:
        keys = await MigrationRecorder(_context.db(CONNECTION)).applied_migrations()
        return [key.name for key in keys if key.app_label == APP_LABEL]
    config = tortoise_config(database_url)
    conn = config["connections"][CONNECTION]
    credentials = conn["credentials"]
    query = f'SELECT "name" FROM "{MIGRATIONS_TABLE}" WHERE "app" = {{}} ORDER BY "applied_at", "name"'
    if conn["engine"] == SQLITE_ENGINE:
        path = str(credentials["file_path"])
        if _is_memory(path) or not os.path.exists(path):
            return []
        async with aiosqlite.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True) as db:
            try:
                rows = await db.execute_fetchall(query.format("?"), (APP_LABEL,))
            except aiosqlite.OperationalError:
                return []
            return [str(row[0]) for row in rows]
    pg = await asyncpg.connect(**_asyncpg_args(credentials))
    try:
        records = await pg.fetch(query.format("$1"), APP_LABEL)
    except asyncpg.UndefinedTableError:
        return []
    finally:
        await pg.close()
    return [str(record["name"]) for record in records]


def _asyncpg_args(credentials: dict[str, Any]) -> dict[str, Any]:
    keys = ("host", "port", "user", "password", "database", "ssl")
    return {key: credentials[key] for key in keys if credentials.get(key) is not None}


@contextlib.asynccontextmanager
async def _migration_lock(config: dict[str, Any]) -> AsyncIterator[None]:
    """Hold a PostgreSQL advisory lock (on a connection of its own) while migrating.

    SQLite needs none: one process owns the file and the migration runs in a transaction.
    """
    conn = config["connections"][CONNECTION]
    if conn["engine"] not in POSTGRES_ENGINES:
        yield
        return
    pg = await asyncpg.connect(**_asyncpg_args(conn["credentials"]))
    try:
        await pg.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            yield
        finally:
            await pg.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await pg.close()


async def _check_postgres(client: BaseDBAsyncClient) -> None:
    """SECURITY.md R14: an answer the bot has confirmed must survive a server crash or failover."""
    _, rows = await client.execute_query("SHOW synchronous_commit")
    setting = str(rows[0][0]).lower() if rows else ""
    if setting == "off":
        raise RuntimeError(
            "PostgreSQL has synchronous_commit=off, so an answer Voices has confirmed to a person "
            "could be lost in a crash. Set it to on for this database (ALTER DATABASE ... SET "
            "synchronous_commit = on) or remove it from the server's settings."
        )


async def _check_sqlite(client: BaseDBAsyncClient, credentials: dict[str, Any]) -> None:
    if _is_memory(str(credentials.get("file_path", ""))):
        return
    _, rows = await client.execute_query("PRAGMA journal_mode")
    mode = str(rows[0][0]).lower() if rows else ""
    if mode != "wal":
        raise RuntimeError(
            f"SQLite database {credentials.get('file_path')!r} is in journal_mode={mode or '?'}, not WAL. "
            "Voices needs WAL (readers must not block the bot's writes): remove any journal_mode "
            "setting from DATABASE_URL and keep the file on a local disk (WAL does not work on "
            "network file systems)."
        )
