"""Campaign and bulletin forms: read from the posted form, checked, with plain-words problems.

Nothing here touches the database: the views check what needs it (for example, that a response
reference exists) through :mod:`admin.queries`. Each problem is ``(field id, message)``, so the
error summary can link to the field.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from multidict import MultiMapping

from admin.filters import AGE_BANDS
from core.languages import BY_CODE, DEFAULT, LANGUAGES
from core.storage.models import ROLES

LONDON = ZoneInfo("Europe/London")
MAX_TEXT = 4000
MAX_NAME = 200
MAX_DAYS = 30
DEFAULT_DAYS = 7
MAX_REFS = 200
FURTHEST = timedelta(days=2 * 366)  # a time further ahead than this is almost surely a typing mistake
REVIEWS = ("draft", "reviewed")
REF = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*([ap]\.?m\.?)?$")

Problem = tuple[str, str]
Form = MultiMapping[str | bytes | object]


def one(form: Form, name: str) -> str:
    """A single text value (a file or anything else posted is read as empty)."""
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def many(form: Form, name: str) -> list[str]:
    return [v for v in form.getall(name, []) if isinstance(v, str) and v]


def text(raw: str) -> str:
    """A message text as stored: the same line endings everywhere, no NUL (PostgreSQL refuses it)."""
    return raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()


def language_name(code: str) -> str:
    return BY_CODE[code].english


# ---- audience ----------------------------------------------------------------------------------

AUDIENCE_FIELDS = (
    ("role", "roles", ROLES, "Who answered"),
    ("language", "languages", tuple(BY_CODE), "Language"),
    ("age_band", "age_bands", AGE_BANDS, "Age"),
)


def audience(form: Form, problems: list[Problem]) -> dict[str, list[str]]:
    """``{"roles": [...], "languages": [...], "age_bands": [...]}``; nothing ticked means everyone."""
    chosen: dict[str, list[str]] = {}
    for name, key, allowed, label in AUDIENCE_FIELDS:
        given = many(form, name)
        good = list(dict.fromkeys(v for v in given if v in allowed))
        if len(good) < len(set(given)):
            problems.append((name, f"{label}: choose from the list"))
        chosen[key] = good
    return chosen


def empty_audience() -> dict[str, list[str]]:
    return {key: [] for _, key, _, _ in AUDIENCE_FIELDS}


# ---- campaigns ---------------------------------------------------------------------------------


@dataclass
class CampaignForm:
    name: str = ""
    conversation: str = ""
    audience: dict[str, list[str]] = field(default_factory=empty_audience)
    invitation: dict[str, str] = field(default_factory=dict)  # language -> text; blank ones left out
    reminder: dict[str, str] = field(default_factory=dict)
    reminder_days: str = str(DEFAULT_DAYS)  # as typed, to show again

    @property
    def days(self) -> int:
        return int(self.reminder_days)


def _texts(form: Form, prefix: str, what: str, problems: list[Problem]) -> dict[str, str]:
    found: dict[str, str] = {}
    for lang in LANGUAGES:
        value = text(one(form, f"{prefix}-{lang.code}"))
        if len(value) > MAX_TEXT:
            problems.append((f"{prefix}-{lang.code}",
                             f"{what} in {lang.english} must be {MAX_TEXT:,} characters or fewer"))
        if value:
            found[lang.code] = value
    return found


def campaign(form: Form, conversations: Collection[str]) -> tuple[CampaignForm, list[Problem]]:
    problems: list[Problem] = []
    name = " ".join(text(one(form, "name")).split())
    if not name:
        problems.append(("name", "Enter a name for the campaign"))
    elif len(name) > MAX_NAME:
        problems.append(("name", f"The name must be {MAX_NAME} characters or fewer"))
    conversation = one(form, "conversation")
    if conversation not in conversations:
        problems.append(("conversation", "Choose the survey to invite people to"))
    chosen = audience(form, problems)
    invitation = _texts(form, "invitation", "The invitation", problems)
    reminder = _texts(form, "reminder", "The reminder", problems)
    days = one(form, "reminder_days").strip()
    if not (days.isdigit() and len(days) <= 2 and int(days) <= MAX_DAYS):
        problems.append(("reminder_days",
                         f"Enter the reminder delay as a whole number of days from 0 to {MAX_DAYS}"))
    found = CampaignForm(name[:MAX_NAME * 2], conversation if conversation in conversations else "", chosen,
                         invitation, reminder, days[:8])
    return found, problems


def campaign_form_of(name: str, conversation: str, audience_: dict[str, list[str]],
                     invitation: dict[str, str], reminder: dict[str, str], days: int) -> CampaignForm:
    """The form filled in from a stored campaign, to edit it."""
    full = empty_audience()
    full.update({k: list(v) for k, v in (audience_ or {}).items() if k in full})
    return CampaignForm(name, conversation, full, dict(invitation or {}), dict(reminder or {}), str(days))


# ---- when to send ------------------------------------------------------------------------------


@dataclass
class When:
    choice: str = ""  # "now" or "later"
    day: str = ""
    month: str = ""
    year: str = ""
    time: str = ""
    at: datetime | None = None  # UTC, when valid


def _clock_time(raw: str) -> tuple[int, int] | None:
    """``9:30am``, ``9.30 pm``, ``2pm``, ``14:00``, ``midday`` or ``midnight`` as (hour, minute)."""
    raw = raw.strip().lower()
    if raw in ("midday", "noon", "12 noon"):
        return 12, 0
    if raw == "midnight":
        return 0, 0
    found = TIME.match(raw)
    if not found:
        return None
    hour, minute = int(found.group(1)), int(found.group(2) or 0)
    suffix = (found.group(3) or "").replace(".", "")
    if minute > 59:
        return None
    if suffix:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    elif hour > 23:
        return None
    return hour, minute


def _date(day: str, month: str, year: str) -> date | None:
    if not all(p.isdigit() and len(p) <= 4 for p in (day, month, year)) or len(year) != 4:
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def when(form: Form, now: datetime) -> tuple[When, list[Problem]]:
    """Now, or a date and a time in UK time (Europe/London) that is in the future; stored in UTC."""
    problems: list[Problem] = []
    day_, month, year = (one(form, f"date-{part}").strip()[:8] for part in ("day", "month", "year"))
    found = When(one(form, "when"), day_, month, year, one(form, "time").strip()[:20])
    if found.choice == "now":
        found.at = now
        return found, problems
    if found.choice != "later":
        problems.append(("when", "Choose when to send it"))
        return found, problems
    day = None
    if not (found.day or found.month or found.year):
        problems.append(("date-day", "Enter the date to send it, for example 27 3 2026"))
    else:
        day = _date(found.day, found.month, found.year)
        if day is None:
            problems.append(("date-day", "The date must be a real date, for example 27 3 2026"))
    clock = None
    if not found.time:
        problems.append(("time", "Enter the time to send it, for example 9:30am or 14:00"))
    else:
        clock = _clock_time(found.time)
        if clock is None:
            problems.append(("time", "The time must be a real time, for example 9:30am or 14:00"))
    if day is None or clock is None:
        return found, problems
    local = datetime(day.year, day.month, day.day, *clock, tzinfo=LONDON)
    at = local.astimezone(UTC)
    if at.astimezone(LONDON).replace(tzinfo=None) != local.replace(tzinfo=None):
        problems.append(("time", "That time does not happen in the UK on that day, because the clocks go "
                                 "forward. Choose another time"))
    elif at <= now:
        problems.append(("date-day", "The date and time must be in the future"))
    elif at - now > FURTHEST:
        problems.append(("date-day", "The date must be within the next 2 years"))
    else:
        found.at = at
    return found, problems


# ---- bulletins ---------------------------------------------------------------------------------


@dataclass
class BulletinForm:
    title: str = ""
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # language -> {"text", "review"}
    reviews: dict[str, str] = field(default_factory=dict)  # as chosen, to show again
    refs: list[str] = field(default_factory=list)
    refs_text: str = ""  # as typed, to show again


def refs(raw: str, problems: list[Problem]) -> list[str]:
    """Response references, one per line (or separated by spaces or commas); a pasted link works too."""
    found: list[str] = []
    for token in re.split(r"[\s,;]+", raw.strip()):
        if not token:
            continue
        ref = token.split("/responses/")[-1].split("#")[0].split("?")[0].strip("/").lower()
        if not REF.match(ref):
            shown = token if len(token) <= 40 else token[:37] + "..."
            problems.append(("responses", f"“{shown}” is not a response reference. A reference looks like "
                                          "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"))
            return []
        found.append(ref)
    found = list(dict.fromkeys(found))
    if len(found) > MAX_REFS:
        problems.append(("responses", f"Link at most {MAX_REFS} responses"))
        return []
    return found


def bulletin(form: Form) -> tuple[BulletinForm, list[Problem]]:
    problems: list[Problem] = []
    title = " ".join(text(one(form, "title")).split())
    if not title:
        problems.append(("title", "Enter a title"))
    elif len(title) > MAX_NAME:
        problems.append(("title", f"The title must be {MAX_NAME} characters or fewer"))
    texts: dict[str, dict[str, str]] = {}
    reviews: dict[str, str] = {}
    for lang in LANGUAGES:
        value = text(one(form, f"text-{lang.code}"))
        if lang.code == DEFAULT and not value:
            problems.append((f"text-{lang.code}", "Enter the text in English"))
        if len(value) > MAX_TEXT:
            problems.append((f"text-{lang.code}",
                             f"The text in {lang.english} must be {MAX_TEXT:,} characters or fewer"))
        review = "reviewed" if lang.code == DEFAULT else one(form, f"review-{lang.code}") or "draft"
        if review not in REVIEWS:
            problems.append((f"review-{lang.code}",
                             f"Choose whether the {lang.english} text is a draft or has been reviewed"))
            review = "draft"
        reviews[lang.code] = review
        if value:
            texts[lang.code] = {"text": value, "review": review}
    raw_refs = one(form, "responses")
    linked = refs(raw_refs[:MAX_TEXT * 4], problems)
    return BulletinForm(title[:MAX_NAME * 2], texts, reviews, linked, raw_refs[:MAX_TEXT * 4]), problems


def bulletin_form_of(title: str, texts: dict[str, dict[str, str]], linked: list[str]) -> BulletinForm:
    reviews = {code: str((texts.get(code) or {}).get("review", "draft")) for code in BY_CODE}
    return BulletinForm(title, {k: dict(v) for k, v in (texts or {}).items()}, reviews, list(linked),
                        "\n".join(linked))
