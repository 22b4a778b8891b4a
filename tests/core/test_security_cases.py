"""SECURITY.md test list, cases B13, P1 and R17, through the service on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from core.model import Action, Command, Say
from core.service import Voices
from core.storage import models as m
from tests.core.test_service import FIXED, make_service, question, turn


def says(outputs: list[object]) -> list[str]:
    return [o.text for o in outputs if isinstance(o, Say)]


async def to_age(service: Voices, who: str) -> None:
    await turn(service, Command("start"), who=who)
    for text in ["English", "None of these", "Done", "A young person"]:
        await turn(service, text, who=who)


@pytest.mark.parametrize("nonsense", ["-1", "999", "twelve", "13.5", "🎂", "0", "", "1 2"])
async def test_b13_nonsense_ages_are_asked_again_kindly(db: str, nonsense: str) -> None:
    service = make_service(db)
    await to_age(service, "b13")
    reply = await turn(service, nonsense or " ", who="b13")
    assert question(reply).startswith("Sorry, I did not understand that.")
    assert question(reply).endswith("How old are you?")
    assert (await m.Respondent.get()).age_band is None


async def test_b13_changing_the_age_re_routes_and_re_stamps(db: str) -> None:
    service = make_service(db)
    await to_age(service, "b13")
    reply = await turn(service, "16 to 18", who="b13")
    assert "robot from" in question(reply)  # 16 and over: no adult needed
    assert (await m.Respondent.get()).answered_by == "self"
    reply = await turn(service, Command("back"), who="b13")
    assert question(reply).endswith("How old are you?")
    reply = await turn(service, "13 to 15", who="b13")
    assert question(reply).startswith("Please answer with an adult who helps you")
    person = await m.Respondent.get()
    assert (person.age_band, person.answered_by) == ("13-15", "assisted")
    response = await m.Response.get()
    assert (response.age_band, response.answered_by) == ("13-15", "assisted")


async def test_p1_delete_twice_is_harmless(db: str) -> None:
    service = make_service(db)
    await to_age(service, "p1")
    await turn(service, Command("delete"), who="p1")
    reply = await turn(service, "Yes, delete them", who="p1")
    assert says(reply.outputs)[0] == "We have deleted your answers and everything we kept about you."
    assert await m.Answer.all().count() == 0 and await m.Response.all().count() == 0
    for command in ("delete", "mydata"):  # nothing is held: they are told so, and nothing is made
        reply = await turn(service, Command(command), who="p1")  # type: ignore[arg-type]
        assert says(reply.outputs) == ["You have not given any answers yet."]
    reply = await turn(service, Action("unsub", "", 0), who="p1")  # an old message's button
    assert says(reply.outputs) == ["OK. We will not send you any more messages."]
    assert await m.Respondent.all().count() == 0 and await m.Response.all().count() == 0
    assert await m.Tombstone.all().count() == 1


async def test_r17_a_pause_of_three_days_across_a_changed_survey_resumes_at_the_question(db: str) -> None:
    service = make_service(db)
    reply = await service.handle(_open("r17"))
    assert reply is not None and question(reply).startswith("Question 1 of 4")
    await turn(service, "School or college", who="r17")
    await turn(service, Command("stop"), who="r17")
    # A deploy: a new process with the survey at a new version, three days later.
    later = make_service(db)
    later.conversations = {**later.conversations,
                           "feedback": replace(later.conversations["feedback"], version=2)}
    later.clock = lambda: FIXED + dt.timedelta(days=3)
    reply = await turn(later, "hello", who="r17")
    assert says(reply.outputs)[0].startswith("Welcome back")
    assert question(reply).startswith("Question 2 of 4")
    await turn(later, "Going well", who="r17")
    response = await m.Response.get()
    answers = await m.Answer.filter(response_id=response.id).order_by("id").values_list("step_id", flat=True)
    assert answers == ["area", "how"]  # nothing lost, nothing twice
    assert response.conversation_version == 1  # the answers stay tied to the version they were asked in


def _open(who: str):  # type: ignore[no-untyped-def]
    from core.model import Repeat
    from core.service import Incoming

    return Incoming("terminal", who, None, Repeat(), open_conversation="feedback")
