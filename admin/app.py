"""The admin web server. For now it answers health checks; the admin pages come with their issue."""

from __future__ import annotations

from aiohttp import web

from core.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
BOT_RUNNING = web.AppKey("bot_running", bool)


async def health(request: web.Request) -> web.Response:
    running = request.app.get(BOT_RUNNING, False)
    return web.json_response({"status": "ok", "bot": "running" if running else "off"})


def make_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[SETTINGS] = settings
    app[BOT_RUNNING] = False
    app.router.add_get("/healthz", health)
    return app
