"""The dashboard: headline counts and charts, each with a table of the same figures."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from aiohttp import web
from markupsafe import Markup

from admin import labels
from admin.charts import Bar, Group, bar_chart, describe
from admin.filters import parse_date
from admin.keys import CONFIG
from admin.middleware import requires
from admin.queries import dashboard, summary
from admin.render import render

POLARITY_ORDER = ("works-well", "not-working", "improve", "")


@dataclass
class Chart:
    id: str
    title: str
    svg: Markup
    headers: list[str]
    rows: list[list[str]]


def _range(request: web.Request, today: date) -> tuple[date, date, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    found: list[date | None] = []
    for name, label in (("from", "From"), ("to", "To")):
        raw = request.query.get(name, "").strip()
        value = parse_date(raw) if raw else None
        if raw and value is None:
            problems.append((name, f"{label} date must be a real date, like 27/3/2026"))
        found.append(value)
    start = found[0] or today.replace(day=1) - timedelta(days=335)
    end = found[1] or today
    if start > end:
        problems.append(("to", "To date must be the same as or after the From date"))
        start, end = end.replace(day=1), end
    return start.replace(day=1) if not found[0] else start, end, problems


def _simple(chart_id: str, title: str, counts: Counter[str], namer: dict[str, str] | None = None) -> Chart:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    bars = [Bar(labels.name(namer, k) if namer is not None else labels.language(k), v) for k, v in items]
    svg = bar_chart(title, describe(bars), [Group("", tuple(bars))])
    return Chart(chart_id, title, svg, ["Group", "Responses"], [[b.label, f"{b.value:,}"] for b in bars])


def _priorities(by_priority: dict[str, Counter[str]]) -> Chart:
    title = "Responses by priority and how it is going"
    groups: list[Group] = []
    rows: list[list[str]] = []
    order = [*labels.PRIORITY, ""]
    for code in [c for c in order if c in by_priority]:
        counts = by_priority[code]
        bars = tuple(Bar(labels.POLARITY[p], counts.get(p, 0)) for p in POLARITY_ORDER)
        groups.append(Group(labels.PRIORITY_SHORT.get(code, code), bars))
        rows.append([labels.PRIORITY_SHORT.get(code, code), *(f"{b.value:,}" for b in bars)])
    total = sum(sum(c.values()) for c in by_priority.values())
    description = f"For each priority, how many responses said it works well, is not working, could be " \
                  f"better, or did not say. {total:,} priority mentions in all."
    return Chart("priorities", title, bar_chart(title, description, groups),
                 ["Priority", *(labels.POLARITY[p] for p in POLARITY_ORDER)], rows)


def _over_time(series: list[tuple[str, int]], bucket: str) -> Chart:
    title = f"Feedback responses per {bucket}"
    bars = [Bar(key, n) for key, n in series]
    return Chart("time", title, bar_chart(title, describe(bars), [Group("", tuple(bars))]),
                 [bucket.capitalize(), "Responses"], [[b.label, f"{b.value:,}"] for b in bars])


@requires("viewer")
async def page(request: web.Request) -> web.Response:
    now = request.app[CONFIG].clock()
    await summary.refresh(now)
    start, end, problems = _range(request, now.date())
    begin, finish = (datetime.combine(d, time(), UTC) for d in (start, end + timedelta(days=1)))
    found = await dashboard.figures(begin, finish)
    month = datetime.combine(now.date().replace(day=1), time(), UTC)
    year = datetime.combine(now.date().replace(month=1, day=1), time(), UTC)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time(), UTC)
    charts = [
        _over_time(found.over_time, found.bucket),
        _priorities(found.by_priority),
        _simple("polarity", "How it is going", found.by_polarity, labels.POLARITY),
        _simple("who", "Who answered", found.by_role, labels.ROLE),
        _simple("language", "Language", found.by_language),
        _simple("age", "Age of the young person", found.by_age, labels.AGE),
        _simple("conversation", "Responses by conversation (all kinds)", found.by_conversation,
                labels.CONVERSATION),
    ]
    context = {
        "title": "Dashboard", "charts": charts, "problems": problems, "total": found.total,
        "this_month": await dashboard.count_between(month, tomorrow),
        "this_year": await dashboard.count_between(year, tomorrow),
        "start": start, "end": end, "raw_from": request.query.get("from", ""),
        "raw_to": request.query.get("to", ""),
    }
    return render(request, "dashboard.html", context, status=400 if problems else 200, section="/")
