"""The responses filter: read from the query string, checked, with plain-words problems."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from multidict import MultiMapping

from core.languages import BY_CODE
from core.storage.models import POLARITIES, PRIORITIES, REVIEW_STATUSES, ROLES

AGE_BANDS = ("under-13", "13-15", "16-18", "19-25")
CONVERSATIONS = ("welcome", "feedback", "annual-parent", "annual-young-person")
WAVE = re.compile(r"^([a-z0-9][a-z0-9_-]{0,63}):(\d{1,9})$")  # "<conversation id>:<version>"
STEP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SORTS = ("newest", "oldest")
MAX_SEARCH = 200
CHOICES: dict[str, tuple[str, ...]] = {
    "priority": tuple(code for code, _ in PRIORITIES),
    "polarity": POLARITIES,
    "role": ROLES,
    "language": tuple(BY_CODE),
    "age_band": AGE_BANDS,
    "conversation": CONVERSATIONS,
    "status": REVIEW_STATUSES,
}
LABELS = {
    "priority": "Priority", "polarity": "How it is going", "role": "Who answered", "language": "Language",
    "age_band": "Age", "conversation": "Conversation", "status": "Status",
}


@dataclass(frozen=True)
class Cursor:
    started_at: datetime
    id: int
    backwards: bool = False  # True: the page before this row


@dataclass(frozen=True)
class Filters:
    chosen: dict[str, tuple[str, ...]] = field(default_factory=dict)
    date_from: date | None = None
    date_to: date | None = None
    has_voice: str = ""  # "yes", "no" or ""
    flagged: bool = False
    q: str = ""
    sort: str = "newest"
    cursor: Cursor | None = None
    wave: tuple[str, int] | None = None  # one version of one conversation (year on year)
    step: str = ""  # responses with an answer to this question (step id)

    def values(self, name: str) -> tuple[str, ...]:
        return self.chosen.get(name, ())

    @property
    def start(self) -> datetime | None:
        return datetime.combine(self.date_from, time(), UTC) if self.date_from else None

    @property
    def end(self) -> datetime | None:
        return datetime.combine(self.date_to + timedelta(days=1), time(), UTC) if self.date_to else None

    def query(self, **changes: object) -> str:
        """The query string for these filters (without the page), e.g. for export links."""
        pairs: list[tuple[str, str]] = [(k, v) for k, vs in self.chosen.items() for v in vs]
        pairs += [(k, str(v)) for k, v in (("from", self.date_from), ("to", self.date_to)) if v]
        pairs += [(k, v) for k, v in (("voice", self.has_voice), ("q", self.q)) if v]
        pairs += [("flagged", "yes")] if self.flagged else []
        pairs += [("sort", self.sort)] if self.sort != "newest" else []
        pairs += [("wave", f"{self.wave[0]}:{self.wave[1]}")] if self.wave else []
        pairs += [("step", self.step)] if self.step else []
        pairs += [(k, str(v)) for k, v in changes.items()]
        return urlencode(pairs)

    def without_cursor(self) -> Filters:
        return replace(self, cursor=None)


@dataclass
class Parsed:
    filters: Filters
    problems: list[tuple[str, str]]  # (field id, message)


def parse_date(raw: str) -> date | None:
    raw = raw.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    return None


def _choices(query: MultiMapping[str], problems: list[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    chosen: dict[str, tuple[str, ...]] = {}
    for name, allowed in CHOICES.items():
        given = [v for v in query.getall(name, []) if v]
        good = tuple(dict.fromkeys(v for v in given if v in allowed))
        if len(good) < len(set(given)):
            problems.append((name, f"{LABELS[name]}: we did not recognise some choices, so we left them out"))
        if good:
            chosen[name] = good
    return chosen


def _dates(query: MultiMapping[str], problems: list[tuple[str, str]]) -> tuple[date | None, date | None]:
    found: list[date | None] = []
    for name, label in (("from", "From"), ("to", "To")):
        raw = query.get(name, "").strip()
        value = parse_date(raw) if raw else None
        if raw and value is None:
            problems.append((name, f"{label} date must be a real date, like 27/3/2026"))
        found.append(value)
    start, end = found
    if start and end and start > end:
        problems.append(("to", "To date must be the same as or after the From date"))
        end = None
    return start, end


def parse_cursor(raw: str) -> Cursor | None:
    """``a:<iso time>_<id>`` (after) or ``b:...`` (before)."""
    try:
        direction, rest = raw.split(":", 1)
        stamp, ident = rest.rsplit("_", 1)
        number = int(ident)
        if direction not in ("a", "b") or not 0 < number < 2**63:
            return None
        when = datetime.fromisoformat(stamp)
        return Cursor(when if when.tzinfo else when.replace(tzinfo=UTC), number, direction == "b")
    except (ValueError, OverflowError):
        return None


def cursor_text(started_at: datetime, ident: int, backwards: bool) -> str:
    return f"{'b' if backwards else 'a'}:{started_at.astimezone(UTC).isoformat()}_{ident}"


def parse(query: MultiMapping[str]) -> Parsed:
    problems: list[tuple[str, str]] = []
    chosen = _choices(query, problems)
    start, end = _dates(query, problems)
    voice = query.get("voice", "")
    if voice not in ("", "yes", "no"):
        problems.append(("voice", "Voice answers: choose yes, no or either"))
        voice = ""
    q = " ".join(query.get("q", "").split())
    if len(q) > MAX_SEARCH:
        problems.append(("q", f"Search must be {MAX_SEARCH} characters or fewer, so we shortened it"))
        q = q[:MAX_SEARCH]
    sort = query.get("sort", "newest")
    if sort not in SORTS:
        problems.append(("sort", "Sort: choose newest or oldest first"))
        sort = "newest"
    cursor = None
    if query.get("page"):
        cursor = parse_cursor(query["page"])
        if cursor is None:
            problems.append(("q", "That page link is not valid, so we show the first page"))
    wave = None
    if query.get("wave"):
        found = WAVE.match(query["wave"])
        if found is None:
            problems.append(("q", "That survey wave is not valid, so we show every wave"))
        else:
            wave = (found.group(1), int(found.group(2)))
    step = query.get("step", "")
    if step and not STEP.match(step):
        problems.append(("q", "That question is not valid, so we show answers to every question"))
        step = ""
    filters = Filters(chosen, start, end, voice, query.get("flagged") == "yes", q, sort, cursor, wave, step)
    return Parsed(filters, problems)
