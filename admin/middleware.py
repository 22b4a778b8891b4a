"""Security headers, error pages, sessions, CSRF and roles."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from aiohttp import web

from admin.keys import CONFIG
from admin.queries import accounts
from core.storage import models as m

log = logging.getLogger("voices.admin")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
USER = web.RequestKey("admin_user", m.AdminUser)
SESSION = web.RequestKey("admin_session", m.AdminSession)
ANON_CSRF_COOKIE = "voices-csrf"
ROLE_RANK = {"viewer": 0, "officer": 1, "admin": 2}
CSP = ("default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'; script-src 'none'; img-src 'self' data:; media-src 'self' blob:")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
WEBHOOK_PREFIX = "/telegram/"  # Telegram's webhook route lives under this (bot/webhook.py)
ERROR_TITLES = {
    400: "There is a problem with that request",
    403: "You cannot do that",
    404: "Page not found",
    405: "You cannot do that here",
    413: "That is too big",
}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, streamed or not, error or not."""
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"  # no-referrer would make form posts send "Origin: null"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.app[CONFIG].secure_cookies:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if not request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"


def error_page(request: web.Request, status: int, message: str = "", error_id: str = "") -> web.Response:
    title = ERROR_TITLES.get(status, "Sorry, there is a problem with the service")
    context = {"title": title, "message": message, "error_id": error_id, "status": status}
    from admin.render import render  # render needs this module's keys

    return render(request, "error.html", context, status=status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "text/html":
            raise
        custom = exc.text and not exc.text.startswith(f"{exc.status}:")
        return error_page(request, exc.status, exc.text or "" if custom else "")
    except Exception as exc:  # a generic page: no stack trace, SQL or paths for the user
        error_id = secrets.token_hex(4)
        log.error("admin error %s: %s in %s %s", error_id, type(exc).__name__, request.method,
                  request.path, exc_info=exc)
        return error_page(request, 500, error_id=error_id)


@web.middleware
async def sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    config = request.app[CONFIG]
    token = request.cookies.get(config.cookie_name)
    if token and not request.path.startswith("/static/"):
        session = await accounts.live_session(token)
        now = config.clock()
        if session is not None and _still_valid(session, now, config):
            request[SESSION], request[USER] = session, session.user
            if (now - session.last_seen_at).total_seconds() > 30:
                await accounts.touch(session, now)
        elif session is not None:
            await accounts.end_session(session.id, now)
    return await handler(request)


def _still_valid(session: m.AdminSession, now: Any, config: Any) -> bool:
    return (not session.user.disabled and now - session.last_seen_at < config.idle_timeout
            and now - session.created_at < config.absolute_timeout)


@web.middleware
async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every POST carries the form's token; cross-site requests are refused by origin as well."""
    if request.method in SAFE_METHODS or request.path.startswith(WEBHOOK_PREFIX):
        # Telegram's webhook is not a form: it proves itself with its secret header (bot/webhook.py).
        return await handler(request)
    origin = request.headers.get("Origin")
    if origin and origin != f"{request.scheme}://{request.host}":
        raise web.HTTPForbidden(text="This form was sent from another website.")
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise web.HTTPForbidden(text="This form was sent from another website.")
    form = await request.post()
    sent = str(form.get("csrf_token", ""))
    expected = csrf_token(request)
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise web.HTTPForbidden(text="This form has expired or was not sent from this site. "
                                     "Go back, reload the page and try again.")
    return await handler(request)


def csrf_token(request: web.Request) -> str:
    session = request.get(SESSION)
    if session is not None:
        return str(session.csrf_token)
    return str(request.cookies.get(ANON_CSRF_COOKIE, ""))


def requires(role: str) -> Callable[[Handler], Handler]:
    """Only signed-in users with at least ``role``; others go to sign in or get a 403 page."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def inner(request: web.Request) -> web.StreamResponse:
            session = request.get(SESSION)
            if session is None or session.stage != "full":
                if request.method in SAFE_METHODS:
                    raise web.HTTPSeeOther("/sign-in")
                raise web.HTTPForbidden(text="You are not signed in. Sign in and try again.")
            if ROLE_RANK[request[USER].role] < ROLE_RANK[role]:
                from admin import audit

                await audit.record(request.app[CONFIG].clock(), request[USER].email, "forbidden",
                                   request.path[:100], f"needs {role}")
                raise web.HTTPForbidden(text=f"Your account cannot do this. It needs the {role} role.")
            return await handler(request)

        return inner

    return wrap


def can(request: web.Request, role: str) -> bool:
    user = request.get(USER)
    session = request.get(SESSION)
    return user is not None and session is not None and session.stage == "full" \
        and ROLE_RANK[user.role] >= ROLE_RANK[role]


def is_lead(request: web.Request) -> bool:
    """A signed-in safeguarding lead: may read restricted words (SECURITY.md S9)."""
    user = request.get(USER)
    session = request.get(SESSION)
    return user is not None and session is not None and session.stage == "full" \
        and bool(user.safeguarding_lead) and not user.disabled
