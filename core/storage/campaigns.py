"""Campaign storage: who is invited, what is due to send, and what became of each message.

The ``delivery`` table is the source of truth (SCALE.md 4.3). Launching a campaign is one
``INSERT ... SELECT`` of everyone who agreed to be contacted, made idempotent by the unique key
(campaign, respondent, kind); reminders are inserted the same way, so nobody gets two. A message
is taken with a conditional ``UPDATE ... WHERE status = 'pending'`` before it goes, so two senders
never send the same row, and it is marked ``sent`` (or blocked, failed) when Telegram answers.

A row left ``sending`` by a crash is never sent again: the message may already have arrived, and
a second invitation is worse than a missing one. After :data:`LEASE` it is marked ``unknown`` and
shown as such in the admin.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from core.storage.turns import execute, rows

LEASE = dt.timedelta(minutes=2)
AUDIENCE = {"roles": "role", "languages": "language", "age_bands": "age_band"}
# Whom a campaign may reach at all: they said yes to contact and to the privacy notice, have a
# Telegram chat, and have not blocked the bot.
CONTACTABLE = ("r.contact_ok = ? AND r.blocked_at IS NULL AND r.chat_id IS NOT NULL "
               "AND r.channel = 'telegram' AND r.consent = 'yes'")
OPEN = ("pending", "sending")
INSERT = "INSERT INTO delivery (campaign_id, respondent_id, kind, status, language, attempts, created_at)"
ONCE = "ON CONFLICT (campaign_id, respondent_id, kind) DO NOTHING"
# The person's responses to the campaign's wave (parameters: conversation id, version).
THEIRS = ("SELECT 1 FROM response x WHERE x.respondent_id = d.respondent_id AND x.conversation_id = ? "
          "AND x.conversation_version = ?")
# The person finished the wave (also when their response was cut loose for anonymity): mark_finished.
DONE = ("SELECT 1 FROM delivery f WHERE f.campaign_id = d.campaign_id AND f.respondent_id = d.respondent_id "
        "AND f.kind = 'reminder' AND f.error = 'finished'")


@dataclass(frozen=True)
class Outgoing:
    """A delivery ready to send."""

    delivery_id: int
    campaign_id: int
    kind: str  # invite | reminder | bulletin
    respondent_id: int
    chat_id: int
    language: str


def _conn() -> BaseDBAsyncClient:
    conn: BaseDBAsyncClient = connections.get("default")
    return conn


async def _insert(conn: BaseDBAsyncClient, text: str, values: Sequence[Any]) -> int:
    """Run an ``INSERT ... SELECT``; the number of rows it added.

    (tortoise's asyncpg client reads the OID of PostgreSQL's "INSERT 0 n" as the count, so there
    the rows are counted with RETURNING instead.)
    """
    if conn.capabilities.dialect == "postgres":
        counted = f"WITH added AS ({text} RETURNING 1) SELECT COUNT(*) AS n FROM added"
        found = await rows(conn, counted, values)
        return int(found[0]["n"])
    return await execute(conn, text, values)


def audience_where(audience: dict[str, list[str]]) -> tuple[str, list[Any]]:
    """SQL conditions on ``respondent r`` for a campaign's audience (an empty list means everyone)."""
    clauses: list[str] = [CONTACTABLE]
    values: list[Any] = [True]
    for key, column in AUDIENCE.items():
        chosen = [v for v in audience.get(key) or [] if isinstance(v, str)]
        if chosen:
            clauses.append(f"r.{column} IN ({', '.join('?' for _ in chosen)})")
            values += chosen
    return " AND ".join(clauses), values


async def audience_size(audience: dict[str, list[str]]) -> int:
    """How many people a campaign with this audience would reach now."""
    where, values = audience_where(audience)
    found = await rows(_conn(), f"SELECT COUNT(*) AS n FROM respondent r WHERE {where}", values)
    return int(found[0]["n"])


async def launch(campaign_id: int, now: dt.datetime) -> int:
    """Start a scheduled campaign: one pending delivery per person in its audience.

    Only one process can move the campaign from ``scheduled`` to ``sending``; the insert is
    idempotent anyway. Returns the number of deliveries made (0 if it was not scheduled).
    """
    async with in_transaction() as conn:
        found = await rows(conn, "SELECT kind, audience FROM campaign WHERE id = ?", (campaign_id,))
        if not found or await execute(conn, "UPDATE campaign SET status = 'sending', launched_at = ?, "
                                            "updated_at = ? WHERE id = ? AND status = 'scheduled'",
                                      (now, now, campaign_id)) != 1:
            return 0
        audience = _json(found[0]["audience"])
        kind = "bulletin" if found[0]["kind"] == "bulletin" else "invite"
        where, values = audience_where(audience)
        return await _insert(
            conn, f"{INSERT} SELECT ?, r.id, ?, 'pending', r.language, 0, ? FROM respondent r "
                  f"WHERE {where} ORDER BY r.id {ONCE}",
            [campaign_id, kind, now, *values])


