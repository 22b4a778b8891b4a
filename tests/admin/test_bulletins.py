"""Bulletins ("You said, we did") in the admin (issue 6): texts per language with their review status,
links to the responses they answer, publishing (what /news shows) and sending to subscribers."""

from __future__ import annotations

import pytest
from markupsafe import escape

from admin.keys import VOICES
from core.languages import LANGUAGES
from core.storage import campaigns as store
from core.storage import models as m
from tests.admin.conftest import Admin, later, make_user, person, sign_in

ENGLISH = "You said the buses were late. We talked to the bus company."
POLISH = "Mówiliście, że autobusy się spóźniały."
URDU = "آپ نے کہا کہ بسیں دیر سے آتی تھیں۔"


async def response(language: str = "en") -> m.Response:
    return await m.Response.create(
        conversation_id="feedback",
        conversation_version=1,
        channel="telegram",
        language=language,
        role="parent-carer",
        status="submitted",
    )


def bulletin_form(title: str = "Buses", **more: str) -> list[tuple[str, str]]:
    return list({"title": title, "text-en": ENGLISH, **more}.items())


async def create(admin: Admin, **more: str) -> m.Bulletin:
    answer = await admin.submit("/bulletins/new", bulletin_form(**more))
    assert answer.status == 303, await answer.text()
    return await m.Bulletin.get(id=int(answer.headers["Location"].rsplit("/", 1)[1]))


async def test_create_with_translations_and_linked_responses(admin: Admin, officer: m.AdminUser) -> None:
    first, second, other = await response("en"), await response("ur"), await response("pl")
    page = await (await admin.client.get("/bulletins/new")).text()
    assert 'id="text-ur"' in page and 'lang="ur" dir="rtl"' in page
    refs = f"{first.ref}\n  http://127.0.0.1:8080/responses/{second.ref.upper()}#notes , {first.ref}"
    bulletin = await create(
        admin,
        **{
            "text-pl": POLISH,
            "review-pl": "reviewed",
            "text-ur": URDU,
            "review-ur": "draft",
            "review-gu": "reviewed",
            "responses": refs,
        },
    )
    assert bulletin.status == "draft" and bulletin.published_at is None
    assert bulletin.texts == {
        "en": {"text": ENGLISH, "review": "reviewed"},
        "pl": {"text": POLISH, "review": "reviewed"},
        "ur": {"text": URDU, "review": "draft"},
    }  # no Gujarati text: nothing stored
    linked = sorted(await bulletin.responses.all().values_list("ref", flat=True))
    assert linked == sorted([first.ref, second.ref]) and other.ref not in linked
    event = await m.AuditEvent.get(target=f"bulletin:{bulletin.id}")
    assert (event.action, event.actor, event.detail) == (
        "bulletin-created",
        officer.email,
        "languages en,pl,ur; 2 responses",
    )

    shown = await (await admin.client.get(f"/bulletins/{bulletin.id}")).text()
    assert f'href="/responses/{first.ref}"' in shown and f'href="/responses/{second.ref}"' in shown
    assert f'href="/responses/{other.ref}"' not in shown
    assert (
        f'<div class="govuk-inset-text" lang="ur" dir="rtl"><p class="govuk-body app-answer">{URDU}</p>'
        in shown
    )
    assert "These translations are drafts that need review by a native speaker: Urdu." in shown
    assert "No text in Gujarati: people who use Gujarati get the English text." in shown
    listed = await (await admin.client.get("/bulletins")).text()
    assert f'href="/bulletins/{bulletin.id}"' in listed and "Draft" in listed


