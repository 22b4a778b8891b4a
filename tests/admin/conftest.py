"""Admin test fixtures: an app on each database, users with known passwords and authenticators."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from admin import security
from admin.app import make_app
from admin.keys import AdminConfig
from core.settings import Settings
from core.storage import models as m

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    """A clock the tests move forward."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Admin:
    client: TestClient
    clock: Clock

    async def csrf(self, path: str) -> str:
        response = await self.client.get(path)
        found = CSRF.search(await response.text())
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    async def post(self, path: str, data: dict[str, object], form_page: str | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        token = await self.csrf(form_page or path)
        return await self.client.post(
            path, data={"csrf_token": token, **data}, allow_redirects=False, **kwargs
        )


async def make_user(email: str, role: str, password: str = PASSWORD, confirmed: bool = True) -> m.AdminUser:
    return await m.AdminUser.create(
        email=email,
        role=role,
        password_hash=security.hash_password(password),
        totp_secret=pyotp.random_base32() if confirmed else None,
        totp_confirmed=confirmed,
    )


def code_for(user: m.AdminUser, offset: int = 0) -> str:
    assert user.totp_secret
    return pyotp.TOTP(user.totp_secret).at(time.time() + offset)


async def sign_in(admin: Admin, user: m.AdminUser, password: str = PASSWORD) -> None:
    response = await admin.post("/sign-in", {"email": user.email, "password": password})
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/sign-in/code"
    await user.refresh_from_db()
    response = await admin.post("/sign-in/code", {"code": code_for(user)})
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/"


@pytest.fixture
async def admin(db: str, tmp_path: Path) -> AsyncIterator[Admin]:
    clock = Clock()
    app = make_app(Settings(database_url=db), AdminConfig(clock=clock))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Admin(client, clock)
    finally:
        await client.close()


SignIn = Callable[[str], object]


@pytest.fixture
async def officer(admin: Admin) -> m.AdminUser:
    user = await make_user("officer@example.org", "officer")
    await sign_in(admin, user)
    return user
