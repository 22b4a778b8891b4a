"""The responses list with filters, one response, and the officers' changes to it.

The words of a flagged response (typed answers, voice answers and transcripts) are restricted to
safeguarding leads (SECURITY.md S9, :mod:`admin.restricted`): others see that they are restricted,
cannot play, transcribe or search them, and cannot take the flag off.
"""

from __future__ import annotations

import functools
from pathlib import Path

from aiohttp import web

from admin import audit, labels, restricted
from admin.filters import CHOICES, Filters, cursor_text, parse
from admin.keys import CONFIG, SETTINGS
from admin.middleware import USER, is_lead, requires
from admin.queries import erasure, responses, summary
from admin.render import render
from core.risk import Lexicon, load_lexicon
from core.storage import models as m

MAX_NOTE = 5000
MAX_WORDS = 4000  # of a transcript kept with the alert it raises (as the bot keeps a message's)


def _pager(f: Filters, found: responses.Page) -> dict[str, str]:
    links: dict[str, str] = {}
    if found.rows and found.more_after:
        last = found.rows[-1]
        links["next"] = "/responses?" + f.query(page=cursor_text(last.started_at, last.id, False))
    if found.rows and found.more_before:
        first = found.rows[0]
        links["previous"] = "/responses?" + f.query(page=cursor_text(first.started_at, first.id, True))
    return links


def _describe(f: Filters) -> str:
    """What was searched, for the audit log: the filters used, not the words searched for."""
    used = [f"{k}={','.join(v)}" for k, v in f.chosen.items()]
    used += [f"from={f.date_from}"] if f.date_from else []
    used += [f"to={f.date_to}"] if f.date_to else []
    used += [f"search ({len(f.q)} characters)"] if f.q else []
    used += [f"wave={f.wave[0]}:{f.wave[1]}"] if f.wave else []
    used += [f"step={f.step}"] if f.step else []
    return "; ".join(used)


@requires("viewer")
async def list_page(request: web.Request) -> web.Response:
    now = request.app[CONFIG].clock()
    parsed = parse(request.query)
    await summary.refresh(now)
    f = parsed.filters
    lead = is_lead(request)
    found = await responses.page(f, lead)
    if f.q or f.chosen or f.date_from or f.date_to or f.wave or f.step:
        await audit.record(now, request[USER].email, "search", "responses", _describe(f))
    if lead and found.flagged_words:
        await restricted.record(request, "responses",
                                f"list: words of {restricted.flagged_responses(found.flagged_words)}")
    context = {"title": "Responses", "f": f, "page": found, "pager": _pager(f, found), "choices": CHOICES,
               "problems": parsed.problems, "export_query": f.without_cursor().query(), "labels": labels}
    return render(request, "responses.html", context, status=400 if parsed.problems else 200,
                  section="/responses")


async def _response(request: web.Request) -> m.Response:
    found = await responses.find(request.match_info["ref"])
    if found is None:
        raise web.HTTPNotFound(text="There is no response with that reference.")
    return found


@requires("viewer")
async def detail_page(request: web.Request) -> web.Response:
    response = await _response(request)
    await audit.record(request.app[CONFIG].clock(), request[USER].email, "view", f"response:{response.ref}")
    lead = is_lead(request)
    found = await responses.detail(response, lead)
    words = responses.restricted_answers(response, found.answers)
    if words:  # shown to a lead, held back from everyone else: audited either way
        await restricted.record(request, f"response:{response.ref}",
                                f"{len(words)} answer{'' if len(words) == 1 else 's'} in their own words")
    hidden = set() if lead else {a.id for a in words}
    erasable = await erasure.person_of(response) is not None
    return render(request, "response.html", {"title": f"Response {response.ref[:8]}", "d": found,
                                             "labels": labels, "statuses": m.REVIEW_STATUSES,
                                             "hidden": hidden, "erasable": erasable},
                  section="/responses")


async def _refuse(request: web.Request, response: m.Response, detail: str) -> web.HTTPForbidden:
    """Someone who is not a safeguarding lead asked for a flagged response's words: audited, refused."""
    await restricted.record(request, f"response:{response.ref}", detail, shown=False)
    return web.HTTPForbidden(text=f"{restricted.RESTRICTED}.")


def _back(response: m.Response, anchor: str) -> web.Response:
    return web.Response(status=303, headers={"Location": f"/responses/{response.ref}#{anchor}"})


async def _log(request: web.Request, response: m.Response, action: str, detail: str = "") -> None:
    await audit.record(request.app[CONFIG].clock(), request[USER].email, action, f"response:{response.ref}",
                       detail)


@requires("officer")
async def set_codes(request: web.Request) -> web.Response:
    response = await _response(request)
    form = await request.post()
    chosen = [str(v) for v in form.getall("priority", [])]
    if any(code not in labels.PRIORITY for code in chosen):
        raise web.HTTPBadRequest(text="We did not recognise one of the priorities. Go back and try again.")
    added, removed = await responses.set_codes(response, chosen, request[USER].email)
    detail = f"added {','.join(added) or '-'}; removed {','.join(removed) or '-'}"
    await _log(request, response, "coding", detail)
    return _back(response, "coding")


