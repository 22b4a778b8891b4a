"""CSV and XLSX downloads of the filtered responses, streamed.

Flagged responses' words go only into a safeguarding lead's download (SECURITY.md S9); the audit log
records the export and, when flagged responses had words, that they were included or left out.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from aiohttp import web

from admin import audit, export, restricted
from admin.filters import Parsed, parse
from admin.keys import CONFIG
from admin.middleware import USER, is_lead, requires
from admin.queries import summary

CHUNK = 256 * 1024


def _download(name: str, content_type: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": content_type, "Content-Disposition": f'attachment; filename="{name}"'})
    return response


def _filters(request: web.Request) -> Parsed:
    parsed = parse(request.query)
    if parsed.problems:
        wrong = "; ".join(message for _, message in parsed.problems)
        raise web.HTTPBadRequest(text=f"Some filters were not right: {wrong}")
    return parsed


async def _log(request: web.Request, kind: str, rows: int, words: export.Words) -> None:
    now = request.app[CONFIG].clock()
    left_out = "" if words.lead or not words.flagged else ", flagged responses' words left out"
    await audit.record(now, request[USER].email, "export", "responses", f"{kind}, {rows} rows{left_out}")
    if words.flagged:  # included for a lead, left out for anyone else: audited either way
        await restricted.record(request, "responses",
                                f"{kind} export: words of {restricted.flagged_responses(len(words.flagged))}",
                                shown=words.lead)


@requires("officer")
async def csv_export(request: web.Request) -> web.StreamResponse:
    parsed = _filters(request)
    now = request.app[CONFIG].clock()
    await summary.refresh(now)
    response = _download(f"voices-{now:%Y%m%d-%H%M}.csv", "text/csv; charset=utf-8")
    await response.prepare(request)
    words = export.Words(lead=is_lead(request))
    rows = await export.write_csv(parsed.filters, response.write, words)
    await _log(request, "csv", rows, words)
    await response.write_eof()
    return response


@requires("officer")
async def xlsx_export(request: web.Request) -> web.StreamResponse:
    parsed = _filters(request)
    now = request.app[CONFIG].clock()
    await summary.refresh(now)
    fd, name = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    path = Path(name)
    words = export.Words(lead=is_lead(request))
    try:
        rows = await export.write_xlsx(parsed.filters, path, words)
        await _log(request, "xlsx", rows, words)  # before any of it leaves
        response = _download(f"voices-{now:%Y%m%d-%H%M}.xlsx",
                             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response.content_length = path.stat().st_size
        await response.prepare(request)
        with path.open("rb") as fh:
            while chunk := await asyncio.to_thread(fh.read, CHUNK):
                await response.write(chunk)
    finally:
        path.unlink(missing_ok=True)
    await response.write_eof()
    return response


@requires("viewer")
async def dictionary(request: web.Request) -> web.Response:
    return web.Response(body=export.dictionary_csv(), headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="voices-data-dictionary.csv"'})
