"""Restricted words and the safeguarding lead (SECURITY.md S9), and requests in the queue (P3, P8).

Only a safeguarding lead reads a flagged response's typed and spoken answers and the words that raised
an alert; everyone else sees that they are restricted, in pages, lists, searches and exports. Both
are audited, with the record's reference and never the words.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from admin.queries import safeguarding as queue
from admin.restricted import RESTRICTED
from core.settings import Settings
from core.storage import models as m
from tests.admin.conftest import Admin, make_user, sign_in
from voices import admin_cli

WORDS = "my stepdad hurts me when mum is out"
SPOKEN = "I do not feel safe going home"
CLIP = b"OggS-restricted-audio"


@dataclass
class Flagged:
    response: m.Response
    text: m.Answer
    voice: m.Answer
    alert: m.SafeguardingAlert


async def flagged() -> Flagged:
    """A flagged response: a typed answer, a voice answer (clip and transcript), a choice; and its alert."""
    response = await m.Response.create(
        conversation_id="feedback",
        conversation_version=1,
        channel="telegram",
        language="en",
        role="young-person",
        status="submitted",
        flagged=True,
    )
    choice = await m.Answer.create(
        response=response,
        step_id="how",
        kind="choice",
        question="How is it going?",
        option_ids=["bad"],
        label="Not well",
        language="en",
    )
    text = await m.Answer.create(
        response=response,
        step_id="tell-bad",
        kind="text",
        question="What is not going well?",
        text=WORDS,
        label=WORDS,
        language="en",
    )
    voice = await m.Answer.create(
        response=response,
        step_id="more",
        kind="voice",
        question="Anything else?",
        voice_file_id="tg-file-9",
        voice_duration=4,
        label="Voice message",
        transcript=SPOKEN,
        language="en",
    )
    await m.VoiceClip.create(answer=voice, mime="audio/ogg", size=len(CLIP), data=CLIP)
    alert = await m.SafeguardingAlert.create(
        response_id=response.id,
        answer_id=text.id,
        source="answer",
        category="abuse",
        severity=1,
        matched="en.abuse.03",
        words=WORDS,
        language="en",
        age_band="13-15",
    )
    assert choice.label == "Not well"
    return Flagged(response, text, voice, alert)


async def events(action: str) -> list[m.AuditEvent]:
    return await m.AuditEvent.filter(action=action).order_by("id")


async def no_words_in_the_audit_log() -> None:
    for event in await m.AuditEvent.all():
        text = f"{event.target} {event.detail}"
        assert "stepdad" not in text and "safe going home" not in text, text


async def test_a_non_lead_officer_sees_restricted_and_it_is_audited(
    admin: Admin, officer: m.AdminUser
) -> None:
    f = await flagged()
    path = f"/responses/{f.response.ref}"
    reply = await admin.client.get(path)
    page = await reply.text()
    assert reply.status == 200
    assert RESTRICTED in page and page.count(RESTRICTED) == 2  # the typed and the voice answer
    assert "stepdad" not in page and "safe going home" not in page
    assert f"/voice/{f.voice.id}" not in page and "<audio" not in page and 'name="transcript"' not in page
    assert "Not well" in page  # a choice is not restricted
    assert "Only a safeguarding lead can remove the safeguarding flag." in page
    refused = await events("restricted-view-refused")
    assert [(e.actor, e.target) for e in refused] == [(officer.email, f"response:{f.response.ref}")]
    assert not await events("restricted-view")

    # The alert's page: the words are restricted too.
    page = await (await admin.client.get(f"/safeguarding/{f.alert.ref}")).text()
    assert "The message that raised it" in page and RESTRICTED in page and "stepdad" not in page
    refused = await events("restricted-view-refused")
    assert refused[-1].target == f"alert:{f.alert.ref}" and refused[-1].actor == officer.email

    # Nor can they play, transcribe or unflag it.
    audio = await admin.client.get(f"{path}/voice/{f.voice.id}")
    body = await audio.text()
    assert audio.status == 403 and RESTRICTED in body and CLIP.decode() not in body
    sent = await admin.post(
        f"{path}/transcript", {"answer": f.voice.id, "transcript": "overwritten"}, form_page=path
    )
    assert sent.status == 403 and (await m.Answer.get(id=f.voice.id)).transcript == SPOKEN
    sent = await admin.post(f"{path}/flag", {"flagged": "no"}, form_page=path)
    assert sent.status == 403 and (await m.Response.get(id=f.response.id)).flagged
    targets = [e.detail for e in await events("restricted-view-refused")]
    assert f"voice answer:{f.voice.id}" in targets and f"transcript of answer:{f.voice.id}" in targets
    assert await m.AuditEvent.filter(action="forbidden", target=f"response:{f.response.ref}").count() == 1
    await no_words_in_the_audit_log()


async def test_a_lead_sees_the_words_and_it_is_audited(admin: Admin) -> None:
    f = await flagged()
    lead = await make_user("lead@example.org", "officer", lead=True)
    await sign_in(admin, lead)
    path = f"/responses/{f.response.ref}"
    page = await (await admin.client.get(path)).text()
    assert RESTRICTED not in page and html.escape(WORDS) in page and SPOKEN in page
    assert f'src="{path}/voice/{f.voice.id}"' in page
    assert "because you are a safeguarding lead" in page
    audio = await admin.client.get(f"{path}/voice/{f.voice.id}")
    assert audio.status == 200 and await audio.read() == CLIP
    page = await (await admin.client.get(f"/safeguarding/{f.alert.ref}")).text()
    assert html.escape(WORDS) in page and RESTRICTED not in page
    shown = [(e.actor, e.target, e.detail) for e in await events("restricted-view")]
    assert shown == [
        (lead.email, f"response:{f.response.ref}", "2 answers in their own words"),
        (lead.email, f"response:{f.response.ref}", f"voice answer:{f.voice.id}"),
        (lead.email, f"alert:{f.alert.ref}", "the words that raised it"),
    ]
    assert not await events("restricted-view-refused")
    # A lead may take the flag off; then the words are no longer restricted.
    assert (await admin.post(f"{path}/flag", {"flagged": "no"}, form_page=path)).status == 303
    assert not (await m.Response.get(id=f.response.id)).flagged
    await no_words_in_the_audit_log()


async def test_an_admin_who_is_not_a_lead_is_refused_too(admin: Admin) -> None:
    f = await flagged()
    await sign_in(admin, await make_user("boss@example.org", "admin"))
    page = await (await admin.client.get(f"/safeguarding/{f.alert.ref}")).text()
    assert RESTRICTED in page and "stepdad" not in page
    assert (await events("restricted-view-refused"))[0].target == f"alert:{f.alert.ref}"


async def test_an_alert_without_words_says_so(admin: Admin, officer: m.AdminUser) -> None:
    alert = await m.SafeguardingAlert.create(source="request", category="request", severity=2)
    page = await (await admin.client.get(f"/safeguarding/{alert.ref}")).text()
    assert "The words were not kept with this concern." in page and RESTRICTED not in page
    assert not await events("restricted-view-refused")


async def test_lists_and_searches_leave_out_flagged_words(admin: Admin, officer: m.AdminUser) -> None:
    f = await flagged()
    other = await m.Response.create(
        conversation_id="feedback",
        conversation_version=1,
        channel="telegram",
        language="en",
        status="submitted",
    )
    await m.Answer.create(
        response=other,
        step_id="tell-bad",
        kind="text",
        question="What is not going well?",
        text="the stepdad of my friend drives the bus",
        language="en",
        label="",
    )
    page = await (await admin.client.get("/responses")).text()
    assert f.response.ref in page and "my stepdad hurts" not in page and RESTRICTED in page
    assert "the stepdad of my friend" in page
    # Searching for the words finds only what they may read; so does the year-on-year "read them" list.
    found = await (await admin.client.get("/responses?q=stepdad")).text()
    assert other.ref in found and f.response.ref not in found
    assert "Responses flagged for safeguarding are not searched" in found
    step = await (await admin.client.get("/responses?step=tell-bad")).text()
    assert f.response.ref in step and "my stepdad hurts" not in step
    assert not await events("restricted-view")

    await admin.post("/sign-out", {}, form_page="/")
    lead = await make_user("lead@example.org", "officer", lead=True)
    await sign_in(admin, lead)
    found = await (await admin.client.get("/responses?q=stepdad")).text()
    assert other.ref in found and f.response.ref in found and "my stepdad hurts" in found
    assert "are not searched" not in found
    shown = await events("restricted-view")
    assert [(e.actor, e.target, e.detail) for e in shown] == [
        (lead.email, "responses", "list: words of 1 flagged response")
    ]
    await no_words_in_the_audit_log()


def _csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


async def test_exports_leave_out_flagged_words_except_for_a_lead(admin: Admin, officer: m.AdminUser) -> None:
    f = await flagged()
    ordinary = await m.Response.create(
        conversation_id="feedback",
        conversation_version=1,
        channel="telegram",
        language="en",
        status="submitted",
    )
    await m.Answer.create(
        response=ordinary,
        step_id="tell-bad",
        kind="text",
        question="What is not going well?",
        text="The bus is late",
        language="en",
        label="",
    )
    reply = await admin.client.get("/export.csv")
    body = await reply.read()
    assert reply.status == 200 and b"stepdad" not in body and b"safe going home" not in body
    rows = {(r["response"], r["step"]): r for r in _csv(body)}
    assert rows[f.response.ref, "tell-bad"]["answer"] == RESTRICTED
    assert rows[f.response.ref, "more"]["answer"] == RESTRICTED
    assert rows[f.response.ref, "more"]["transcript"] == RESTRICTED
    assert rows[f.response.ref, "how"]["answer"] == "Not well"
    assert rows[ordinary.ref, "tell-bad"]["answer"] == "The bus is late"
    xlsx = await (await admin.client.get("/export.xlsx")).read()
    book = zipfile.ZipFile(io.BytesIO(xlsx))
    cells = "".join(book.read(n).decode() for n in book.namelist() if n.startswith("xl/"))
    assert "stepdad" not in cells and "safe going home" not in cells and RESTRICTED in cells
    exports = [e.detail for e in await events("export")]
    assert exports == [
        "csv, 4 rows, flagged responses' words left out",
        "xlsx, 4 rows, flagged responses' words left out",
    ]
    refused = [(e.target, e.detail) for e in await events("restricted-view-refused")]
    assert refused == [
        ("responses", "csv export: words of 1 flagged response"),
        ("responses", "xlsx export: words of 1 flagged response"),
    ]

    await admin.post("/sign-out", {}, form_page="/")
    await sign_in(admin, await make_user("lead@example.org", "officer", lead=True))
    rows = {(r["response"], r["step"]): r for r in _csv(await (await admin.client.get("/export.csv")).read())}
    assert rows[f.response.ref, "tell-bad"]["answer"] == WORDS
    assert rows[f.response.ref, "more"]["transcript"] == SPOKEN
    xlsx = await (await admin.client.get("/export.xlsx")).read()
    book = zipfile.ZipFile(io.BytesIO(xlsx))
    cells = "".join(book.read(n).decode() for n in book.namelist() if n.startswith("xl/"))
    assert "stepdad" in cells and RESTRICTED not in cells
    shown = [(e.actor, e.detail) for e in await events("restricted-view")]
    assert shown == [
        ("lead@example.org", "csv export: words of 1 flagged response"),
        ("lead@example.org", "xlsx export: words of 1 flagged response"),
    ]
    await no_words_in_the_audit_log()


async def test_admins_grant_and_remove_the_lead_permission(admin: Admin) -> None:
    boss = await make_user("boss@example.org", "admin")
    colleague = await make_user("colleague@example.org", "officer")
    await sign_in(admin, boss)
    page = await (await admin.client.get("/users")).text()
    assert 'name="safeguarding_lead"' in page and "Safeguarding lead</strong>" not in page
    reply = await admin.post(
        f"/users/{colleague.id}", {"role": "officer", "safeguarding_lead": "yes"}, form_page="/users"
    )
    assert reply.status == 200 and "Safeguarding lead</strong>" in await reply.text()
    assert (await m.AdminUser.get(id=colleague.id)).safeguarding_lead
    reply = await admin.post(f"/users/{colleague.id}", {"role": "officer"}, form_page="/users")
    assert reply.status == 200 and not (await m.AdminUser.get(id=colleague.id)).safeguarding_lead
    changes = [
        e.detail
        for e in await m.AuditEvent.filter(action="user-changed", target=f"user:{colleague.id}").order_by(
            "id"
        )
    ]
    assert changes == [
        "role officer, active",
        "safeguarding lead granted",
        "role officer, active",
        "safeguarding lead removed",
    ]
    # A new user can be a lead from the start.
    reply = await admin.post(
        "/users", {"email": "new-lead@example.org", "role": "viewer", "safeguarding_lead": "yes"}
    )
    assert reply.status == 200
    new = await m.AdminUser.get(email="new-lead@example.org")
    assert new.safeguarding_lead and new.role == "viewer"
    added = await m.AuditEvent.get(action="user-added", target=f"user:{new.id}")
    assert added.detail == "role viewer, safeguarding lead" and added.actor == boss.email


async def test_only_admins_grant_it(admin: Admin, officer: m.AdminUser) -> None:
    reply = await admin.post(
        f"/users/{officer.id}", {"role": "officer", "safeguarding_lead": "yes"}, form_page="/"
    )
    assert reply.status == 403 and not (await m.AdminUser.get(id=officer.id)).safeguarding_lead


async def test_the_lead_permission_takes_effect_on_the_next_page(admin: Admin) -> None:
    f = await flagged()
    user = await make_user("someone@example.org", "officer")
    await sign_in(admin, user)
    assert RESTRICTED in await (await admin.client.get(f"/safeguarding/{f.alert.ref}")).text()
    await m.AdminUser.filter(id=user.id).update(safeguarding_lead=True)
    assert html.escape(WORDS) in await (await admin.client.get(f"/safeguarding/{f.alert.ref}")).text()


def test_users_add_has_a_safeguarding_lead_flag() -> None:
    parser = argparse.ArgumentParser()
    admin_cli.add_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["users", "add", "x@example.org", "--role", "officer", "--safeguarding-lead"])
    assert args.safeguarding_lead is True
    assert parser.parse_args(["users", "add", "x@example.org", "--role", "viewer"]).safeguarding_lead is False


async def test_users_add_makes_a_lead(db_url: str) -> None:
    settings = Settings(database_url=db_url)
    assert await admin_cli.users_add(settings, "lead@example.org", "officer", safeguarding_lead=True) == 0
    assert await admin_cli.users_add(settings, "plain@example.org", "officer") == 0
    from core.storage.db import close_db, init_db

    await init_db(db_url)
    try:
        assert (await m.AdminUser.get(email="lead@example.org")).safeguarding_lead
        assert not (await m.AdminUser.get(email="plain@example.org")).safeguarding_lead
        details = (
            await m.AuditEvent.filter(action="user-added").order_by("id").values_list("detail", flat=True)
        )
        assert details == [
            "role officer, safeguarding lead, from the command line",
            "role officer, from the command line",
        ]
    finally:
        await close_db()


# ---- requests and complaints in the queue (P3, P8) ---------------------------------------------------


def test_a_calendar_month_later() -> None:
    assert queue.one_month_after(date(2026, 11, 29)) == date(2026, 12, 29)
    assert queue.one_month_after(date(2026, 12, 15)) == date(2027, 1, 15)
    assert queue.one_month_after(date(2027, 1, 31)) == date(2027, 2, 28)
    assert queue.one_month_after(date(2028, 1, 31)) == date(2028, 2, 29)
    alert = m.SafeguardingAlert(category="complaint", created_at=datetime(2026, 11, 29, 9, 30, tzinfo=UTC))
    assert queue.reply_by(alert) == date(2026, 12, 29)
    # 23:30 UTC on 30 June is 00:30 on 1 July in the UK (summer time): the UK day counts.
    late = m.SafeguardingAlert(category="data-request", created_at=datetime(2026, 6, 30, 23, 30, tzinfo=UTC))
    assert queue.reply_by(late) == date(2026, 8, 1)  # 1 July in the UK
    assert queue.reply_by(m.SafeguardingAlert(category="abuse", created_at=alert.created_at)) is None
    assert not queue.overdue(alert, datetime(2026, 12, 29, 23, 0, tzinfo=UTC))
    assert queue.overdue(alert, datetime(2026, 12, 30, 0, 30, tzinfo=UTC))
    alert.outcome_at = datetime(2026, 12, 20, tzinfo=UTC)
    assert not queue.overdue(alert, datetime(2027, 3, 1, tzinfo=UTC))


def _row(page: str, ref: str) -> str:
    for row in re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", page, re.S):
        if ref in row:
            return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
    raise AssertionError(f"no row for {ref}")


async def _request(category: str, days_ago: int, now: datetime, matched: str = "") -> m.SafeguardingAlert:
    created = await m.SafeguardingAlert.create(
        source="message",
        category=category,
        severity=3,
        matched=matched,
        words="I'm her mum, send me her answers",
    )
    await m.SafeguardingAlert.filter(id=created.id).update(created_at=now - timedelta(days=days_ago))
    return await m.SafeguardingAlert.get(id=created.id)


async def test_the_queue_shows_requests_in_plain_words_with_a_reply_date(
    admin: Admin, officer: m.AdminUser
) -> None:
    now = admin.clock.now
    complaint = await _request("complaint", 3, now, "en-complaint-data")
    overdue = await _request("data-request", 40, now, "en-request-someone-elses-answers")
    own = await _request("data-request", 1, now, "pl-request-my-data")
    risk = await _request("self-harm", 40, now)
    page = await (await admin.client.get("/safeguarding")).text()
    due = queue.reply_by(complaint)
    assert due is not None
    row = _row(page, complaint.ref)
    assert "Complaint about how we use data" in row and f"Reply by {due:%-d %B %Y}" in row
    assert "Overdue" not in row
    row = _row(page, overdue.ref)
    assert "Request for someone else's data" in row and "Reply by" in row and "Overdue" in row
    assert "Request for a copy of their own data" in _row(page, own.ref)
    assert "Reply by" not in _row(page, risk.ref) and "Overdue" not in _row(page, risk.ref)

    detail = html.unescape(await (await admin.client.get(f"/safeguarding/{overdue.ref}")).text())
    assert "Request for someone else's data" in detail and "Reply by" in detail and "Overdue" in detail
    assert "within one calendar month" in detail and "A message to the bot" in detail
    # Once an outcome is recorded it is no longer overdue.
    await admin.post(
        f"/safeguarding/{overdue.ref}/outcome",
        {"outcome": "Sent the request form."},
        form_page=f"/safeguarding/{overdue.ref}",
    )
    page = await (await admin.client.get("/safeguarding")).text()
    assert "Overdue" not in _row(page, overdue.ref)


async def test_the_command_line_export_leaves_out_flagged_words(db_url: str, tmp_path: Path) -> None:
    from core.storage.db import close_db, init_db

    await init_db(db_url)
    try:
        await flagged()
    finally:
        await close_db()
    out = tmp_path / "all.csv"
    assert await admin_cli.export(Settings(database_url=db_url), "csv", str(out)) == 0
    body = out.read_bytes()
    assert b"stepdad" not in body and RESTRICTED.encode() in body and b"Not well" in body
    await init_db(db_url)
    try:
        event = await m.AuditEvent.get(action="export")
        assert event.detail == "csv, 3 rows, from the command line, flagged responses' words left out"
    finally:
        await close_db()
