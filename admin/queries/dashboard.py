"""The dashboard's figures for a date range: breakdowns and a time series.

Ranges of whole UTC days (every page asks for those) are summed from the daily counts that
:mod:`admin.queries.rollup` keeps; any other range is counted from the responses directly. Both
give the same figures.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from admin.queries import rollup
from admin.queries.summary import split_codes
from admin.sql import Sql

FEEDBACK = "feedback"
NONE = ""  # "not given" in every breakdown


@dataclass
class Figures:
    total: int = 0  # feedback responses in the range
    by_conversation: Counter[str] = field(default_factory=Counter)
    by_priority: dict[str, Counter[str]] = field(default_factory=dict)  # priority -> polarity -> n
    by_polarity: Counter[str] = field(default_factory=Counter)
    by_role: Counter[str] = field(default_factory=Counter)
    by_language: Counter[str] = field(default_factory=Counter)
    by_age: Counter[str] = field(default_factory=Counter)
    over_time: list[tuple[str, int]] = field(default_factory=list)
    bucket: str = "month"


def _whole_days(start: datetime, end: datetime) -> bool:
    return rollup.is_day(start) and rollup.is_day(end)


async def figures(start: datetime, end: datetime) -> Figures:
    sql = Sql()
    if _whole_days(start, end):
        return await _from_rollup(sql, start, end)
    return await from_responses(sql, start, end)


async def from_responses(sql: Sql, start: datetime, end: datetime) -> Figures:
    """The figures counted from the responses themselves (any range; slower on big ones)."""
    rows = await sql.rows(
        "SELECT conversation_id, polarity, priority_codes, role, language, age_band, COUNT(*) AS n "
        "FROM response WHERE started_at >= ? AND started_at < ? "
        "GROUP BY conversation_id, polarity, priority_codes, role, language, age_band",
        [sql.dt(start), sql.dt(end)])
    result = Figures()
    for row in rows:
        n = int(row["n"])
        result.by_conversation[row["conversation_id"]] += n
        if row["conversation_id"] != FEEDBACK:
            continue
        result.total += n
        polarity = row["polarity"] or NONE
        result.by_polarity[polarity] += n
        for code in split_codes(row["priority_codes"]) or [NONE]:
            result.by_priority.setdefault(code, Counter())[polarity] += n
        result.by_role[row["role"] or NONE] += n
        result.by_language[row["language"] or NONE] += n
        result.by_age[row["age_band"] or NONE] += n
    result.bucket = "day" if (end - start).days <= 62 else "month"
    result.over_time = await _series(sql, start, end, result.bucket)
    return result


async def _from_rollup(sql: Sql, start: datetime, end: datetime) -> Figures:
    result = Figures()
    breakdowns = {"conversation": result.by_conversation, "polarity": result.by_polarity,
                  "role": result.by_role, "language": result.by_language, "age": result.by_age}
    for row in await rollup.sums(sql, start, end):
        dimension, value, n = row["dimension"], row["value"], int(row["n"])
        if dimension == "priority":
            result.by_priority.setdefault(value, Counter())[row["polarity"]] += n
        elif dimension in breakdowns:
            breakdowns[dimension][value] += n
    result.total = result.by_conversation.get(FEEDBACK, 0)
    result.bucket = "day" if (end - start).days <= 62 else "month"
    result.over_time = await rollup.series(sql, start, end, 10 if result.bucket == "day" else 7)
    return result


async def _series(sql: Sql, start: datetime, end: datetime, bucket: str) -> list[tuple[str, int]]:
    if sql.pg:
        fmt = "YYYY-MM-DD" if bucket == "day" else "YYYY-MM"
        key = f"to_char(started_at AT TIME ZONE 'UTC', '{fmt}')"
    else:
        key = f"substr(started_at, 1, {10 if bucket == 'day' else 7})"
    rows = await sql.rows(
        f"SELECT {key} AS k, COUNT(*) AS n FROM response WHERE started_at >= ? AND started_at < ? "
        f"AND conversation_id = ? GROUP BY k ORDER BY k", [sql.dt(start), sql.dt(end), FEEDBACK])
    return [(str(r["k"]), int(r["n"])) for r in rows]


async def count_between(start: datetime, end: datetime) -> int:
    sql = Sql()
    if _whole_days(start, end):
        return await rollup.feedback_total(sql, start, end)
    rows = await sql.rows("SELECT COUNT(*) AS n FROM response WHERE started_at >= ? AND started_at < ? "
                          "AND conversation_id = ?", [sql.dt(start), sql.dt(end), FEEDBACK])
    return int(rows[0]["n"])
