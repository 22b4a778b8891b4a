"""Year on year (issue 6): each survey question's answers wave by wave, on its page and in the board
report."""

from __future__ import annotations

import re
from typing import Any

import pytest

from admin import sql as admin_sql
from admin.keys import VOICES
from admin.queries import waves
from core.definition import CHOICE_KINDS
from core.storage import models as m
from tests.admin.conftest import Admin, by_first, table

SURVEY = "annual-parent"


async def answered(
    conversation: str, version: int, answers: dict[str, tuple[str, list[str], str]], language: str = "en"
) -> m.Response:
    """A response with ``answers``: step id -> (kind, option ids, label or text)."""
    response = await m.Response.create(
        conversation_id=conversation,
        conversation_version=version,
        channel="telegram",
        language=language,
        role="parent-carer",
        status="submitted",
    )
    for step_id, (kind, options, words) in answers.items():
        await m.Answer.create(
            response=response,
            step_id=step_id,
            kind=kind,
            question=f"Question {step_id}?",
            option_ids=options,
            label=words if kind in ("choice", "multi") else "",
            text=words if kind == "text" else None,
            language=language,
        )
    return response


def steps(admin: Admin) -> tuple[Any, Any, int]:
    """The survey's first choice question (in English), its first text question, and its version."""
    voices = admin.client.app[VOICES]
    english = voices.definition(SURVEY, "en")
    choice = next(s for s in english.steps if s.kind in CHOICE_KINDS and len(s.options) >= 3)
    text = next(s for s in english.steps if s.kind == "text")
    return choice, text, voices.conversations[SURVEY].version


async def two_waves(admin: Admin) -> tuple[Any, Any, int, int]:
    choice, text, new = steps(admin)
    old = new - 1
    good, ok, bad = (o.id for o in choice.options[:3])
    for option, words in ((good, "typed"), (good, None), (ok, "typed")):
        extra = {text.id: ("text", [], words) if words else ("voice", [], "")}
        await answered(
            SURVEY,
            old,
            {choice.id: ("choice", [option], "label"), **extra, "retired-question": ("text", [], "gone")},
        )
    await answered(SURVEY, old, {choice.id: ("skipped", [], "")})
    await answered(
        SURVEY,
        new,
        {
            choice.id: ("choice", [bad], "label"),
            text.id: ("text", [], "this year"),
            "new-question": ("text", [], "new"),
        },
    )
    await answered(SURVEY, new, {choice.id: ("choice", [good], "label")}, language="ur")
    await answered("feedback", 1, {"how": ("choice", ["good"], "Going well")})  # one version only
    return choice, text, old, new


async def test_two_waves_side_by_side(admin: Admin, officer: m.AdminUser) -> None:
    choice, text, old, new = await two_waves(admin)
    page = await (await admin.client.get("/waves")).text()
    assert f"Waves: {old} (4 responses), {new} (2 responses)." in page
    rows = table(page, f"wave-{SURVEY}-{choice.id}")
    assert rows[0] == ["Answer (number and share)", f"Wave {old}", f"Wave {new}"]
    found = by_first(rows)
    labels = [o.label for o in choice.options]
    assert found[labels[0]] == ["2 (50%)", "1 (50%)"]
    assert found[labels[1]] == ["1 (25%)", "0 (0%)"]
    assert found[labels[2]] == ["0 (0%)", "1 (50%)"]
    assert found["Skipped"] == ["1 (25%)", "0 (0%)"]
    assert found["All answers"] == ["4", "2"]
    texts = by_first(table(page, f"wave-{SURVEY}-{text.id}"))
    assert [cell.split()[0] for cell in texts["Answers"]] == ["3", "1"]
    assert (
        f'id="wave-{SURVEY}-retired-question"' not in page and f'id="wave-{SURVEY}-new-question"' not in page
    )
    assert 'id="survey-feedback"' not in page  # one wave only: nothing to compare

    link = re.search(rf'href="(/responses\?wave={SURVEY}%3A{old}&amp;step={re.escape(text.id)})"', page)
    assert link, "no link to the typed answers"
    listed = await (await admin.client.get(link.group(1).replace("&amp;", "&"))).text()
    assert len(re.findall(r'href="/responses/[0-9a-f-]{36}"', listed)) == 3  # the voice answer too
    assert "typed" in listed and "this year" not in listed and "gone" not in listed
    assert "Showing only responses to Yearly survey: parents and carers, wave" in listed
    event = await m.AuditEvent.get(action="search")
    assert event.detail == f"wave={SURVEY}:{old}; step={text.id}"