async def test_edit_publish_and_news(admin: Admin, officer: m.AdminUser) -> None:
    kept, dropped = await response(), await response()
    bulletin = await create(admin, **{"text-pl": POLISH, "responses": f"{kept.ref} {dropped.ref}"})
    form = await (await admin.client.get(f"/bulletins/{bulletin.id}/edit")).text()
    assert kept.ref in form and str(escape(POLISH)) in form
    answer = await admin.submit(
        f"/bulletins/{bulletin.id}/edit",
        bulletin_form(
            "Buses again",
            **{"text-pl": POLISH, "review-pl": "reviewed", "text-so": "Baasaska", "responses": kept.ref},
        ),
    )
    assert answer.status == 303
    await bulletin.refresh_from_db()
    assert bulletin.title == "Buses again" and bulletin.texts["pl"]["review"] == "reviewed"
    assert await bulletin.responses.all().values_list("ref", flat=True) == [kept.ref]
    event = await m.AuditEvent.get(action="bulletin-changed")
    assert event.detail == "changed: title, text pl, text so, responses"
    assert POLISH not in event.detail and "Baasaska" not in event.detail

    assert await store.news() == []
    answer = await admin.submit(
        f"/bulletins/{bulletin.id}/publish", [], form_page=f"/bulletins/{bulletin.id}"
    )
    assert answer.status == 303
    await bulletin.refresh_from_db()
    assert bulletin.status == "published" and bulletin.published_at == admin.clock.now
    news = await store.news()
    assert [item["id"] for item in news] == [bulletin.id] and news[0]["texts"]["pl"]["text"] == POLISH
    again = await admin.submit(f"/bulletins/{bulletin.id}/publish", [], form_page=f"/bulletins/{bulletin.id}")
    assert again.status == 409 and "already been published" in await again.text()
    assert [e.action for e in await m.AuditEvent.filter(target=f"bulletin:{bulletin.id}").order_by("id")] == [
        "bulletin-created",
        "bulletin-changed",
        "bulletin-published",
    ]


async def test_send_to_subscribers_makes_a_bulletin_campaign(admin: Admin, officer: m.AdminUser) -> None:
    await person("en", "parent-carer")
    await person("pl", "parent-carer")
    await person("pl", "young-person")
    bulletin = await create(admin, **{"text-pl": POLISH, "review-pl": "reviewed"})
    path = f"/bulletins/{bulletin.id}"
    refused = await admin.submit(f"{path}/send", [("when", "now")], form_page=path)
    assert refused.status == 409 and "Publish the bulletin before you send it" in await refused.text()
    assert (await admin.client.get(f"{path}/send")).status == 409
    await admin.submit(f"{path}/publish", [], form_page=path)

    page = await (await admin.client.get(f"{path}/send")).text()
    assert "This reaches <strong>3 people</strong> now." in page
    counted = await admin.submit(f"{path}/send", [("language", "pl"), ("action", "count")])
    assert "This reaches <strong>2 people</strong> now." in await counted.text()
    answer = await admin.submit(
        f"{path}/send", [("language", "pl"), ("role", "parent-carer"), ("when", "now"), ("action", "send")]
    )
    assert answer.status == 303
    campaign = await m.Campaign.get(bulletin_id=bulletin.id)
    assert answer.headers["Location"] == f"/campaigns/{campaign.id}"
    assert (campaign.kind, campaign.status, campaign.scheduled_at) == (
        "bulletin",
        "scheduled",
        admin.clock.now,
    )
    assert campaign.audience == {"roles": ["parent-carer"], "languages": ["pl"], "age_bands": []}
    assert campaign.created_by == officer.email and campaign.reminder_days == 0
    event = await m.AuditEvent.get(action="bulletin-sent")
    assert event.target == f"bulletin:{bulletin.id}" and event.detail.startswith(
        f"campaign:{campaign.id} for "
    )
    assert await m.AuditEvent.filter(action="campaign-created", target=f"campaign:{campaign.id}").count() == 1
    assert await store.launch(campaign.id, admin.clock.now) == 1  # what the sender does

    page = await (await admin.client.get(f"/campaigns/{campaign.id}")).text()
    assert f'href="/bulletins/{bulletin.id}"' in page and "Bulletin campaign" in page
    preview = await (await admin.client.get(f"/campaigns/{campaign.id}/preview")).text()
    voices = admin.client.app[VOICES]
    for lang in LANGUAGES:
        say = voices.outreach_message("bulletin", lang.code, campaign, bulletin)
        assert str(escape(say.text)) in preview and f'lang="{lang.code}"' in preview
    assert str(escape(POLISH)) in preview and preview.count("English text is sent") == len(LANGUAGES) - 2
    shown = await (await admin.client.get(path)).text()
    assert f'href="/campaigns/{campaign.id}"' in shown

    fields, at = later(admin)
    answer = await admin.submit(f"{path}/send", fields)
    assert answer.status == 303
    timed = await m.Campaign.filter(bulletin_id=bulletin.id).order_by("-id").first()
    assert timed is not None and timed.scheduled_at == at and timed.status == "scheduled"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
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
        ([("when", "soon")], "Choose when to send it"),
        ([("when", "now"), ("language", "klingon")], "Language: choose from the list"),
        ([("when", "now"), ("role", "admin")], "Who answered: choose from the list"),
    ],
)
async def test_bad_send_forms(
    admin: Admin, officer: m.AdminUser, fields: list[tuple[str, str]], message: str
) -> None:
    bulletin = await create(admin)
    await admin.submit(f"/bulletins/{bulletin.id}/publish", [], form_page=f"/bulletins/{bulletin.id}")
    answer = await admin.submit(f"/bulletins/{bulletin.id}/send", fields)
    assert answer.status == 400
    page = await answer.text()
    assert "There is a problem" in page and message in page
    assert await m.Campaign.all().count() == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": ""}, "Enter a title"),
        ({"title": "t" * 201}, "The title must be 200 characters or fewer"),
        ({"text-en": "  "}, "Enter the text in English"),
        ({"text-en": "x" * 4001}, "The text in English must be 4,000 characters or fewer"),
        ({"text-bn": "ক" * 4001}, "The text in Bengali must be 4,000 characters or fewer"),
        (
            {"text-pl": POLISH, "review-pl": "perfect"},
            "Choose whether the Polish text is a draft or has been reviewed",
        ),
        ({"responses": "not-a-reference"}, "“not-a-reference” is not a response reference"),
        (
            {"responses": "00000000-0000-4000-8000-000000000000"},
            "There is no response with the reference 00000000-0000-4000-8000-000000000000",
        ),
        (
            {"responses": " ".join(f"00000000-0000-4000-8000-{n:012d}" for n in range(201))},
            "Link at most 200",
        ),
    ],
)
async def test_malformed_bulletin_forms(
    admin: Admin, officer: m.AdminUser, change: dict[str, str], message: str
) -> None:
    answer = await admin.submit("/bulletins/new", bulletin_form(**change))
    assert answer.status == 400
    page = await answer.text()
    assert "There is a problem" in page and str(escape(message)) in page
    assert await m.Bulletin.all().count() == 0


