"""The queries one conversation turn makes, as plain SQL on the turn's transaction.

Every user message runs these, so they skip the ORM's query building (which cost about as
much as the database work itself). A new NOT NULL column on ``answer`` must be added to
:class:`AnswerRow`, whose fields are the upsert's columns. They read and write the tables the models in
``core.storage.models`` define; the same SQL runs on SQLite and PostgreSQL, with ``?``
placeholders turned into ``$1, $2, ...`` for PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from core.storage import models as m

PERSON_COLUMNS = ("id", "channel", "chat_id", "language", "language_confirmed", "role", "answered_by",
                  "age_band", "consent", "consent_version", "consent_at", "contact_ok", "contact_at",
                  "settings", "anonymous", "blocked_at")


@dataclass
class Person:
    """A respondent row: only what a turn reads or changes."""

    id: int
    channel: str
    chat_id: int | None
    language: str
    language_confirmed: bool
    role: str | None = None
    answered_by: str | None = None
    age_band: str | None = None
    consent: str | None = None
    consent_version: str | None = None
    consent_at: dt.datetime | str | None = None
    contact_ok: bool = False
    contact_at: dt.datetime | str | None = None
    settings: str = ""  # personal settings that are on, comma-separated: easy, pictures, voice, ...
    anonymous: bool = False  # responses are cut loose from the person when sent
    blocked_at: dt.datetime | str | None = None  # Telegram said they blocked the bot


@dataclass
class SessionRow:
    id: int
    state: str
    version: int
    response_id: int | None
    asked_message_id: int | None


def _postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


@lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    counter = iter(range(1, 1000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


def sql(conn: BaseDBAsyncClient, text: str) -> str:
    return _numbered(text) if _postgres(conn) else text


async def execute(conn: BaseDBAsyncClient, text: str, values: Sequence[Any]) -> int:
    """Run a statement; the number of rows it changed."""
    changed, _ = await conn.execute_query(sql(conn, text), list(values))
    return int(changed)


async def rows(conn: BaseDBAsyncClient, text: str, values: Sequence[Any]) -> list[dict[str, Any]]:
    return await conn.execute_query_dict(sql(conn, text), list(values))


async def claim_update(conn: BaseDBAsyncClient, update_id: int, now: dt.datetime) -> bool:
    """Mark an inbox update processed; False if it was already (another delivery got there first)."""
    return await execute(
        conn, "UPDATE inbox_update SET processed_at = ?, payload = NULL "
              "WHERE update_id = ? AND processed_at IS NULL", (now, update_id)) == 1


async def load(conn: BaseDBAsyncClient, key_hash: str) -> tuple[Person | None, SessionRow | None]:
    """The respondent with this key and their session, locking the respondent row on PostgreSQL."""
    cols = ", ".join(f"r.{c}" for c in PERSON_COLUMNS)
    lock = " FOR UPDATE OF r" if _postgres(conn) else ""
    found = await rows(conn, f"SELECT {cols}, s.id AS s_id, s.state AS s_state, s.version AS s_version, "
                             "s.response_id AS s_response, s.asked_message_id AS s_asked FROM respondent r "
                             "LEFT JOIN session s ON s.respondent_id = r.id WHERE r.key_hash = ?" + lock,
                       (key_hash,))
    if not found:
        return None, None
    row = found[0]
    person = Person(**{c: row[c] for c in PERSON_COLUMNS})
    person.language_confirmed, person.contact_ok = bool(person.language_confirmed), bool(person.contact_ok)
    person.anonymous = bool(person.anonymous)
    if row["s_id"] is None:
        return person, None
    session = SessionRow(row["s_id"], row["s_state"], row["s_version"], row["s_response"], row["s_asked"])
    return person, session


async def create_person(conn: BaseDBAsyncClient, channel: str, key_hash: str, chat_id: int | None,
                        language: str) -> Person:
    # Rows made once per person or conversation go through the ORM, which knows every column's default.
    await m.Respondent.create(using_db=conn, channel=channel, key_hash=key_hash, chat_id=chat_id,
                              language=language)
    person, _ = await load(conn, key_hash)
    assert person is not None
    return person


async def save_person(conn: BaseDBAsyncClient, person: Person, changed: set[str], now: dt.datetime) -> None:
    names = sorted(changed)
    sets = ", ".join(f"{n} = ?" for n in names)
    await execute(conn, f"UPDATE respondent SET {sets}, last_seen_at = ? WHERE id = ?",
                  [*(getattr(person, n) for n in names), now, person.id])


async def create_response(conn: BaseDBAsyncClient, person: Person, conversation: str, version: int) -> int:
    row = await m.Response.create(
        using_db=conn, respondent_id=person.id, conversation_id=conversation, conversation_version=version,
        channel=person.channel, language=person.language, answered_by=person.answered_by, role=person.role,
        age_band=person.age_band, status="in-progress")
    return int(row.id)


async def update_response(conn: BaseDBAsyncClient, response_id: int, values: dict[str, Any],
                          now: dt.datetime) -> None:
    names = sorted(values)
    sets = "".join(f"{n} = ?, " for n in names)
    await execute(conn, f"UPDATE response SET {sets}updated_at = ? WHERE id = ?",
                  [*(values[n] for n in names), now, response_id])


async def response_status(conn: BaseDBAsyncClient, response_id: int) -> str | None:
    found = await rows(conn, "SELECT status FROM response WHERE id = ?", (response_id,))
    return str(found[0]["status"]) if found else None


@dataclass(frozen=True)
class AnswerRow:
    kind: str
    question: str
    option_ids: tuple[str, ...]
    text: str | None
    label: str
    language: str
    polarity: str | None
    voice_file_id: str | None = None
    voice_unique_id: str | None = None
    voice_duration: int | None = None
    voice_mime: str | None = None
    voice_size: int | None = None

    def values(self) -> list[Any]:
        out: list[Any] = []
        for f in fields(self):
            value = getattr(self, f.name)
            out.append(json.dumps(list(value)) if f.name == "option_ids" else value)
        return out


ANSWER_COLUMNS = tuple(f.name for f in fields(AnswerRow))


_UPSERT = (
    f"INSERT INTO answer (response_id, step_id, {', '.join(ANSWER_COLUMNS)}, created_at, updated_at) "
    f"VALUES (?, ?, {', '.join('?' for _ in ANSWER_COLUMNS)}, ?, ?) "
    f"ON CONFLICT (response_id, step_id) DO UPDATE SET "
    f"{', '.join(f'{c} = excluded.{c}' for c in ANSWER_COLUMNS)}, updated_at = excluded.updated_at "
    "RETURNING id"
)


async def save_answer(conn: BaseDBAsyncClient, response_id: int, step_id: str, answer: AnswerRow,
                      codes: Sequence[str], now: dt.datetime, replaces: bool) -> int:
    """Insert the answer, or replace this step's earlier one (one row per step); then its codes.

    ``replaces``: the step was answered before, so its old option codes are removed first.
    """
    found = await rows(conn, _UPSERT, [response_id, step_id, *answer.values(), now, now])
    answer_id = int(found[0]["id"])
    if replaces:
        await execute(conn, "DELETE FROM answer_priority WHERE answer_id = ? AND source = 'option'",
                      (answer_id,))
    for code in codes:
        await execute(conn, "INSERT INTO answer_priority (answer_id, priority_id, source) "
                            "VALUES (?, ?, 'option')", (answer_id, code))
    return answer_id


async def keep_answers(conn: BaseDBAsyncClient, response_id: int, keep: Sequence[str]) -> None:
    """Delete the response's answers to any step not in ``keep``."""
    marks = ", ".join("?" for _ in keep) or "''"
    await execute(conn, f"DELETE FROM answer WHERE response_id = ? AND step_id NOT IN ({marks})",
                  [response_id, *keep])