async def queue_reminders(campaign_id: int, now: dt.datetime) -> int:
    """One reminder each for those invited ``reminder_days`` ago who have not finished the survey."""
    async with in_transaction() as conn:
        found = await rows(conn, "SELECT reminder_days, conversation_id, conversation_version FROM campaign "
                                 "WHERE id = ? AND kind = 'survey' AND status = 'sending'", (campaign_id,))
        if not found or int(found[0]["reminder_days"] or 0) <= 0:
            return 0
        c = found[0]
        due = now - dt.timedelta(days=int(c["reminder_days"]))
        return await _insert(
            conn, f"{INSERT} SELECT d.campaign_id, d.respondent_id, 'reminder', 'pending', r.language, 0, ? "
                  "FROM delivery d JOIN respondent r ON r.id = d.respondent_id "
                  "WHERE d.campaign_id = ? AND d.kind = 'invite' AND d.status = 'sent' AND d.sent_at <= ? "
                  f"AND {CONTACTABLE} AND NOT EXISTS (SELECT 1 FROM response x WHERE "
                  "x.respondent_id = d.respondent_id AND x.conversation_id = ? "
                  f"AND x.conversation_version = ? AND x.status = 'submitted') ORDER BY d.id {ONCE}",
            (now, campaign_id, due, True, c["conversation_id"], c["conversation_version"]))


async def tick(now: dt.datetime) -> None:
    """The scheduler's periodic work: launch what is due, queue reminders, close finished campaigns."""
    conn = _conn()
    due = await rows(conn, "SELECT id FROM campaign WHERE status = 'scheduled' AND scheduled_at <= ? "
                           "ORDER BY id", (now,))
    for row in due:
        await launch(int(row["id"]), now)
    sending = await rows(conn, "SELECT id, kind, reminder_days, launched_at FROM campaign "
                               "WHERE status = 'sending'", ())
    for c in sending:
        await queue_reminders(int(c["id"]), now)
        await recover(now, int(c["id"]))
        await _close_if_finished(c, now)


async def _close_if_finished(campaign: dict[str, Any], now: dt.datetime) -> None:
    """Done when nothing is left to send and no invitation can still get a reminder."""
    conn = _conn()
    left = await rows(conn, "SELECT COUNT(*) AS n FROM delivery WHERE campaign_id = ? AND status IN (?, ?)",
                      (campaign["id"], *OPEN))
    if int(left[0]["n"]):
        return
    days = int(campaign["reminder_days"] or 0) if campaign["kind"] == "survey" else 0
    if days:
        waiting = await rows(conn, "SELECT COUNT(*) AS n FROM delivery WHERE campaign_id = ? "
                                   "AND kind = 'invite' AND status = 'sent' AND sent_at > ?",
                             (campaign["id"], now - dt.timedelta(days=days)))
        if int(waiting[0]["n"]):
            return
    await execute(conn, "UPDATE campaign SET status = 'done', finished_at = ?, updated_at = ? "
                        "WHERE id = ? AND status = 'sending'", (now, now, campaign["id"]))


async def next_batch(now: dt.datetime, limit: int = 100) -> list[Outgoing]:
    """Pending deliveries of running campaigns, oldest first.

    Rows for people who can no longer be contacted, and reminders to people who have finished
    since, are marked ``skipped`` here instead of being returned.
    """
    conn = _conn()
    found = await rows(
        conn, "SELECT d.id, d.campaign_id, d.kind, d.respondent_id, r.chat_id, r.language, r.contact_ok, "
              "r.blocked_at, r.consent, c.conversation_id, c.conversation_version FROM delivery d "
              "JOIN campaign c ON c.id = d.campaign_id JOIN respondent r ON r.id = d.respondent_id "
              "WHERE d.status = 'pending' AND c.status = 'sending' "
              "AND (d.not_before IS NULL OR d.not_before <= ?) ORDER BY d.id LIMIT ?", (now, limit))
    ready, skip = [], []
    for row in found:
        gone = not row["contact_ok"] or row["blocked_at"] is not None or row["chat_id"] is None \
            or row["consent"] != "yes"
        if gone or (row["kind"] == "reminder" and await _finished(conn, row)):
            skip.append(int(row["id"]))
        else:
            ready.append(Outgoing(int(row["id"]), int(row["campaign_id"]), str(row["kind"]),
                                  int(row["respondent_id"]), int(row["chat_id"]), str(row["language"])))
    if skip:
        await execute(conn, f"UPDATE delivery SET status = 'skipped' WHERE status = 'pending' AND id IN "
                            f"({', '.join('?' for _ in skip)})", skip)
    return ready


