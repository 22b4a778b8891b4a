"""Realistic synthetic responses for demos and benchmarks (``voices demo-data --responses N``).

Rows go in with raw multi-row inserts in big transactions, with their summaries already filled
in, so a million answers take a minute or two rather than an hour. The texts are made up for
testing; the non-English ones are not reviewed translations.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from admin.queries import rollup, search
from admin.queries.summary import codes_text
from admin.sql import Sql

LANGUAGE_WEIGHTS = {"en": 50, "pl": 8, "gu": 8, "pa": 8, "ur": 8, "ar": 5, "ro": 5, "so": 4, "bn": 4}
ROLES = {"young-person": 30, "helper": 15, "parent-carer": 45, "professional": 10}
ANSWERED_BY = {"young-person": "self", "helper": "assisted", "parent-carer": "proxy", "professional": "self"}
AGES = ("under-13", "13-15", "16-18", "19-25")
AREAS: tuple[tuple[str, str, list[str]], ...] = (
    ("school", "School or college", ["provision"]),
    ("health-care", "Health or care", ["multi-agency"]),
    ("adult-life", "Becoming an adult", ["adulthood"]),
    ("family-help", "Help for families", ["families"]),
    ("other", "Something else", []),
)
HOW = (
    ("good", "Going well", "works-well", "tell-good", "What is going well? Tell us why."),
    ("ok", "Could be better", "improve", "tell-better", "What would make it better?"),
    ("bad", "Not going well", "not-working", "tell-bad", "What is not going well? Tell us what happened."),
)
PHRASES = {
    "en": [
        "My teacher really listens to me.",
        "We waited a year for the assessment.",
        "Nobody told us about the move to college.",
        "The support worker is brilliant.",
        "I want help to find a job.",
        "The school bus is late every day.",
    ],
    "pl": ["Nauczyciel mnie słucha.", "Czekaliśmy rok na ocenę.", "Potrzebuję pomocy w szkole."],
    "gu": ["શિક્ષક મારી વાત સાંભળે છે.", "અમે એક વર્ષ રાહ જોઈ."],
    "pa": ["ਅਧਿਆਪਕ ਮੇਰੀ ਗੱਲ ਸੁਣਦਾ ਹੈ।", "ਸਾਨੂੰ ਇੱਕ ਸਾਲ ਉਡੀਕ ਕਰਨੀ ਪਈ।"],
    "ur": ["استاد میری بات سنتے ہیں۔", "ہم نے ایک سال انتظار کیا۔"],
    "ar": ["المعلم يستمع إلي.", "انتظرنا سنة كاملة."],
    "ro": ["Profesorul mă ascultă.", "Am așteptat un an pentru evaluare."],
    "so": ["Macallinku wuu i dhageystaa.", "Sannad ayaan sugnay."],
    "bn": ["শিক্ষক আমার কথা শোনেন।", "আমরা এক বছর অপেক্ষা করেছি।"],
}
RESPONSE_COLUMNS = (
    "id",
    "ref",
    "respondent_id",
    "conversation_id",
    "conversation_version",
    "channel",
    "language",
    "answered_by",
    "role",
    "age_band",
    "status",
    "started_at",
    "submitted_at",
    "updated_at",
    "review_status",
    "flagged",
    "polarity",
    "priority_codes",
    "has_voice",
    "summarised_at",
)
ANSWER_COLUMNS = (
    "id",
    "response_id",
    "step_id",
    "kind",
    "question",
    "option_ids",
    "text",
    "voice_file_id",
    "voice_duration",
    "label",
    "language",
    "polarity",
    "created_at",
    "updated_at",
)
CHUNK = 20_000


def _pick(weights: dict[str, int], rng: random.Random) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class Batch:
    respondents: list[tuple[Any, ...]] = field(default_factory=list)
    responses: list[tuple[Any, ...]] = field(default_factory=list)
    answers: list[tuple[Any, ...]] = field(default_factory=list)
    links: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class Ids:
    respondent: int
    response: int
    answer: int
    link: int


class Maker:
    """Builds rows for one person at a time: a welcome response and one to three feedback ones."""

    def __init__(self, sql: Sql, ids: Ids, now: datetime, seed: int) -> None:
        self.sql, self.ids, self.now, self.rng = sql, ids, now, random.Random(seed)

    def _when(self) -> datetime:
        ago = timedelta(days=730 * self.rng.random() ** 2.5, seconds=self.rng.randrange(86400))
        return self.now - max(ago, timedelta(minutes=5))  # never in the future, never "just changed"

    def person(self, batch: Batch) -> int:
        rng, self.ids.respondent = self.rng, self.ids.respondent + 1
        lang, role = _pick(LANGUAGE_WEIGHTS, rng), _pick(ROLES, rng)
        age = rng.choice(AGES) if role in ("young-person", "helper") else None
        when = self._when()
        batch.respondents.append(
            (
                self.ids.respondent,
                str(uuid.uuid4()),
                "telegram",
                uuid.uuid4().hex * 2,
                lang,
                True,
                role,
                ANSWERED_BY[role],
                age,
                "yes",
                False,
                "",
                self.sql.dt(when),
                self.sql.dt(when),
            )
        )
        made = self._welcome(batch, lang, role, age, when)
        for _ in range(rng.choice((1, 1, 2, 3))):
            later = min(when + timedelta(minutes=rng.randrange(1, 20000)), self.now - timedelta(minutes=5))
            made += self._feedback(batch, lang, role, age, later)
        return made

    def _response(
        self,
        batch: Batch,
        conversation: str,
        lang: str,
        role: str,
        age: str | None,
        when: datetime,
        summary: tuple[str | None, str | None, bool],
    ) -> int:
        self.ids.response += 1
        rng, dt = self.rng, self.sql.dt
        done = rng.random() < 0.9
        status = rng.choices(("new", "reviewed", "actioned"), (60, 30, 10))[0]
        batch.responses.append(
            (
                self.ids.response,
                str(uuid.uuid4()),
                self.ids.respondent,
                conversation,
                1,
                "telegram",
                lang,
                ANSWERED_BY[role],
                role,
                age,
                "submitted" if done else "in-progress",
                dt(when),
                dt(when + timedelta(minutes=4)) if done else None,
                dt(when),
                status,
                rng.random() < 0.01,
                summary[0],
                summary[1],
                summary[2],
                dt(self.now),
            )
        )
        return self.ids.response

    def _answer(
        self,
        batch: Batch,
        response: int,
        step: str,
        kind: str,
        question: str,
        lang: str,
        when: datetime,
        *,
        options: list[str] | None = None,
        text: str | None = None,
        label: str = "",
        polarity: str | None = None,
        voice: bool = False,
    ) -> int:
        self.ids.answer += 1
        stamp = self.sql.dt(when)
        batch.answers.append(
            (
                self.ids.answer,
                response,
                step,
                kind,
                question,
                json.dumps(options or []),
                text,
                f"demo-{self.ids.answer}" if voice else None,
                self.rng.randint(3, 60) if voice else None,
                label,
                lang,
                polarity,
                stamp,
                stamp,
            )
        )
        return self.ids.answer

    def _welcome(self, batch: Batch, lang: str, role: str, age: str | None, when: datetime) -> int:
        rid = self._response(batch, "welcome", lang, role, age, when, (None, None, False))
        self._answer(
            batch,
            rid,
            "language",
            "choice",
            "Which language do you want to use?",
            lang,
            when,
            options=[lang],
            label=lang,
        )
        self._answer(batch, rid, "who", "choice", "Who is answering?", lang, when, options=[role], label=role)
        if age:
            self._answer(
                batch,
                rid,
                "age",
                "choice",
                "How old is the young person?",
                lang,
                when,
                options=[age],
                label=age,
            )
        self._answer(
            batch,
            rid,
            "consent",
            "choice",
            "Is it OK for us to keep your answers?",
            lang,
            when,
            options=["yes"],
            label="Yes, that is OK",
        )
        return 4 if age else 3

    def _feedback(self, batch: Batch, lang: str, role: str, age: str | None, when: datetime) -> int:
        rng = self.rng
        area, area_label, codes = rng.choices(AREAS, (35, 25, 15, 15, 10))[0]
        how, how_label, polarity, tell, question = rng.choices(HOW, (30, 30, 40))[0]
        voice = rng.random() < 0.08
        rid = self._response(batch, "feedback", lang, role, age, when, (polarity, codes_text(codes), voice))
        aid = self._answer(
            batch,
            rid,
            "area",
            "choice",
            "What do you want to tell us about?",
            lang,
            when,
            options=[area],
            label=area_label,
        )
        for code in codes:
            self.ids.link += 1
            batch.links.append((self.ids.link, aid, code, "option"))
        self._answer(
            batch,
            rid,
            "how",
            "choice",
            "How is it going?",
            lang,
            when,
            options=[how],
            label=how_label,
            polarity=polarity,
        )
        said = rng.choice(PHRASES[lang] if rng.random() < 0.8 else PHRASES["en"])
        self._answer(
            batch,
            rid,
            tell,
            "voice" if voice else "text",
            question,
            lang,
            when,
            text=None if voice else said,
            voice=voice,
        )
        more = rng.random() < 0.3
        self._answer(
            batch,
            rid,
            "more",
            "text" if more else "skipped",
            "Is there anything else you want to tell us?",
            lang,
            when,
            text=rng.choice(PHRASES[lang]) if more else None,
        )
        return 4


def _insert(sql: Sql, table: str, columns: tuple[str, ...], casts: dict[str, str]) -> str:
    marks = ", ".join(f"CAST(? AS {casts[c]})" if sql.pg and c in casts else "?" for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


async def _next_ids(sql: Sql) -> Ids:
    found = []
    for table in ("respondent", "response", "answer", "answer_priority"):
        rows = await sql.rows(f"SELECT COALESCE(MAX(id), 0) AS n FROM {table}")
        found.append(int(rows[0]["n"]))
    return Ids(*found)


async def _flush(sql: Sql, batch: Batch) -> None:
    respondent = (
        "id",
        "ref",
        "channel",
        "key_hash",
        "language",
        "language_confirmed",
        "role",
        "answered_by",
        "age_band",
        "consent",
        "contact_ok",
        "settings",
        "created_at",
        "last_seen_at",
    )
    async with in_transaction() as conn:
        for table, columns, rows in (
            ("respondent", respondent, batch.respondents),
            ("response", RESPONSE_COLUMNS, batch.responses),
            ("answer", ANSWER_COLUMNS, batch.answers),
            ("answer_priority", ("id", "answer_id", "priority_id", "source"), batch.links),
        ):
            if rows:
                await conn.execute_many(
                    sql.text(_insert(sql, table, columns, {"option_ids": "jsonb"})), [list(r) for r in rows]
                )


def batches(sql: Sql, ids: Ids, responses: int, now: datetime, seed: int) -> Iterator[Batch]:
    maker = Maker(sql, ids, now, seed)
    made = 0
    while made < responses:
        batch = Batch()
        while made < responses and len(batch.answers) < CHUNK:
            before = len(batch.responses)
            maker.person(batch)
            made += len(batch.responses) - before
        yield batch


async def fill(responses: int, seed: int = 1, now: datetime | None = None) -> tuple[int, int]:
    """Add about ``responses`` responses; returns (responses, answers) added."""
    sql = Sql()
    ids = await _next_ids(sql)
    start = Ids(ids.respondent, ids.response, ids.answer, ids.link)
    for batch in batches(sql, ids, responses, now or datetime.now(UTC), seed):
        await _flush(sql, batch)
    if sql.pg:
        for table in ("respondent", "response", "answer", "answer_priority"):
            await sql.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
    # The rows went in already summarised, so the admin's catch-up would not see them: count them
    # for the dashboard and index their words for search now.
    await rollup.rebuild(sql)
    await search.catch_up(sql)
    return ids.response - start.response, ids.answer - start.answer
