"""The dashboard's daily counts (table ``dashboard_count``), kept current from the responses.

For each UTC day of ``response.started_at`` the table holds the dashboard's breakdowns: responses
per conversation, and, for feedback responses, per polarity, per priority and polarity, per who
answered, per language and per age band. A dashboard or board report then sums a few thousand
rows whatever the number of responses.

Beside it, ``dashboard_response`` holds, for every response, the values it is counted under now.
:func:`update` takes responses that may have changed, subtracts what they were counted as, adds
what they are now and records that, in one transaction (one at a time across workers on
PostgreSQL), so the counts always equal the sum over ``dashboard_response`` and the cost is
proportional to the responses changed, never to a day's or the table's size. The summary refresh
(:mod:`admin.queries.summary`) passes every response it has just brought up to date; an officer's
coding change passes its response at once; with nothing counted yet but responses present (a new
or upgraded database) everything is counted in one pass, and ``voices demo-data`` does the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from admin.queries import summary  # (imports this module too: use its names at call time)
from admin.sql import Sql, as_datetime

FEEDBACK = "feedback"
NONE = ""
LOCK_KEY = 0x766F6963_0001  # pg_advisory_xact_lock key: one recount at a time across workers
Key = tuple[str, str, str, str]  # day, dimension, value, polarity


def day_text(sql: Sql) -> str:
    """SQL for the UTC day (``YYYY-MM-DD``) of ``started_at``."""
    if sql.pg:
        return "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return "substr(started_at, 1, 10)"


def day_start(day: str) -> datetime:
    return datetime.combine(datetime.strptime(day, "%Y-%m-%d").date(), time(), UTC)


def is_day(value: datetime) -> bool:
    """True if ``value`` is midnight UTC, so that whole days of the table answer for it."""
    return value.tzinfo is not None and value.astimezone(UTC).time() == time()


def day_of(value: datetime) -> str:
    return value.astimezone(UTC).date().isoformat()


def counts(rows: Iterable[dict[str, Any]]) -> Counter[Key]:
    """The table's rows for grouped responses (day, conversation, polarity, codes, role, language, age, n)."""
    found: Counter[Key] = Counter()
    for row in rows:
        day, n = str(row["d"]), int(row["n"])
        found[day, "conversation", row["conversation_id"], NONE] += n
        if row["conversation_id"] != FEEDBACK:
            continue
        polarity = row["polarity"] or NONE
        found[day, "polarity", polarity, NONE] += n
        for code in summary.split_codes(row["priority_codes"]) or [NONE]:
            found[day, "priority", code, polarity] += n
        found[day, "role", row["role"] or NONE, NONE] += n
        found[day, "language", row["language"] or NONE, NONE] += n
        found[day, "age", row["age_band"] or NONE, NONE] += n
    return found


COLUMNS = "conversation_id, polarity, priority_codes, role, language, age_band"
UPSERT = ("INSERT INTO dashboard_count (day, dimension, value, polarity, n) VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT (day, dimension, value, polarity) DO UPDATE SET n = dashboard_count.n + excluded.n")
INSERT = "INSERT INTO dashboard_count (day, dimension, value, polarity, n) VALUES (?, ?, ?, ?, ?)"
CHUNK = 500
ERASED = "erased"


async def _rows(conn: BaseDBAsyncClient, sql: Sql, query: str, values: Sequence[Any] = ()
                ) -> list[dict[str, Any]]:
    return await conn.execute_query_dict(sql.text(query), list(values))


async def _lock(conn: BaseDBAsyncClient, sql: Sql) -> None:
    if sql.pg:
        await conn.execute_query(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")


async def update(sql: Sql, ids: Sequence[int]) -> None:
    """Bring the counts up to date for these responses (changed, new or gone)."""
    for start in range(0, len(ids), CHUNK):
        chunk = ",".join(str(int(i)) for i in ids[start:start + CHUNK])
        async with in_transaction() as conn:
            await _lock(conn, sql)
            old = await _rows(conn, sql, f"SELECT day AS d, {COLUMNS}, 1 AS n FROM dashboard_response "
                                         f"WHERE response_id IN ({chunk})")
            new = await _rows(conn, sql, f"SELECT id, {day_text(sql)} AS d, {COLUMNS}, 1 AS n FROM response "
                                         f"WHERE id IN ({chunk})")
            delta = counts(new)
            delta.subtract(counts(old))
            changes = [[*key, n] for key, n in sorted(delta.items()) if n]
            if changes:
                await conn.execute_many(sql.text(UPSERT), changes)
                days = ",".join(sorted({f"'{key[0]}'" for key in delta}))  # YYYY-MM-DD from the database
                await conn.execute_query(f"DELETE FROM dashboard_count WHERE day IN ({days}) AND n = 0")
            await conn.execute_query(f"DELETE FROM dashboard_response WHERE response_id IN ({chunk})")
            if new:
                await conn.execute_many(
                    sql.text(f"INSERT INTO dashboard_response (response_id, day, {COLUMNS}) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                    [[r["id"], r["d"], r["conversation_id"], r["polarity"], r["priority_codes"], r["role"],
                      r["language"], r["age_band"]] for r in new])