async def mark_finished(conn: BaseDBAsyncClient, respondent_id: int, conversation_id: str, version: int,
                        now: dt.datetime) -> None:
    """The person sent their answers to this wave: no reminder for it, now or later.

    Written as a ``skipped`` reminder row marked ``finished`` for each campaign of the wave that
    invited them, so the unique key stops a reminder even when the response is anonymous (cut
    loose from the person) and so the campaign's figures can count it.
    """
    await _insert(conn, f"{INSERT} SELECT d.campaign_id, d.respondent_id, 'reminder', 'skipped', d.language, "
                        "0, ? FROM delivery d JOIN campaign c ON c.id = d.campaign_id "
                        "WHERE d.respondent_id = ? AND d.kind = 'invite' AND c.conversation_id = ? "
                        "AND c.conversation_version = ? "
                        f"ORDER BY d.id {ONCE}", (now, respondent_id, conversation_id, version))
    await execute(conn, "UPDATE delivery SET status = 'skipped', error = 'finished' WHERE respondent_id = ? "
                        "AND kind = 'reminder' AND status IN ('pending', 'skipped') AND campaign_id IN "
                        "(SELECT id FROM campaign WHERE conversation_id = ? AND conversation_version = ?)",
                  (respondent_id, conversation_id, version))


async def _finished(conn: BaseDBAsyncClient, row: dict[str, Any]) -> bool:
    found = await rows(conn, "SELECT 1 AS one FROM response WHERE respondent_id = ? AND conversation_id = ? "
                             "AND conversation_version = ? AND status = 'submitted' LIMIT 1",
                       (row["respondent_id"], row["conversation_id"], row["conversation_version"]))
    return bool(found)


async def begin(delivery_id: int, now: dt.datetime) -> bool:
    """Take a pending delivery to send it now; False if another sender (or a pause) got there first."""
    return await execute(_conn(), "UPDATE delivery SET status = 'sending', sending_at = ?, "
                                  "attempts = attempts + 1 WHERE id = ? AND status = 'pending'",
                         (now, delivery_id)) == 1


async def sent(delivery_id: int, now: dt.datetime, message_id: int | None) -> None:
    await execute(_conn(), "UPDATE delivery SET status = 'sent', sent_at = ?, message_id = ?, error = NULL "
                           "WHERE id = ? AND status IN ('sending', 'unknown')",
                  (now, message_id, delivery_id))


async def later(delivery_id: int, not_before: dt.datetime, error: str) -> None:
    """The message did not go (flood control, or no connection): back in the queue until ``not_before``."""
    await execute(_conn(), "UPDATE delivery SET status = 'pending', not_before = ?, error = ? "
                           "WHERE id = ? AND status = 'sending'", (not_before, error[:100], delivery_id))


async def failed(delivery_id: int, status: str, error: str, now: dt.datetime) -> None:
    """Telegram refused it for good: ``blocked`` (the person also stops getting messages) or ``failed``."""
    assert status in ("blocked", "failed", "unknown")
    conn = _conn()
    await execute(conn, "UPDATE delivery SET status = ?, error = ? WHERE id = ? AND status = 'sending'",
                  (status, error[:100], delivery_id))
    if status == "blocked":
        await execute(conn, "UPDATE respondent SET contact_ok = ?, blocked_at = ? WHERE id = "
                            "(SELECT respondent_id FROM delivery WHERE id = ?)", (False, now, delivery_id))


async def mark_blocked(channel: str, chat_id: int, now: dt.datetime) -> int:
    """The person blocked the bot (or left): no more invitations, reminders or bulletins."""
    return await execute(_conn(), "UPDATE respondent SET contact_ok = ?, blocked_at = ? "
                                  "WHERE channel = ? AND chat_id = ?", (False, now, channel, chat_id))


