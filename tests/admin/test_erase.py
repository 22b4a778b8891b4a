"""Erasing a person's data from the admin (SECURITY.md P1, S11): admins only, audited, as /delete does."""

from __future__ import annotations

import html
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from admin.sql import Sql
from core.storage import models as m
from tests.admin.conftest import Admin, make_user, person, sign_in

WORDS = "my uncle hits me"


@dataclass
class Held:
    person: m.Respondent
    first: m.Response
    second: m.Response
    voice: m.Answer
    alert: m.SafeguardingAlert


async def held() -> Held:
    """Someone with two responses (typed and voice answers, a clip, coding, a note, a quote), an
    invitation, a session and a safeguarding alert that kept their words."""
    who = await person(role="young-person", age_band="13-15")
    first = await m.Response.create(
        respondent=who,
        conversation_id="feedback",
        conversation_version=1,
        channel="telegram",
        language="en",
        status="submitted",
        flagged=True,
    )
    second = await m.Response.create(
        respondent=who,
        conversation_id="annual-young-person",
        conversation_version=2027,
        channel="telegram",
        language="en",
        status="in-progress",
    )
    text = await m.Answer.create(
        response=first,
        step_id="tell-bad",
        kind="text",
        question="What is not going well?",
        text=WORDS,
        label=WORDS,
        language="en",
    )
    voice = await m.Answer.create(
        response=second,
        step_id="more",
        kind="voice",
        question="Anything else?",
        voice_file_id="tg-1",
        voice_duration=3,
        label="Voice message",
        language="en",
    )
    await m.VoiceClip.create(answer=voice, mime="audio/ogg", size=4, data=b"OggS")
    await m.ResponseNote.create(response=first, author="officer@example.org", text="Called the school")
    await m.BoardQuote.create(response=first, text="The bus is late", chosen_by="officer@example.org")
    await m.ResponseCode.create(response=first, priority_id="families", coded_by="officer@example.org")
    campaign = await m.Campaign.create(
        name="Yearly survey", conversation_id="annual-young-person", conversation_version=2027, status="done"
    )
    await m.Delivery.create(campaign=campaign, respondent=who, kind="invite", status="sent")
    await m.Session.create(
        respondent=who,
        conversation_id="annual-young-person",
        conversation_version=2027,
        response=second,
        state="{}",
    )
    alert = await m.SafeguardingAlert.create(
        response_id=first.id,
        answer_id=text.id,
        source="answer",
        category="abuse",
        severity=1,
        matched="en.abuse.01",
        words=WORDS,
        language="en",
    )
    return Held(who, first, second, voice, alert)


async def admin_user(admin: Admin) -> m.AdminUser:
    user = await make_user("boss@example.org", "admin")
    await sign_in(admin, user)
    return user