async def rebuild(sql: Sql) -> None:
    """Count every response again."""
    async with in_transaction() as conn:
        await _lock(conn, sql)
        await conn.execute_query("DELETE FROM dashboard_response")
        await conn.execute_query("DELETE FROM dashboard_count")
        await conn.execute_query(f"INSERT INTO dashboard_response (response_id, day, {COLUMNS}) "
                                 f"SELECT id, {day_text(sql)}, {COLUMNS} FROM response")
        found = counts(await _rows(conn, sql, f"SELECT day AS d, {COLUMNS}, COUNT(*) AS n "
                                              f"FROM dashboard_response GROUP BY day, {COLUMNS}"))
        rows = [[*key, n] for key, n in sorted(found.items()) if n]
        if rows:
            await conn.execute_many(sql.text(INSERT), rows)


async def ensure_built(sql: Sql) -> None:
    """Count everything if nothing is counted but there are responses (a new or upgraded database)."""
    if await sql.rows("SELECT 1 AS x FROM dashboard_response LIMIT 1"):
        return
    if await sql.rows("SELECT 1 AS x FROM response LIMIT 1"):
        await rebuild(sql)


async def _tombstones_since(sql: Sql, at: datetime | None) -> datetime | None:
    """The newest erasure (``tombstone.deleted_at``) if there is one after ``at``."""
    exists = ("SELECT to_regclass('tombstone') IS NOT NULL AS x" if sql.pg
              else "SELECT COUNT(*) AS x FROM sqlite_master WHERE type = 'table' AND name = 'tombstone'")
    if not (await sql.rows(exists))[0]["x"]:
        return None
    newest = as_datetime((await sql.rows("SELECT MAX(deleted_at) AS at FROM tombstone"))[0]["at"])
    return newest if newest is not None and (at is None or newest > at) else None


async def forget_erased(sql: Sql) -> None:
    """After someone asks to be forgotten (the bot deletes their responses and answers and leaves
    a tombstone), take their responses out of the counts and their words out of the search copy."""
    rows = await sql.rows("SELECT at FROM admin_mark WHERE name = ?", [ERASED])
    newest = await _tombstones_since(sql, as_datetime(rows[0]["at"]) if rows else None)
    if newest is None:
        return
    gone = await sql.rows("SELECT d.response_id FROM dashboard_response d "
                          "WHERE NOT EXISTS (SELECT 1 FROM response r WHERE r.id = d.response_id)")
    await update(sql, [int(r["response_id"]) for r in gone])
    if not sql.pg:
        await sql.execute("DELETE FROM answer_search WHERE rowid NOT IN (SELECT id FROM answer)")
    await sql.execute("INSERT INTO admin_mark (name, at, last_id) VALUES (?, ?, 0) "
                      "ON CONFLICT (name) DO UPDATE SET at = excluded.at", [ERASED, sql.dt(newest)])


async def sums(sql: Sql, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """(dimension, value, polarity, n) summed over whole days from ``start`` up to ``end``."""
    return await sql.rows("SELECT dimension, value, polarity, SUM(n) AS n FROM dashboard_count "
                          "WHERE day >= ? AND day < ? GROUP BY dimension, value, polarity "
                          "ORDER BY dimension, value, polarity", [day_of(start), day_of(end)])


async def series(sql: Sql, start: datetime, end: datetime, width: int) -> list[tuple[str, int]]:
    """Feedback responses per day (``width`` 10) or month (7)."""
    rows = await sql.rows(
        f"SELECT substr(day, 1, {width}) AS k, SUM(n) AS n FROM dashboard_count WHERE day >= ? AND day < ? "
        "AND dimension = 'conversation' AND value = ? GROUP BY k ORDER BY k",
        [day_of(start), day_of(end), FEEDBACK])
    return [(str(r["k"]), int(r["n"])) for r in rows]


async def feedback_total(sql: Sql, start: datetime, end: datetime) -> int:
    rows = await sql.rows("SELECT SUM(n) AS n FROM dashboard_count WHERE day >= ? AND day < ? "
                          "AND dimension = 'conversation' AND value = ?",
                          [day_of(start), day_of(end), FEEDBACK])
    return int(rows[0]["n"] or 0) if rows else 0
