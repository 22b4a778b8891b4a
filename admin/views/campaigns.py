"""Campaigns: invitations to a survey (with one reminder) and bulletins sent to many people.

Viewers may look; officers and admins may create, change, schedule, pause, resume and cancel.
The sender (``bot/broadcast.py``) does the sending: it launches a campaign whose status is
``scheduled`` once its time has come. Every change goes in the audit log with the campaign's id,
never the message text.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin import audit, forms, labels
from admin.filters import AGE_BANDS
from admin.keys import CONFIG, SETTINGS, VOICES
from admin.middleware import USER, requires
from admin.queries import campaigns
from admin.render import render
from core.definition import Conversation
from core.languages import BY_CODE, LANGUAGES
from core.storage import models as m

STATUS = {"draft": "Draft", "scheduled": "Scheduled", "sending": "Sending", "paused": "Paused",
          "cancelled": "Cancelled", "done": "Finished"}
STATUS_COLOUR = {"draft": "grey", "scheduled": "blue", "sending": "green", "paused": "yellow",
                 "cancelled": "red", "done": "purple"}
NOT_NOW = {
    "schedule": "Only a draft can be scheduled. This campaign is no longer a draft.",
    "unschedule": "This campaign is not scheduled any more, so it cannot go back to draft. If it has started "
                  "sending, you can pause it instead.",
    "pause": "Only a campaign that is sending can be paused.",
    "resume": "Only a paused campaign can be resumed.",
    "cancel": "This campaign has already finished or been cancelled.",
}


def surveys(request: web.Request) -> dict[str, Conversation]:
    """The conversations a campaign can invite people to (all loaded ones but the first, 'welcome')."""
    first = request.app[SETTINGS].first_conversation
    loaded = request.app[VOICES].conversations
    return {cid: loaded[cid] for cid in sorted(loaded) if cid != first}


def names() -> dict[str, Any]:
    """What templates need to name stored codes in plain words."""
    return {"labels": labels, "statuses": STATUS, "colours": STATUS_COLOUR, "languages": LANGUAGES,
            "by_code": BY_CODE, "roles": m.ROLES, "age_bands": AGE_BANDS, "max_text": forms.MAX_TEXT,
            "max_days": forms.MAX_DAYS}


async def _campaign(request: web.Request) -> m.Campaign:
    found = await campaigns.find(request.match_info["id"])
    if found is None:
        raise web.HTTPNotFound(text="There is no campaign with that number.")
    return found


async def _log(request: web.Request, action: str, campaign: m.Campaign, detail: str = "") -> None:
    await audit.record(request.app[CONFIG].clock(), request[USER].email, action, f"campaign:{campaign.id}",
                       detail)


def _see(campaign: m.Campaign) -> web.Response:
    return web.Response(status=303, headers={"Location": f"/campaigns/{campaign.id}"})


@requires("viewer")
async def list_page(request: web.Request) -> web.Response:
    raw = request.query.get("before", "")
    found, older = await campaigns.page(campaigns.parse_id(raw))
    context = {"title": "Campaigns", "listed": found, "older": older, "now": request.app[CONFIG].clock(),
               **names()}
    return render(request, "campaigns.html", context, section="/campaigns")


# ---- one campaign ------------------------------------------------------------------------------


async def _detail(request: web.Request, campaign: m.Campaign, status: int = 200,
                  problems: list[forms.Problem] | None = None) -> web.Response:
    loaded = request.app[VOICES].conversations.get(campaign.conversation_id or "")
    stale = campaign.kind == "survey" and campaign.status in ("draft", "scheduled", "sending", "paused") \
        and (loaded is None or loaded.version != campaign.conversation_version)
    open_ = campaign.status in ("draft", "scheduled")
    context = {
        "title": campaign.name, "c": campaign, "survey": loaded, "stale": stale,
        "size": await campaigns.audience_size(campaign.audience or {}) if open_ else None,
        "figures": await campaigns.figures(campaign.id), "now": request.app[CONFIG].clock(),
        "bulletin": await campaigns.bulletin_of(campaign), "problems": problems or [], **names(),
    }
    return render(request, "campaign.html", context, status=status, section="/campaigns")


@requires("viewer")
async def detail_page(request: web.Request) -> web.Response:
    return await _detail(request, await _campaign(request))


# ---- create and edit ---------------------------------------------------------------------------


async def _form(request: web.Request, form: forms.CampaignForm, problems: list[forms.Problem],
                campaign: m.Campaign | None = None, status: int = 200) -> web.Response:
    context = {"title": f"Change {campaign.name}" if campaign else "Create a campaign", "f": form,
               "problems": problems, "c": campaign, "surveys": surveys(request),
               "size": await campaigns.audience_size(form.audience),
               "action": f"/campaigns/{campaign.id}/edit" if campaign else "/campaigns/new", **names()}
    return render(request, "campaign_form.html", context, status=status, section="/campaigns")


async def _posted(request: web.Request, campaign: m.Campaign | None = None
                  ) -> tuple[forms.CampaignForm, web.Response | None]:
    """The form, and the page to show instead of saving it (its problems, or the audience counted)."""
    posted = await request.post()
    form, problems = forms.campaign(posted, surveys(request))
    if forms.one(posted, "action") == "count":
        audience_only = [p for p in problems if p[0] in ("role", "language", "age_band")]
        status = 400 if audience_only else 200
        return form, await _form(request, form, audience_only, campaign, status)
    if problems:
        return form, await _form(request, form, problems, campaign, 400)
    return form, None


@requires("officer")
async def new_page(request: web.Request) -> web.Response:
    return await _form(request, forms.CampaignForm(), [])


@requires("officer")
async def create(request: web.Request) -> web.Response:
    form, instead = await _posted(request)
    if instead is not None:
        return instead
    version = surveys(request)[form.conversation].version
    campaign = await campaigns.create(form, version, request[USER].email)
    await _log(request, "campaign-created", campaign, f"survey {form.conversation} version {version}")
    return _see(campaign)


def _not_draft(campaign: m.Campaign) -> list[forms.Problem]:
    if campaign.kind != "survey":
        return [("actions", "A bulletin campaign sends its bulletin as it is. Change the bulletin instead.")]
    return [("actions", "Only a draft can be changed. Unschedule this campaign first to change it."
                        if campaign.status == "scheduled" else "Only a draft can be changed.")]


@requires("officer")
async def edit_page(request: web.Request) -> web.Response:
    campaign = await _campaign(request)
    if campaign.kind != "survey" or campaign.status != "draft":
        return await _detail(request, campaign, 409, _not_draft(campaign))
    form = forms.campaign_form_of(campaign.name, campaign.conversation_id or "", campaign.audience,
                                  campaign.invitation, campaign.reminder, campaign.reminder_days)
    return await _form(request, form, [], campaign)


@requires("officer")
async def edit(request: web.Request) -> web.Response:
    campaign = await _campaign(request)
    if campaign.kind != "survey" or campaign.status != "draft":
        return await _detail(request, campaign, 409, _not_draft(campaign))
    form, instead = await _posted(request, campaign)
    if instead is not None:
        return instead
    changed = await campaigns.update(campaign, form, surveys(request)[form.conversation].version)
    if changed is None:
        return await _detail(request, await _campaign(request), 409, _not_draft(campaign))
    await _log(request, "campaign-changed", campaign, "changed: " + (", ".join(changed) or "nothing"))
    return _see(campaign)


# ---- preview -----------------------------------------------------------------------------------


def _source(kind: str, code: str, campaign: m.Campaign, bulletin: m.Bulletin | None) -> str:
    """Where a previewed message's words come from."""
    if kind == "bulletin":
        entry = ((bulletin.texts if bulletin else {}) or {}).get(code) or {}
        if not entry:
            return "No text in this language, so the English text is sent"
        return "Reviewed" if entry.get("review") == "reviewed" else "Draft: needs review by a native speaker"
    own = (campaign.reminder if kind == "reminder" else campaign.invitation) or {}
    return "Your text" if own.get(code, "").strip() else "Standard text"


