"""Exports of the filtered responses, one row per answer, as CSV or XLSX.

Both stream in batches read with a keyset on the answer id, so memory stays flat however many
rows there are. Every text cell that a spreadsheet could read as a formula is neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

from admin import labels
from admin.filters import Filters
from admin.queries.responses import where
from admin.queries.summary import split_codes
from admin.sql import Sql, as_datetime

BATCH = 5000
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
    ("answer", "The chosen answer's words, or the typed text, in the person's language"),
    ("transcript", "An officer's transcript of a voice answer"),
    ("polarity", "works-well, not-working or improve, where the answer has one"),
    ("voice_seconds", "Length of a voice answer in seconds (a number)"),
)
SELECT = ("SELECT a.id, r.ref, r.started_at, r.conversation_id, r.language, r.role, r.age_band, r.status, "
          "r.review_status, r.flagged, r.priority_codes, a.step_id, a.question, a.kind, a.label, a.text, "
          "a.transcript, a.polarity, a.voice_duration FROM answer a JOIN response r ON r.id = a.response_id")


def safe(value: object) -> str:
    """Text for a cell; a leading = + - @ tab or CR gets a ' so no spreadsheet runs it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _cells(row: Sequence[Any]) -> list[Any]:
    started = as_datetime(row[2])
    answer = row[15] if row[15] is not None else row[14]
    return [safe(row[1]), started.isoformat() if started else "", safe(row[3]), safe(row[4]), safe(row[5]),
            safe(row[6]), "yes" if row[7] == "submitted" else "no", safe(row[8]), "yes" if row[9] else "no",
            safe("; ".join(split_codes(row[10]))), safe(row[11]), safe(row[12]), safe(row[13]), safe(answer),
            safe(row[16]), safe(row[17]), row[18] if row[18] is not None else ""]


async def batches(filters: Filters) -> AsyncIterator[list[list[Any]]]:
    sql = Sql()
    conds, values = where(sql, filters.without_cursor())
    last = 0
    while True:
        clause = " AND ".join([*conds, "a.id > ?"])
        rows = await sql.conn.execute_query(
            sql.text(f"{SELECT} WHERE {clause} ORDER BY a.id LIMIT {BATCH}"), [*values, last])
        found = rows[1]
        if not found:
            return
        last = int(found[-1][0])
        yield [_cells(list(row)) for row in found]


async def write_csv(filters: Filters, write: Callable[[bytes], Any]) -> int:
    """Write the CSV (UTF-8 with a BOM, RFC 4180 quoting) through ``write``; returns the row count."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([name for name, _ in COLUMNS])
    await _maybe_await(write(("\ufeff" + buffer.getvalue()).encode()))
    total = 0
    async for rows in batches(filters):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        total += len(rows)
        await _maybe_await(write(buffer.getvalue().encode()))
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


async def write_xlsx(filters: Filters, path: Path) -> int:
    """Write an XLSX file in constant memory: the answers sheet and a data dictionary sheet."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                          "strings_to_urls": False, "strings_to_numbers": False})
    try:
        sheet = book.add_worksheet("Answers")
        sheet.write_row(0, 0, [name for name, _ in COLUMNS])
        total = 0
        async for rows in batches(filters):
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
