"""Erasing a person's survey data from the admin (SECURITY.md P1), exactly as the bot's /delete does.

:func:`erase` runs :func:`core.storage.turns.erase` in one transaction with its audit entry: every
answer, response, voice clip and delivery of the person, their session and their record go, and a
tombstone keyed by their ``key_hash`` is left. Safeguarding alerts (and the words that raised them)
stay, under their own basis. Then the admin's own copies are brought into line at once: the
dashboard's counts and, on SQLite, the search index's copy of the answers' words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from admin import audit
from admin.queries import rollup
from admin.sql import Sql
from core.storage import erasures, turns
from core.storage import models as m


@dataclass(frozen=True)
class Held:
    """What is held about a person: what erasing them deletes, and the alerts that stay."""

    ref: str  # the person's public reference
    responses: int
    answers: int
    clips: int
    deliveries: int
    alerts: int  # kept

    def summary(self) -> str:
        """In words, for the audit log (counts only)."""
        def n(count: int, one: str, many: str = "") -> str:
            return f"{count} {one if count == 1 else many or one + 's'}"

        deleted = [n(self.responses, "response"), n(self.answers, "answer"), n(self.clips, "voice clip"),
                   n(self.deliveries, "delivery", "deliveries")]
        return (f"deleted {', '.join(deleted)} and the person's record; "
                f"kept {n(self.alerts, 'safeguarding alert')}")


async def _ids(query: Any) -> list[int]:
    return [int(i) for i in await query.values_list("id", flat=True)]


async def person_of(response: m.Response) -> m.Respondent | None:
    """The person who gave this response, if it is linked to one (not anonymous, not erased)."""
    found = await m.Response.filter(id=response.id).values_list("respondent_id", flat=True)
    person_id = found[0] if found else None
    return await m.Respondent.get_or_none(id=person_id) if person_id is not None else None


async def held(person: m.Respondent, conn: BaseDBAsyncClient | None = None) -> Held:
    ids = await _ids(m.Response.filter(respondent_id=person.id).using_db(conn))
    answers = await m.Answer.filter(response_id__in=ids).using_db(conn).count() if ids else 0
    clips = await m.VoiceClip.filter(answer__response_id__in=ids).using_db(conn).count() if ids else 0
    deliveries = await m.Delivery.filter(respondent_id=person.id).using_db(conn).count()
    alerts = await m.SafeguardingAlert.filter(response_id__in=ids).using_db(conn).count() if ids else 0
    return Held(person.ref, len(ids), answers, clips, deliveries, alerts)


async def erase(person: m.Respondent, now: datetime, actor: str, response_ref: str,
                erasure_log: Path) -> Held | None:
    """Erase the person and audit it, in one transaction; None if they had gone already.

    The erasure goes into ``erasure_log`` (outside the database) before the transaction commits,
    so that restoring an older backup cannot bring the person back (SECURITY.md R20).
    """
    async with in_transaction() as conn:
        found = await m.Respondent.filter(id=person.id).using_db(conn).values_list("key_hash", flat=True)
        if not found:
            return None
        key_hash = str(found[0])
        loaded, _ = await turns.load(conn, key_hash)  # locks their row on PostgreSQL, as a turn does
        if loaded is None:
            return None
        before = await held(person, conn)
        answer_ids = await _ids(m.Answer.filter(response__respondent_id=person.id).using_db(conn))
        response_ids = await _ids(m.Response.filter(respondent_id=person.id).using_db(conn))
        await erasures.record(erasure_log, key_hash, now)
        await turns.erase(conn, loaded, key_hash, None, now)
        await audit.record(now, actor, "erase", f"respondent:{before.ref}",
                           f"{before.summary()}; opened from response:{response_ref}", conn=conn)
    sql = Sql()
    await rollup.update(sql, response_ids)  # out of the dashboard's counts
    if not sql.pg and answer_ids:  # and their words out of SQLite's search copy
        for start in range(0, len(answer_ids), rollup.CHUNK):
            chunk = ",".join(str(i) for i in answer_ids[start:start + rollup.CHUNK])
            await sql.execute(f"DELETE FROM answer_search WHERE rowid IN ({chunk})")
    return before
