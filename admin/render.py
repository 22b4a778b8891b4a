"""Rendering pages with what every page needs: the user, the CSRF token, the navigation."""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from admin.keys import CONFIG
from admin.middleware import ANON_CSRF_COOKIE, SESSION, USER, can, csrf_token, is_lead
from admin.queries.safeguarding import ALERT_COUNTS
from admin.restricted import RESTRICTED

NAV = (
    ("/", "Dashboard", "viewer"),
    ("/responses", "Responses", "viewer"),
    ("/safeguarding", "Safeguarding", "officer"),
    ("/report", "Board report", "viewer"),
    ("/campaigns", "Campaigns", "viewer"),
    ("/bulletins", "You said, we did", "viewer"),
    ("/waves", "Year on year", "viewer"),
    ("/audit", "Audit log", "admin"),
    ("/users", "Users", "admin"),
    ("/keywords", "Keyword rules", "admin"),
    ("/languages", "Languages", "viewer"),
)


def render(request: web.Request, template: str, context: dict[str, Any], status: int = 200,
           section: str = "") -> web.Response:
    session = request.get(SESSION)
    signed_in = session is not None and session.stage == "full"
    config = request.app[CONFIG]
    token = csrf_token(request) or anon_token(request)
    page = {
        "csrf": token,
        "user": request.get(USER) if signed_in else None,
        "nav": [(href, label, href == section) for href, label, role in NAV if can(request, role)],
        "idle_minutes": int(config.idle_timeout.total_seconds() // 60),
        "can_edit": can(request, "officer"),
        "is_admin": can(request, "admin"),
        "alert_counts": request.get(ALERT_COUNTS) if signed_in else None,
        "can_see_alerts": can(request, "officer"),
        "is_lead": is_lead(request),
        "restricted_text": RESTRICTED,
    }
    response = aiohttp_jinja2.render_template(template, request, {**page, **context}, status=status)
    if session is None and ANON_CSRF_COOKIE not in request.cookies:
        response.set_cookie(ANON_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/",
                            secure=config.secure_cookies)
    return response


def anon_token(request: web.Request) -> str:
    return request.cookies.get(ANON_CSRF_COOKIE) or secrets.token_urlsafe(32)