@requires("viewer")
async def preview_page(request: web.Request) -> web.Response:
    """Every language: the invitation and the reminder (or the bulletin) exactly as they are sent."""
    campaign = await _campaign(request)
    voices = request.app[VOICES]
    bulletin = await campaigns.bulletin_of(campaign)
    kinds = ("bulletin",) if campaign.kind == "bulletin" else ("invite", "reminder")
    chosen = set((campaign.audience or {}).get("languages") or [])
    items = []
    for lang in LANGUAGES:
        messages = []
        for kind in kinds:
            say = voices.outreach_message(kind, lang.code, campaign, bulletin)
            messages.append({"kind": kind, "text": say.text, "buttons": [b.label for b in say.buttons],
                             "source": _source(kind, lang.code, campaign, bulletin)})
        items.append({"lang": lang, "messages": messages, "in_audience": not chosen or lang.code in chosen})
    context = {"title": f"Preview: {campaign.name}", "c": campaign, "items": items, **names()}
    return render(request, "campaign_preview.html", context, section="/campaigns")


# ---- schedule and status changes ---------------------------------------------------------------


async def _schedule_form(request: web.Request, campaign: m.Campaign, when: forms.When,
                         problems: list[forms.Problem], status: int = 200) -> web.Response:
    context = {"title": f"Schedule {campaign.name}", "c": campaign, "w": when, "problems": problems,
               **names()}
    return render(request, "campaign_schedule.html", context, status=status, section="/campaigns")