async def recover(now: dt.datetime, campaign_id: int | None = None) -> int:
    """Rows left ``sending`` longer than the lease (the sender stopped mid-message) become ``unknown``."""
    extra, values = ("AND campaign_id = ?", [campaign_id]) if campaign_id is not None else ("", [])
    return await execute(_conn(), f"UPDATE delivery SET status = 'unknown' WHERE status = 'sending' "
                                  f"AND sending_at < ? {extra}", [now - LEASE, *values])


async def set_status(campaign_id: int, new: str, allowed_from: Sequence[str], now: dt.datetime,
                     scheduled_at: dt.datetime | None = None) -> bool:
    """Move a campaign between states (schedule, pause, resume, cancel); False if not allowed now."""
    marks = ", ".join("?" for _ in allowed_from)
    sets, values = "status = ?, updated_at = ?", [new, now]
    if scheduled_at is not None:
        sets, values = sets + ", scheduled_at = ?", [*values, scheduled_at]
    changed = await execute(_conn(), f"UPDATE campaign SET {sets} WHERE id = ? AND status IN ({marks})",
                            [*values, campaign_id, *allowed_from])
    if changed and new == "cancelled":
        await execute(_conn(), "UPDATE delivery SET status = 'skipped' WHERE campaign_id = ? "
                               "AND status = 'pending'", (campaign_id,))
    return changed == 1


@dataclass(frozen=True)
class Figures:
    """A campaign's progress: invited (sent), started and finished, and what did not go."""

    queued: int = 0
    sent: int = 0
    started: int = 0
    finished: int = 0
    reminded: int = 0
    blocked: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    pending: int = 0

    @property
    def rate(self) -> float:
        """Finished as a share of the invitations that arrived or may have (``unknown``); 0 before any."""
        reached = self.sent + self.unknown  # started and finished count people from both
        return self.finished / reached if reached else 0.0


async def figures(campaign_id: int, by: str | None = None) -> dict[str, Figures]:
    """Progress of a campaign, in all (key ``""``) or by ``language`` or ``role`` (who answered)."""
    conn = _conn()
    c = await rows(conn, "SELECT conversation_id, conversation_version FROM campaign WHERE id = ?",
                   (campaign_id,))
    if not c:
        return {}
    group = {"language": "d.language", "role": "COALESCE(r.role, '')"}.get(by or "", "''")
    found = await rows(
        conn, f"SELECT {group} AS k, d.kind, d.status, COUNT(*) AS n, "
              f"SUM(CASE WHEN EXISTS ({THEIRS}) OR EXISTS ({DONE}) THEN 1 ELSE 0 END) AS started, "
              f"SUM(CASE WHEN EXISTS ({THEIRS} AND x.status = 'submitted') OR EXISTS ({DONE}) "
              "THEN 1 ELSE 0 END) AS finished "
              "FROM delivery d JOIN respondent r ON r.id = d.respondent_id WHERE d.campaign_id = ? "
              "GROUP BY 1, d.kind, d.status",
        (c[0]["conversation_id"], c[0]["conversation_version"]) * 2 + (campaign_id,))
    out: dict[str, dict[str, int]] = {}
    for row in found:
        f = out.setdefault(str(row["k"]), {})
        n = int(row["n"])
        if row["kind"] == "reminder":
            f["reminded"] = f.get("reminded", 0) + (n if row["status"] == "sent" else 0)
            continue
        f["queued"] = f.get("queued", 0) + n
        key = {"sent": "sent", "blocked": "blocked", "failed": "failed", "unknown": "unknown",
               "skipped": "skipped"}.get(str(row["status"]), "pending")
        f[key] = f.get(key, 0) + n
        if row["status"] in ("sent", "unknown"):
            f["started"] = f.get("started", 0) + int(row["started"] or 0)
            f["finished"] = f.get("finished", 0) + int(row["finished"] or 0)
    return {k: Figures(**v) for k, v in sorted(out.items())}


async def news(limit: int = 3) -> list[dict[str, Any]]:
    """The latest published bulletins, newest first: ``published_at`` and ``texts``."""
    found = await rows(_conn(), "SELECT id, published_at, texts FROM bulletin WHERE status = 'published' "
                                "ORDER BY published_at DESC, id DESC LIMIT ?", (limit,))
    return [{"id": int(r["id"]), "published_at": r["published_at"], "texts": _json(r["texts"])}
            for r in found]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else (value or {})