async def create_session(conn: BaseDBAsyncClient, person_id: int, conversation: str, version: int,
                         response_id: int | None, state: str) -> SessionRow:
    row = await m.Session.create(using_db=conn, respondent_id=person_id, conversation_id=conversation,
                                 conversation_version=version, response_id=response_id, state=state)
    return SessionRow(int(row.id), state, int(row.version), response_id, None)


async def update_session(conn: BaseDBAsyncClient, session: SessionRow, conversation: str, version: int,
                         response_id: int | None, state: str, now: dt.datetime) -> bool:
    """Write the new state if nobody else did since it was read (optimistic lock on ``version``)."""
    return await execute(
        conn, "UPDATE session SET state = ?, version = version + 1, conversation_id = ?, "
              "conversation_version = ?, response_id = ?, updated_at = ? WHERE id = ? AND version = ?",
        (state, conversation, version, response_id, now, session.id, session.version)) == 1


async def mark_delivered(conn: BaseDBAsyncClient, marks: Sequence[tuple[int, int, int | None]]) -> None:
    """(session id, version, question message id): the messages of that version were sent."""
    if marks:
        await conn.execute_many(
            sql(conn, "UPDATE session SET delivered_version = ?, "
                      "asked_message_id = COALESCE(?, asked_message_id) WHERE id = ? AND version = ?"),
            [[version, message_id, session_id, version] for session_id, version, message_id in marks])