async def test_an_admin_erases_a_person_as_delete_does(admin: Admin) -> None:
    h = await held()
    bystander = await person()
    kept = await m.Response.create(
        respondent=bystander,
        conversation_id="feedback",
        conversation_version=1,
        channel="telegram",
        language="en",
        status="submitted",
    )
    await m.Answer.create(
        response=kept,
        step_id="tell-bad",
        kind="text",
        question="?",
        text="The bus is late",
        language="en",
        label="",
    )
    boss = await admin_user(admin)
    await (await admin.client.get("/responses?q=uncle")).text()  # the search copy has their words now

    page = await (await admin.client.get(f"/responses/{h.second.ref}")).text()
    assert f'href="/responses/{h.second.ref}/erase"' in page and "Erase this person&#39;s data" in page
    page = html.unescape(await (await admin.client.get(f"/responses/{h.second.ref}/erase")).text())
    for words in (
        "Erase this person's data",
        h.person.ref,
        "What is deleted",
        "What is kept",
        "If they message the bot again",
        "They start afresh",
        "You cannot undo this.",
        "the recordings of their voice answers",
        "with the words that raised them",
    ):
        assert words in page, words
    counts = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    for row in (
        "Responses 2",
        "Answers 2",
        "Voice recordings 1",
        "Messages we sent them 1",
        "Safeguarding concerns (kept) 1",
    ):
        assert row in counts, row

    reply = await admin.post(
        f"/responses/{h.second.ref}/erase",
        {"person": h.person.ref},
        form_page=f"/responses/{h.second.ref}/erase",
    )
    assert reply.status == 303 and reply.headers["Location"] == f"/erased/{h.person.ref}"

    assert not await m.Respondent.filter(id=h.person.id).exists()
    assert not await m.Response.filter(id__in=[h.first.id, h.second.id]).exists()
    assert not await m.Answer.filter(response_id__in=[h.first.id, h.second.id]).exists()
    assert not await m.VoiceClip.filter(answer_id=h.voice.id).exists()
    assert not await m.Delivery.filter(respondent_id=h.person.id).exists()
    assert not await m.Session.filter(respondent_id=h.person.id).exists()
    for model in (m.ResponseNote, m.BoardQuote, m.ResponseCode):
        assert not await model.filter(response_id=h.first.id).exists(), model
    alert = await m.SafeguardingAlert.get(id=h.alert.id)  # kept, with its words
    assert alert.words == WORDS and alert.response_id == h.first.id
    tomb = await m.Tombstone.get(key_hash=h.person.key_hash)
    assert tomb.last_update_id is None and tomb.deleted_at == admin.clock.now
    assert (
        await m.Response.filter(id=kept.id).exists() and await m.Respondent.filter(id=bystander.id).exists()
    )

    event = await m.AuditEvent.get(action="erase")
    assert (event.actor, event.target, event.at) == (
        boss.email,
        f"respondent:{h.person.ref}",
        admin.clock.now,
    )
    assert event.detail == (
        "deleted 2 responses, 2 answers, 1 voice clip, 1 delivery and the person's record; "
        f"kept 1 safeguarding alert; opened from response:{h.second.ref}"
    )
    for e in await m.AuditEvent.all():
        assert "uncle" not in e.detail and "uncle" not in e.target

    # Gone from the admin's own copies: the dashboard's counts and SQLite's search copy.
    sql = Sql()
    assert not await sql.rows(
        f"SELECT 1 AS x FROM dashboard_response WHERE response_id IN ({h.first.id}, {h.second.id})"
    )
    if not sql.pg:
        assert not await sql.rows("SELECT rowid FROM answer_search WHERE text LIKE '%uncle%'")
    found = await (await admin.client.get("/responses?q=uncle")).text()
    assert h.first.ref not in found and "No responses match" in found

    done = html.unescape(await (await admin.client.get(f"/erased/{h.person.ref}")).text())
    assert "Their data has been erased" in done and h.person.ref in done and boss.email in done
    assert "they start afresh" in done and "Deleted 2 responses" in done
    assert f'href="/erased/{h.person.ref}"' in await (await admin.client.get("/audit")).text()
    alert_page = await (await admin.client.get(f"/safeguarding/{h.alert.ref}")).text()
    assert "The survey response has been deleted." in alert_page
    # The form again (a second click, or the back button): the response has gone.
    again = await admin.client.post(
        f"/responses/{h.second.ref}/erase", data={"csrf_token": await admin.csrf("/"), "person": h.person.ref}
    )
    assert again.status == 404 and "There is no response with that reference." in await again.text()
    assert await m.AuditEvent.filter(action="erase").count() == 1


async def test_officers_and_viewers_cannot_erase(admin: Admin, officer: m.AdminUser) -> None:
    h = await held()
    page = await (await admin.client.get(f"/responses/{h.first.ref}")).text()
    assert "/erase" not in page and "Erase this person" not in page
    assert (await admin.client.get(f"/responses/{h.first.ref}/erase")).status == 403
    reply = await admin.post(
        f"/responses/{h.first.ref}/erase", {"person": h.person.ref}, form_page=f"/responses/{h.first.ref}"
    )
    assert reply.status == 403 and "It needs the admin role" in await reply.text()
    await admin.post("/sign-out", {}, form_page="/")
    viewer = await make_user("viewer@example.org", "viewer")
    await sign_in(admin, viewer)
    assert (await admin.client.get(f"/responses/{h.first.ref}/erase")).status == 403
    reply = await admin.post(f"/responses/{h.first.ref}/erase", {"person": h.person.ref}, form_page="/")
    assert reply.status == 403
    assert await m.Respondent.filter(id=h.person.id).exists()
    assert await m.Response.filter(respondent_id=h.person.id).count() == 2
    forbidden = await m.AuditEvent.filter(action="forbidden").values_list("actor", "target", "detail")
    assert sorted(forbidden) == sorted(
        [(officer.email, f"/responses/{h.first.ref}/erase", "needs admin")] * 2
        + [(viewer.email, f"/responses/{h.first.ref}/erase", "needs admin")] * 2
    )
    assert not await m.AuditEvent.filter(action="erase").exists()
    assert not await m.Tombstone.all().exists()


