"""Restricted words (SECURITY.md S9): only a safeguarding lead reads them.

Restricted are the words of a response that is flagged for safeguarding (its typed answers, its
voice answers and their transcripts) and the words that raised a safeguarding alert. Everyone else
sees :data:`RESTRICTED` in their place, in pages, lists, searches and exports. Every time the words
are shown to a lead, or held back from someone who asked for them, the audit log says so, with the
record's reference and never the words.
"""

from __future__ import annotations

from aiohttp import web

from admin import audit
from admin.keys import CONFIG
from admin.middleware import USER, is_lead

RESTRICTED = "Restricted: only the safeguarding lead can see this"
FREE_KINDS = ("text", "voice")  # answers in the person's own words


def flagged_responses(n: int) -> str:
    """For the audit log: "1 flagged response", "2 flagged responses"."""
    return f"{n} flagged response{'' if n == 1 else 's'}"


def is_free(kind: str, text: str | None = None, transcript: str | None = None) -> bool:
    """Whether an answer is in the person's own words (typed, spoken or transcribed)."""
    return kind in FREE_KINDS or text is not None or transcript is not None


async def record(request: web.Request, target: str, detail: str = "", shown: bool | None = None) -> None:
    """Audit a restricted view: shown to a lead ("restricted-view") or refused ("restricted-view-refused")."""
    allowed = is_lead(request) if shown is None else shown
    action = "restricted-view" if allowed else "restricted-view-refused"
    await audit.record(request.app[CONFIG].clock(), request[USER].email, action, target, detail)
