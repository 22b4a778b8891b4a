"""The languages Voices speaks, and whether a native speaker has reviewed each translation."""

from __future__ import annotations

from aiohttp import web

from admin.keys import SETTINGS
from admin.middleware import requires
from admin.render import render
from core.i18n import review_status
from core.languages import LANGUAGES


@requires("viewer")
async def page(request: web.Request) -> web.Response:
    locales = request.app[SETTINGS].locales_dir
    rows = [{"code": lang.code, "native": lang.native, "english": lang.english, "rtl": lang.rtl,
             "status": review_status(locales, lang.code)} for lang in LANGUAGES]
    drafts = sum(1 for row in rows if str(row["status"]).startswith("draft"))
    return render(request, "languages.html", {"title": "Languages", "rows": rows, "drafts": drafts},
                  section="/languages")
