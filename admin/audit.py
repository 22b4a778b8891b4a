"""The audit log: append-only. The app only ever inserts rows; nothing updates or deletes them."""

from __future__ import annotations

from datetime import datetime

from core.storage import models as m

ACTIONS = (
    "sign-in", "sign-in-failed", "sign-out", "session-ended", "view", "search", "export",
    "coding", "note", "status", "flag", "transcript", "quote", "user-added", "user-changed",
    "keyword-rule", "account-set-up", "forbidden", "acknowledge", "outcome",
    # Campaigns and bulletins (target "campaign:<id>" or "bulletin:<id>"; never the message text).
    "campaign-created", "campaign-changed", "campaign-scheduled", "campaign-unscheduled", "campaign-paused",
    "campaign-resumed", "campaign-cancelled", "bulletin-created", "bulletin-changed", "bulletin-published",
    "bulletin-sent",
)


def clean(text: str, limit: int) -> str:
    """No control characters (so nobody can forge a line in a log), at most ``limit`` characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:limit]


async def record(at: datetime, actor: str, action: str, target: str = "", detail: str = "") -> None:
    assert action in ACTIONS, action
    await m.AuditEvent.create(at=at, actor=clean(actor or "-", 254), action=action,
                              target=clean(target, 100), detail=clean(detail, 300))
