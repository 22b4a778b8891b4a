"""The board report: this period against the one before, and the quotes officers chose."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from admin.queries import dashboard
from admin.sql import Sql, as_datetime


@dataclass
class Quote:
    text: str
    language: str
    role: str | None
    started_at: datetime


@dataclass
class Report:
    current: dashboard.Figures
    previous: dashboard.Figures
    quotes: list[Quote]


async def report(start: datetime, end: datetime) -> Report:
    before = start - (end - start)
    current = await dashboard.figures(start, end)
    previous = await dashboard.figures(before, start)
    return Report(current, previous, await quotes(start, end))


async def quotes(start: datetime, end: datetime, limit: int = 12) -> list[Quote]:
    sql = Sql()
    rows = await sql.rows(
        "SELECT q.text, r.language, r.role, r.started_at FROM board_quote q "
        "JOIN response r ON r.id = q.response_id "
        f"WHERE r.started_at >= ? AND r.started_at < ? ORDER BY q.id DESC LIMIT {limit}",
        [sql.dt(start), sql.dt(end)])
    return [Quote(r["text"], r["language"], r["role"], as_datetime(r["started_at"]) or start) for r in rows]
