"""The safeguarding queue: alerts, their acknowledgement and outcome, and the counts for the banner."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from tortoise.expressions import Q

from core.storage import models as m

ACKNOWLEDGED_SHOWN = 200  # the newest acknowledged alerts listed under the unacknowledged ones
# A data request or a complaint gets a reply within one calendar month of arriving (SECURITY.md P3, P8).
REPLY_CATEGORIES = ("data-request", "complaint")
LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class AlertCounts:
    unsent: int  # tried and not delivered yet
    waiting: int  # not acknowledged by an officer


ALERT_COUNTS = web.RequestKey("alert_counts", AlertCounts)


@dataclass(frozen=True)
class Queue:
    waiting: list[m.SafeguardingAlert]
    acknowledged: list[m.SafeguardingAlert]
    more: bool  # older acknowledged alerts are not listed


async def counts() -> AlertCounts:
    unsent = await m.SafeguardingAlert.filter(notified_at=None, attempts__gt=0).count()
    waiting = await m.SafeguardingAlert.filter(acknowledged_at=None).count()
    return AlertCounts(unsent, waiting)


async def queue() -> Queue:
    """Unacknowledged first, then the rest; newest first in each."""
    waiting = await m.SafeguardingAlert.filter(acknowledged_at=None).order_by("-created_at", "-id")
    done = await m.SafeguardingAlert.filter(acknowledged_at__not_isnull=True) \
        .order_by("-created_at", "-id").limit(ACKNOWLEDGED_SHOWN + 1)
    return Queue(waiting, done[:ACKNOWLEDGED_SHOWN], len(done) > ACKNOWLEDGED_SHOWN)


async def find(ref: str) -> m.SafeguardingAlert | None:
    if not 0 < len(ref) <= 36:
        return None
    return await m.SafeguardingAlert.get_or_none(ref=ref)


async def response_ref(alert: m.SafeguardingAlert) -> str | None:
    """The reference of the response the alert came from, if it still exists."""
    if alert.response_id is None:
        return None
    found = await m.Response.filter(id=alert.response_id).values_list("ref", flat=True)
    return str(found[0]) if found else None


async def acknowledge(alert: m.SafeguardingAlert, who: str, now: datetime) -> bool:
    """Record who acknowledged it and when; False if somebody already had."""
    updated = await m.SafeguardingAlert.filter(id=alert.id, acknowledged_at=None) \
        .update(acknowledged_by=who, acknowledged_at=now)
    return bool(updated)


async def record_outcome(alert: m.SafeguardingAlert, text: str, who: str, now: datetime) -> bool:
    """Record the outcome once (acknowledging the alert too if nobody had); False if already recorded."""
    updated = await m.SafeguardingAlert.filter(Q(id=alert.id) & Q(outcome_at=None)) \
        .update(outcome=text, outcome_by=who, outcome_at=now)
    if updated:
        await acknowledge(alert, who, now)
    return bool(updated)


def one_month_after(day: date) -> date:
    """The same day next month, or that month's last day if it has no such day (31 January: 28 February)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def reply_by(alert: m.SafeguardingAlert) -> date | None:
    """For a data request or a complaint, the day the reply is due: a calendar month after it arrived (UK)."""
    if alert.category not in REPLY_CATEGORIES:
        return None
    return one_month_after(alert.created_at.astimezone(LONDON).date())


def overdue(alert: m.SafeguardingAlert, now: datetime) -> bool:
    """A reply is due before today (UK) and no outcome has been recorded."""
    due = reply_by(alert)
    return due is not None and alert.outcome_at is None and now.astimezone(LONDON).date() > due