async def test_unknown_or_forged_references_get_a_clear_404(admin: Admin) -> None:
    h = await held()
    await admin_user(admin)
    for path in (
        "/responses/not-a-ref/erase",
        f"/responses/{uuid.uuid4()}/erase",
        "/responses/" + "a" * 300 + "/erase",
    ):
        reply = await admin.client.get(path)
        assert reply.status == 404 and "There is no response with that reference." in await reply.text()
    token = await admin.csrf("/")
    reply = await admin.client.post(
        f"/responses/{uuid.uuid4()}/erase", data={"csrf_token": token, "person": h.person.ref}
    )
    assert reply.status == 404
    other = await person()
    for forged in (other.ref, "", "x" * 1000):  # a form for someone else, or none at all
        reply = await admin.client.post(
            f"/responses/{h.first.ref}/erase", data={"csrf_token": token, "person": forged}
        )
        assert reply.status == 404, forged
        assert "This form is not for the person who gave this response" in html.unescape(await reply.text())
    no_token = await admin.client.post(f"/responses/{h.first.ref}/erase", data={"person": h.person.ref})
    assert no_token.status == 403
    assert (await admin.client.get(f"/erased/{other.ref}")).status == 404
    assert (await admin.client.get("/erased/" + "b" * 300)).status == 404
    assert (
        await m.Respondent.filter(id=h.person.id).exists() and await m.Respondent.filter(id=other.id).exists()
    )
    assert not await m.AuditEvent.filter(action="erase").exists()


async def test_an_anonymous_response_has_nobody_to_erase(admin: Admin) -> None:
    response = await m.Response.create(
        conversation_id="feedback",
        conversation_version=1,
        channel="telegram",
        language="en",
        status="submitted",
    )  # cut loose when sent
    await m.Answer.create(
        response=response,
        step_id="tell-bad",
        kind="text",
        question="?",
        text="Too slow",
        language="en",
        label="",
    )
    await admin_user(admin)
    page = html.unescape(await (await admin.client.get(f"/responses/{response.ref}")).text())
    assert "There is nobody to erase" in page and f"/responses/{response.ref}/erase" not in page
    reply = await admin.client.get(f"/responses/{response.ref}/erase")
    page = " ".join(html.unescape(await reply.text()).split())
    assert reply.status == 200 and "There is nobody to erase" in page and "answered anonymously" in page
    assert "<form" not in page.split("<main", 1)[1].split("</main>", 1)[0]
    reply = await admin.post(f"/responses/{response.ref}/erase", {"person": ""}, form_page="/")
    assert reply.status == 409 and "There is nobody to erase" in await reply.text()
    assert await m.Answer.filter(response_id=response.id).count() == 1
    assert not await m.AuditEvent.filter(action="erase").exists() and not await m.Tombstone.all().exists()


async def test_an_admin_erasure_goes_into_the_erasure_log(admin: Admin, tmp_path: Path) -> None:
    """Outside the database, so that restoring an older backup cannot bring the person back (R20)."""
    h = await held()
    await admin_user(admin)
    log_path = tmp_path / "voices-erasures.log"
    assert not log_path.exists()
    page = f"/responses/{h.first.ref}/erase"
    reply = await admin.post(page, {"person": h.person.ref}, form_page=page)
    assert reply.status == 303 and not await m.Respondent.filter(id=h.person.id).exists()
    raw = log_path.read_text(encoding="ascii")
    assert [json.loads(line) for line in raw.splitlines()] == [
        {"key_hash": h.person.key_hash, "at": admin.clock.now.isoformat()}
    ]
    assert datetime.fromisoformat(json.loads(raw)["at"]) == (await m.Tombstone.get()).deleted_at
    for secret in (h.person.ref, str(h.person.chat_id), "uncle", "boss@example.org"):
        assert secret not in raw, secret
