"""Bulletins ("You said, we did"): what the council did about what people said.

An English title and text, a text per language (each marked a draft for review by a native
speaker, or reviewed), and links to the responses it answers. Published bulletins are what the
bot's /news shows; "Send to subscribers" makes a campaign of kind ``bulletin``. Viewers may look;
officers and admins may change. Every change goes in the audit log with the bulletin's id.
"""

from __future__ import annotations

from aiohttp import web

from admin import audit, forms
from admin.keys import CONFIG
from admin.middleware import USER, requires
from admin.queries import bulletins, campaigns
from admin.render import render
from admin.views.campaigns import names
from core.storage import models as m

REVIEW = {"draft": "Draft: needs review by a native speaker", "reviewed": "Reviewed"}


async def _bulletin(request: web.Request) -> m.Bulletin:
    found = await bulletins.find(request.match_info["id"])
    if found is None:
        raise web.HTTPNotFound(text="There is no bulletin with that number.")
    return found


async def _log(request: web.Request, action: str, target: str, detail: str = "") -> None:
    await audit.record(request.app[CONFIG].clock(), request[USER].email, action, target, detail)


def _see(bulletin: m.Bulletin) -> web.Response:
    return web.Response(status=303, headers={"Location": f"/bulletins/{bulletin.id}"})


@requires("viewer")
async def list_page(request: web.Request) -> web.Response:
    found, older = await bulletins.page(bulletins.parse_id(request.query.get("before", "")))
    context = {"title": "You said, we did", "listed": found, "older": older, **names()}
    return render(request, "bulletins.html", context, section="/bulletins")


async def _detail(request: web.Request, bulletin: m.Bulletin, status: int = 200,
                  problems: list[forms.Problem] | None = None) -> web.Response:
    context = {"title": bulletin.title, "b": bulletin, "linked": await bulletins.linked(bulletin),
               "sent": await bulletins.campaigns(bulletin), "drafts": bulletins.drafts(bulletin),
               "reviews": REVIEW, "problems": problems or [], **names()}
    return render(request, "bulletin.html", context, status=status, section="/bulletins")


@requires("viewer")
async def detail_page(request: web.Request) -> web.Response:
    return await _detail(request, await _bulletin(request))


# ---- create and edit ---------------------------------------------------------------------------


async def _form(request: web.Request, form: forms.BulletinForm, problems: list[forms.Problem],
                bulletin: m.Bulletin | None = None, status: int = 200) -> web.Response:
    context = {"title": f"Change {bulletin.title}" if bulletin else "Create a bulletin", "f": form,
               "problems": problems, "b": bulletin, "reviews": REVIEW,
               "action": f"/bulletins/{bulletin.id}/edit" if bulletin else "/bulletins/new", **names()}
    return render(request, "bulletin_form.html", context, status=status, section="/bulletins")


async def _posted(request: web.Request, bulletin: m.Bulletin | None = None
                  ) -> tuple[forms.BulletinForm, web.Response | None]:
    form, problems = forms.bulletin(await request.post())
    if not problems:
        unknown = await bulletins.missing(form.refs)
        if unknown:
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            problems.append(("responses", f"There is no response with the reference {unknown[0]}{more}. "
                                          "Check the references"))
    if problems:
        return form, await _form(request, form, problems, bulletin, 400)
    return form, None


@requires("officer")
async def new_page(request: web.Request) -> web.Response:
    return await _form(request, forms.BulletinForm(), [])


def _summary(form: forms.BulletinForm) -> str:
    return f"languages {','.join(sorted(form.texts)) or '-'}; {len(form.refs)} responses"


@requires("officer")
async def create(request: web.Request) -> web.Response:
    form, instead = await _posted(request)
    if instead is not None:
        return instead
    bulletin = await bulletins.create(form, request[USER].email)
    await _log(request, "bulletin-created", f"bulletin:{bulletin.id}", _summary(form))
    return _see(bulletin)


@requires("officer")
async def edit_page(request: web.Request) -> web.Response:
    bulletin = await _bulletin(request)
    form = forms.bulletin_form_of(bulletin.title, bulletin.texts, await bulletins.linked_refs(bulletin))
    return await _form(request, form, [], bulletin)


@requires("officer")
async def edit(request: web.Request) -> web.Response:
    bulletin = await _bulletin(request)
    form, instead = await _posted(request, bulletin)
    if instead is not None:
        return instead
    changed = await bulletins.update(bulletin, form)
    await _log(request, "bulletin-changed", f"bulletin:{bulletin.id}",
               "changed: " + (", ".join(changed) or "nothing"))
    return _see(bulletin)


@requires("officer")
async def publish(request: web.Request) -> web.Response:
    bulletin = await _bulletin(request)
    if not await bulletins.publish(bulletin, request.app[CONFIG].clock()):
        return await _detail(request, bulletin, 409,
                             [("actions", "This bulletin has already been published.")])
    await _log(request, "bulletin-published", f"bulletin:{bulletin.id}")
    return _see(bulletin)


# ---- send to subscribers -----------------------------------------------------------------------


async def _send_form(request: web.Request, bulletin: m.Bulletin, audience: dict[str, list[str]],
                     when: forms.When, problems: list[forms.Problem], status: int = 200) -> web.Response:
    context = {"title": f"Send {bulletin.title}", "b": bulletin, "audience": audience, "w": when,
               "problems": problems, "size": await campaigns.audience_size(audience),
               "drafts": bulletins.drafts(bulletin), **names()}
    return render(request, "bulletin_send.html", context, status=status, section="/bulletins")


def _unpublished() -> list[forms.Problem]:
    return [("actions", "Publish the bulletin before you send it to subscribers.")]


@requires("officer")
async def send_page(request: web.Request) -> web.Response:
    bulletin = await _bulletin(request)
    if bulletin.status != "published":
        return await _detail(request, bulletin, 409, _unpublished())
    return await _send_form(request, bulletin, forms.empty_audience(), forms.When(), [])


@requires("officer")
async def send(request: web.Request) -> web.Response:
    bulletin = await _bulletin(request)
    if bulletin.status != "published":
        return await _detail(request, bulletin, 409, _unpublished())
    posted = await request.post()
    problems: list[forms.Problem] = []
    audience = forms.audience(posted, problems)
    now = request.app[CONFIG].clock()
    when, more = forms.when(posted, now)
    if forms.one(posted, "action") == "count":
        return await _send_form(request, bulletin, audience, when, problems, 400 if problems else 200)
    problems += more
    if problems or when.at is None:
        return await _send_form(request, bulletin, audience, when, problems, 400)
    campaign = await campaigns.send_bulletin(bulletin, audience, when.at, now, request[USER].email)
    detail = f"campaign:{campaign.id} for {when.at.isoformat(timespec='minutes')} UTC"
    await _log(request, "bulletin-sent", f"bulletin:{bulletin.id}", detail)
    await _log(request, "campaign-created", f"campaign:{campaign.id}", f"bulletin {bulletin.id}")
    return web.Response(status=303, headers={"Location": f"/campaigns/{campaign.id}"})
