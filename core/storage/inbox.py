"""The durable inbox of incoming updates (Telegram ``update_id`` plus the update as JSON).

An update is stored before it is processed and marked done in the same transaction as its effect,
so each one is processed at most once and none is lost to a crash:

* :func:`inbox_add` stores a batch with insert-or-ignore and returns only the ids that were new
  (a replayed or re-delivered update, processed or not, is never added twice);
* :func:`inbox_mark_done` (pass it the transaction's connection) sets ``processed_at`` and drops the
  payload, so the children's words do not stay in the inbox;
* :func:`inbox_mark_failed` counts failures and dead-letters an update after ``max_attempts``
  (keeping only the exception type, never its message);
* :func:`inbox_pending` lists what is still to do, oldest first (for a sweeper or a restart).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from core.storage.db import CONNECTION
from core.storage.models import InboxUpdate

# Rows per INSERT statement: 5 parameters each, well under SQLite's and PostgreSQL's limits.
_CHUNK = 1000
_COLUMNS = ("update_id", "source", "received_at", "attempts", "payload")
_ERROR_MAX = 100
_TYPE_NAME = re.compile(r"[A-Za-z_][\w.]*")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def strip_nul(value: Any) -> Any:
    """``value`` with every NUL character removed from its strings (keys too), nothing else changed.

    PostgreSQL cannot store NUL in text, and it has no business in an update anyway.
    """
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {strip_nul(key): strip_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strip_nul(item) for item in value]
    return value


def _payload_text(payload: dict[str, Any]) -> str:
    text = json.dumps(strip_nul(payload), ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no database takes it raw, JSON escapes keep it
        text = json.dumps(strip_nul(payload), ensure_ascii=True, separators=(",", ":"))
    return text


def _insert_sql(dialect: str, rows: int) -> str:
    width = len(_COLUMNS)
    if dialect == "postgres":
        groups = (
            "(" + ",".join(f"${row * width + col + 1}" for col in range(width)) + ")" for row in range(rows)
        )
    else:
        groups = ("(" + ",".join("?" * width) + ")" for _ in range(rows))
    columns = ",".join(f'"{name}"' for name in _COLUMNS)
    return (
        f'INSERT INTO "inbox_update" ({columns}) VALUES {",".join(groups)} '
        'ON CONFLICT ("update_id") DO NOTHING RETURNING "update_id"'
    )


async def inbox_add(source: str, updates: Sequence[tuple[int, dict[str, Any]]]) -> list[int]:
    """Store ``updates`` (``(update_id, update as a JSON-able dict)``) in one transaction.

    Returns the ids that were not stored before, in the order given; the database decides, so two
    concurrent calls with overlapping ids never both get the same id back.
    """
    if not updates:
        return []
    now = _utcnow()
    rows: list[tuple[int, str, datetime, int, str]] = []
    seen: set[int] = set()
    for update_id, payload in updates:
        uid = int(update_id)
        if uid not in seen:
            seen.add(uid)
            rows.append((uid, source, now, 0, _payload_text(payload)))
    # Inserting in id order means concurrent batches take row locks in the same order (no deadlock).
    ordered = sorted(rows)
    added: set[int] = set()
    async with in_transaction(CONNECTION) as conn:
        dialect = conn.capabilities.dialect
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            values = [value for row in chunk for value in row]
            # execute_query_dict, because tortoise's asyncpg execute_query drops RETURNING rows.
            result = await conn.execute_query_dict(_insert_sql(dialect, len(chunk)), values)
            added.update(int(row["update_id"]) for row in result)
    return [row[0] for row in rows if row[0] in added]


async def inbox_pending(source: str, limit: int = 500, older_than: timedelta | None = None
                        ) -> list[tuple[int, dict[str, Any]]]:
    """Updates from ``source`` neither processed nor dead-lettered, lowest ``update_id`` first
    (only those received more than ``older_than`` ago, if given)."""
    query = InboxUpdate.filter(source=source, processed_at=None, failed_at=None)
    if older_than is not None:
        query = query.filter(received_at__lt=_utcnow() - older_than)
    rows = (
        await query
        .order_by("update_id")
        .limit(limit)
        .values_list("update_id", "payload")
    )
    return [(int(uid), json.loads(payload) if payload else {}) for uid, payload in rows]


async def inbox_mark_done(update_id: int, connection: BaseDBAsyncClient | None = None) -> bool:
    """Mark an update processed and drop its payload.

    Pass the transaction's ``connection`` to do it atomically with the update's effect. Returns
    False if it was already processed (or is not in the inbox): inside a transaction, that means
    another worker got there first and this transaction should be rolled back.
    """
    query = InboxUpdate.filter(update_id=update_id, processed_at=None)
    if connection is not None:
        query = query.using_db(connection)
    updated = await query.update(processed_at=_utcnow(), payload=None)
    return updated == 1


def _error_name(error: str | BaseException | type[BaseException]) -> str:
    if isinstance(error, BaseException):
        error = type(error)
    if isinstance(error, type):
        return error.__qualname__[:_ERROR_MAX]
    # Keep only a leading type name, so no exception message (which may quote the user) is kept.
    match = _TYPE_NAME.match(error.strip())
    return match.group(0)[:_ERROR_MAX] if match else "Error"


async def inbox_mark_failed(
    update_id: int, error_type: str | BaseException | type[BaseException], max_attempts: int = 3
) -> bool:
    """Count a failed attempt; at ``max_attempts`` dead-letter the update (payload dropped).

    Only the exception's type name is recorded. Returns True if the update is now dead-lettered.
    An update already processed is left alone (returns False).
    """
    error = _error_name(error_type)
    async with in_transaction(CONNECTION) as conn:
        row = await InboxUpdate.filter(update_id=update_id).select_for_update().using_db(conn).first()
        if row is None or row.processed_at is not None:
            return False
        if row.failed_at is not None:
            return True
        attempts = row.attempts + 1
        changes: dict[str, Any] = {"attempts": attempts, "error": error}
        dead = attempts >= max_attempts
        if dead:
            changes["failed_at"] = _utcnow()
            changes["payload"] = None
        await InboxUpdate.filter(update_id=update_id).using_db(conn).update(**changes)
    return dead


async def inbox_is_done(update_id: int) -> bool:
    """True if nothing more is to be done with the update: processed, or dead-lettered."""
    row = await InboxUpdate.filter(update_id=update_id).values_list("processed_at", "failed_at")
    return bool(row) and (row[0][0] is not None or row[0][1] is not None)
