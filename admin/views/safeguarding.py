"""The safeguarding queue: officers see alerts, acknowledge them and record what was done.

Pages show the alert's facts (category, severity, where it came from) and link to the response.
The words that raised it are restricted (SECURITY.md S9): a safeguarding lead reads them on the
alert's page, everyone else sees that they are restricted, and both are audited. A data request or a
complaint shows the day its reply is due, one calendar month after it arrived, marked when overdue.
Every view, acknowledgement and outcome goes in the audit log with the alert's reference as the
target, never the content. ``banner`` counts undelivered and unacknowledged alerts for the banner
on every signed-in page.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin import audit, labels, restricted
from admin.keys import CONFIG
from admin.middleware import SAFE_METHODS, SESSION, USER, Handler, requires
from admin.queries import safeguarding as alerts
from admin.render import render
from core.alerts import severity_name
from core.storage import models as m

MAX_OUTCOME = 2000
SOURCES = {"answer": "An answer to a question", "transcript": "A transcript of a voice answer",
           "request": "Asked to talk to a person", "message": "A message to the bot"}


@web.middleware
async def banner(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Counts for the banner, on pages for signed-in users."""
    session = request.get(SESSION)
    if request.method in SAFE_METHODS and session is not None and session.stage == "full" \
            and not request.path.startswith("/static/"):
        request[alerts.ALERT_COUNTS] = await alerts.counts()
    return await handler(request)


def _names(request: web.Request) -> dict[str, Any]:
    now = request.app[CONFIG].clock()
    return {"category_name": labels.alert_category, "severity_name": severity_name, "sources": SOURCES,
            "labels": labels, "reply_by": alerts.reply_by, "overdue": lambda a: alerts.overdue(a, now)}


async def _log(request: web.Request, action: str, target: str, detail: str = "") -> None:
    await audit.record(request.app[CONFIG].clock(), request[USER].email, action, target, detail)


@requires("officer")
async def queue_page(request: web.Request) -> web.Response:
    found = await alerts.queue()
    await _log(request, "view", "safeguarding", "queue")
    context = {"title": "Safeguarding", "queue": found, **_names(request)}
    return render(request, "safeguarding.html", context, section="/safeguarding")


async def _alert(request: web.Request) -> m.SafeguardingAlert:
    found = await alerts.find(request.match_info["ref"])
    if found is None:
        raise web.HTTPNotFound(text="There is no safeguarding alert with that reference.")
    return found


async def _detail(request: web.Request, alert: m.SafeguardingAlert, status: int = 200,
                  error: str = "", outcome: str = "") -> web.Response:
    if alert.words is not None:  # shown to a lead, held back from everyone else: audited either way
        await restricted.record(request, f"alert:{alert.ref}", "the words that raised it")
    context = {"title": f"Safeguarding concern {alert.ref[:8]}", "a": alert, "error": error,
               "outcome": outcome, "response_ref": await alerts.response_ref(alert),
               "max_outcome": MAX_OUTCOME, **_names(request)}
    return render(request, "safeguarding_alert.html", context, status=status, section="/safeguarding")


@requires("officer")
async def detail_page(request: web.Request) -> web.Response:
    alert = await _alert(request)
    await _log(request, "view", f"alert:{alert.ref}")
    return await _detail(request, alert)


def _back(alert: m.SafeguardingAlert, anchor: str) -> web.Response:
    return web.Response(status=303, headers={"Location": f"/safeguarding/{alert.ref}#{anchor}"})


@requires("officer")
async def acknowledge(request: web.Request) -> web.Response:
    alert = await _alert(request)
    done = await alerts.acknowledge(alert, request[USER].email, request.app[CONFIG].clock())
    await _log(request, "acknowledge", f"alert:{alert.ref}", "" if done else "already acknowledged")
    return _back(alert, "acknowledgement")


@requires("officer")
async def outcome(request: web.Request) -> web.Response:
    alert = await _alert(request)
    text = str((await request.post()).get("outcome", "")).strip()
    error = ""
    if not text:
        error = "Enter what was done"
    elif len(text) > MAX_OUTCOME:
        error = f"The outcome must be {MAX_OUTCOME:,} characters or fewer"
    elif alert.outcome_at is not None:
        error = "An outcome has already been recorded for this concern"
    if error:
        return await _detail(request, alert, 400, error, text)
    done = await alerts.record_outcome(alert, text, request[USER].email, request.app[CONFIG].clock())
    if not done:
        return await _detail(request, await _alert(request), 400,
                             "An outcome has already been recorded for this concern", text)
    await _log(request, "outcome", f"alert:{alert.ref}", f"{len(text)} characters")
    return _back(alert, "outcome")