async def test_viewer_reads_but_cannot_change_and_unknown_ids(admin: Admin) -> None:
    bulletin = await m.Bulletin.create(title="Read only", texts={"en": {"text": "Hi", "review": "reviewed"}})
    viewer = await make_user("viewer@example.org", "viewer")
    await sign_in(admin, viewer)
    path = f"/bulletins/{bulletin.id}"
    for page in ("/bulletins", path):
        assert (await admin.client.get(page)).status == 200, page
    assert "Create a bulletin" not in await (await admin.client.get("/bulletins")).text()
    for page in ("/bulletins/new", f"{path}/edit", f"{path}/send"):
        assert (await admin.client.get(page)).status == 403, page
    for action in ("/bulletins/new", f"{path}/edit", f"{path}/publish", f"{path}/send"):
        answer = await admin.submit(action, [*bulletin_form(), ("when", "now")], form_page="/bulletins")
        assert answer.status == 403, action
    await bulletin.refresh_from_db()
    assert bulletin.status == "draft" and bulletin.title == "Read only"
    assert await m.Bulletin.all().count() == 1 and await m.Campaign.all().count() == 0
    for page in ("/bulletins/0", "/bulletins/nope", "/bulletins/" + "1" * 40):
        answer = await admin.client.get(page)
        assert answer.status == 404 and "There is no bulletin with that number." in await answer.text()


async def test_script_in_titles_and_texts_is_shown_as_text(admin: Admin, officer: m.AdminUser) -> None:
    xss = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    bulletin = await create(admin, title=xss, **{"text-en": xss, "text-ar": xss})
    await admin.submit(f"/bulletins/{bulletin.id}/publish", [], form_page=f"/bulletins/{bulletin.id}")
    answer = await admin.submit(f"/bulletins/{bulletin.id}/send", [("when", "now")])
    campaign = await m.Campaign.get(bulletin_id=bulletin.id)
    assert answer.status == 303
    for page in (
        "/bulletins",
        f"/bulletins/{bulletin.id}",
        f"/bulletins/{bulletin.id}/edit",
        "/campaigns",
        f"/campaigns/{campaign.id}",
        f"/campaigns/{campaign.id}/preview",
    ):
        shown = await (await admin.client.get(page)).text()
        assert "<script>alert" not in shown and "<img src=x" not in shown, page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown, page
