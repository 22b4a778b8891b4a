"""The fast paths at scale give exactly what the plain queries give: dashboard counts, search, CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from admin import export
from admin.demo import fill
from admin.filters import Cursor, Filters
from admin.queries import dashboard, responses, search, summary
from admin.sql import Sql
from core.storage import models as m

TEXTS = [
    "The BUS was late", "the bus was late again", "Łódź is far; ŁÓDŹ is far", "50% of the time",
    "a_b and a%b", 'He said "no", then left', "line one\nline two, with a comma", "=1+2 formula",
    "Straße und STRASSE", "minibus", "  spaces  ",
]
QUERIES = ["bus", "BUS", "was late", "łódź", "ŁÓDŹ", "50%", "%", "a_b", "_", '"no"', "two, with",
           "=1+2", "straße", "STRASSE", "minibus", "nothing like this", "ab", "e"]


async def _response(text: str | None, when: datetime, language: str = "en", transcript: str | None = None,
                    ) -> m.Response:
    response = await m.Response.create(conversation_id="feedback", conversation_version=1, channel="telegram",
                                       language=language, role="parent-carer", answered_by="proxy",
                                       status="submitted", started_at=when)
    await m.Answer.create(response=response, step_id="tell-bad", kind="voice" if transcript else "text",
                          question="What is not going well?", text=text, transcript=transcript,
                          language=language, label="", polarity="not-working")
    return response


async def _reference(f: Filters, lead: bool = False) -> list[int]:
    """The page's ids as the plain EXISTS ... LIKE query gives them (to a safeguarding lead, or not)."""
    sql = Sql()
    conds, values = responses.where(sql, f, lead=lead)
    backwards = False
    if f.cursor:
        cond, more, backwards = responses._seek(sql, f, f.cursor)
        conds.append(cond)
        values += more
    order = "DESC" if (f.sort == "newest") != backwards else "ASC"
    clause = f"WHERE {' AND '.join(conds)}" if conds else ""
    rows = await sql.rows(f"SELECT r.id FROM response r {clause} ORDER BY r.started_at {order}, r.id {order} "
                          f"LIMIT {responses.PAGE_SIZE}", values)
    ids = [int(r["id"]) for r in rows]
    return ids[::-1] if backwards else ids


async def _same_pages(f: Filters) -> None:
    for lead in (False, True):
        found = await responses.page(f, lead)
        assert [r.id for r in found.rows] == await _reference(f, lead), (f, lead)
        if found.rows and found.more_after:
            last = found.rows[-1]
            after = replace(f, cursor=Cursor(last.started_at, last.id))
            ids = [r.id for r in (await responses.page(after, lead)).rows]
            assert ids == await _reference(after, lead), (after, lead)


@pytest.mark.parametrize(("window", "cap"), [(2000, 5000), (3, 5000), (3, 2)])
async def test_search_finds_exactly_what_like_finds(db: str, monkeypatch: pytest.MonkeyPatch,
                                                    window: int, cap: int) -> None:
    monkeypatch.setattr(responses, "WINDOW", window)  # 3: the index path; cap 2: the scan after it
    monkeypatch.setattr(search, "CAP", cap)
    monkeypatch.setattr(responses, "PAGE_SIZE", 2)
    await fill(40)
    start = datetime.now(UTC) - timedelta(days=3)
    for i, text in enumerate(TEXTS * 2):
        await _response(text, start + timedelta(hours=i), "pl" if i % 3 else "en")
    voice = await _response(None, start, transcript="Nothing yet")
    # A few flagged: a safeguarding lead's search finds them, nobody else's does (SECURITY.md S9).
    flagged = (await m.Response.filter(answers__kind="text").order_by("id").values_list("id", flat=True))[::4]
    await m.Response.filter(id__in=flagged).update(flagged=True)
    for q in QUERIES:
        for f in (Filters(q=q), Filters(q=q, sort="oldest"), Filters(q=q, chosen={"language": ("pl",)})):
            await _same_pages(f)
    # An officer's transcript is searchable at once; so is what the bot writes later.
    answer = await m.Answer.get(response_id=voice.id)
    assert await responses.set_transcript(voice, answer.id, "Transcript about the school minibus")
    await _response("A brand new zebra crossing", start)
    for q in ("school minibus", "zebra crossing", "Nothing yet"):
        await _same_pages(Filters(q=q))
    assert [r.id for r in (await responses.page(Filters(q="school minibus"))).rows] == [voice.id]
    assert (await responses.page(Filters(q="Nothing yet"))).rows == []
    await m.Response.filter(id=voice.id).update(flagged=True)
    assert (await responses.page(Filters(q="school minibus"))).rows == []
    assert [r.id for r in (await responses.page(Filters(q="school minibus"), lead=True)).rows] == [voice.id]


