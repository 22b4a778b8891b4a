"""Which database errors mean "not now" rather than "never" (SECURITY.md R10, R12, R14).

A locked or full SQLite file, a PostgreSQL server that is restarting, a connection cut in the
middle of a transaction: the work was rolled back as a whole, and the same work will succeed once
the database is back. Everything else (a bug, a broken constraint) would fail the same way again.
Callers retry the first kind and report the second.
"""

from __future__ import annotations

import asyncpg
from tortoise.exceptions import DBConnectionError, TransactionManagementError

# SQLite says these in its error messages (sqlite3.OperationalError, wrapped by tortoise).
_SQLITE_NOT_NOW = ("database is locked", "database table is locked", "database or disk is full",
                   "disk i/o error", "unable to open database file", "database is busy")
# asyncpg says these when a pooled connection has gone away under it.
_CLOSED = ("connection is closed", "connection was closed", "cannot perform operation: another operation",
           "pool is closing")
_PG_NOT_NOW: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # class 08: the connection failed or went away
    asyncpg.InsufficientResourcesError,  # class 53: disk full, out of memory, too many connections
    asyncpg.AdminShutdownError, asyncpg.CrashShutdownError, asyncpg.CannotConnectNowError,
    asyncpg.TransactionRollbackError,  # class 40: serialisation failure, deadlock; safe to retry
)


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) says the database cannot be used just now."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _not_now(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _not_now(exc: BaseException) -> bool:
    if isinstance(exc, (*_PG_NOT_NOW, DBConnectionError, ConnectionError, TimeoutError)):
        return True
    message = str(exc).lower()
    if isinstance(exc, asyncpg.InterfaceError | TransactionManagementError):
        return any(text in message for text in _CLOSED)
    if type(exc).__name__ in ("OperationalError", "DatabaseError"):  # sqlite3's, or tortoise's wrapper
        return any(text in message for text in _SQLITE_NOT_NOW)
    return False
