"""Campaign storage on SQLite and PostgreSQL: audiences, exactly-once deliveries, reminders, figures."""

from __future__ import annotations

import asyncio
import datetime as dt

from core.storage import campaigns as c
from core.storage import models as m

NOW = dt.datetime(2027, 3, 1, 10, 0, tzinfo=dt.UTC)


async def person(n: int, *, contact: bool = True, language: str = "en", role: str = "parent-carer",
                 consent: str = "yes", chat: int | None = None, channel: str = "telegram") -> m.Respondent:
    return await m.Respondent.create(channel=channel, key_hash=f"{n:064d}", chat_id=chat or 1000 + n,
                                     language=language, role=role, consent=consent, contact_ok=contact)


async def campaign(**values: object) -> m.Campaign:
    defaults: dict[str, object] = {"name": "Annual survey 2027", "conversation_id": "annual-parent",
                                   "conversation_version": 2027, "status": "scheduled", "scheduled_at": NOW,
                                   "invitation": {"en": "Please tell us"}, "reminder_days": 7}
    return await m.Campaign.create(**{**defaults, **values})


async def test_launch_reaches_only_people_who_agreed(db: str) -> None:
    await person(1)
    await person(2, language="pl")
    await person(3, contact=False)
    await person(4, consent="no")
    await person(5, channel="terminal")
    blocked = await person(6)
    blocked.blocked_at = NOW
    await blocked.save()
    camp = await campaign()
    assert await c.audience_size({}) == 2
    assert await c.launch(camp.id, NOW) == 2
    rows = await m.Delivery.filter(campaign_id=camp.id).order_by("id") \
        .values_list("kind", "status", "language")
    assert rows == [("invite", "pending", "en"), ("invite", "pending", "pl")]
    assert (await m.Campaign.get(id=camp.id)).status == "sending"


async def test_audience_filters_by_language_role_and_age(db: str) -> None:
    await person(1, language="gu")
    await person(2, language="gu", role="young-person")
    await person(3, language="pl")
    assert await c.audience_size({"languages": ["gu"]}) == 2
    assert await c.audience_size({"languages": ["gu"], "roles": ["parent-carer"]}) == 1
    assert await c.audience_size({"age_bands": ["16-18"]}) == 0
    assert await c.audience_size({"roles": []}) == 3


async def test_launching_twice_or_from_two_processes_invites_once(db: str) -> None:
    for n in range(20):
        await person(n)
    camp = await campaign()
    made = await asyncio.gather(c.launch(camp.id, NOW), c.launch(camp.id, NOW))
    assert sorted(made) == [0, 20]
    assert await m.Delivery.filter(campaign_id=camp.id).count() == 20
    # Even a relaunch after someone set it back to scheduled adds nobody twice.
    await m.Campaign.filter(id=camp.id).update(status="scheduled")
    assert await c.launch(camp.id, NOW) == 0
    assert await m.Delivery.filter(campaign_id=camp.id).count() == 20


async def test_a_delivery_is_taken_by_one_sender_only(db: str) -> None:
    await person(1)
    camp = await campaign()
    await c.launch(camp.id, NOW)
    [out] = await c.next_batch(NOW)
    taken = await asyncio.gather(*(c.begin(out.delivery_id, NOW) for _ in range(5)))
    assert taken.count(True) == 1
    assert await c.next_batch(NOW) == []


async def test_crash_mid_send_leaves_unknown_never_resent(db: str) -> None:
    await person(1)
    camp = await campaign()
    await c.launch(camp.id, NOW)
    [out] = await c.next_batch(NOW)
    assert await c.begin(out.delivery_id, NOW)
    assert await c.recover(NOW + dt.timedelta(seconds=30)) == 0  # still within its lease
    assert await c.recover(NOW + c.LEASE + dt.timedelta(seconds=1)) == 1
    assert (await m.Delivery.get(id=out.delivery_id)).status == "unknown"
    assert await c.next_batch(NOW + dt.timedelta(hours=1)) == []


async def test_flood_control_puts_it_back_until_later(db: str) -> None:
    await person(1)
    camp = await campaign()
    await c.launch(camp.id, NOW)
    [out] = await c.next_batch(NOW)
    await c.begin(out.delivery_id, NOW)
    await c.later(out.delivery_id, NOW + dt.timedelta(seconds=5), "RetryAfter")
    assert await c.next_batch(NOW + dt.timedelta(seconds=1)) == []
    assert [o.delivery_id for o in await c.next_batch(NOW + dt.timedelta(seconds=6))] == [out.delivery_id]


