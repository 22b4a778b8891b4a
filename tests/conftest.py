"""Shared fixtures: a fresh database on SQLite and on PostgreSQL for every test.

* ``db_url``: a database URL, parametrized ``[sqlite]`` (a file under ``tmp_path``) and
  ``[postgres]`` (a new database ``voices_test_<random>`` on the server in ``VOICES_TEST_PG_URL``,
  default ``postgres://postgres@127.0.0.1:5432/test``, dropped afterwards; if the role may not
  create databases, the tables of the given database are dropped before and after instead).
  PostgreSQL unreachable: the test is skipped, or fails when ``CI=true``.
* ``db``: ``db_url`` with ``init_db`` done (schema migrated, tortoise ready) and ``close_db`` after.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the project is not installed into the venv
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from core.storage.db import close_db, init_db  # noqa: E402

PG_URL_ENV = "VOICES_TEST_PG_URL"
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/test"
PG_CONNECT_TIMEOUT = 5


def pg_base_url() -> str:
    return os.environ.get(PG_URL_ENV) or DEFAULT_PG_URL


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _asyncpg_dsn(url: str) -> str:
    # asyncpg reads postgres:// and postgresql:// itself, but not tortoise-only query options.
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


async def _pg_connect(url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(_asyncpg_dsn(url), timeout=PG_CONNECT_TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        reason = f"PostgreSQL at {_asyncpg_dsn(url)} is unreachable ({type(exc).__name__}: {exc})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; CI=true, so PostgreSQL tests must run")
        pytest.skip(reason + f"; set {PG_URL_ENV} to run the PostgreSQL tests")


async def _drop_all_tables(url: str) -> None:
    conn = await _pg_connect(url)
    try:
        tables = await conn.fetch(
            "SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = current_schema()"
        )
        if tables:
            await conn.execute("DROP TABLE IF EXISTS " + ", ".join(t["name"] for t in tables) + " CASCADE")
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def pg_database() -> AsyncIterator[str]:
    """A URL of a new, empty PostgreSQL database, dropped on exit."""
    base = pg_base_url()
    admin = await _pg_connect(base)
    name = f"voices_test_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.InsufficientPrivilegeError:
        await admin.close()
        await _drop_all_tables(base)
        try:
            yield base
        finally:
            await _drop_all_tables(base)
        return
    try:
        yield _with_database(base, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(autouse=True)
def _in_a_scratch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in its own folder: files Voices keeps beside where it runs (the erasure log,
    the secret key, the voice cache) then never land in the checkout or leak between tests."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of an empty database (no schema yet)."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'voices.db'}"
        return
    async with pg_database() as url:
        yield url


@contextlib.asynccontextmanager
async def opened_db(url: str) -> AsyncIterator[str]:
    """The database at ``url``, migrated and open for tortoise; closed on exit."""
    await init_db(url)
    try:
        yield url
    finally:
        await close_db()


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[str]:
    """The database at ``db_url``, migrated and open for tortoise; closed afterwards."""
    async with opened_db(db_url) as url:
        yield url
