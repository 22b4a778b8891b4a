"""Sign in with a password and a one-time code, set up the authenticator, sign out, invitations."""

from __future__ import annotations

from aiohttp import web

from admin import audit, security
from admin.keys import CONFIG, THROTTLE
from admin.middleware import SESSION, USER
from admin.queries import accounts
from admin.render import render
from core.storage import models as m

GENERIC_FAILURE = ("The email address or password is not right. If you have tried many times, "
                   "wait 15 minutes and try again.")
CODE_FAILURE = "The code is not right. Check your authenticator app and enter the newest 6-digit code."


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


def _set_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    config = request.app[CONFIG]
    response.set_cookie(config.cookie_name, token, httponly=True, samesite="Lax", path="/",
                        secure=config.secure_cookies)


async def _replace_session(request: web.Request, user: m.AdminUser, stage: str, to: str) -> web.Response:
    """End any current session and start a new one (a new id at every step of signing in)."""
    now = request.app[CONFIG].clock()
    old = request.get(SESSION)
    if old is not None:
        await accounts.end_session(old.id, now)
    new = await accounts.start_session(user, stage, now)
    response = web.Response(status=303, headers={"Location": to})
    _set_cookie(request, response, new.token)
    return response


async def sign_in_page(request: web.Request) -> web.Response:
    if request.get(SESSION) is not None and request[SESSION].stage == "full":
        raise web.HTTPSeeOther("/")
    return render(request, "sign_in.html", {"title": "Sign in"})


async def sign_in(request: web.Request) -> web.Response:
    form = await request.post()
    email, password = str(form.get("email", "")).strip(), str(form.get("password", ""))
    config, throttle = request.app[CONFIG], request.app[THROTTLE]
    now = config.clock()
    user = await accounts.find_user(email) if email else None
    blocked = throttle.blocked(_client(request), now) or (user is not None and accounts.is_locked(user, now))
    good = security.verify_password(None if blocked or user is None else user.password_hash, password)
    if not good or user is None or user.disabled:
        throttle.fail(_client(request), now)
        if user is not None:
            await accounts.note_failure(user, now)
        await audit.record(now, email or "-", "sign-in-failed", detail="password")
        return render(request, "sign_in.html", {"title": "Sign in", "error": GENERIC_FAILURE,
                                                "email": email}, status=400)
    if user.password_hash and security.needs_rehash(user.password_hash):
        await accounts.set_password(user, password)
    stage = "password" if user.totp_confirmed else "setup"
    return await _replace_session(request, user, stage, "/sign-in/code" if user.totp_confirmed else "/set-up")


def _half_signed_in(request: web.Request, stage: str) -> m.AdminUser:
    session = request.get(SESSION)
    if session is None or session.stage != stage:
        raise web.HTTPSeeOther("/sign-in")
    return request[USER]


async def code_page(request: web.Request) -> web.Response:
    _half_signed_in(request, "password")
    return render(request, "code.html", {"title": "Enter the code from your authenticator app"})


async def code(request: web.Request) -> web.Response:
    user = _half_signed_in(request, "password")
    form = await request.post()
    config = request.app[CONFIG]
    now = config.clock()
    if accounts.is_locked(user, now) or not await accounts.accept_code(user, str(form.get("code", ""))):
        await accounts.note_failure(user, now)
        await audit.record(now, user.email, "sign-in-failed", detail="code")
        return render(request, "code.html", {"title": "Enter the code from your authenticator app",
                                             "error": CODE_FAILURE}, status=400)
    return await _finish(request, user)


async def _finish(request: web.Request, user: m.AdminUser) -> web.Response:
    now = request.app[CONFIG].clock()
    await accounts.note_success(user, now)
    request.app[THROTTLE].clear(_client(request))
    await audit.record(now, user.email, "sign-in")
    return await _replace_session(request, user, "full", "/")


async def setup_page(request: web.Request) -> web.Response:
    user = _half_signed_in(request, "setup")
    return _setup(request, user, await accounts.begin_totp(user))


def _setup(request: web.Request, user: m.AdminUser, secret: str, error: str = "") -> web.Response:
    uri = security.provisioning_uri(secret, user.email)
    context = {"title": "Set up your authenticator app", "secret": secret, "qr": security.qr_svg(uri),
               "error": error}
    return render(request, "setup.html", context, status=400 if error else 200)


async def setup(request: web.Request) -> web.Response:
    user = _half_signed_in(request, "setup")
    form = await request.post()
    if not await accounts.accept_code(user, str(form.get("code", ""))):
        await accounts.note_failure(user, request.app[CONFIG].clock())
        return _setup(request, user, await accounts.begin_totp(user), CODE_FAILURE)
    await audit.record(request.app[CONFIG].clock(), user.email, "account-set-up", f"user:{user.id}")
    return await _finish(request, user)


async def sign_out(request: web.Request) -> web.Response:
    session = request.get(SESSION)
    now = request.app[CONFIG].clock()
    if session is not None:
        await accounts.end_session(session.id, now)
        await audit.record(now, request[USER].email, "sign-out")
    response = web.Response(status=303, headers={"Location": "/signed-out"})
    response.del_cookie(request.app[CONFIG].cookie_name, path="/")
    return response


async def signed_out(request: web.Request) -> web.Response:
    return render(request, "signed_out.html", {"title": "You have signed out"})


async def invite_page(request: web.Request) -> web.Response:
    invite = await accounts.open_invite(request.match_info["token"], request.app[CONFIG].clock())
    if invite is None:
        raise web.HTTPNotFound(text="This link has expired or has been used. Ask an admin for a new one.")
    return render(request, "invite.html", {"title": "Create your password", "invite": invite, "errors": {}})


async def invite(request: web.Request) -> web.Response:
    now = request.app[CONFIG].clock()
    found = await accounts.open_invite(request.match_info["token"], now)
    if found is None:
        raise web.HTTPNotFound(text="This link has expired or has been used. Ask an admin for a new one.")
    form = await request.post()
    email = found.user.email if found.user else str(form.get("email", "")).strip()
    errors = _invite_errors(email, str(form.get("password", "")), str(form.get("confirm", "")))
    if errors:
        return render(request, "invite.html", {"title": "Create your password", "invite": found,
                                               "errors": errors, "email": email}, status=400)
    user = await accounts.use_invite(found, email, str(form["password"]), now)
    await audit.record(now, user.email, "user-changed", f"user:{user.id}", "password set from a link")
    return await _replace_session(request, user, "setup", "/set-up")


def _invite_errors(email: str, password: str, confirm: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if "@" not in email or len(email) > 254 or any(ch.isspace() for ch in email):
        errors["email"] = "Enter an email address, like name@example.org"
    problem = security.password_problem(password)
    if problem:
        errors["password"] = problem
    elif password != confirm:
        errors["confirm"] = "The passwords do not match"
    return errors
