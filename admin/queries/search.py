"""Full-text search of the answers: which responses have an answer whose text or transcript
contains the words typed (case-insensitive ``LIKE '%words%'``, exactly as without an index).

PostgreSQL answers ``ILIKE`` from trigram GIN indexes (migration 0004), which stay current by
themselves. SQLite keeps a trigram FTS5 copy of the answers' text and transcript
(``answer_search``, rowid = answer id) that :func:`catch_up` brings up to date before a search:
answers with a higher id than it has seen, and answers changed (``updated_at``) since shortly
before the newest change it has taken in. Every candidate the index gives is checked again with
``LIKE`` on the answer itself, so the index only has to find a superset: stale rows of deleted
answers do no harm.

:func:`matching_responses` returns the ids of the matching responses when there are few matching
answers (at most ``CAP``); for more, it returns None and the list scans the newest responses with
``EXISTS`` instead, which finds a page quickly because matches are common.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from admin.sql import Sql, as_datetime, like_pattern

CAP = 5000
MIN_LENGTH = 3  # trigrams: shorter words cannot use the index
MARK = "answer_search"
MARGIN = timedelta(minutes=2)  # longer than any bot transaction
BATCH = 20_000
INSERT = "INSERT INTO answer_search (rowid, text, transcript) VALUES (?, ?, ?)"


def usable(q: str) -> bool:
    return len(q) >= MIN_LENGTH


def _phrase(q: str) -> str:
    return '"' + q.replace('"', '""') + '"'


async def _mark(sql: Sql) -> tuple[datetime | None, int]:
    rows = await sql.rows("SELECT at, last_id FROM admin_mark WHERE name = ?", [MARK])
    if not rows:
        return None, 0
    return as_datetime(rows[0]["at"]), int(rows[0]["last_id"])


async def _take_in(sql: Sql, rows: list[dict[str, Any]], at: datetime | None, last_id: int
                   ) -> tuple[datetime | None, int]:
    """Index these answers (again, if they were) and move the mark on, atomically."""
    for row in rows:
        stamp = as_datetime(row["updated_at"])
        if stamp is not None and (at is None or stamp > at):
            at = stamp
        last_id = max(last_id, int(row["id"]))
    ids = ",".join(str(int(r["id"])) for r in rows)
    texts = [[int(r["id"]), r["text"], r["transcript"]] for r in rows if r["text"] or r["transcript"]]
    async with in_transaction() as conn:
        if ids:  # (also when new: a search running at the same time may have just taken them in)
            await conn.execute_query(f"DELETE FROM answer_search WHERE rowid IN ({ids})")
        if texts:
            await conn.execute_many(INSERT, texts)
        await conn.execute_query(
            "INSERT INTO admin_mark (name, at, last_id) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET at = excluded.at, last_id = excluded.last_id",
            [MARK, sql.dt(at) if at else None, last_id])
    return at, last_id


async def catch_up(sql: Sql) -> int:
    """Bring SQLite's search index up to date with the answers; returns how many were (re)indexed."""
    if sql.pg:
        return 0
    at, last_id = await _mark(sql)
    done = 0
    if at is not None:
        # (+id: read the updated_at index, not the id range)
        changed = await sql.rows("SELECT id, text, transcript, updated_at FROM answer "
                                 "WHERE updated_at >= ? AND +id <= ?", [sql.dt(at - MARGIN), last_id])
        for start in range(0, len(changed), BATCH):
            at, last_id = await _take_in(sql, changed[start:start + BATCH], at, last_id)
        done += len(changed)
    while True:
        new = await sql.rows(f"SELECT id, text, transcript, updated_at FROM answer WHERE id > ? "
                             f"ORDER BY id LIMIT {BATCH}", [last_id])
        if not new:
            return done
        at, last_id = await _take_in(sql, new, at, last_id)
        done += len(new)


async def reindex(sql: Sql, answer_id: int) -> None:
    """Index one answer again now (an officer changed its transcript)."""
    if sql.pg:
        return
    _, last_id = await _mark(sql)
    if answer_id > last_id:
        return  # not indexed yet: the next catch-up takes it in
    rows = await sql.rows("SELECT id, text, transcript, updated_at FROM answer WHERE id = ?", [answer_id])
    async with in_transaction() as conn:
        await conn.execute_query("DELETE FROM answer_search WHERE rowid = ?", [answer_id])
        if rows and (rows[0]["text"] or rows[0]["transcript"]):
            await conn.execute_query(INSERT, [answer_id, rows[0]["text"], rows[0]["transcript"]])


async def matching_responses(sql: Sql, q: str, conds: Sequence[str] = (), values: Sequence[Any] = ()
                             ) -> list[int] | None:
    """Ids of the responses with a matching answer that meet ``conds`` (on ``response r``), or None
    if more than CAP answers match."""
    if not usable(q):
        return None
    pattern = like_pattern(q)
    check = f"(a.text {sql.like} ? ESCAPE '\\' OR a.transcript {sql.like} ? ESCAPE '\\')"
    join = " JOIN response r ON r.id = a.response_id" if conds else ""
    where = " AND ".join([check, *conds])
    if sql.pg:
        query = f"SELECT a.response_id FROM answer a{join} WHERE {where} LIMIT {CAP + 1}"
        rows = await sql.rows(query, [pattern, pattern, *values])
    else:
        await catch_up(sql)
        rows = await sql.rows(f"SELECT a.response_id FROM answer_search s JOIN answer a ON a.id = s.rowid"
                              f"{join} WHERE answer_search MATCH ? AND {where} LIMIT {CAP + 1}",
                              [_phrase(q), pattern, pattern, *values])
    if len(rows) > CAP:
        return None
    return sorted({int(r["response_id"]) for r in rows})