@requires("officer")
async def add_note(request: web.Request) -> web.Response:
    response = await _response(request)
    text = str((await request.post()).get("note", "")).strip()
    if not text or len(text) > MAX_NOTE:
        raise web.HTTPBadRequest(text=f"A note must have between 1 and {MAX_NOTE:,} characters. "
                                      "Go back and try again.")
    note = await responses.add_note(response, text, request[USER].email)
    await _log(request, response, "note", f"note:{note.id}")
    return _back(response, "notes")


@requires("officer")
async def set_status(request: web.Request) -> web.Response:
    response = await _response(request)
    status = str((await request.post()).get("status", ""))
    if status not in m.REVIEW_STATUSES:
        raise web.HTTPBadRequest(text="Choose new, reviewed or actioned. Go back and try again.")
    await responses.set_status(response, status)
    await _log(request, response, "status", f"{response.review_status} to {status}")
    return _back(response, "status")


@requires("officer")
async def set_flag(request: web.Request) -> web.Response:
    response = await _response(request)
    flagged = (await request.post()).get("flagged") == "yes"
    if response.flagged and not flagged and not is_lead(request):
        # Taking the flag off would show the words: only a lead may.
        await _log(request, response, "forbidden", "removing the flag needs a safeguarding lead")
        raise web.HTTPForbidden(text="Only a safeguarding lead can remove the safeguarding flag.")
    await responses.set_flag(response, flagged)
    await _log(request, response, "flag", "flagged" if flagged else "unflagged")
    return _back(response, "status")


@requires("officer")
async def set_transcript(request: web.Request) -> web.Response:
    response = await _response(request)
    form = await request.post()
    text = str(form.get("transcript", "")).strip()
    answer_id = str(form.get("answer", ""))
    if response.flagged and not is_lead(request):
        raise await _refuse(request, response, f"transcript of answer:{answer_id[:12]}")
    if not answer_id.isdigit() or len(text) > MAX_NOTE or \
            not await responses.set_transcript(response, int(answer_id), text):
        raise web.HTTPBadRequest(text="We could not save that transcript. Go back and try again.")
    await _log(request, response, "transcript", f"answer:{answer_id}")
    await _check_transcript(request, response, int(answer_id), text)
    return _back(response, f"answer-{answer_id}")


async def _check_transcript(request: web.Request, response: m.Response, answer_id: int, text: str) -> None:
    """A transcript is read for risk like a typed answer: a match raises an alert for an officer."""
    found = lexicon(request.app[SETTINGS].lexicon_dir).detect(text, response.language)
    if found is None:
        return
    await m.SafeguardingAlert.create(response_id=response.id, answer_id=answer_id, source="transcript",
                                     category=found.category, severity=found.severity,
                                     matched=found.matched[:64], language=response.language,
                                     age_band=response.age_band, words=text[:MAX_WORDS])
    await m.Response.filter(id=response.id).update(flagged=True)


@functools.cache
def lexicon(directory: Path) -> Lexicon:
    return load_lexicon(directory)


@requires("officer")
async def add_quote(request: web.Request) -> web.Response:
    response = await _response(request)
    text = str((await request.post()).get("quote", "")).strip()
    if not text or len(text) > 500:
        raise web.HTTPBadRequest(text="A quote must have between 1 and 500 characters. "
                                      "Go back and try again.")
    quote = await responses.add_quote(response, text, request[USER].email)
    await _log(request, response, "quote", f"quote:{quote.id}")
    return _back(response, "quotes")


@requires("viewer")
async def voice(request: web.Request) -> web.Response:
    """A voice answer's audio, as the bot downloaded it. Demo data has placeholders: silence."""
    response = await _response(request)
    answer_id = request.match_info["answer"]
    valid = answer_id.isdigit() and len(answer_id) < 12
    if response.flagged:
        if not is_lead(request):
            raise await _refuse(request, response, f"voice answer:{answer_id[:12]}")
        await restricted.record(request, f"response:{response.ref}", f"voice answer:{answer_id[:12]}")
    clip = await m.VoiceClip.filter(answer_id=int(answer_id), answer__response_id=response.id).first() \
        if valid else None
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if clip is not None:
        return web.Response(body=bytes(clip.data), content_type=clip.mime, headers=headers)
    found = await responses.voice_file(response, int(answer_id)) if valid else None
    if found is None or not found.startswith("demo-"):
        raise web.HTTPNotFound(text="This recording is not stored here.")
    return web.Response(body=SILENCE, content_type="audio/wav", headers=headers)


def _silence(seconds: float = 1.0, rate: int = 8000) -> bytes:
    frames = int(seconds * rate)
    header = b"RIFF" + (36 + frames).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    header += (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + rate.to_bytes(4, "little")
    header += rate.to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
    return header + b"data" + frames.to_bytes(4, "little") + bytes([128]) * frames


SILENCE = _silence()
