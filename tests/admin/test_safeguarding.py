"""The safeguarding queue in the admin (issue 5 part 3; SECURITY.md S6, S9, A9, A10, A18)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from core.storage import models as m
from tests.admin.conftest import Admin, make_user, sign_in

XSS = '<script>alert(1)</script><img src=x onerror=alert(2)></textarea>'


async def alert(minutes_ago: float = 0, **fields: Any) -> m.SafeguardingAlert:
    created = await m.SafeguardingAlert.create(**{"source": "answer", "category": "self-harm", "severity": 1,
                                                  "language": "pl", "age_band": "13-15", **fields})
    if minutes_ago:
        at = created.created_at - timedelta(minutes=minutes_ago)
        await m.SafeguardingAlert.filter(id=created.id).update(created_at=at)
    return await m.SafeguardingAlert.get(id=created.id)


def refs_in_order(page: str) -> list[str]:
    return re.findall(r'href="/safeguarding/([0-9a-f-]{36})"', page)


async def test_queue_lists_unacknowledged_first_then_newest(admin: Admin, officer: m.AdminUser) -> None:
    old_new = await alert(minutes_ago=50)
    recent_done = await alert(minutes_ago=1, acknowledged_by="x@example.org")
    await m.SafeguardingAlert.filter(id=recent_done.id).update(acknowledged_at=recent_done.created_at)
    older_done = await alert(minutes_ago=30, acknowledged_by="y@example.org", outcome="ok",
                             outcome_by="y@example.org")
    await m.SafeguardingAlert.filter(id=older_done.id).update(acknowledged_at=older_done.created_at,
                                                              outcome_at=older_done.created_at)
    new = await alert(minutes_ago=5, category="request", source="request")
    page = await (await admin.client.get("/safeguarding")).text()
    assert refs_in_order(page) == [new.ref, old_new.ref, recent_done.ref, older_done.ref]
    for words in ("Self-harm", "Asked to talk to a person", "High", "Polish", "13 to 15", "New",
                  "Acknowledged by <span class=\"app-break\">x@example.org</span> at", "Outcome recorded"):
        assert words in page, words
    assert "2 safeguarding concerns need an officer." in page  # the banner
    event = await m.AuditEvent.get(action="view", target="safeguarding")
    assert event.actor == officer.email


async def test_empty_queue(admin: Admin, officer: m.AdminUser) -> None:
    page = await (await admin.client.get("/safeguarding")).text()
    assert "There are no concerns waiting for an officer." in page
    assert "need an officer." not in page and "not been sent" not in page


async def test_detail_acknowledge_and_outcome_are_recorded_and_audited(admin: Admin,
                                                                      officer: m.AdminUser) -> None:
    response = await m.Response.create(conversation_id="feedback", conversation_version=1, channel="telegram",
                                       language="pl")
    a = await alert(response_id=response.id, matched="pl.self-harm.04")
    page = await (await admin.client.get(f"/safeguarding/{a.ref}")).text()
    assert f'href="/responses/{response.ref}"' in page and "pl.self-harm.04" in page
    assert "Nobody has acknowledged this concern yet" in page
    admin.clock.advance(minutes=3)
    reply = await admin.post(f"/safeguarding/{a.ref}/acknowledge", {}, form_page=f"/safeguarding/{a.ref}")
    assert reply.status == 303 and reply.headers["Location"] == f"/safeguarding/{a.ref}#acknowledgement"
    a = await m.SafeguardingAlert.get(id=a.id)
    assert a.acknowledged_by == officer.email and a.acknowledged_at == admin.clock.now
    reply = await admin.post(f"/safeguarding/{a.ref}/outcome", {"outcome": "Referred to the MASH."},
                             form_page=f"/safeguarding/{a.ref}")
    assert reply.status == 303
    a = await m.SafeguardingAlert.get(id=a.id)
    assert (a.outcome, a.outcome_by) == ("Referred to the MASH.", officer.email)
    assert a.outcome_at == admin.clock.now
    again = await admin.post(f"/safeguarding/{a.ref}/outcome", {"outcome": "Changed"},
                             form_page=f"/safeguarding/{a.ref}")
    assert again.status == 400 and (await m.SafeguardingAlert.get(id=a.id)).outcome == "Referred to the MASH."
    events = await m.AuditEvent.filter(target=f"alert:{a.ref}").order_by("id").values_list("action", "detail")
    assert ("acknowledge", "") in events and ("outcome", "21 characters") in events
    assert [e[0] for e in events].count("outcome") == 1 and events[0] == ("view", "")
    details = " ".join(d for _, d in events)
    assert "MASH" not in details


async def test_outcome_is_required_and_limited(admin: Admin, officer: m.AdminUser) -> None:
    a = await alert()
    for text, problem in (("   ", "Enter what was done"), ("x" * 2001, "2,000 characters or fewer")):
        reply = await admin.post(f"/safeguarding/{a.ref}/outcome", {"outcome": text},
                                 form_page=f"/safeguarding/{a.ref}")
        body = await reply.text()
        assert reply.status == 400 and problem in body and "There is a problem" in body
    reply = await admin.post(f"/safeguarding/{a.ref}/outcome", {"outcome": "y" * 2000},
                             form_page=f"/safeguarding/{a.ref}")
    assert reply.status == 303
    stored = await m.SafeguardingAlert.get(id=a.id)
    assert len(stored.outcome or "") == 2000
    assert stored.acknowledged_by == officer.email  # an outcome acknowledges it too


async def test_script_in_an_outcome_is_shown_as_text(admin: Admin, officer: m.AdminUser) -> None:
    a = await alert()
    await admin.post(f"/safeguarding/{a.ref}/outcome", {"outcome": XSS}, form_page=f"/safeguarding/{a.ref}")
    page = await (await admin.client.get(f"/safeguarding/{a.ref}")).text()
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert html.escape(XSS, quote=False) in page or html.escape(XSS) in page


async def test_viewer_gets_403_and_it_is_logged(admin: Admin) -> None:
    a = await alert()
    viewer = await make_user("viewer@example.org", "viewer")
    await sign_in(admin, viewer)
    assert (await admin.client.get("/safeguarding")).status == 403
    assert (await admin.client.get(f"/safeguarding/{a.ref}")).status == 403
    reply = await admin.post(f"/safeguarding/{a.ref}/acknowledge", {}, form_page="/")
    assert reply.status == 403
    assert (await m.SafeguardingAlert.get(id=a.id)).acknowledged_at is None
    assert await m.AuditEvent.filter(action="forbidden", actor=viewer.email).count() == 3
    page = await (await admin.client.get("/")).text()
    assert 'href="/safeguarding"' not in page  # no menu entry, no link in the banner
    assert "1 safeguarding concern needs an officer." in page


async def test_admin_can_act_too(admin: Admin) -> None:
    a = await alert()
    await sign_in(admin, await make_user("boss@example.org", "admin"))
    reply = await admin.post(f"/safeguarding/{a.ref}/acknowledge", {}, form_page=f"/safeguarding/{a.ref}")
    assert reply.status == 303
    assert (await m.SafeguardingAlert.get(id=a.id)).acknowledged_by == "boss@example.org"


async def test_acknowledge_needs_the_csrf_token_and_a_post(admin: Admin, officer: m.AdminUser) -> None:
    a = await alert()
    no_token = await admin.client.post(f"/safeguarding/{a.ref}/acknowledge", data={}, allow_redirects=False)
    wrong = await admin.client.post(f"/safeguarding/{a.ref}/outcome",
                                    data={"csrf_token": "x", "outcome": "y"})
    cross = await admin.client.post(f"/safeguarding/{a.ref}/acknowledge", data={"csrf_token": "x"},
                                    headers={"Origin": "https://evil.example"})
    assert (no_token.status, wrong.status, cross.status) == (403, 403, 403)
    assert (await admin.client.get(f"/safeguarding/{a.ref}/acknowledge")).status == 405
    stored = await m.SafeguardingAlert.get(id=a.id)
    assert stored.acknowledged_at is None and stored.outcome is None


async def test_unknown_reference_is_404(admin: Admin, officer: m.AdminUser) -> None:
    assert (await admin.client.get("/safeguarding/not-a-ref")).status == 404
    assert (await admin.client.get("/safeguarding/" + "a" * 300)).status == 404


async def test_undelivered_banner_on_every_signed_in_page(admin: Admin, officer: m.AdminUser) -> None:
    a = await alert(attempts=3, last_error="e-mail: ConnectionRefusedError")
    await alert(attempts=1, last_error="telegram: RetryAfter")
    await alert(attempts=2, notified_at=a.created_at)  # delivered in the end: not counted
    for path in ("/", "/responses", "/safeguarding", f"/safeguarding/{a.ref}", "/nowhere"):
        page = await (await admin.client.get(path)).text()
        assert "2 safeguarding alerts have not been sent. Check the alert settings." in \
            re.sub(r"<[^>]+>", "", page), path
        assert "3 safeguarding concerns need an officer." in re.sub(r"<[^>]+>", "", page), path
    detail = await (await admin.client.get(f"/safeguarding/{a.ref}")).text()
    assert "3 failed attempts (e-mail: ConnectionRefusedError)" in detail
    await admin.post("/sign-out", {}, form_page="/")
    signed_out = await (await admin.client.get("/sign-in")).text()
    assert "not been sent" not in signed_out and "need an officer" not in signed_out
