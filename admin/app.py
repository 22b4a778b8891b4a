"""The admin web server: officers' pages, sign-in, exports, and the health check.

Everything a handler needs comes in through the typed keys in :mod:`admin.keys`.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from admin import middleware
from admin.keys import (
    BOT_RUNNING,
    CONFIG,
    DISK_WATCH,
    POLL_WATCHDOG,
    SETTINGS,
    THROTTLE,
    VOICES,
    AdminConfig,
)
from admin.throttle import Throttle
from admin.views import (
    admin_pages,
    auth,
    bulletins,
    campaigns,
    dashboard,
    erasure,
    exports,
    languages,
    report,
    responses,
    safeguarding,
    waves,
)
from core.diskspace import DiskStatus, DiskWatch
from core.loader import load_dir
from core.pollwatch import PollWatchdog
from core.service import Voices
from core.settings import Settings

HERE = Path(__file__).resolve().parent
MAX_BODY = 1024 * 1024
LONDON = ZoneInfo("Europe/London")
log = logging.getLogger("voices.admin")

__all__ = ["BOT_RUNNING", "DISK_WATCH", "POLL_WATCHDOG", "SETTINGS", "make_app"]


async def health(request: web.Request) -> web.Response:
    running = request.app.get(BOT_RUNNING, False)
    body: dict[str, object] = {"status": "ok", "bot": "running" if running else "off"}
    disk = _disk_status(request.app)
    if disk is not None:
        body["disk"] = {"percent_used": round(disk.percent_used, 1), "alert": disk.alert}
    if not running:
        return web.json_response(body)
    # A bot that cannot reach Telegram fails the check, so a supervisor can restart the process.
    polling = request.app[POLL_WATCHDOG].status()
    body["telegram"] = polling
    if polling["polling"] != "ok":
        body["status"] = "failing"
        return web.json_response(body, status=503)
    return web.json_response(body)


def telegram_silent(app: web.Application) -> int | None:
    """Seconds the running bot has been unable to reach Telegram, for the banner; None when fine."""
    if not app.get(BOT_RUNNING, False):
        return None
    status = app[POLL_WATCHDOG].status()
    seconds = status.get("seconds_without")
    return int(seconds) if isinstance(seconds, int) else None


def _disk_status(app: web.Application) -> DiskStatus | None:
    """The last measurement of the database's disk; ``None`` where no watch runs (SECURITY.md R12)."""
    watch = app.get(DISK_WATCH)
    return watch.status() if watch is not None else None


def disk_alert(app: web.Application) -> DiskStatus | None:
    """The disk's status while it is over the alert line, for the banner on signed-in pages."""
    status = _disk_status(app)
    return status if status is not None and status.alert else None


def _templates(app: web.Application) -> None:
    loader = jinja2.ChoiceLoader([
        jinja2.FileSystemLoader(HERE / "templates"),
        jinja2.PrefixLoader({"govuk_frontend_jinja": jinja2.PackageLoader("govuk_frontend_jinja")}),
    ])
    env = aiohttp_jinja2.setup(app, autoescape=True, undefined=jinja2.ChainableUndefined, loader=loader)
    env.globals["disk_alert"] = partial(disk_alert, app)  # base.html's disk banner
    env.globals["telegram_silent"] = partial(telegram_silent, app)  # and its Telegram banner
    env.filters["thousands"] = lambda n: f"{int(n):,}"
    env.filters["when"] = lambda d: d.strftime("%-d %b %Y, %H:%M") if d else ""
    env.filters["london"] = london_time
    env.filters["day"] = lambda d: d.strftime("%-d %B %Y") if d else ""  # a date: "29 December 2026"


def london_time(moment: object) -> str:
    """A stored UTC time as UK clock time, GOV.UK style: "27 March 2026 at 9:30am"."""
    if moment is None or not hasattr(moment, "astimezone"):
        return ""
    local = moment.astimezone(LONDON)
    hour = local.strftime("%-I:%M%p").lower().replace(":00", "")
    if local.hour == 12 and local.minute == 0:
        hour = "midday"
    elif local.hour == 0 and local.minute == 0:
        hour = "midnight"
    return f"{local.strftime('%-d %B %Y')} at {hour}"


