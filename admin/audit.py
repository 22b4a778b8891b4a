"""The audit log: append-only. The app only ever inserts rows; nothing updates or deletes them."""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from core.storage import models as m

ACTIONS = (
    "sign-in", "sign-in-failed", "sign-out", "session-ended", "view", "search", "export",
    "coding", "note", "status", "flag", "transcript", "quote", "user-added", "user-changed",
    "keyword-rule", "account-set-up", "forbidden", "acknowledge", "outcome",
    # Campaigns and bulletins (target "campaign:<id>" or "bulletin:<id>"; never the message text).
    "campaign-created", "campaign-changed", "campaign-scheduled", "campaign-unscheduled", "campaign-paused",
    "campaign-resumed", "campaign-cancelled", "bulletin-created", "bulletin-changed", "bulletin-published",
    "bulletin-sent",
    # Restricted words (SECURITY.md S9): shown to a safeguarding lead, or held back from someone else.
    # Target "response:<ref>", "alert:<ref>" or "responses" (lists and exports); never the words.
    "restricted-view", "restricted-view-refused",
    # An admin erased a person's survey data (target "respondent:<ref>"; the counts, never the words).
    "erase",
)


def clean(text: str, limit: int) -> str:
    """No control characters (so nobody can forge a line in a log), at most ``limit`` characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:limit]


async def record(at: datetime, actor: str, action: str, target: str = "", detail: str = "",
                 conn: BaseDBAsyncClient | None = None) -> None:
    """Append an entry (``conn``: inside that transaction, so it is written with the change or not at all)."""
    assert action in ACTIONS, action
    await m.AuditEvent.create(at=at, actor=clean(actor or "-", 254), action=action,
                              target=clean(target, 100), detail=clean(detail, 300), using_db=conn)
