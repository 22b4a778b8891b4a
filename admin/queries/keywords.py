"""Keyword rules that suggest priorities, kept as data that admins edit."""

from __future__ import annotations

from core.storage import models as m


async def rules() -> list[m.KeywordRule]:
    return await m.KeywordRule.all().order_by("language", "keyword", "priority_id")


async def add(language: str, keyword: str, priority: str) -> m.KeywordRule:
    rule, _ = await m.KeywordRule.get_or_create(language=language, keyword=keyword.strip().casefold(),
                                                priority_id=priority)
    return rule


async def remove(rule_id: int) -> bool:
    return await m.KeywordRule.filter(id=rule_id).delete() == 1
