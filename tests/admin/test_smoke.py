"""Every page renders for a signed-in admin on an empty and a populated database."""

from __future__ import annotations

from admin.demo import fill
from core.storage import models as m
from tests.admin.conftest import Admin, make_user, sign_in

PAGES = ("/", "/responses", "/report", "/audit", "/users", "/keywords", "/languages", "/campaigns",
         "/campaigns/new", "/bulletins", "/bulletins/new", "/waves")


async def test_pages_empty_and_populated(admin: Admin) -> None:
    user = await make_user("boss@example.org", "admin")
    await sign_in(admin, user)
    for path in PAGES:
        response = await admin.client.get(path)
        assert response.status == 200, (path, await response.text())
    await fill(200)
    for path in PAGES:
        response = await admin.client.get(path)
        assert response.status == 200, (path, await response.text())
    listing = await (await admin.client.get("/responses")).text()
    assert "/responses/" in listing


async def test_languages_page_shows_each_review_status(admin: Admin, officer: m.AdminUser) -> None:
    html = await (await admin.client.get("/languages")).text()
    assert "8 translations are drafts" in html
    assert 'lang="ur" dir="rtl">اردو</span> (Urdu)' in html
    assert html.count("needs review by a native speaker") == 8
