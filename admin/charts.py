"""Accessible bar charts as server-rendered SVG: a title, a description and text on every bar.

Every chart is shown with a real table of the same figures, so nothing depends on seeing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

BAR_HEIGHT = 22
GAP = 8
GROUP_GAP = 14
LABEL_WIDTH = 260
BAR_WIDTH = 360
VALUE_WIDTH = 80
COLOURS = ("#1d70b8", "#505a5f", "#00703c")  # each at least 4.5:1 against white
_ids = count(1)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int


@dataclass(frozen=True)
class Group:
    label: str  # "" for a chart without groups
    bars: tuple[Bar, ...]


def bar_chart(title: str, description: str, groups: list[Group]) -> Markup:
    """Horizontal bars; groups (if labelled) get a heading line of their own."""
    uid = next(_ids)
    biggest = max((bar.value for g in groups for bar in g.bars), default=0) or 1
    parts: list[str] = []
    y = 0
    for group in groups:
        if group.label:
            parts.append(f'<text x="0" y="{y + 16}" font-weight="bold">{escape(group.label)}</text>')
            y += BAR_HEIGHT
        for index, bar in enumerate(group.bars):
            parts.append(_bar(bar, y, biggest, COLOURS[index % len(COLOURS)] if group.label else COLOURS[0]))
            y += BAR_HEIGHT + GAP
        y += GROUP_GAP if group.label else 0
    height = max(y, BAR_HEIGHT)
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    return Markup(
        f'<svg class="app-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-title-{uid} chart-desc-{uid}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-title-{uid}">{escape(title)}</title>'
        f'<desc id="chart-desc-{uid}">{escape(description)}</desc>{"".join(parts)}</svg>')


def _bar(bar: Bar, y: int, biggest: int, colour: str) -> str:
    length = round(BAR_WIDTH * bar.value / biggest) if bar.value else 0
    text_y = y + 16
    return (f'<text x="{LABEL_WIDTH - 8}" y="{text_y}" text-anchor="end">{escape(bar.label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{max(length, 1)}" height="{BAR_HEIGHT}" '
            f'fill="{colour}"/>'
            f'<text x="{LABEL_WIDTH + length + 6}" y="{text_y}">{bar.value:,}</text>')


def describe(counts: list[Bar], unit: str = "responses") -> str:
    """A one-sentence summary for the chart's description: the total and the biggest bar."""
    total = sum(b.value for b in counts)
    if not total:
        return f"No {unit} in this period."
    top = max(counts, key=lambda b: b.value)
    return f"{total:,} {unit} in all. The most: {top.label}, {top.value:,}."