def _routes(app: web.Application) -> None:
    get, post = app.router.add_get, app.router.add_post
    get("/healthz", health)
    get("/sign-in", auth.sign_in_page)
    post("/sign-in", auth.sign_in)
    get("/sign-in/code", auth.code_page)
    post("/sign-in/code", auth.code)
    get("/set-up", auth.setup_page)
    post("/set-up", auth.setup)
    post("/sign-out", auth.sign_out)
    get("/signed-out", auth.signed_out)
    get("/invite/{token}", auth.invite_page)
    post("/invite/{token}", auth.invite)
    get("/", dashboard.page)
    get("/responses", responses.list_page)
    get("/responses/{ref}", responses.detail_page)
    get("/responses/{ref}/voice/{answer}", responses.voice)
    get("/responses/{ref}/erase", erasure.confirm_page)
    post("/responses/{ref}/erase", erasure.erase)
    get("/erased/{ref}", erasure.done_page)
    for action, handler in (("codes", responses.set_codes), ("notes", responses.add_note),
                            ("status", responses.set_status), ("flag", responses.set_flag),
                            ("transcript", responses.set_transcript), ("quotes", responses.add_quote)):
        post(f"/responses/{{ref}}/{action}", handler)
    get("/export.csv", exports.csv_export)
    get("/export.xlsx", exports.xlsx_export)
    get("/export/data-dictionary.csv", exports.dictionary)
    get("/report", report.page)
    get("/audit", admin_pages.audit_page)
    get("/users", admin_pages.users_page)
    post("/users", admin_pages.add_user)
    post("/users/{id}", admin_pages.change_user)
    get("/keywords", admin_pages.keywords_page)
    get("/languages", languages.page)
    get("/campaigns", campaigns.list_page)
    get("/campaigns/new", campaigns.new_page)
    post("/campaigns/new", campaigns.create)
    get("/campaigns/{id}", campaigns.detail_page)
    get("/campaigns/{id}/edit", campaigns.edit_page)
    post("/campaigns/{id}/edit", campaigns.edit)
    get("/campaigns/{id}/preview", campaigns.preview_page)
    get("/campaigns/{id}/schedule", campaigns.schedule_page)
    post("/campaigns/{id}/schedule", campaigns.schedule)
    get("/campaigns/{id}/cancel", campaigns.cancel_page)
    for action in ("unschedule", "pause", "resume", "cancel"):
        post(f"/campaigns/{{id}}/{action}", campaigns.change_status)
    get("/bulletins", bulletins.list_page)
    get("/bulletins/new", bulletins.new_page)
    post("/bulletins/new", bulletins.create)
    get("/bulletins/{id}", bulletins.detail_page)
    get("/bulletins/{id}/edit", bulletins.edit_page)
    post("/bulletins/{id}/edit", bulletins.edit)
    post("/bulletins/{id}/publish", bulletins.publish)
    get("/bulletins/{id}/send", bulletins.send_page)
    post("/bulletins/{id}/send", bulletins.send)
    get("/waves", waves.page)
    post("/keywords", admin_pages.keywords_change)
    get("/safeguarding", safeguarding.queue_page)
    get("/safeguarding/{ref}", safeguarding.detail_page)
    post("/safeguarding/{ref}/acknowledge", safeguarding.acknowledge)
    post("/safeguarding/{ref}/outcome", safeguarding.outcome)
    app.router.add_static("/static", HERE / "static", follow_symlinks=False)


def _voices(settings: Settings) -> Voices:
    """The service, with the conversations that load without problems (``voices check`` lists any)."""
    conversations, problems = load_dir(settings.conversations_dir)
    if problems:
        log.warning("%d problems in the conversation files; the admin shows the other conversations",
                    len(problems))
    return Voices(settings, conversations)


def make_app(settings: Settings, config: AdminConfig | None = None, voices: Voices | None = None
             ) -> web.Application:
    """The admin. ``voices``: the service the bot runs (made from ``settings`` when not given)."""
    app = web.Application(client_max_size=MAX_BODY,
                          middlewares=[middleware.errors, middleware.sessions, safeguarding.banner,
                                       middleware.csrf])
    app[SETTINGS] = settings
    app[BOT_RUNNING] = False
    # Started by the process that runs the background jobs; until then it has no status (no banner).
    app[DISK_WATCH] = DiskWatch(settings)
    app[POLL_WATCHDOG] = PollWatchdog(settings.poll_watchdog)  # handed to the bot when it starts
    app[CONFIG] = config or AdminConfig()
    app[THROTTLE] = Throttle()
    app[VOICES] = voices or _voices(settings)
    app.on_response_prepare.append(middleware.security_headers)
    _templates(app)
    _routes(app)
    return app
