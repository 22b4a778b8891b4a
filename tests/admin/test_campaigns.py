"""Campaigns in the admin (issue 6): create, preview, schedule, pause, resume, cancel, live figures.

Roles (a viewer may only look), malformed and forged forms (a clear error summary, never a 500),
and the audit log (who, what and the campaign's id; never the message text).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from markupsafe import escape

from admin.keys import VOICES
from core.languages import LANGUAGES
from core.storage import campaigns as store
from core.storage import models as m
from tests.admin.conftest import LONDON, Admin, by_first, later, make_user, person, sign_in, table

SURVEY = "annual-parent"
SECRET_WORDS = "Only-in-the-invitation 7f3a"


def campaign_form(name: str = "Yearly survey 2027", **more: str | list[str]) -> list[tuple[str, str]]:
    fields: dict[str, str | list[str]] = {
        "name": name,
        "conversation": SURVEY,
        "reminder_days": "7",
        "action": "save",
        **more,
    }
    pairs: list[tuple[str, str]] = []
    for key, value in fields.items():
        pairs += [(key, v) for v in value] if isinstance(value, list) else [(key, value)]
    return pairs


async def create(admin: Admin, **more: str | list[str]) -> m.Campaign:
    response = await admin.submit("/campaigns/new", campaign_form(**more))
    assert response.status == 303, await response.text()
    ident = int(response.headers["Location"].rsplit("/", 1)[1])
    return await m.Campaign.get(id=ident)


async def status(campaign: m.Campaign) -> str:
    await campaign.refresh_from_db()
    return campaign.status


async def actions(campaign: m.Campaign) -> list[str]:
    events = await m.AuditEvent.filter(target=f"campaign:{campaign.id}").order_by("id")
    return [e.action for e in events]


# ---- create, preview, change ---------------------------------------------------------------------


async def test_create_a_campaign_and_see_who_it_reaches(admin: Admin, officer: m.AdminUser) -> None:
    await person("en", "parent-carer")
    await person("ur", "parent-carer")
    await person("pl", "young-person", "16-18")
    await person("en", "parent-carer", contact=False)  # said no to messages: never counted
    page = await (await admin.client.get("/campaigns/new")).text()
    assert "This reaches <strong>3 people</strong> now." in page
    assert 'lang="ur" dir="rtl"' in page and 'lang="pl" dir="ltr"' in page  # the text boxes
    counted = await admin.submit("/campaigns/new", campaign_form(role=["parent-carer"], action="count"))
    assert counted.status == 200 and "This reaches <strong>2 people</strong> now." in await counted.text()
    assert await m.Campaign.all().count() == 0  # counting saves nothing

    campaign = await create(
        admin,
        role=["parent-carer"],
        language=["en", "ur"],
        reminder_days="5",
        **{"invitation-ur": "  " + SECRET_WORDS + "\r\nسلام  ", "reminder-en": "Please answer."},
    )
    version = admin.client.app[VOICES].conversations[SURVEY].version
    assert (campaign.kind, campaign.status, campaign.conversation_id, campaign.conversation_version) == (
        "survey",
        "draft",
        SURVEY,
        version,
    )
    assert campaign.audience == {"roles": ["parent-carer"], "languages": ["en", "ur"], "age_bands": []}
    assert campaign.invitation == {"ur": SECRET_WORDS + "\nسلام"} and campaign.reminder == {
        "en": "Please answer."
    }
    assert campaign.reminder_days == 5 and campaign.created_by == officer.email
    event = await m.AuditEvent.get(target=f"campaign:{campaign.id}")
    assert (event.action, event.actor) == ("campaign-created", officer.email)
    assert SECRET_WORDS not in event.detail and SECRET_WORDS not in event.target

    page = await (await admin.client.get(f"/campaigns/{campaign.id}")).text()
    assert "2 people who said yes to messages" in page
    assert "Your own text in Urdu; the standard text in the other languages" in page
    assert "After 5 days" in page and "Nothing has been sent yet." in page
    listed = await (await admin.client.get("/campaigns")).text()
    assert f'href="/campaigns/{campaign.id}"' in listed and "Draft" in listed


async def test_preview_shows_every_language_exactly_as_sent(admin: Admin, officer: m.AdminUser) -> None:
    campaign = await create(admin, **{"invitation-pl": "Zapraszamy <b>teraz</b>", "reminder-ar": "تذكير"})
    page = await (await admin.client.get(f"/campaigns/{campaign.id}/preview")).text()
    voices = admin.client.app[VOICES]
    for lang in LANGUAGES:
        assert f'id="lang-{lang.code}"' in page, lang.code
        assert f'lang="{lang.code}" dir="{"rtl" if lang.rtl else "ltr"}"' in page, lang.code
        for kind in ("invite", "reminder"):
            say = voices.outreach_message(kind, lang.code, campaign)
            assert str(escape(say.text)) in page, (lang.code, kind)
            for button in say.buttons:
                assert f"<strong>{escape(button.label)}</strong>" in page
    assert "Zapraszamy &lt;b&gt;teraz&lt;/b&gt;" in page and "<b>teraz" not in page
    assert page.count("Your text") == 2 and page.count("Standard text") == 2 * len(LANGUAGES) - 2


async def test_a_draft_can_be_changed(admin: Admin, officer: m.AdminUser) -> None:
    campaign = await create(admin)
    form = await (await admin.client.get(f"/campaigns/{campaign.id}/edit")).text()
    assert 'value="Yearly survey 2027"' in form
    changed = await admin.submit(
        f"/campaigns/{campaign.id}/edit",
        campaign_form("Renamed", language=["so"], **{"invitation-so": "Soo dhawoow"}),
    )
    assert changed.status == 303
    await campaign.refresh_from_db()
    assert campaign.name == "Renamed" and campaign.audience["languages"] == ["so"]
    event = await m.AuditEvent.get(action="campaign-changed")
    assert event.detail == "changed: name, audience, invitation" and "Soo" not in event.detail


# ---- schedule, pause, resume, cancel ---------------------------------------------------------------


async def test_schedule_unschedule_launch_pause_resume_cancel(admin: Admin, officer: m.AdminUser) -> None:
    await person("en")
    campaign = await create(admin)
    path = f"/campaigns/{campaign.id}"
    page = await (await admin.client.get(f"{path}/schedule")).text()
    assert "When should it start sending?" in page
    fields, at = later(admin)
    response = await admin.submit(f"{path}/schedule", fields)
    assert response.status == 303 and response.headers["Location"] == path
    await campaign.refresh_from_db()
    assert campaign.status == "scheduled" and campaign.scheduled_at == at
    shown = await (await admin.client.get(path)).text()
    local = at.astimezone(LONDON)
    assert f"{local.day} {local.strftime('%B %Y')} at 10am (UK time)" in shown

    refused = await admin.submit(f"{path}/edit", campaign_form("Too late"), form_page=path)
    assert refused.status == 409 and "Unschedule this campaign first" in await refused.text()
    assert (await admin.submit(f"{path}/unschedule", [], form_page=path)).status == 303
    assert await status(campaign) == "draft"

    response = await admin.submit(f"{path}/schedule", [("when", "now")])
    assert response.status == 303
    await campaign.refresh_from_db()
    assert campaign.status == "scheduled" and campaign.scheduled_at == admin.clock.now
    assert await store.launch(campaign.id, admin.clock.now) == 1  # what the sender does when it is time
    assert await status(campaign) == "sending"

    refused = await admin.submit(f"{path}/unschedule", [], form_page=path)
    assert refused.status == 409 and "you can pause it instead" in await refused.text()
    assert (await admin.submit(f"{path}/pause", [], form_page=path)).status == 303
    assert await status(campaign) == "paused"
    assert (await admin.submit(f"{path}/pause", [], form_page=path)).status == 409
    assert (await admin.submit(f"{path}/resume", [], form_page=path)).status == 303
    assert await status(campaign) == "sending"
    confirm = await (await admin.client.get(f"{path}/cancel")).text()
    assert "Are you sure you want to cancel this campaign?" in confirm
    assert (await admin.submit(f"{path}/cancel", [], form_page=path)).status == 303
    assert await status(campaign) == "cancelled"
    assert await m.Delivery.filter(campaign_id=campaign.id, status="skipped").count() == 1  # the pending one
    again = await admin.submit(f"{path}/resume", [], form_page=path)
    assert again.status == 409 and "There is a problem" in await again.text()
    assert await actions(campaign) == [
        "campaign-created",
        "campaign-scheduled",
        "campaign-unscheduled",
        "campaign-scheduled",
        "campaign-paused",
        "campaign-resumed",
        "campaign-cancelled",
    ]
    events = await m.AuditEvent.filter(target=f"campaign:{campaign.id}")
    assert all(e.actor == officer.email for e in events)
    assert {e.detail for e in events if e.action == "campaign-paused"} == {"sending to paused"}


async def test_a_changed_survey_must_be_saved_again_before_scheduling(
    admin: Admin, officer: m.AdminUser
) -> None:
    campaign = await create(admin)
    await m.Campaign.filter(id=campaign.id).update(conversation_version=1999)
    page = await (await admin.client.get(f"/campaigns/{campaign.id}")).text()
    assert "The survey has changed since this campaign was made" in page
    response = await admin.submit(f"/campaigns/{campaign.id}/schedule", [("when", "now")])
    assert response.status == 400 and "Change the campaign and save it again" in await response.text()
    assert await status(campaign) == "draft"


# ---- figures ---------------------------------------------------------------------------------------


async def test_live_figures_in_all_by_language_and_by_who_answered(
    admin: Admin, officer: m.AdminUser
) -> None:
    version = admin.client.app[VOICES].conversations[SURVEY].version
    campaign = await m.Campaign.create(
        name="Wave", conversation_id=SURVEY, conversation_version=version, status="sending", reminder_days=7
    )
    finished, started, waiting = await person("en"), await person("ur"), await person("pl", "young-person")
    blocked, failed, unsure = await person("en"), await person("en"), await person("ur")
    queued = await person("pl", "young-person")
    for who, state in (
        (finished, "sent"),
        (started, "sent"),
        (waiting, "sent"),
        (blocked, "blocked"),
        (failed, "failed"),
        (unsure, "unknown"),
        (queued, "pending"),
    ):
        await m.Delivery.create(
            campaign=campaign, respondent=who, kind="invite", status=state, language=who.language
        )
    await m.Delivery.create(
        campaign=campaign, respondent=started, kind="reminder", status="sent", language="ur"
    )
    # The unknown invitation did arrive: that person finished (so the rate counts unknown ones too).
    for who, state in ((finished, "submitted"), (started, "in-progress"), (unsure, "submitted")):
        await m.Response.create(
            respondent=who,
            conversation_id=SURVEY,
            conversation_version=version,
            channel="telegram",
            language=who.language,
            status=state,
        )
    await m.Response.create(
        respondent=waiting,
        conversation_id=SURVEY,
        conversation_version=version - 1,
        channel="telegram",
        language="pl",
        status="submitted",
    )  # last year's wave
    page = await (await admin.client.get(f"/campaigns/{campaign.id}")).text()
    total = by_first(table(page, "figures-total"))
    assert {k: v[0] for k, v in total.items()} == {
        "Invited": "3",
        "Started": "3",
        "Finished": "2",
        "Response rate": "50%",
        "Reminders sent": "1",
        "Waiting to send": "1",
        "Blocked": "1",
        "Failed": "1",
        "Unknown": "1",
        "Skipped": "0",
    }
    assert "may or may not have arrived" in total["Unknown"][1] and "never sent twice" in total["Unknown"][1]
    assert table(page, "figures-language")[0] == [
        "Language",
        "Invited",
        "Started",
        "Finished",
        "Response rate",
        "Reminders sent",
    ]
    assert table(page, "figures-language-problems")[0] == [
        "Language",
        "Waiting to send",
        "Blocked",
        "Failed",
        "Unknown",
    ]
    languages = by_first(table(page, "figures-language"))
    problems = by_first(table(page, "figures-language-problems"))
    assert languages["English"] == ["1", "1", "1", "100%", "0"] and problems["English"] == [
        "0",
        "1",
        "1",
        "0",
    ]
    assert languages["Urdu"] == ["1", "2", "1", "50%", "1"] and problems["Urdu"] == ["0", "0", "0", "1"]
    assert languages["Polish"] == ["1", "0", "0", "0%", "0"] and problems["Polish"] == ["1", "0", "0", "0"]
    roles = by_first(table(page, "figures-role"))
    assert roles["Parent or carer"][:4] == ["2", "3", "2", "67%"]
    assert roles["Young person"][:4] == ["1", "0", "0", "0%"]
    assert 'href="/campaigns/' + str(campaign.id) + '#figures"' in page  # Refresh: counted on every load

    await m.Response.filter(respondent_id=started.id).update(status="submitted")
    again = by_first(
        table(await (await admin.client.get(f"/campaigns/{campaign.id}")).text(), "figures-total")
    )
    assert again["Finished"][0] == "3" and again["Response rate"][0] == "75%"
    listed = await (await admin.client.get("/campaigns")).text()
    assert "75%" in listed and "Sending" in listed


# ---- roles, bad input, forged forms ------------------------------------------------------------------


async def test_a_viewer_may_look_but_not_change(admin: Admin) -> None:
    campaign = await m.Campaign.create(
        name="Look only", conversation_id=SURVEY, conversation_version=1, status="sending"
    )
    viewer = await make_user("viewer@example.org", "viewer")
    await sign_in(admin, viewer)
    path = f"/campaigns/{campaign.id}"
    for page in ("/campaigns", path, f"{path}/preview"):
        response = await admin.client.get(page)
        assert response.status == 200, page
    listed = await (await admin.client.get("/campaigns")).text()
    assert "Create a campaign" not in listed
    for page in ("/campaigns/new", f"{path}/edit", f"{path}/schedule", f"{path}/cancel"):
        assert (await admin.client.get(page)).status == 403, page
    for action in (
        "new",
        f"{campaign.id}/edit",
        f"{campaign.id}/schedule",
        f"{campaign.id}/pause",
        f"{campaign.id}/resume",
        f"{campaign.id}/cancel",
        f"{campaign.id}/unschedule",
    ):
        response = await admin.submit(f"/campaigns/{action}", campaign_form(), form_page="/campaigns")
        assert response.status == 403, action
    assert await status(campaign) == "sending" and await m.Campaign.all().count() == 1
    assert await m.AuditEvent.filter(action="forbidden", actor=viewer.email).count() == 11


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "Enter a name for the campaign"),
        ({"name": "x" * 201}, "The name must be 200 characters or fewer"),
        ({"conversation": "not-a-survey"}, "Choose the survey to invite people to"),
        ({"conversation": "welcome"}, "Choose the survey to invite people to"),
        ({"role": ["parent-carer", "king"]}, "Who answered: choose from the list"),
        ({"language": ["xx"]}, "Language: choose from the list"),
        ({"age_band": ["99-100"]}, "Age: choose from the list"),
        ({"invitation-en": "x" * 4001}, "The invitation in English must be 4,000 characters or fewer"),
        ({"reminder-ar": "ب" * 4001}, "The reminder in Arabic must be 4,000 characters or fewer"),
        ({"reminder_days": "31"}, "whole number of days from 0 to 30"),
        ({"reminder_days": "-1"}, "whole number of days from 0 to 30"),
        ({"reminder_days": "seven"}, "whole number of days from 0 to 30"),
        ({"reminder_days": "9" * 40}, "whole number of days from 0 to 30"),
    ],
)
async def test_malformed_campaign_forms_get_an_error_summary(
    admin: Admin, officer: m.AdminUser, change: dict[str, str | list[str]], message: str
) -> None:
    response = await admin.submit("/campaigns/new", campaign_form(**change))
    assert response.status == 400
    page = await response.text()
    assert "There is a problem" in page and message in page and "govuk-error-summary" in page
    assert await m.Campaign.all().count() == 0


def _spring_forward(after: date) -> date:
    """A day the UK clocks go forward (the last Sunday in March) after ``after``."""
    day = date(after.year + 1, 3, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([], "Choose when to send it"),
        ([("when", "tomorrow")], "Choose when to send it"),
        ([("when", "later"), ("time", "9am")], "Enter the date to send it"),
        (
            [
                ("when", "later"),
                ("date-day", "31"),
                ("date-month", "2"),
                ("date-year", "2030"),
                ("time", "9am"),
            ],
            "The date must be a real date",
        ),
        (
            [
                ("when", "later"),
                ("date-day", "1"),
                ("date-month", "1"),
                ("date-year", "99999999999"),
                ("time", "9am"),
            ],
            "The date must be a real date",
        ),
        (
            [
                ("when", "later"),
                ("date-day", "1"),
                ("date-month", "1"),
                ("date-year", "2020"),
                ("time", "9am"),
            ],
            "The date and time must be in the future",
        ),
        (
            [
                ("when", "later"),
                ("date-day", "1"),
                ("date-month", "1"),
                ("date-year", "2099"),
                ("time", "9am"),
            ],
            "The date must be within the next 2 years",
        ),
        ("later-bad-time", "The time must be a real time"),
        ("later-no-time", "Enter the time to send it"),
        ("spring-forward", "because the clocks go forward"),
    ],
)
async def test_malformed_schedules_get_an_error_summary(
    admin: Admin, officer: m.AdminUser, fields: list[tuple[str, str]] | str, message: str
) -> None:
    campaign = await create(admin)
    if isinstance(fields, str):
        good, _ = later(admin)
        day = _spring_forward(admin.clock.now.date())
        fields = {
            "later-bad-time": [*good[:4], ("time", "25:61")],
            "later-no-time": good[:4],
            "spring-forward": [
                ("when", "later"),
                ("date-day", str(day.day)),
                ("date-month", "3"),
                ("date-year", str(day.year)),
                ("time", "1:30am"),
            ],
        }[fields]
    response = await admin.submit(f"/campaigns/{campaign.id}/schedule", fields)
    assert response.status == 400
    page = await response.text()
    assert "There is a problem" in page and message in page
    assert await status(campaign) == "draft"


async def test_the_time_is_uk_time_stored_in_utc(admin: Admin, officer: m.AdminUser) -> None:
    campaign = await create(admin)
    fields, at = later(admin, days=3, hour=14, minute=5)
    fields[-1] = ("time", "14:05")
    assert (await admin.submit(f"/campaigns/{campaign.id}/schedule", fields)).status == 303
    await campaign.refresh_from_db()
    assert campaign.scheduled_at == at
    assert campaign.scheduled_at.astimezone(LONDON).strftime("%H:%M") == "14:05"


async def test_unknown_ids_and_forged_forms(admin: Admin, officer: m.AdminUser) -> None:
    for path in (
        "/campaigns/999999",
        "/campaigns/abc",
        "/campaigns/" + "9" * 30,
        "/campaigns/999999/preview",
        "/campaigns/-1/edit",
    ):
        response = await admin.client.get(path)
        assert response.status == 404, path
        assert "There is no campaign with that number." in await response.text(), path
    assert (await admin.submit("/campaigns/999999/pause", [], form_page="/campaigns")).status == 404
    campaign = await create(admin)
    forged = await admin.client.post(
        f"/campaigns/{campaign.id}/cancel", data={"csrf_token": "forged"}, allow_redirects=False
    )
    assert forged.status == 403
    other_site = await admin.client.post(
        f"/campaigns/{campaign.id}/cancel",
        data={"csrf_token": await admin.csrf("/campaigns")},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert other_site.status == 403
    assert (
        await admin.client.get(f"/campaigns/{campaign.id}/pause")
    ).status == 405  # GET never changes state
    assert await status(campaign) == "draft"
    extra = await admin.submit(
        "/campaigns/new", campaign_form(status="sending", kind="bulletin", created_by="x")
    )
    assert extra.status == 303  # extra fields are ignored (no mass assignment)
    made = await m.Campaign.get(id=int(extra.headers["Location"].rsplit("/", 1)[1]))
    assert (made.status, made.kind, made.created_by) == ("draft", "survey", "officer@example.org")


async def test_files_and_nul_characters_do_not_break_the_form(admin: Admin, officer: m.AdminUser) -> None:
    campaign = await create(admin, **{"invitation-en": "Hello\x00 there"})
    assert campaign.invitation == {"en": "Hello there"}
    assert (await admin.client.get(f"/campaigns/{campaign.id}/preview")).status == 200
    token = await admin.csrf("/campaigns/new")
    from aiohttp import FormData

    data = FormData()
    data.add_field("csrf_token", token)
    data.add_field("name", b"binary", filename="name.txt", content_type="text/plain")
    data.add_field("conversation", SURVEY)
    response = await admin.client.post("/campaigns/new", data=data, allow_redirects=False)
    assert response.status == 400 and "Enter a name for the campaign" in await response.text()


async def test_figures_for_a_campaign_nobody_was_sent(admin: Admin, officer: m.AdminUser) -> None:
    campaign = await m.Campaign.create(
        name="Quiet",
        conversation_id=SURVEY,
        conversation_version=1,
        status="done",
        finished_at=datetime.now(UTC),
    )
    page = await (await admin.client.get(f"/campaigns/{campaign.id}")).text()
    assert "Nothing has been sent yet." in page and "Finished" in page
