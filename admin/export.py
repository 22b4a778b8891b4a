"""Exports of the filtered responses, one row per answer, as CSV or XLSX.

Both stream in batches read with a keyset on the answer id, so memory stays flat however many
rows there are. Every text cell that a spreadsheet could read as a formula is neutralised.

The words of a flagged response (typed answers, voice answers, transcripts) are restricted
(SECURITY.md S9): only a safeguarding lead's export has them; anyone else's has
:data:`admin.restricted.RESTRICTED` in those cells, and their search never looks in flagged
responses. :class:`Words` counts the flagged responses whose words were included or left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter

from admin import labels
from admin.filters import Filters
from admin.queries.responses import where
from admin.queries.summary import split_codes
from admin.restricted import RESTRICTED, is_free
from admin.sql import Sql, as_datetime

BATCH = 10_000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS: tuple[tuple[str, str], ...] = (
    ("response", "The response's reference: a random code, the same for every answer in one response"),
    ("started", "When the response was started (UTC, ISO 8601)"),
    ("conversation", "Which conversation: welcome or feedback"),
    ("language", "The language the person answered in"),
    ("who_answered", "young-person, helper (helping a young person), parent-carer or professional"),
    ("age_band", "The young person's age band, if given"),
    ("finished", "yes if the person reached the end of the conversation"),
    ("review_status", "new, reviewed or actioned (set by officers)"),
    ("safeguarding_flag", "yes if the response is flagged for safeguarding"),
    ("priorities", "Priority codes from the person's choices and from officers' coding, separated by ;"),
    ("step", "The question's stable id"),
    ("question", "The question as the person saw it, in their language"),
    ("kind", "choice, multi, text, voice or skipped"),
    ("answer", "The chosen answer's words, or the typed text, in the person's language. For a response "
               "flagged for safeguarding, typed and spoken answers are restricted: only a safeguarding "
               "lead's download has them"),
    ("transcript", "An officer's transcript of a voice answer"),
    ("polarity", "works-well, not-working or improve, where the answer has one"),
    ("voice_seconds", "Length of a voice answer in seconds (a number)"),
)
# Answers and their responses are read apart (each response once per batch, not once per answer)
# and the next batch is read while the last one is written.
ANSWERS = ("SELECT a.id, a.response_id, a.step_id, a.question, a.kind, a.label, a.text, a.transcript, "
           "a.polarity, a.voice_duration FROM answer a")
RESPONSES = ("SELECT id, ref, started_at, conversation_id, language, role, age_band, status, review_status, "
             "flagged, priority_codes FROM response WHERE id IN ({ids})")
REPEATED = 50_000  # at most this many remembered cells of repeated values (questions, labels...)
Batch = tuple[Sequence[Any], dict[int, Any]]  # answer rows (ANSWERS), response rows (RESPONSES) by id


@dataclass
class Words:
    """Whose export it is, and the flagged responses that had words in it (included or left out)."""

    lead: bool = False  # a safeguarding lead: flagged responses' words are included
    flagged: set[int] = field(default_factory=set)  # response ids

    def hide(self, r: Sequence[Any], a: Sequence[Any]) -> bool:
        """Whether answer row ``a`` of response row ``r`` is left out (noting a flagged one either way)."""
        if not r[9] or not is_free(a[4], a[6], a[7]):
            return False
        self.flagged.add(int(r[0]))
        return not self.lead


def safe(value: object) -> str:
    """Text for a cell; a leading = + - @ tab or CR gets a ' so no spreadsheet runs it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _response_cells(r: Sequence[Any]) -> list[str]:
    started = as_datetime(r[2])
    return [safe(r[1]), started.isoformat() if started else "", safe(r[3]), safe(r[4]), safe(r[5]),
            safe(r[6]), "yes" if r[7] == "submitted" else "no", safe(r[8]), "yes" if r[9] else "no",
            safe("; ".join(split_codes(r[10])))]


def _cells(r: Sequence[Any], a: Sequence[Any], words: Words) -> list[Any]:
    """One row's cells from its response and answer rows."""
    answer, transcript = (a[6] if a[6] is not None else a[5]), a[7]
    if words.hide(r, a):
        answer, transcript = RESTRICTED, RESTRICTED if transcript is not None else None
    return [*_response_cells(r), safe(a[2]), safe(a[3]), safe(a[4]), safe(answer), safe(transcript),
            safe(a[8]), a[9] if a[9] is not None else ""]


async def _read(sql: Sql, query: str, values: list[Any], last: int) -> Batch:
    answers = (await sql.conn.execute_query(query, [*values, last]))[1]
    if not answers:
        return answers, {}
    ids = ",".join(str(i) for i in sorted({int(a[1]) for a in answers}))
    responses = (await sql.conn.execute_query(RESPONSES.format(ids=ids)))[1]
    return answers, {int(r[0]): r for r in responses}


