"""The admin web server: officers' pages, sign-in, exports, and the health check.

Everything a handler needs comes in through the typed keys in :mod:`admin.keys`.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from admin import middleware
from admin.keys import BOT_RUNNING, CONFIG, SETTINGS, THROTTLE, AdminConfig
from admin.throttle import Throttle
from admin.views import admin_pages, auth, dashboard, exports, languages, report, responses, safeguarding
from core.settings import Settings

HERE = Path(__file__).resolve().parent
MAX_BODY = 1024 * 1024

__all__ = ["BOT_RUNNING", "SETTINGS", "make_app"]


async def health(request: web.Request) -> web.Response:
    running = request.app.get(BOT_RUNNING, False)
    return web.json_response({"status": "ok", "bot": "running" if running else "off"})


def _templates(app: web.Application) -> None:
    loader = jinja2.ChoiceLoader([
        jinja2.FileSystemLoader(HERE / "templates"),
        jinja2.PrefixLoader({"govuk_frontend_jinja": jinja2.PackageLoader("govuk_frontend_jinja")}),
    ])
    env = aiohttp_jinja2.setup(app, autoescape=True, undefined=jinja2.ChainableUndefined, loader=loader)
    env.filters["thousands"] = lambda n: f"{int(n):,}"
    env.filters["when"] = lambda d: d.strftime("%-d %b %Y, %H:%M") if d else ""


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
    post("/keywords", admin_pages.keywords_change)
    get("/safeguarding", safeguarding.queue_page)
    get("/safeguarding/{ref}", safeguarding.detail_page)
    post("/safeguarding/{ref}/acknowledge", safeguarding.acknowledge)
    post("/safeguarding/{ref}/outcome", safeguarding.outcome)
    app.router.add_static("/static", HERE / "static", follow_symlinks=False)


def make_app(settings: Settings, config: AdminConfig | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY,
                          middlewares=[middleware.errors, middleware.sessions, safeguarding.banner,
                                       middleware.csrf])
    app[SETTINGS] = settings
    app[BOT_RUNNING] = False
    app[CONFIG] = config or AdminConfig()
    app[THROTTLE] = Throttle()
    app.on_response_prepare.append(middleware.security_headers)
    _templates(app)
    _routes(app)
    return app
