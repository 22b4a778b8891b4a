"""The service runs one turn in one transaction; tested on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from core.loader import load_conversations
from core.model import Action, Ask, Command, Event, Repeat, Say, Text
from core.risk import REQUEST_CATEGORIES, Risk, load_lexicon
from core.service import Incoming, Reply, Voices
from core.settings import ROOT, Secret, Settings
from core.storage import models as m
from core.storage.statecodec import dumps_state, loads_state

FIXED = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # a Friday


def make_service(db: str, locales: Path | None = None) -> Voices:
    settings = Settings(database_url=db, secret_key=Secret("k"), help_email="voices@example.org",
                        locales_dir=locales or ROOT / "locales")
    return Voices(settings, load_conversations(ROOT / "conversations"), clock=lambda: FIXED)


async def turn(service: Voices, text: str | Event, who: str = "u1") -> Reply:
    event = Text(text) if isinstance(text, str) else text
    reply = await service.handle(Incoming("terminal", who, None, event))
    assert reply is not None
    return reply


def question(reply: Reply) -> str:
    return [o for o in reply.outputs if isinstance(o, Ask)][-1].text


async def test_saying_no_to_consent_keeps_nothing_about_the_person(db: str) -> None:
    service = make_service(db)
    for text in ["/start", "English", "None of these", "Done", "A young person", "Under 13", "Next", "Next",
                 "Next"]:
        await turn(service, text if not text.startswith("/") else Command("start"))
    reply = await turn(service, "No thanks")
    assert "come back at any time" in reply.outputs[-1].text  # type: ignore[union-attr]
    respondent = await m.Respondent.get()
    assert (respondent.consent, respondent.role, respondent.age_band) == ("no", None, None)
    steps = await m.Answer.all().values_list("step_id", flat=True)
    assert sorted(steps) == ["consent", "language"]
    response = await m.Response.get()
    assert (response.status, response.role, response.age_band) == ("submitted", None, None)
    reply = await turn(service, Command("start"))
    assert question(reply) == "Which language do you want to use?"  # welcome again, not feedback


async def test_the_thank_you_names_a_date_a_week_ahead(db: str) -> None:
    service = make_service(db)
    reply = await service.handle(Incoming("terminal", "u2", None, Repeat(), open_conversation="feedback"))
    assert reply is not None and question(reply).startswith("Question 1 of 4")
    for text in ["1", "1", "Lovely teachers", "/skip"]:
        reply = await turn(service, text if text != "/skip" else Command("skip"), who="u2")
    reply = await turn(service, "Send my answers", who="u2")
    assert "by Friday 4 December" in reply.outputs[-1].text  # type: ignore[union-attr]


async def test_a_paused_state_survives_a_new_version_of_its_conversation(db: str) -> None:
    service = make_service(db)
    await service.handle(Incoming("terminal", "u3", None, Repeat(), open_conversation="feedback"))
    await turn(service, "Health or care", who="u3")
    session = await m.Session.get()
    old = loads_state(session.state)
    assert old.current == "how"
    newer = replace(service.conversations["feedback"], version=2)
    service.conversations["feedback"] = newer
    service._defs.clear()
    reply = await turn(service, Command("stop"), who="u3")
    reply = await turn(service, "hello", who="u3")
    assert question(reply).endswith("How is it going?")
    assert loads_state((await m.Session.get()).state).version == 2
    # a step that no longer exists sends the person back to the first question, answers kept
    gone = replace(old, current="removed-step", version=1)
    await m.Session.filter(id=session.id).update(state=dumps_state(gone))
    reply = await turn(service, Repeat(), who="u3")
    assert question(reply).startswith("Question 1 of 4")


async def test_two_messages_at_once_from_a_new_person_make_one_respondent(db: str) -> None:
    service = make_service(db)
    replies = await asyncio.gather(turn(service, "hello", who="new"), turn(service, "hi", who="new"))
    assert all(r.outputs for r in replies)
    assert await m.Respondent.all().count() == 1
    assert await m.Session.all().count() == 1
    assert await m.Response.all().count() == 1


async def test_telegram_ids_are_never_stored_in_clear(db: str) -> None:
    service = make_service(db)
    await service.handle(Incoming("telegram", "987654321", 987654321, Command("start")))
    row = await m.Respondent.get()
    assert row.key_hash == service.key("telegram", "987654321") and "987654321" not in row.key_hash
    assert row.chat_id == 987654321  # kept only to reply


@pytest.mark.parametrize("hint", ["pl", "pl-PL", "ar"])
async def test_telegram_language_comes_first_but_is_confirmed(db: str, hint: str) -> None:
    service = make_service(db)
    reply = await service.handle(Incoming("telegram", "5", 5, Command("start"), language_hint=hint))
    assert reply is not None
    ask = [o for o in reply.outputs if isinstance(o, Ask)][-1]
    assert ask.buttons[0].id == hint[:2]
    respondent = await m.Respondent.get()
    assert respondent.language == hint[:2] and respondent.language_confirmed is False


class Found:
    def __init__(self, category: str) -> None:
        self.category, self.matched, self.severity = category, "en-hits-me", 1


class Words:
    """A stand-in for the risk lexicon: anything with "hits me" is a concern."""

    def detect(self, text: str, language: str) -> Found | None:
        return Found("abuse") if "hits me" in text.lower() else None


def with_risks(db: str, **settings: str) -> Voices:
    service = make_service(db)
    service.settings = replace(service.settings, **settings)
    service.risks = Words()
    return service


async def to_tell(service: Voices, who: str, role: str, age: str | None) -> None:
    helped = ["Next"] if age in ("Under 13", "13 to 15") else []  # "please answer with an adult"
    steps = ["English", "None of these", "Done", role, *([age] if age else []), *helped, "Next", "Next",
             "Yes, that is OK", "No thanks", "School or college", "Not going well"]
    for text in steps:
        await turn(service, text, who=who)


@pytest.mark.parametrize(
    ("role", "age", "numbers"),
    [
        ("A young person", "13 to 15", "Childline is free on 0800 1111"),
        ("A young person", "19 to 25", "Samaritans are free on 116 123. You can text Shout on 85258."),
        ("A parent or carer", None, "The NSPCC helpline is free on 0808 800 5000."),
    ],
)
async def test_a_worrying_answer_gets_signposts_first_and_an_alert(db: str, role: str, age: str | None,
                                                                   numbers: str) -> None:
    service = with_risks(db, children_social_care="0116 111 1111", out_of_hours_number="0116 222 2222")
    await service.handle(Incoming("terminal", "w1", None, Command("start")))
    await to_tell(service, "w1", role, age)
    reply = await turn(service, "My stepdad hits me when I am home", who="w1")
    says = [o.text for o in reply.outputs if isinstance(o, Say)]
    assert says[0].startswith("Thank you for telling us.") and numbers in says[1]
    assert "secret" not in " ".join(says).lower()
    assert "At night and at weekends, call 0116 222 2222." in says[1]
    assert question(reply).startswith("Question 4 of 4")  # the survey carries on, after the signposts
    alert = await m.SafeguardingAlert.get()
    assert (alert.category, alert.source, alert.matched) == ("abuse", "answer", "en-hits-me")
    # The words are kept only in the restricted field, for the safeguarding lead (they survive /delete).
    assert alert.words == "My stepdad hits me when I am home"
    others = {k: v for k, v in (await m.SafeguardingAlert.all().values())[0].items() if k != "words"}
    assert "stepdad" not in str(others)
    response = await m.Response.get(conversation_id="feedback")
    assert response.flagged and alert.response_id == response.id
    stored = await m.Answer.get(step_id="tell-bad")
    assert alert.answer_id == stored.id and stored.text == "My stepdad hits me when I am home"


async def test_a_harmless_answer_raises_nothing(db: str) -> None:
    service = with_risks(db)
    await service.handle(Incoming("terminal", "w2", None, Command("start")))
    await to_tell(service, "w2", "A young person", "13 to 15")
    reply = await turn(service, "The bus is late", who="w2")
    assert not [o for o in reply.outputs if isinstance(o, Say)]
    assert await m.SafeguardingAlert.all().count() == 0
    assert not (await m.Response.get(conversation_id="feedback")).flagged


async def test_delete_asks_once_then_erases_everything_and_leaves_a_tombstone(db: str) -> None:
    service = with_risks(db)
    await service.handle(Incoming("terminal", "77", None, Command("start")))
    await to_tell(service, "77", "A young person", "16 to 18")
    await turn(service, "My stepdad hits me", who="77")
    reply = await turn(service, Command("delete"), who="77")
    assert question(reply) == "Do you want us to delete all your answers? We cannot get them back after."
    reply = await turn(service, "No, keep them", who="77")
    assert reply.outputs[0] == Say("OK. We have kept your answers.")
    assert await m.Answer.all().count() > 0
    await turn(service, Command("delete"), who="77")
    for update_id in (3, 5, 6):
        await m.InboxUpdate.create(update_id=update_id, source="telegram", received_at=FIXED)
    reply = await service.handle(Incoming("terminal", "77", None, Text("Yes, delete them"), update_id=5))
    assert reply is not None
    says = [o.text for o in reply.outputs if isinstance(o, Say)]
    assert says == ["We have deleted your answers and everything we kept about you.",
                    "You told us you might not be safe. We keep a note of that to help keep you safe."]
    for model in (m.Respondent, m.Session, m.Response, m.Answer, m.AnswerPriority):
        assert await model.all().count() == 0, model
    assert await m.SafeguardingAlert.all().count() == 1  # kept, with no words in it
    tomb = await m.Tombstone.get()
    assert tomb.key_hash == service.key("terminal", "77") and tomb.last_update_id == 5
    late = await service.handle(Incoming("terminal", "77", None, Text("late copy"), update_id=3))
    assert late is None and await m.Respondent.all().count() == 0  # an old copy cannot bring them back
    again = await service.handle(Incoming("terminal", "77", None, Text("hello"), update_id=6))
    assert again is not None and await m.Respondent.all().count() == 1  # a new message starts afresh


# ---- messages from us: contact choice, /stop, /news, invitations (issue 6) ---------------------

WELCOME_YES = ["English", "None of these", "Done", "A parent or carer", "Next", "Next", "Yes, that is OK"]


def says(reply: Reply) -> list[Say]:
    return [o for o in reply.outputs if isinstance(o, Say)]


async def welcomed(service: Voices, who: str, messages: str) -> Reply:
    await turn(service, Command("start"), who=who)
    for text in WELCOME_YES:
        await turn(service, text, who=who)
    return await turn(service, messages, who=who)


async def test_welcome_asks_about_messages_and_stores_the_choice(db: str) -> None:
    service = make_service(db)
    reply = await welcomed(service, "yes", "Yes, send messages")
    assert question(reply).startswith("Question 1 of 4")
    await welcomed(service, "no", "No thanks")
    rows = await m.Respondent.all().order_by("id").values_list("contact_ok", "contact_at")
    assert rows == [(True, FIXED), (False, FIXED)]


async def test_stop_and_news_buttons_switch_messages_off_and_on(db: str) -> None:
    service = make_service(db)
    await welcomed(service, "p", "Yes, send messages")
    reply = await turn(service, Command("stop"), who="p")
    offer = says(reply)[-1]
    assert offer.text.startswith("We send you messages now and then")
    assert [(b.label, b.action) for b in offer.buttons] == [("Stop messages", "unsub")]
    reply = await turn(service, Action("unsub", "", 0), who="p")
    assert says(reply)[-1].text == "OK. We will not send you any more messages."
    assert not (await m.Respondent.get()).contact_ok
    reply = await turn(service, Command("news"), who="p")
    texts = [s.text for s in says(reply)]
    assert texts[0] == "There is no news yet. We will tell you when there is."
    assert [(b.label, b.action) for b in says(reply)[1].buttons] == [("Yes, send messages", "sub")]
    await m.Respondent.all().update(blocked_at=FIXED)  # they had blocked the bot, then came back
    await turn(service, Action("sub", "", 0), who="p")
    again = await m.Respondent.get()
    assert again.contact_ok and again.blocked_at is None
    assert await m.Response.filter(status="in-progress").count() == 1  # the feedback was left as it was


async def test_news_shows_published_bulletins_in_the_persons_language(db: str) -> None:
    service = make_service(db)
    await welcomed(service, "p", "Yes, send messages")
    await m.Bulletin.create(title="Buses", status="published", published_at=FIXED,
                            texts={"en": {"text": "You said the school bus was late. We changed the route."},
                                   "pl": {"text": "Autobus jest teraz na czas.", "review": "draft"}})
    await m.Bulletin.create(title="Draft", status="draft", texts={"en": {"text": "Not yet"}})
    reply = await turn(service, Command("news"), who="p")
    assert [s.text for s in says(reply)][:2] == ["You told us what you think. Here is what we did.",
                                                "You said the school bus was late. We changed the route."]
    await m.Respondent.all().update(language="pl")
    reply = await turn(service, Command("news"), who="p")
    assert "Autobus jest teraz na czas." in [s.text for s in says(reply)]


async def survey(version: int = 1, status: str = "sending") -> m.Campaign:
    return await m.Campaign.create(name="Annual survey", conversation_id="feedback",
                                   conversation_version=version, status=status)


async def test_start_the_survey_opens_it_and_later_carries_on_where_stopped(db: str) -> None:
    now = [FIXED]
    service = make_service(db)
    service.clock = lambda: now[0]
    await welcomed(service, "p", "Yes, send messages")
    camp = await survey()  # of the same conversation the person is in: it carries on, no second response
    reply = await turn(service, Action("survey", str(camp.id), 0), who="p")
    assert question(reply).startswith("Question 1 of 4")
    await turn(service, "School or college", who="p")
    await turn(service, Command("stop"), who="p")
    now[0] = FIXED + dt.timedelta(days=15)  # more than two weeks later, from the same invitation
    reply = await turn(service, Action("survey", str(camp.id), 0), who="p")
    assert says(reply)[0].text.startswith("Welcome back") and question(reply).startswith("Question 2 of 4")
    responses = await m.Response.filter(conversation_id="feedback") \
        .values_list("status", "conversation_version")
    assert responses == [("in-progress", 1)]


@pytest.mark.parametrize("problem", ["cancelled", "old wave", "forged", "no such campaign", "huge id"])
async def test_a_closed_or_forged_invitation_says_the_survey_has_closed(db: str, problem: str) -> None:
    service = make_service(db)
    await welcomed(service, "p", "Yes, send messages")
    camp = await survey(version=0 if problem == "old wave" else 1,
                        status="cancelled" if problem == "cancelled" else "sending")
    forged = {"forged": "x1", "no such campaign": str(camp.id + 99), "huge id": "9" * 40}
    arg = forged.get(problem, str(camp.id))
    before = await m.Response.all().count()
    reply = await turn(service, Action("survey", arg, 0), who="p")
    assert says(reply)[-1].text == "Sorry, this survey has closed. Thank you for wanting to help."
    assert await m.Response.all().count() == before


async def test_outreach_messages_use_the_officers_text_or_the_default(db: str) -> None:
    service = make_service(db)
    camp = await survey()
    camp.invitation = {"pl": "Zapraszamy do ankiety."}
    invite = service.outreach_message("invite", "en", camp)
    assert invite.text.startswith("Hello from Leicestershire County Council.")
    assert [(b.label, b.action, b.arg) for b in invite.buttons] == [
        ("Start the survey", "survey", str(camp.id)), ("Stop messages", "unsub", "")]
    assert service.outreach_message("invite", "pl", camp).text == "Zapraszamy do ankiety."
    assert "only reminder" in service.outreach_message("reminder", "en", camp).text
    bulletin = m.Bulletin(title="B", texts={"en": {"text": "We changed the route."}})
    sent = service.outreach_message("bulletin", "gu", camp, bulletin)
    assert sent.text == "We changed the route." and [b.action for b in sent.buttons] == ["unsub"]


# ---- consent: anonymous answers and withdrawal; requests passed to a person (issue 5) ---------

async def test_anonymous_answers_are_cut_loose_from_the_person_when_sent(db: str) -> None:
    service = make_service(db)
    await turn(service, Command("start"), who="a")
    for text in WELCOME_YES[:-1]:
        await turn(service, text, who="a")
    reply = await turn(service, "Yes, but not linked", who="a")
    assert says(reply)[0].text.startswith("OK. When you send your answers, we will keep them apart from you.")
    await turn(service, "No thanks", who="a")  # no messages
    for text in ["School or college", "Going well", "Kind teachers", "/skip", "Send my answers"]:
        await turn(service, Command("skip") if text == "/skip" else text, who="a")
    feedback = await m.Response.get(conversation_id="feedback")
    assert (feedback.status, feedback.respondent_id) == ("submitted", None)  # type: ignore[attr-defined]
    assert await m.Answer.filter(response_id=feedback.id, text="Kind teachers").count() == 1
    person = await m.Respondent.get()
    assert (person.consent, person.anonymous) == ("yes", True)
    reply = await turn(service, Command("mydata"), who="a")
    assert "Kind teachers" not in " ".join(s.text for s in says(reply))
    session = await m.Session.get()
    assert session.response_id != feedback.id  # type: ignore[attr-defined]


async def test_withdrawing_consent_keeps_nothing_new_and_sends_nothing(db: str) -> None:
    service = make_service(db)
    await welcomed(service, "w", "Yes, send messages")
    await turn(service, "School or college", who="w")
    reply = await turn(service, Command("privacy"), who="w")
    offer = next(s for s in says(reply) if s.buttons)
    assert offer.text == "On 27 November 2026 you said we can keep your answers."
    assert [(b.label, b.action) for b in offer.buttons] == [("Stop keeping my answers", "withdraw")]
    reply = await turn(service, Action("withdraw", "", 0), who="w")
    withdrawn = "OK. We will not keep any more answers from you. We will not send you messages."
    assert says(reply)[0].text == withdrawn
    person = await m.Respondent.get()
    assert (person.consent, person.contact_ok) == ("withdrew", False)
    unsent = await m.Response.get(conversation_id="feedback")
    assert unsent.status == "abandoned" and await m.Answer.filter(response_id=unsent.id).count() == 0
    reply = await turn(service, "My answer after withdrawing", who="w")
    assert await m.Answer.filter(text="My answer after withdrawing").count() == 0
    reply = await turn(service, Command("start"), who="w")
    assert question(reply) == "Which language do you want to use?"  # consent is asked again


class Requests:
    def detect(self, text: str, language: str) -> Risk | None:
        if "daughter" in text:
            return Risk("data-request", "test-daughter", 2)
        return Risk("complaint", "test-complaint", 2) if "complain" in text else None


@pytest.mark.parametrize(("text", "category", "said"), [
    ("I'm her mum, send me my daughter's answers", "data-request", "We cannot share anyone's answers"),
    ("I want to complain about how you use my data", "complaint", "Thank you for telling us. We have"),
])
async def test_data_requests_and_complaints_go_to_a_person(db: str, text: str, category: str,
                                                           said: str) -> None:
    service = make_service(db)
    service.requests = Requests()
    await welcomed(service, "r", "No thanks")
    reply = await turn(service, text, who="r")
    texts = [s.text for s in says(reply)]
    assert texts[0].startswith(said) and texts[1].startswith("To talk to a person, email")
    alert = await m.SafeguardingAlert.get()
    assert (alert.category, alert.source, alert.words) == (category, "message", text)
    assert "Question 1 of 4" in question(reply)  # nothing released; the survey carries on


async def test_the_alert_keeps_the_words_after_delete(db: str) -> None:
    service = with_risks(db)
    await service.handle(Incoming("terminal", "d1", None, Command("start")))
    await to_tell(service, "d1", "A young person", "16 to 18")
    await turn(service, "My stepdad hits me when I am home", who="d1")
    await turn(service, Command("delete"), who="d1")
    await turn(service, "Yes, delete them", who="d1")
    assert await m.Answer.all().count() == 0 and await m.Respondent.all().count() == 0
    alert = await m.SafeguardingAlert.get()
    assert alert.words == "My stepdad hits me when I am home"


async def test_s8_will_you_tell_anyone_gets_an_honest_answer_and_no_alert(db: str) -> None:
    service = make_service(db)
    service.requests = load_lexicon(ROOT / "safeguarding" / "requests", REQUEST_CATEGORIES)
    await welcomed(service, "s8", "No thanks")
    reply = await turn(service, "Will you tell anyone?", who="s8")
    first = says(reply)[0].text
    assert first.startswith("We cannot keep a secret if you are not safe.") and "secret" in first
    assert "will not tell" not in first.lower() and await m.SafeguardingAlert.all().count() == 0
    reply = await turn(service, "I want to complain about how you use my data", who="s8")
    assert says(reply)[0].text.startswith("Thank you for telling us.")
    assert (await m.SafeguardingAlert.get()).category == "complaint"
