"""Which database errors are worth waiting out (core/storage/faults.py), as a table of cases."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from tortoise.exceptions import (
    DBConnectionError,
    IntegrityError,
    OperationalError,
    TransactionManagementError,
)

from core.storage.faults import unavailable


def _raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as caught:
        return caught


def _during(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException:
            raise outer  # noqa: B904 (an implicit __context__ is the point)
    except BaseException as caught:
        return caught


NOT_NOW = [
    OperationalError(sqlite3.OperationalError("database is locked")),
    OperationalError("database or disk is full"),
    sqlite3.OperationalError("disk I/O error"),
    sqlite3.OperationalError("unable to open database file"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.DiskFullError("could not extend file: No space left on device"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.DeadlockDetectedError("deadlock detected"),
    asyncpg.SerializationError("could not serialize access"),
    asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(104, "Connection reset by peer"),
    TimeoutError(),
    DBConnectionError("can't connect"),
    TransactionManagementError("connection was closed"),
    _raised_from(OperationalError("wrapped"), asyncpg.ConnectionDoesNotExistError("closed")),
    _during(RuntimeError("while handling"), ConnectionResetError()),
]

NEVER = [
    RuntimeError("a bug"),
    KeyError("step"),
    OSError(2, "No such file or directory"),  # a missing file is not the database being away
    IntegrityError("UNIQUE constraint failed: answer.id"),
    OperationalError("no such table: answer"),
    OperationalError("near \"SELEC\": syntax error"),
    sqlite3.DatabaseError("database disk image is malformed"),
    asyncpg.UndefinedTableError("relation \"answer\" does not exist"),
    asyncpg.UniqueViolationError("duplicate key value"),
    asyncpg.InterfaceError("the server expects 2 arguments, 1 was passed"),
    TransactionManagementError("Transaction already finalised"),
    _raised_from(ValueError("bad"), KeyError("worse")),
]


@pytest.mark.parametrize("exc", NOT_NOW, ids=lambda e: f"{type(e).__name__}:{str(e)[:30]}")
def test_waiting_helps(exc: BaseException) -> None:
    assert unavailable(exc)


@pytest.mark.parametrize("exc", NEVER, ids=lambda e: f"{type(e).__name__}:{str(e)[:30]}")
def test_waiting_does_not_help(exc: BaseException) -> None:
    assert not unavailable(exc)


def test_a_cycle_of_causes_ends() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__cause__, second.__cause__ = second, first
    assert not unavailable(first)
