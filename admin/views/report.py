"""The board report: one printable page per period."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from aiohttp import web

from admin import labels
from admin.keys import CONFIG
from admin.middleware import requires
from admin.queries import report, summary
from admin.render import render
from admin.views import waves

PERIODS = {"month": 1, "quarter": 3, "year": 12}


def _period(kind: str, year: int, index: int) -> tuple[date, date]:
    months = PERIODS[kind]
    first_month = (index - 1) * months + 1
    start = date(year, first_month, 1)
    end_month = first_month + months
    end = date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return start, end


def _choice(request: web.Request, today: date) -> tuple[str, int, int, list[str]]:
    problems: list[str] = []
    kind = request.query.get("period", "quarter")
    if kind not in PERIODS:
        problems.append("Choose a month, a quarter or a year")
        kind = "quarter"
    default_index = (today.month - 1) // PERIODS[kind] + 1
    try:
        year = int(request.query.get("year", today.year))
        index = int(request.query.get("number", default_index))
        if not (2000 <= year <= 2100 and 1 <= index <= 12 // PERIODS[kind]):
            raise ValueError
    except ValueError:
        problems.append("The year or period number is not right, so we show the current period")
        year, index = today.year, default_index
    return kind, year, index, problems


@requires("viewer")
async def page(request: web.Request) -> web.Response:
    now = request.app[CONFIG].clock()
    await summary.refresh(now)
    kind, year, index, problems = _choice(request, now.date())
    start, end = _period(kind, year, index)
    found = await report.report(*(datetime.combine(d, time(), UTC) for d in (start, end)))
    codes = [c for c in labels.PRIORITY if c in found.current.by_priority or c in found.previous.by_priority]
    rows = []
    for code in codes:
        now_counts = found.current.by_priority.get(code)
        before = found.previous.by_priority.get(code)
        current_total = sum(now_counts.values()) if now_counts else 0
        previous_total = sum(before.values()) if before else 0
        rows.append({"code": code, "name": labels.PRIORITY_SHORT[code], "now": current_total,
                     "before": previous_total, "change": current_total - previous_total,
                     "polarity": now_counts or {}})
    context = {"title": "Board report", "kind": kind, "year": year, "number": index, "start": start,
               "end": end, "last": end - timedelta(days=1), "rows": rows, "r": found, "labels": labels,
               "problems": problems, "periods": PERIODS, "compared": await waves.compare(request)}
    return render(request, "report.html", context, status=400 if problems else 200, section="/report")