async def _batches(filters: Filters, lead: bool) -> AsyncIterator[Batch]:
    """The rows in batches, read with a keyset on the answer id."""
    sql = Sql()
    conds, values = where(sql, filters.without_cursor(), lead=lead)
    join = " JOIN response r ON r.id = a.response_id" if conds else ""
    clause = " AND ".join([*conds, "a.id > ?"])
    query = sql.text(f"{ANSWERS}{join} WHERE {clause} ORDER BY a.id LIMIT {BATCH}")
    coming = asyncio.ensure_future(_read(sql, query, values, 0))
    try:
        while True:
            found = await coming
            if not found[0]:
                return
            coming = asyncio.ensure_future(_read(sql, query, values, int(found[0][-1][0])))
            if sql.pg:
                await asyncio.sleep(0)  # let it send its query before this batch is written
            yield found
    finally:
        if not coming.done():
            coming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await coming


async def batches(filters: Filters, words: Words | None = None) -> AsyncIterator[list[list[Any]]]:
    """The export's cells, row by row, in batches (``words``: whose export; by default not a lead's)."""
    words = words or Words()
    async for answers, responses in _batches(filters, words.lead):
        yield [_cells(responses[int(a[1])], a, words) for a in answers if int(a[1]) in responses]


def _csv_field(text: str) -> str:
    """A field as csv.writer writes it (QUOTE_MINIMAL, "\r\n" line ends)."""
    if '"' in text or "," in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


class _CsvLines:
    """CSV lines for the export's rows, the same bytes as csv.writer writes for :func:`_cells`, made
    faster: a response's ten cells are made once for all its answers in a batch, and the cells of
    repeated values (step ids, questions, choice labels, kinds, polarities) once for all rows."""

    def __init__(self, words: Words) -> None:
        self.repeated: dict[Any, str] = {}
        self.questions: dict[tuple[Any, Any, Any], str] = {}
        self.words = words

    def _repeated(self, value: Any) -> str:
        found = self.repeated.get(value)
        if found is None:
            if len(self.repeated) >= REPEATED:
                self.repeated.clear()
            found = self.repeated[value] = _csv_field(safe(value))
        return found

    def lines(self, batch: Batch) -> tuple[str, int]:
        """The batch's lines, and how many."""
        answers, responses = batch
        heads: dict[int, str] = {}
        r_flagged: dict[Any, bool] = {}
        questions, cached, repeated, field = self.questions, self.repeated, self._repeated, _csv_field
        words = self.words
        if len(questions) >= REPEATED:
            questions.clear()
        out: list[str] = []
        for a in answers:
            rid = a[1]
            head = heads.get(rid)
            if head is None:
                r = responses.get(int(rid))
                if r is None:
                    continue  # the response has gone since its answers were read
                head = heads[rid] = ",".join(map(field, _response_cells(r)))
                r_flagged[rid] = bool(r[9])
            key = (a[2], a[3], a[4])  # step, question, kind
            asked = questions.get(key)
            if asked is None:
                asked = questions[key] = ",".join(map(repeated, key))
            text, transcript, seconds = a[6], a[7], a[9]
            if r_flagged.get(rid) and words.hide(responses[int(rid)], a):
                text, transcript = RESTRICTED, RESTRICTED if transcript is not None else None
            answer = (cached.get(a[5]) or repeated(a[5])) if text is None else field(safe(text))
            out.append(",".join((
                head, asked, answer, "" if transcript is None else field(safe(transcript)),
                cached.get(a[8]) or repeated(a[8]), "" if seconds is None else str(seconds))))
        count = len(out)
        out.append("")
        return "\r\n".join(out), count


async def write_csv(filters: Filters, write: Callable[[bytes], Any], words: Words | None = None) -> int:
    """Write the CSV (UTF-8 with a BOM, RFC 4180 quoting) through ``write``; returns the row count.

    ``words``: whose export (by default not a safeguarding lead's), and where the flagged ones are counted.
    """
    words = words or Words()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([name for name, _ in COLUMNS])
    await _maybe_await(write(("\ufeff" + buffer.getvalue()).encode()))
    total = 0
    lines = _CsvLines(words)
    async for batch in _batches(filters, words.lead):
        text, count = lines.lines(batch)
        total += count
        await _maybe_await(write(text.encode()))
    return total


async def _maybe_await(result: Any) -> None:
    if hasattr(result, "__await__"):
        await result


def dictionary_csv() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["column", "meaning"])
    writer.writerows(COLUMNS)
    writer.writerows([("priority code " + code, name) for code, name in labels.PRIORITY.items()])
    return ("\ufeff" + buffer.getvalue()).encode()


async def write_xlsx(filters: Filters, path: Path, words: Words | None = None) -> int:
    """Write an XLSX file in constant memory: the answers sheet and a data dictionary sheet (``words``:
    as for :func:`write_csv`)."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                          "strings_to_urls": False, "strings_to_numbers": False})
    try:
        sheet = book.add_worksheet("Answers")
        sheet.write_row(0, 0, [name for name, _ in COLUMNS])
        total = 0
        async for rows in batches(filters, words):
            for row in rows:
                total += 1
                sheet.write_row(total, 0, row)
        info = book.add_worksheet("Data dictionary")
        info.write_row(0, 0, ["column", "meaning"])
        codes = [("priority code " + c, n) for c, n in labels.PRIORITY.items()]
        for index, pair in enumerate([*COLUMNS, *codes]):
            info.write_row(index + 1, 0, [safe(pair[0]), safe(pair[1])])
    finally:
        book.close()
    return total
