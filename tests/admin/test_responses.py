"""Responses: filters, bad input, coding, notes, status, exports and the audit log (A10, A13, A18)."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from admin.demo import fill
from admin.export import safe
from core.storage import models as m
from tests.admin.conftest import Admin

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)></textarea>"
FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\tTAB", "\rCR"]


async def _response(text: str) -> m.Response:
    response = await m.Response.create(
        conversation_id="feedback",
        conversation_version=1,
        channel="telegram",
        language="en",
        role="young-person",
        answered_by="self",
        status="submitted",
    )
    await m.Answer.create(
        response=response,
        step_id="tell-bad",
        kind="text",
        question="What is not going well?",
        text=text,
        language="en",
        label="",
    )
    return response


async def test_script_in_answers_notes_and_search_is_text(admin: Admin, officer: m.AdminUser) -> None:
    response = await _response(XSS)
    path = f"/responses/{response.ref}"
    await admin.post(f"{path}/notes", {"note": XSS}, form_page=path)
    for page in (path, "/responses", "/responses?q=" + XSS):
        html = await (await admin.client.get(page)).text()
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-13-45",
        "to=yesterday",
        "from=2026-05-01&to=2026-01-01",
        "priority=nonsense",
        "language=xx",
        "status=deleted",
        "page=a:9999-99-99_1000000000",
        "page=1000000000",
        "page=a:2026-01-01T00:00:00_99999999999999999999",
        "sort=sideways",
        "voice=maybe",
        "q=" + "x" * 500,
    ],
)
async def test_malformed_filters_get_a_clear_answer(admin: Admin, officer: m.AdminUser, query: str) -> None:
    response = await admin.client.get("/responses?" + query)
    assert response.status == 400
    assert "There is a problem" in await response.text()


async def test_bad_dashboard_dates_and_report_period(admin: Admin, officer: m.AdminUser) -> None:
    assert (await admin.client.get("/?from=31/02/2026")).status == 400
    assert (await admin.client.get("/report?period=decade&year=99999999999")).status == 400
    assert (await admin.client.get("/responses/not-a-ref")).status == 404


async def test_filters_and_keyset_pages(admin: Admin, officer: m.AdminUser) -> None:
    await fill(150)
    seen: list[str] = []
    url = "/responses?conversation=feedback&sort=oldest"
    for _ in range(20):
        html = await (await admin.client.get(url)).text()
        seen += [ref for ref in _refs(html) if ref not in seen]
        if 'rel="next"' not in html:
            break
        url = html.split('href="', 1)[0] and _next(html)
    total = await m.Response.filter(conversation_id="feedback").count()
    assert len(seen) == total


def _refs(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('href="/responses/')[1:]]


def _next(html: str) -> str:
    before = html.split('rel="next"', 1)[0]
    return before.rsplit('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")


async def test_coding_notes_status_flag_and_their_audit(admin: Admin, officer: m.AdminUser) -> None:
    response = await _response("The bus is late")
    path = f"/responses/{response.ref}"
    assert (await admin.post(f"{path}/codes", {"priority": "adulthood"}, form_page=path)).status == 303
    assert (await admin.post(f"{path}/notes", {"note": "Called the family"}, form_page=path)).status == 303
    assert (await admin.post(f"{path}/status", {"status": "actioned"}, form_page=path)).status == 303
    assert (await admin.post(f"{path}/flag", {"flagged": "yes"}, form_page=path)).status == 303
    assert (await admin.post(f"{path}/status", {"status": "deleted"}, form_page=path)).status == 400
    stored = await m.Response.get(id=response.id)
    assert (stored.review_status, stored.flagged, stored.priority_codes) == ("actioned", True, "|adulthood|")
    actions = set(
        await m.AuditEvent.filter(target=f"response:{response.ref}").values_list("action", flat=True)
    )
    assert {"view", "coding", "note", "status", "flag"} <= actions
    details = " ".join(await m.AuditEvent.all().values_list("detail", flat=True))
    assert "Called the family" not in details and "bus" not in details
    listed = await (
        await admin.client.get("/responses?priority=adulthood&status=actioned&flagged=yes")
    ).text()
    assert response.ref in listed


async def test_csv_export_neutralises_formulas(admin: Admin, officer: m.AdminUser) -> None:
    for text in FORMULAS:
        await _response(text)
    response = await admin.client.get("/export.csv")
    assert response.status == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.read()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    answers = {row["answer"] for row in rows}
    assert answers == {"'" + text for text in FORMULAS}
    assert await m.AuditEvent.filter(action="export", detail__contains="6 rows").count() == 1


async def test_xlsx_export(admin: Admin, officer: m.AdminUser) -> None:
    await _response("=1+2")
    response = await admin.client.get("/export.xlsx")
    assert response.status == 200
    book = zipfile.ZipFile(io.BytesIO(await response.read()))
    strings = book.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in book.namelist() else ""
    sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet
    assert "'=1+2" in strings + sheet
    assert "xl/worksheets/sheet2.xml" in book.namelist()  # the data dictionary


async def test_viewer_cannot_export(admin: Admin) -> None:
    from tests.admin.conftest import make_user, sign_in

    await sign_in(admin, await make_user("v@example.org", "viewer"))
    assert (await admin.client.get("/export.csv")).status == 403


def test_safe() -> None:
    assert safe("=1") == "'=1" and safe("ok") == "ok" and safe(None) == "" and safe(-1) == "'-1"


async def test_a_downloaded_voice_answer_plays_in_the_admin(admin: Admin, officer: m.AdminUser) -> None:
    response = await _response("")
    answer = await m.Answer.create(response=response, step_id="more", kind="voice", question="Anything else?",
                                   voice_file_id="tg-file-1", voice_duration=3, language="en", label="")
    await m.VoiceClip.create(answer=answer, mime="audio/ogg", size=9, data=b"OggS-test")
    found = await admin.client.get(f"/responses/{response.ref}/voice/{answer.id}")
    assert found.status == 200 and found.content_type == "audio/ogg"
    assert await found.read() == b"OggS-test"
    other = await _response("")
    wrong = await admin.client.get(f"/responses/{other.ref}/voice/{answer.id}")  # not this response's
    assert wrong.status == 404


async def test_a_worrying_transcript_raises_an_alert(admin: Admin, officer: m.AdminUser) -> None:
    response = await _response("")
    answer = await m.Answer.create(response=response, step_id="more", kind="voice", question="Anything else?",
                                   voice_file_id="tg-file-2", voice_duration=3, language="en", label="")
    path = f"/responses/{response.ref}"
    sent = await admin.post(f"{path}/transcript", {"answer": answer.id, "transcript": "the bus was late"},
                            form_page=path)
    assert sent.status in (302, 303) and await m.SafeguardingAlert.all().count() == 0
    await admin.post(f"{path}/transcript", {"answer": answer.id, "transcript": "my uncle hits me at home"},
                     form_page=path)
    alert = await m.SafeguardingAlert.get()
    assert (alert.source, alert.answer_id, alert.response_id) == ("transcript", answer.id, response.id)
    assert "uncle" not in alert.matched and (await m.Response.get(id=response.id)).flagged
    assert alert.words == "my uncle hits me at home"  # restricted: for the safeguarding lead (S9)
    # Now flagged, the transcript is restricted: this officer is not a safeguarding lead.
    refused = await admin.post(f"{path}/transcript", {"answer": answer.id, "transcript": "changed"},
                               form_page=path)
    assert refused.status == 403
    assert (await m.Answer.get(id=answer.id)).transcript == "my uncle hits me at home"