@requires("officer")
async def schedule_page(request: web.Request) -> web.Response:
    campaign = await _campaign(request)
    if campaign.status != "draft":
        return await _detail(request, campaign, 409, [("actions", NOT_NOW["schedule"])])
    return await _schedule_form(request, campaign, forms.When(), [])


@requires("officer")
async def schedule(request: web.Request) -> web.Response:
    campaign = await _campaign(request)
    if campaign.status != "draft":
        return await _detail(request, campaign, 409, [("actions", NOT_NOW["schedule"])])
    now = request.app[CONFIG].clock()
    when, problems = forms.when(await request.post(), now)
    loaded = request.app[VOICES].conversations.get(campaign.conversation_id or "")
    if campaign.kind == "survey" and (loaded is None or loaded.version != campaign.conversation_version):
        problems.insert(0, ("when", "The survey has changed since this campaign was made. Change the "
                                    "campaign and save it again, so that it invites people to the current "
                                    "version"))
    if problems or when.at is None:
        return await _schedule_form(request, campaign, when, problems, 400)
    if not await campaigns.change(campaign.id, "schedule", now, when.at):
        return await _detail(request, await _campaign(request), 409, [("actions", NOT_NOW["schedule"])])
    await _log(request, "campaign-scheduled", campaign, f"for {when.at.isoformat(timespec='minutes')} UTC")
    return _see(campaign)


@requires("officer")
async def cancel_page(request: web.Request) -> web.Response:
    campaign = await _campaign(request)
    if campaign.status not in campaigns.CHANGES["cancel"][1]:
        return await _detail(request, campaign, 409, [("actions", NOT_NOW["cancel"])])
    context = {"title": f"Cancel {campaign.name}", "c": campaign, **names()}
    return render(request, "campaign_cancel.html", context, section="/campaigns")


@requires("officer")
async def change_status(request: web.Request) -> web.Response:
    """Unschedule (back to draft), pause, resume or cancel."""
    campaign = await _campaign(request)
    action = request.path.rstrip("/").rsplit("/", 1)[-1]
    if action not in campaigns.CHANGES or action == "schedule":
        raise web.HTTPNotFound()
    if not await campaigns.change(campaign.id, action, request.app[CONFIG].clock()):
        return await _detail(request, campaign, 409, [("actions", NOT_NOW[action])])
    new, _, logged = campaigns.CHANGES[action]
    await _log(request, logged, campaign, f"{campaign.status} to {new}")
    return _see(campaign)
