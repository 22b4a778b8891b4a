"""The disk banner and the disk figures in /healthz (SECURITY.md R12: "alert at 80 % full")."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from admin.app import DISK_WATCH, make_app
from admin.keys import AdminConfig
from core.diskspace import DiskWatch
from core.settings import Settings
from tests.admin.conftest import Admin, Clock, make_user, sign_in
from tests.core.test_diskspace import FakeDisk

BANNER = ("The disk that holds the answers is 83% full. "
          "New answers cannot be saved when it is full. Tell whoever runs the server.")


@dataclass
class Watched:
    admin: Admin
    disk: FakeDisk
    watch: DiskWatch


@pytest.fixture
async def watched(db: str) -> AsyncIterator[Watched]:
    """The admin with a disk watch on a fake disk; ``watch.check()`` takes a measurement."""
    clock = Clock()
    settings = Settings(database_url=db)
    app = make_app(settings, AdminConfig(clock=clock))
    disk = FakeDisk()
    app[DISK_WATCH] = watch = DiskWatch(settings, usage=disk)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Watched(Admin(client, clock), disk, watch)
    finally:
        await client.close()


def banner(page: str) -> str | None:
    """The disk banner's words, or None when the page has none."""
    found = re.search(r'<div class="govuk-notification-banner"[^>]*id="disk-banner">(.*?)</div>\s*</div>',
                      page, re.S)
    if found is None:
        return None
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


async def page(w: Watched, path: str = "/") -> str:
    response = await w.admin.client.get(path)
    assert response.status == 200, path
    return await response.text()


async def test_banner_on_every_signed_in_page_while_the_disk_is_over_the_line(watched: Watched) -> None:
    await sign_in(watched.admin, await make_user("officer@example.org", "officer"))
    watched.disk.percent = 83.4
    watched.watch.check()
    for path in ("/", "/responses", "/safeguarding", "/report"):
        shown = banner(await page(watched, path))
        assert shown == f"Disk space {BANNER}", path
    text = await page(watched)
    assert 'role="region" aria-labelledby="app-disk-banner-title"' in text
    assert "<script" not in text  # no JavaScript, as the CSP wants


async def test_no_banner_under_the_line_or_before_a_measurement(watched: Watched) -> None:
    await sign_in(watched.admin, await make_user("viewer@example.org", "viewer"))
    assert banner(await page(watched)) is None  # nothing measured yet
    watched.disk.percent = 79.9
    watched.watch.check()
    assert banner(await page(watched)) is None
    watched.disk.percent = 95.0
    watched.watch.check()
    assert "is 95% full" in (banner(await page(watched)) or "")
    watched.disk.percent = 40.0  # space freed
    watched.watch.check()
    assert banner(await page(watched)) is None


async def test_no_banner_for_people_not_signed_in(watched: Watched) -> None:
    watched.disk.percent = 99.0
    watched.watch.check()
    sign_in_page = await page(watched, "/sign-in")
    assert banner(sign_in_page) is None and "disk" not in sign_in_page.lower()


async def test_healthz_reports_the_disk(watched: Watched) -> None:
    response = await watched.admin.client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "bot": "off"}  # nothing measured yet
    watched.disk.percent = 83.44
    watched.watch.check()
    response = await watched.admin.client.get("/healthz")
    assert response.status == 200  # a full disk is reported, not a failed health check
    assert await response.json() == {"status": "ok", "bot": "off",
                                     "disk": {"percent_used": 83.4, "alert": True}}
    watched.disk.percent = 12.0
    watched.watch.check()
    body = await (await watched.admin.client.get("/healthz")).json()
    assert body["disk"] == {"percent_used": 12.0, "alert": False}


async def test_the_app_has_an_unstarted_watch_on_the_database_folder(db: str, tmp_path: Path) -> None:
    """``make_app`` puts a watch on the app; the process that runs the jobs starts it (voices/cli.py)."""
    app = make_app(Settings(database_url=db, erasure_log=tmp_path / "erasures.log"))
    watch = app[DISK_WATCH]
    assert watch.status() is None
    assert watch.path == tmp_path  # the SQLite file's folder, or the erasure log's on PostgreSQL
