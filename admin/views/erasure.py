"""Erase a person's survey data from a response page (SECURITY.md P1): admins only, audited.

For someone who cannot use /delete in the bot themselves. The confirmation page says exactly what
goes and what stays; the erasure is the bot's own (:mod:`admin.queries.erasure`). The form names the
person it was shown for, so a form for one person can never erase another.
"""

from __future__ import annotations

from aiohttp import web

from admin.keys import CONFIG, SETTINGS
from admin.middleware import USER, requires
from admin.queries import erasure
from admin.queries.responses import find
from admin.render import render
from core.storage import models as m

TITLE = "Erase this person's data"
NOBODY = "There is nobody to erase"


async def _response(request: web.Request) -> m.Response:
    found = await find(request.match_info["ref"])
    if found is None:
        raise web.HTTPNotFound(text="There is no response with that reference.")
    return found


def _nobody(request: web.Request, response: m.Response, status: int = 200) -> web.Response:
    return render(request, "erase.html", {"title": NOBODY, "r": response, "held": None}, status=status,
                  section="/responses")


@requires("admin")
async def confirm_page(request: web.Request) -> web.Response:
    response = await _response(request)
    person = await erasure.person_of(response)
    if person is None:
        return _nobody(request, response)
    context = {"title": TITLE, "r": response, "held": await erasure.held(person)}
    return render(request, "erase.html", context, section="/responses")


@requires("admin")
async def erase(request: web.Request) -> web.Response:
    response = await _response(request)
    sent = str((await request.post()).get("person", ""))
    person = await erasure.person_of(response)
    if person is None:
        return _nobody(request, response, 409)
    if sent != person.ref:
        raise web.HTTPNotFound(text="This form is not for the person who gave this response. "
                                    "Go back to the response and try again.")
    done = await erasure.erase(person, request.app[CONFIG].clock(), request[USER].email, response.ref,
                               request.app[SETTINGS].erasure_log)
    if done is None:  # erased by someone else (or by /delete) a moment ago
        return _nobody(request, response, 409)
    return web.Response(status=303, headers={"Location": f"/erased/{done.ref}"})


@requires("admin")
async def done_page(request: web.Request) -> web.Response:
    """After an erasure: what happened, from its audit entry (the only record of it that names them)."""
    ref = request.match_info["ref"]
    event = await m.AuditEvent.filter(action="erase", target=f"respondent:{ref}").order_by("-id").first() \
        if 0 < len(ref) <= 36 else None
    if event is None:
        raise web.HTTPNotFound(text="Nobody with that reference has been erased.")
    return render(request, "erased.html", {"title": "Their data has been erased", "ref": ref, "event": event},
                  section="/responses")
