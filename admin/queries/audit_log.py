"""Reading the audit log (there is no way to change it)."""

from __future__ import annotations

from core.storage import models as m

PAGE = 100


async def events(before: int | None, actor: str = "", target: str = "") -> list[m.AuditEvent]:
    query = m.AuditEvent.all()
    if before:
        query = query.filter(id__lt=before)
    if actor:
        query = query.filter(actor=actor.strip().lower())
    if target:
        query = query.filter(target=target.strip())
    return await query.order_by("-id").limit(PAGE + 1)