async def test_blocked_stops_all_later_messages(db: str) -> None:
    who = await person(1)
    camp = await campaign()
    await c.launch(camp.id, NOW)
    [out] = await c.next_batch(NOW)
    await c.begin(out.delivery_id, NOW)
    await c.failed(out.delivery_id, "blocked", "Forbidden", NOW)
    again = await m.Respondent.get(id=who.id)
    assert (again.contact_ok, again.blocked_at is not None) == (False, True)
    assert await c.audience_size({}) == 0


async def test_reminders_once_and_only_to_those_who_did_not_finish(db: str) -> None:
    done, not_done, stopped = await person(1), await person(2), await person(3)
    camp = await campaign()
    await c.launch(camp.id, NOW)
    for out in await c.next_batch(NOW):
        await c.begin(out.delivery_id, NOW)
        await c.sent(out.delivery_id, NOW, 77)
    await m.Response.create(respondent=done, conversation_id="annual-parent", conversation_version=2027,
                            channel="telegram", language="en", status="submitted")
    await m.Response.create(respondent=not_done, conversation_id="annual-parent", conversation_version=2027,
                            channel="telegram", language="en", status="in-progress")
    await m.Respondent.filter(id=stopped.id).update(contact_ok=False)
    assert await c.queue_reminders(camp.id, NOW + dt.timedelta(days=6)) == 0  # not yet a week
    later = NOW + dt.timedelta(days=7, minutes=1)
    assert await c.queue_reminders(camp.id, later) == 1
    assert await c.queue_reminders(camp.id, later + dt.timedelta(days=30)) == 0  # never a second
    [out] = await c.next_batch(later)
    assert (out.kind, out.respondent_id) == ("reminder", not_done.id)
    figures = (await c.figures(camp.id))[""]
    assert (figures.queued, figures.sent, figures.started, figures.finished) == (3, 3, 2, 1)
    assert round(figures.rate, 2) == 0.33


async def test_figures_by_language_and_role(db: str) -> None:
    await person(1, language="gu")
    await person(2, language="pl", role="young-person")
    camp = await campaign()
    await c.launch(camp.id, NOW)
    by_language = await c.figures(camp.id, "language")
    assert sorted(by_language) == ["gu", "pl"]
    assert by_language["gu"].pending == 1
    assert sorted(await c.figures(camp.id, "role")) == ["parent-carer", "young-person"]


async def test_cancel_skips_what_is_left_and_tick_closes_finished(db: str) -> None:
    await person(1)
    await person(2)
    camp = await campaign(reminder_days=0)
    await c.tick(NOW - dt.timedelta(minutes=1))
    assert (await m.Campaign.get(id=camp.id)).status == "scheduled"  # not due yet
    await c.tick(NOW)
    assert (await m.Campaign.get(id=camp.id)).status == "sending"
    [first, _] = await c.next_batch(NOW)
    await c.begin(first.delivery_id, NOW)
    await c.sent(first.delivery_id, NOW, 5)
    assert await c.set_status(camp.id, "paused", ("sending",), NOW)
    assert await c.next_batch(NOW) == []  # paused: nothing goes
    assert not await c.set_status(camp.id, "scheduled", ("draft",), NOW)
    assert await c.set_status(camp.id, "cancelled", ("sending", "paused"), NOW)
    statuses = sorted(await m.Delivery.filter(campaign_id=camp.id).values_list("status", flat=True))
    assert statuses == ["sent", "skipped"]
    other = await campaign(name="Bulletin", kind="bulletin", reminder_days=0)
    await c.tick(NOW)
    for out in await c.next_batch(NOW):
        await c.begin(out.delivery_id, NOW)
        await c.sent(out.delivery_id, NOW, 1)
    await c.tick(NOW)
    assert (await m.Campaign.get(id=other.id)).status == "done"
    assert set(await m.Delivery.filter(campaign_id=other.id).values_list("kind", flat=True)) == {"bulletin"}


async def test_news_lists_published_bulletins_newest_first(db: str) -> None:
    await m.Bulletin.create(title="Old", texts={"en": {"text": "Old news"}}, status="published",
                            published_at=NOW - dt.timedelta(days=30))
    await m.Bulletin.create(title="Draft", texts={"en": {"text": "Not yet"}}, status="draft")
    await m.Bulletin.create(title="New", texts={"en": {"text": "New news"}, "pl": {"text": "Nowe"}},
                            status="published", published_at=NOW)
    found = await c.news()
    assert [item["texts"]["en"]["text"] for item in found] == ["New news", "Old news"]
    assert found[0]["texts"]["pl"]["text"] == "Nowe"
