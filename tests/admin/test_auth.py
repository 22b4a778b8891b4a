"""Sign-in, the second factor, sessions, CSRF and roles (SECURITY.md A1, A3–A9, A20)."""

from __future__ import annotations

import re

from admin.queries import accounts
from core.storage import models as m
from tests.admin.conftest import PASSWORD, Admin, code_for, make_user, sign_in


async def test_sign_in_with_password_and_code(admin: Admin) -> None:
    user = await make_user("a@example.org", "officer")
    await sign_in(admin, user)
    page = await admin.client.get("/")
    assert page.status == 200
    assert "Dashboard" in await page.text()
    assert await m.AuditEvent.filter(action="sign-in", actor="a@example.org").count() == 1
    stored = await m.AdminUser.get(id=user.id)
    assert stored.password_hash and stored.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_password_alone_is_not_enough(admin: Admin) -> None:
    user = await make_user("a@example.org", "officer")
    await admin.post("/sign-in", {"email": user.email, "password": PASSWORD})
    page = await admin.client.get("/", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/sign-in"


async def test_code_cannot_be_used_twice(admin: Admin) -> None:
    user = await make_user("a@example.org", "officer")
    await sign_in(admin, user)
    code = code_for(user)
    await admin.post("/sign-out", {}, form_page="/")
    await admin.post("/sign-in", {"email": user.email, "password": PASSWORD})
    again = await admin.post("/sign-in/code", {"code": code})
    assert again.status == 400


async def test_first_sign_in_sets_up_the_authenticator(admin: Admin) -> None:
    user = await make_user("new@example.org", "viewer", confirmed=False)
    response = await admin.post("/sign-in", {"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/set-up"
    page = await (await admin.client.get("/set-up")).text()
    assert "<svg" in page and "<script" not in page
    await user.refresh_from_db()
    assert user.totp_secret and user.totp_secret in page
    done = await admin.post("/set-up", {"code": code_for(user)})
    assert done.status == 303 and done.headers["Location"] == "/"
    assert (await admin.client.get("/")).status == 200


async def test_first_admin_link_then_set_up(admin: Admin) -> None:
    token = await accounts.create_invite(
        "admin", None, admin.clock(), admin.clock.now - admin.clock.now + _week()
    )
    path = f"/invite/{token}"
    response = await admin.post(path, {"email": "first@example.org", "password": "short", "confirm": "short"})
    assert response.status == 400
    response = await admin.post(
        path, {"email": "first@example.org", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert response.status == 303 and response.headers["Location"] == "/set-up"
    assert (await admin.client.get(path)).status == 404  # used up
    user = await m.AdminUser.get(email="first@example.org")
    assert user.role == "admin"


def _week():  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(days=7)


async def test_wrong_passwords_and_unknown_users_look_the_same(admin: Admin) -> None:
    await make_user("real@example.org", "officer")
    wrong = await admin.post("/sign-in", {"email": "real@example.org", "password": "nope nope"})
    unknown = await admin.post("/sign-in", {"email": "ghost@example.org", "password": "nope nope"})
    assert wrong.status == unknown.status == 400
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", await wrong.text()) == strip.sub("", await unknown.text())


async def test_lockout_after_repeated_failures(admin: Admin) -> None:
    user = await make_user("real@example.org", "officer")
    for _ in range(accounts.LOCK_AFTER):
        await admin.post("/sign-in", {"email": user.email, "password": "wrong password"})
    locked = await admin.post("/sign-in", {"email": user.email, "password": PASSWORD})
    assert locked.status == 400  # right password, but the account waits; the answer does not say so
    assert await m.AuditEvent.filter(action="sign-in-failed").count() >= accounts.LOCK_AFTER


async def test_sign_out_ends_the_session_and_the_cookie_cannot_be_replayed(admin: Admin) -> None:
    user = await make_user("a@example.org", "officer")
    await sign_in(admin, user)
    cookie = admin.client.session.cookie_jar.filter_cookies(admin.client.make_url("/"))["voices-admin"].value
    out = await admin.post("/sign-out", {}, form_page="/")
    assert out.status == 303
    replay = await admin.client.get("/", cookies={"voices-admin": cookie}, allow_redirects=False)
    assert replay.status == 303 and replay.headers["Location"] == "/sign-in"
    assert await m.AuditEvent.filter(action="sign-out").count() == 1


async def test_disabling_an_account_ends_its_sessions(admin: Admin) -> None:
    user = await make_user("a@example.org", "officer")
    await sign_in(admin, user)
    await accounts.change_user(user, "officer", True, admin.clock())
    page = await admin.client.get("/", allow_redirects=False)
    assert page.status == 303


async def test_idle_and_absolute_timeouts(admin: Admin) -> None:
    user = await make_user("a@example.org", "officer")
    await sign_in(admin, user)
    admin.clock.advance(minutes=31)
    assert (await admin.client.get("/", allow_redirects=False)).status == 303


async def test_cookie_flags(admin: Admin) -> None:
    user = await make_user("a@example.org", "officer")
    response = await admin.post("/sign-in", {"email": user.email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie and "Domain" not in cookie


async def test_new_session_id_at_sign_in(admin: Admin) -> None:
    user = await make_user("a@example.org", "officer")
    first = await admin.post("/sign-in", {"email": user.email, "password": PASSWORD})
    await user.refresh_from_db()
    second = await admin.post("/sign-in/code", {"code": code_for(user)})
    assert first.cookies["voices-admin"].value != second.cookies["voices-admin"].value


async def test_csrf_missing_or_wrong_is_refused(admin: Admin, officer: m.AdminUser) -> None:
    missing = await admin.client.post("/sign-out", data={})
    wrong = await admin.client.post("/sign-out", data={"csrf_token": "nope"})
    other_site = await admin.client.post(
        "/sign-out", data={"csrf_token": await admin.csrf("/")}, headers={"Origin": "https://evil.example"}
    )
    assert missing.status == wrong.status == other_site.status == 403
    assert (await admin.client.get("/", allow_redirects=False)).status == 200  # still signed in


async def test_get_never_changes_state(admin: Admin, officer: m.AdminUser) -> None:
    for path in ("/sign-out", "/responses/x/status", "/users", "/keywords"):
        await admin.client.get(path)
    assert (await admin.client.get("/", allow_redirects=False)).status == 200
    assert (await admin.client.get("/sign-out")).status == 405


async def test_viewer_cannot_change_anything(admin: Admin) -> None:
    viewer = await make_user("v@example.org", "viewer")
    await sign_in(admin, viewer)
    response = await admin.post(
        "/keywords", {"keyword": "school", "language": "en", "priority": "provision"}, form_page="/"
    )
    assert response.status == 403
    assert await m.KeywordRule.all().count() == 0
    assert (await admin.client.get("/users")).status == 403
    assert await m.AuditEvent.filter(action="forbidden").count() >= 1


async def test_security_headers(admin: Admin) -> None:
    for path in ("/sign-in", "/nowhere"):
        response = await admin.client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp and "base-uri 'none'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"


async def test_static_cannot_escape(admin: Admin) -> None:
    for path in ("/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd"):
        response = await admin.client.get(path)
        assert response.status in (403, 404)