async def save_clip(conn: BaseDBAsyncClient, answer_id: int, mime: str, data: bytes) -> None:
    """Keep the audio of a voice answer with it (a new recording replaces the old one)."""
    await execute(conn, "DELETE FROM voice_clip WHERE answer_id = ?", (answer_id,))
    await execute(conn, "INSERT INTO voice_clip (answer_id, mime, size, data, created_at) "
                        "VALUES (?, ?, ?, ?, ?)", (answer_id, mime, len(data), data, dt.datetime.now(dt.UTC)))


async def erase(conn: BaseDBAsyncClient, person: Person, key_hash: str, update_id: int | None,
                now: dt.datetime) -> bool:
    """Delete the person, their session, responses, answers and voice clips; leave a tombstone.

    Safeguarding alerts stay (they have their own basis and hold no words). Returns whether any
    of their responses had raised one, so that the person can be told plainly.
    """
    found = await rows(conn, "SELECT id FROM response WHERE respondent_id = ?", (person.id,))
    ids = [int(r["id"]) for r in found]
    marks = ", ".join("?" for _ in ids) or "NULL"
    alerts = await rows(conn, f"SELECT COUNT(*) AS n FROM safeguarding_alert WHERE response_id IN ({marks})",
                        ids)
    await execute(conn, f"DELETE FROM answer WHERE response_id IN ({marks})", ids)
    await execute(conn, f"DELETE FROM bulletin_response WHERE response_id IN ({marks})", ids)
    await execute(conn, "DELETE FROM response WHERE respondent_id = ?", (person.id,))
    await execute(conn, "DELETE FROM delivery WHERE respondent_id = ?", (person.id,))
    await execute(conn, "DELETE FROM session WHERE respondent_id = ?", (person.id,))
    await execute(conn, "DELETE FROM respondent WHERE id = ?", (person.id,))
    await execute(conn, "INSERT INTO tombstone (key_hash, deleted_at, last_update_id) VALUES (?, ?, ?) "
                        "ON CONFLICT (key_hash) DO UPDATE SET deleted_at = excluded.deleted_at, "
                        "last_update_id = excluded.last_update_id", (key_hash, now, update_id))
    return int(alerts[0]["n"]) > 0


async def tombstone_covers(conn: BaseDBAsyncClient, key_hash: str, update_id: int) -> bool:
    """Whether this update is from before the person asked to be forgotten (a late copy)."""
    found = await rows(conn, "SELECT last_update_id FROM tombstone WHERE key_hash = ?", (key_hash,))
    last = found[0]["last_update_id"] if found else None
    return last is not None and update_id <= int(last)


async def my_data(conn: BaseDBAsyncClient, person_id: int) -> dict[str, Any]:
    """Everything stored about a respondent, as plain data (for /mydata)."""
    person = await rows(conn, "SELECT ref, channel, language, role, answered_by, age_band, consent, "
                              "consent_version, consent_at, contact_ok, contact_at, settings, created_at "
                              "FROM respondent WHERE id = ?", (person_id,))
    responses = await rows(conn, "SELECT id, ref, conversation_id, conversation_version, language, status, "
                                 "started_at, submitted_at FROM response WHERE respondent_id = ? ORDER BY id",
                           (person_id,))
    you = {k: _plain(v) for k, v in person[0].items()} if person else {}
    out: dict[str, Any] = {"you": you, "responses": []}
    for response in responses:
        answers = await rows(conn, "SELECT step_id, question, kind, label, text, voice_duration, created_at "
                                   "FROM answer WHERE response_id = ? ORDER BY id", (response["id"],))
        item = {k: _plain(v) for k, v in response.items() if k != "id"}
        item["answers"] = [{k: _plain(v) for k, v in a.items()} for a in answers]
        out["responses"].append(item)
    return out


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value