async def test_dashboard_counts_stay_exact_as_responses_change(db: str) -> None:
    now = datetime.now(UTC)
    await fill(300, now=now)
    sql = Sql()
    await summary.refresh(now)
    # The bot writes: a new response, and an answer changing an old response's polarity.
    await _response("new", now - timedelta(days=2))
    older = await m.Response.filter(conversation_id="feedback").order_by("id").first()
    assert older is not None
    await m.Answer.filter(response_id=older.id, step_id="how").update(polarity="works-well")
    await m.Response.filter(id=older.id).update(updated_at=now + timedelta(seconds=1))
    await summary.refresh(now + timedelta(seconds=2))
    # An officer codes a response.
    await responses.set_codes(older, ["families", "adulthood"], "officer@example.org")
    midnight = datetime.combine(now.date(), time(), UTC)
    ranges = [(midnight - timedelta(days=400), midnight + timedelta(days=1)),
              (datetime(2000, 1, 1, tzinfo=UTC), midnight + timedelta(days=1)),
              (midnight - timedelta(days=40), midnight - timedelta(days=1)),
              (midnight, midnight + timedelta(days=1))]
    for start, end in ranges:
        assert await dashboard.figures(start, end) == await dashboard.from_responses(sql, start, end)
        direct = await sql.rows("SELECT COUNT(*) AS n FROM response WHERE started_at >= ? AND started_at < ? "
                                "AND conversation_id = 'feedback'", [sql.dt(start), sql.dt(end)])
        assert await dashboard.count_between(start, end) == int(direct[0]["n"])
    everything = await dashboard.figures(datetime(2000, 1, 1, tzinfo=UTC), midnight + timedelta(days=1))
    assert everything.total == await m.Response.filter(conversation_id="feedback").count()


async def _old_csv(filters: Filters, lead: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([name for name, _ in export.COLUMNS])
    async for rows in export.batches(filters, export.Words(lead=lead)):
        writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode()


@pytest.mark.parametrize("lead", [False, True])
@pytest.mark.parametrize("filters", [Filters(), Filters(chosen={"language": ("pl",)}, q="late")])
async def test_fast_csv_is_what_csv_writer_writes(db: str, monkeypatch: pytest.MonkeyPatch,
                                                   filters: Filters, lead: bool) -> None:
    monkeypatch.setattr(export, "BATCH", 7)  # responses split over batches
    await fill(30)
    start = datetime.now(UTC) - timedelta(days=1)
    for i, text in enumerate([*TEXTS, '"quoted"', "", "\r", "-x", "@x"]):
        response = await _response(text, start + timedelta(minutes=i), "pl", transcript=text or None)
        if i % 3 == 0:
            await m.Response.filter(id=response.id).update(flagged=True)
    got = bytearray()
    words = export.Words(lead=lead)
    total = await export.write_csv(filters, got.extend, words)
    assert bytes(got) == await _old_csv(filters, lead)
    # A search by someone who is not a safeguarding lead leaves flagged responses out altogether.
    assert bool(words.flagged) == (lead or not filters.q)
    assert (export.RESTRICTED in got.decode()) == bool(words.flagged and not lead)
    assert total == len(list(csv.reader(io.StringIO(bytes(got).decode("utf-8-sig"))))) - 1
    rows: list[Any] = list(csv.reader(io.StringIO(bytes(got).decode("utf-8-sig"))))
    assert all(not cell.startswith(export.FORMULA_START) for row in rows[1:] for cell in row)


async def test_erased_people_leave_the_counts_and_the_search_copy(db: str) -> None:
    now = datetime.now(UTC)
    await fill(60, now=now)
    sql = Sql()
    await summary.refresh(now)
    gone = await _response("Please forget this sentence", now - timedelta(days=1))
    await search.matching_responses(sql, "forget this")  # the SQLite copy takes it in
    # What the bot does when someone asks to be forgotten (core/storage/turns.py erase).
    await sql.execute("DELETE FROM answer WHERE response_id = ?", [gone.id])
    await sql.execute("DELETE FROM response WHERE id = ?", [gone.id])
    await sql.execute("INSERT INTO tombstone (key_hash, deleted_at) VALUES (?, ?)", ["k" * 64, sql.dt(now)])
    await summary.refresh(now + timedelta(seconds=1))
    midnight = datetime.combine(now.date(), time(), UTC)
    start, end = midnight - timedelta(days=400), midnight + timedelta(days=1)
    assert await dashboard.figures(start, end) == await dashboard.from_responses(sql, start, end)
    if not sql.pg:
        left = await sql.rows("SELECT COUNT(*) AS n FROM answer_search WHERE answer_search MATCH ?",
                              ['"forget this"'])
        assert int(left[0]["n"]) == 0
    assert await search.matching_responses(sql, "forget this") == []
