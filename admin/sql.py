"""A thin layer over the raw connection: one SQL text for SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from core.storage.db import connection

_QMARK = re.compile(r"\?")


class Sql:
    """Write queries with ``?`` placeholders; they become ``$1, $2...`` on PostgreSQL."""

    def __init__(self) -> None:
        self.conn = connection()
        self.pg = self.conn.capabilities.dialect == "postgres"

    def text(self, query: str) -> str:
        if not self.pg:
            return query
        counter = iter(range(1, 10_000))
        return _QMARK.sub(lambda _: f"${next(counter)}", query)

    def dt(self, value: datetime) -> Any:
        """A datetime as a parameter (SQLite keeps them as text in tortoise's format)."""
        return value if self.pg else str(value.astimezone(UTC))

    @property
    def like(self) -> str:
        return "ILIKE" if self.pg else "LIKE"

    async def rows(self, query: str, values: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return await self.conn.execute_query_dict(self.text(query), list(values))

    async def execute(self, query: str, values: Sequence[Any] = ()) -> None:
        await self.conn.execute_query(self.text(query), list(values))

    async def many(self, query: str, values: list[Sequence[Any]]) -> None:
        if values:
            await self.conn.execute_many(self.text(query), [list(v) for v in values])


def as_datetime(value: Any) -> datetime | None:
    """A datetime read back from either database."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's own characters escaped (use with ``ESCAPE '\\'``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
