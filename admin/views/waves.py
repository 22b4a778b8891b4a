"""Year on year: each survey question's answers, wave by wave."""

from __future__ import annotations

from aiohttp import web

from admin import labels
from admin.keys import VOICES
from admin.middleware import requires
from admin.queries import waves
from admin.render import render
from core.definition import Conversation


def english(request: web.Request) -> dict[str, Conversation]:
    """The loaded conversations in English, with the council's values filled in (for the question words)."""
    voices = request.app[VOICES]
    return {cid: voices.definition(cid, "en") for cid in voices.conversations}


async def compare(request: web.Request) -> list[waves.Compared]:
    return await waves.compare(request.app[VOICES].conversations, english(request))


@requires("viewer")
async def page(request: web.Request) -> web.Response:
    context = {"title": "Year on year", "compared": await compare(request), "labels": labels}
    return render(request, "waves.html", context, section="/waves")
