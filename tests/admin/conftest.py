"""Admin test fixtures: an app on each database, users with known passwords and authenticators."""

from __future__ import annotations

import html
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

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
LONDON = ZoneInfo("Europe/London")
_keys = count(1)


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

    async def submit(self, path: str, pairs: list[tuple[str, str]], form_page: str | None = None):  # type: ignore[no-untyped-def]
        """Post a form whose fields may repeat (ticked checkboxes), with the CSRF token of ``form_page``."""
        token = await self.csrf(form_page or path)
        return await self.client.post(path, data=[("csrf_token", token), *pairs], allow_redirects=False)


async def make_user(
    email: str, role: str, password: str = PASSWORD, confirmed: bool = True, lead: bool = False
) -> m.AdminUser:
    """``lead``: a safeguarding lead (may read restricted words, SECURITY.md S9)."""
    return await m.AdminUser.create(
        email=email,
        role=role,
        password_hash=security.hash_password(password),
        totp_secret=pyotp.random_base32() if confirmed else None,
        totp_confirmed=confirmed,
        safeguarding_lead=lead,
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


# ---- helpers for the campaign, bulletin and year-on-year tests ------------------------------------


def table(page: str, table_id: str) -> list[list[str]]:
    """The rows of the table with this id, each a list of cell texts (header row included)."""
    found = re.search(rf'<table class="govuk-table" id="{table_id}">(.*?)</table>', page, re.S)
    assert found, f"no table {table_id}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), re.S)
    return [
        [
            " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


def by_first(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in rows[1:]}


async def person(
    language: str = "en", role: str | None = "parent-carer", age_band: str | None = None, contact: bool = True
) -> m.Respondent:
    """Someone on Telegram who agreed to the privacy notice and (unless ``contact`` is False) to messages."""
    n = next(_keys)
    return await m.Respondent.create(
        channel="telegram",
        key_hash=f"{n:064x}",
        chat_id=1000 + n,
        language=language,
        role=role,
        age_band=age_band,
        consent="yes",
        contact_ok=contact,
    )


def later(
    admin: Admin, days: int = 2, hour: int = 10, minute: int = 0
) -> tuple[list[tuple[str, str]], datetime]:
    """Schedule form fields for a UK time ``days`` from now, and the UTC time they mean."""
    local = (
        (admin.clock.now + timedelta(days=days))
        .astimezone(LONDON)
        .replace(hour=hour, minute=minute, second=0, microsecond=0)
    )
    fields = [
        ("when", "later"),
        ("date-day", str(local.day)),
        ("date-month", str(local.month)),
        ("date-year", str(local.year)),
        ("time", local.strftime("%-I:%M%p").lower()),
    ]
    return fields, local.astimezone(UTC)