async def test_the_board_report_has_the_same_comparison(admin: Admin, officer: m.AdminUser) -> None:
    choice, _, _, _ = await two_waves(admin)
    page = await (await admin.client.get("/report")).text()
    assert '<h2 class="govuk-heading-m" id="h-waves">Year on year</h2>' in page
    found = by_first(table(page, f"wave-{SURVEY}-{choice.id}"))
    assert found["All answers"] == ["4", "2"]


async def test_a_retired_survey_and_questions_with_several_choices(
    admin: Admin, officer: m.AdminUser
) -> None:
    for version, colour, label, language in (
        (1, "red", "Red", "en"),
        (1, "blue", "Niebieski", "pl"),
        (2, "blue", "Blue", "en"),
        (2, "green", "Zielony", "pl"),
    ):
        await answered(
            "old-survey",
            version,
            {"colour": ("choice", [colour], label), "things": ("multi", ["a", "b"], "A, B")},
            language=language,
        )
    page = await (await admin.client.get("/waves")).text()
    assert '<h2 class="govuk-heading-m" id="survey-old-survey">old-survey</h2>' in page
    colours = by_first(table(page, "wave-old-survey-colour"))
    assert colours == {
        "Red": ["1 (50%)", "0 (0%)"],
        "Blue": ["1 (50%)", "1 (50%)"],
        "green": ["0 (0%)", "1 (50%)"],
        "All answers": ["2", "2"],
    }
    things = table(page, "wave-old-survey-things")
    assert by_first(things)["a"] == ["2 (100%)", "2 (100%)"]
    assert "people could choose more than one answer" in page


async def test_nothing_to_compare(admin: Admin, officer: m.AdminUser) -> None:
    await answered(SURVEY, 2027, {"services": ("choice", ["good"], "Works well")})
    page = await (await admin.client.get("/waves")).text()
    assert "There is nothing to compare yet." in page
    report = await (await admin.client.get("/report")).text()
    assert "There is nothing to compare yet: no survey has answers in two or more waves." in report


async def test_one_grouped_query_whatever_the_number_of_questions(
    admin: Admin, officer: m.AdminUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    await two_waves(admin)
    for version in (1, 2):
        await answered("many", version, {f"q{n}": ("choice", [str(n % 3)], "x") for n in range(30)})
    calls: list[str] = []
    original = admin_sql.Sql.rows

    async def counted(self: admin_sql.Sql, query: str, values: Any = ()) -> list[dict[str, Any]]:
        calls.append(query)
        return await original(self, query, values)

    monkeypatch.setattr(admin_sql.Sql, "rows", counted)
    found = await waves.compare(admin.client.app[VOICES].conversations)
    assert len(calls) == 2  # the waves of each survey, then every answer grouped at once
    assert {c.conversation_id for c in found} == {SURVEY, "many"}
    assert len(next(c for c in found if c.conversation_id == "many").questions) == 30


@pytest.mark.parametrize(
    "query", ["wave=nonsense", "wave=annual-parent:abc", "step=" + "x" * 100, "step=<script>"]
)
async def test_bad_wave_and_question_filters(admin: Admin, officer: m.AdminUser, query: str) -> None:
    response = await admin.client.get("/responses?" + query)
    assert response.status == 400 and "There is a problem" in await response.text()
