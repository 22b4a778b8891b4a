"""Admins only: the audit log, users and keyword rules."""

from __future__ import annotations

from aiohttp import web

from admin import audit, labels
from admin.keys import CONFIG, SETTINGS
from admin.middleware import USER, requires
from admin.queries import accounts, audit_log, keywords
from admin.render import render
from core.languages import BY_CODE
from core.storage import models as m


@requires("admin")
async def audit_page(request: web.Request) -> web.Response:
    before_raw = request.query.get("before", "")
    before = int(before_raw) if before_raw.isdigit() and len(before_raw) < 12 else None
    found = await audit_log.events(before, request.query.get("actor", ""), request.query.get("target", ""))
    more = len(found) > audit_log.PAGE
    found = found[:audit_log.PAGE]
    context = {"title": "Audit log", "events": found, "older": found[-1].id if more and found else None,
               "actor": request.query.get("actor", ""), "target": request.query.get("target", "")}
    return render(request, "audit.html", context, section="/audit")


def _link(request: web.Request, token: str) -> str:
    settings = request.app[SETTINGS]
    return f"{request.scheme}://{request.host or f'{settings.host}:{settings.port}'}/invite/{token}"


async def _users(request: web.Request, status: int = 200, **extra: object) -> web.Response:
    context = {"title": "Users", "users": await accounts.all_users(), "roles": m.ADMIN_ROLES, **extra}
    return render(request, "users.html", context, status=status, section="/users")


@requires("admin")
async def users_page(request: web.Request) -> web.Response:
    return await _users(request)


@requires("admin")
async def add_user(request: web.Request) -> web.Response:
    form = await request.post()
    email, role = str(form.get("email", "")).strip().lower(), str(form.get("role", ""))
    lead = form.get("safeguarding_lead") == "yes"
    error = ""
    if "@" not in email or len(email) > 254 or any(ch.isspace() for ch in email):
        error = "Enter an email address, like name@example.org"
    elif role not in m.ADMIN_ROLES:
        error = "Choose a role"
    elif await accounts.find_user(email):
        error = "There is already a user with that email address"
    if error:
        return await _users(request, 400, error=error, email=email, lead=lead)
    config = request.app[CONFIG]
    user = await accounts.add_user(email, role, lead)
    token = await accounts.create_invite(role, user, config.clock(), config.invite_lifetime)
    await audit.record(config.clock(), request[USER].email, "user-added", f"user:{user.id}",
                       f"role {role}" + (", safeguarding lead" if lead else ""))
    return await _users(request, link=_link(request, token), link_for=email)


@requires("admin")
async def change_user(request: web.Request) -> web.Response:
    user_id = request.match_info["id"]
    user = await accounts.get_user(int(user_id)) if user_id.isdigit() and len(user_id) < 12 else None
    if user is None:
        raise web.HTTPNotFound(text="There is no such user.")
    form = await request.post()
    role, config = str(form.get("role", user.role)), request.app[CONFIG]
    if role not in m.ADMIN_ROLES:
        raise web.HTTPBadRequest(text="Choose a role. Go back and try again.")
    if user.id == request[USER].id and (role != "admin" or form.get("disabled") == "yes"):
        return await _users(request, 400, error="You cannot remove your own admin role or disable yourself")
    was_lead, lead = user.safeguarding_lead, form.get("safeguarding_lead") == "yes"
    await accounts.change_user(user, role, form.get("disabled") == "yes", config.clock(), lead)
    await audit.record(config.clock(), request[USER].email, "user-changed", f"user:{user.id}",
                       f"role {role}, {'disabled' if user.disabled else 'active'}")
    if lead != was_lead:  # SECURITY.md S9: who may read restricted words
        await audit.record(config.clock(), request[USER].email, "user-changed", f"user:{user.id}",
                           "safeguarding lead " + ("granted" if lead else "removed"))
    link = None
    if form.get("new_link") == "yes":
        token = await accounts.create_invite(role, user, config.clock(), config.invite_lifetime)
        link = _link(request, token)
        await audit.record(config.clock(), request[USER].email, "user-changed", f"user:{user.id}", "new link")
    return await _users(request, link=link, link_for=user.email)


async def _keywords(request: web.Request, status: int = 200, error: str = "") -> web.Response:
    context = {"title": "Keyword rules", "rules": await keywords.rules(), "languages": BY_CODE,
               "priorities": labels.PRIORITY, "error": error}
    return render(request, "keywords.html", context, status=status, section="/keywords")


@requires("admin")
async def keywords_page(request: web.Request) -> web.Response:
    return await _keywords(request)


@requires("admin")
async def keywords_change(request: web.Request) -> web.Response:
    form = await request.post()
    config = request.app[CONFIG]
    remove = str(form.get("remove", ""))
    if remove.isdigit() and len(remove) < 12:
        await keywords.remove(int(remove))
        await audit.record(config.clock(), request[USER].email, "keyword-rule", f"rule:{remove}", "removed")
        return await _keywords(request)
    language, word, priority = (str(form.get(k, "")).strip() for k in ("language", "keyword", "priority"))
    if language not in (*BY_CODE, "any") or priority not in labels.PRIORITY or not 0 < len(word) <= 100:
        return await _keywords(request, 400, "Enter a word or phrase, and choose a language and a priority")
    rule = await keywords.add(language, word, priority)
    await audit.record(config.clock(), request[USER].email, "keyword-rule", f"rule:{rule.id}", "added")
    return await _keywords(request)
