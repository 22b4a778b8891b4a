"""Campaigns for the admin: the list with live figures, one campaign, and officers' changes.

The figures and status changes are :mod:`core.storage.campaigns`' own (the sender uses the same
storage), so the admin shows exactly what the sender does. Figures are computed on every call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from admin.forms import CampaignForm
from core.storage import campaigns as store
from core.storage import models as m

PAGE = 25
# (new status, the statuses it may come from, audit action)
CHANGES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "schedule": ("scheduled", ("draft",), "campaign-scheduled"),
    "unschedule": ("draft", ("scheduled",), "campaign-unscheduled"),
    "pause": ("paused", ("sending",), "campaign-paused"),
    "resume": ("sending", ("paused",), "campaign-resumed"),
    "cancel": ("cancelled", ("draft", "scheduled", "sending", "paused"), "campaign-cancelled"),
}
Figures = store.Figures


@dataclass
class Listed:
    campaign: m.Campaign
    figures: store.Figures


@dataclass
class CampaignFigures:
    total: store.Figures = field(default_factory=store.Figures)
    by_language: dict[str, store.Figures] = field(default_factory=dict)
    by_role: dict[str, store.Figures] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return bool(self.total.queued or self.total.reminded)


def parse_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


async def page(before: int | None) -> tuple[list[Listed], int | None]:
    """Newest first; the id to pass as ``before`` for older ones, if there are more."""
    query = m.Campaign.all()
    if before:
        query = query.filter(id__lt=before)
    found = await query.order_by("-id").limit(PAGE + 1)
    more = found[PAGE - 1].id if len(found) > PAGE else None
    listed = []
    for campaign in found[:PAGE]:
        total = (await store.figures(campaign.id)).get("", store.Figures())
        listed.append(Listed(campaign, total))
    return listed, more


async def find(raw: str) -> m.Campaign | None:
    ident = parse_id(raw)
    return await m.Campaign.get_or_none(id=ident) if ident is not None else None


async def bulletin_of(campaign: m.Campaign) -> m.Bulletin | None:
    bulletin_id = campaign.bulletin_id  # type: ignore[attr-defined]
    return await m.Bulletin.get_or_none(id=bulletin_id) if bulletin_id else None


async def figures(campaign_id: int) -> CampaignFigures:
    total = (await store.figures(campaign_id)).get("", store.Figures())
    return CampaignFigures(total, await store.figures(campaign_id, by="language"),
                           await store.figures(campaign_id, by="role"))


async def audience_size(audience: dict[str, list[str]]) -> int:
    return await store.audience_size(audience)


def _values(form: CampaignForm, version: int) -> dict[str, Any]:
    return {"name": form.name, "conversation_id": form.conversation, "conversation_version": version,
            "audience": form.audience, "invitation": form.invitation, "reminder": form.reminder,
            "reminder_days": form.days}


async def create(form: CampaignForm, version: int, actor: str) -> m.Campaign:
    return await m.Campaign.create(kind="survey", status="draft", created_by=actor, **_values(form, version))


async def update(campaign: m.Campaign, form: CampaignForm, version: int) -> list[str] | None:
    """Save a draft's new settings; the names of what changed, or None if it is no longer a draft."""
    values = _values(form, version)
    changed = [name for name, value in values.items() if getattr(campaign, name) != value]
    if await m.Campaign.filter(id=campaign.id, status="draft").update(**values) != 1:
        return None
    return changed


async def change(campaign_id: int, action: str, now: datetime, at: datetime | None = None) -> bool:
    """Schedule, unschedule, pause, resume or cancel; False when the campaign's status does not allow it."""
    new, allowed, _ = CHANGES[action]
    return await store.set_status(campaign_id, new, allowed, now, scheduled_at=at)


async def send_bulletin(bulletin: m.Bulletin, audience: dict[str, list[str]], at: datetime, now: datetime,
                        actor: str) -> m.Campaign:
    """A campaign of kind ``bulletin`` that sends ``bulletin`` to ``audience`` at ``at`` (UTC)."""
    campaign = await m.Campaign.create(kind="bulletin", name=f"Bulletin: {bulletin.title}"[:200],
                                       bulletin_id=bulletin.id, audience=audience, reminder_days=0,
                                       status="draft", created_by=actor)
    await change(campaign.id, "schedule", now, at)
    await campaign.refresh_from_db()
    return campaign
