"""Keeps each response's summary columns (polarity, priorities, voice) in step with its answers.

The bot writes answers; the admin reads summaries. Before a page reads them, :func:`refresh`
recomputes the summary of every response (or answer) changed since shortly before the newest
summary, using the ``updated_at`` indexes, so the lists and charts need no joins and are never
stale. The dashboard's daily counts (:mod:`admin.queries.rollup`) are then brought up to date
for those responses. Nothing in ``core`` has to know about it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from admin.queries import rollup
from admin.sql import Sql, as_datetime

MARGIN = timedelta(minutes=2)  # longer than any bot transaction
BATCH = 500


async def _since(sql: Sql) -> datetime | None:
    rows = await sql.rows("SELECT MAX(summarised_at) AS latest FROM response")
    latest = as_datetime(rows[0]["latest"]) if rows else None
    return latest - MARGIN if latest else None


async def _changed_ids(sql: Sql, since: datetime | None) -> list[int]:
    if since is None:
        rows = await sql.rows("SELECT id FROM response WHERE summarised_at IS NULL")
        return [int(r["id"]) for r in rows]
    stamp = sql.dt(since)
    rows = await sql.rows(
        "SELECT id FROM response WHERE updated_at >= ? "
        "UNION SELECT id FROM response WHERE summarised_at IS NULL "
        "UNION SELECT response_id AS id FROM answer WHERE updated_at >= ?", [stamp, stamp])
    return sorted({int(r["id"]) for r in rows})


async def refresh(now: datetime) -> int:
    """Bring every changed response's summary up to date; returns how many were recomputed."""
    sql = Sql()
    await rollup.ensure_built(sql)
    ids = await _changed_ids(sql, await _since(sql))
    for start in range(0, len(ids), BATCH):
        await summarise(sql, ids[start:start + BATCH], now)
    await rollup.update(sql, ids)
    await rollup.forget_erased(sql)
    return len(ids)


async def summarise(sql: Sql, ids: list[int], now: datetime) -> None:
    if not ids:
        return
    marks = ",".join("?" * len(ids))
    answers = await sql.rows(
        f"SELECT a.response_id, a.polarity, a.voice_file_id, ap.priority_id FROM answer a "
        f"LEFT JOIN answer_priority ap ON ap.answer_id = a.id WHERE a.response_id IN ({marks})", ids)
    codes = await sql.rows(
        f"SELECT response_id, priority_id FROM response_code WHERE response_id IN ({marks})", ids)
    summary = _build(ids, answers, codes)
    await sql.many(
        "UPDATE response SET polarity = ?, priority_codes = ?, has_voice = ?, summarised_at = ? WHERE id = ?",
        [(pol, pri, voice, sql.dt(now), rid) for rid, (pol, pri, voice) in summary.items()])


def _build(ids: list[int], answers: list[dict[str, Any]], codes: list[dict[str, Any]]
           ) -> dict[int, tuple[str | None, str | None, bool]]:
    polarity: dict[int, str | None] = {}
    priorities: dict[int, set[str]] = defaultdict(set)
    voice: set[int] = set()
    for row in answers:
        rid = int(row["response_id"])
        if row["polarity"] and rid not in polarity:
            polarity[rid] = row["polarity"]
        if row["voice_file_id"]:
            voice.add(rid)
        if row["priority_id"]:
            priorities[rid].add(row["priority_id"])
    for row in codes:
        priorities[int(row["response_id"])].add(row["priority_id"])
    return {rid: (polarity.get(rid), codes_text(priorities.get(rid, set())), rid in voice) for rid in ids}


def codes_text(codes: set[str] | list[str]) -> str | None:
    """``|a|b|`` so that ``LIKE '%|a%'`` finds a code and its sub-codes."""
    return "|" + "|".join(sorted(codes)) + "|" if codes else None


def split_codes(text: str | None) -> list[str]:
    return [code for code in (text or "").split("|") if code]
