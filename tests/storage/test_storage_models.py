"""The models against real SQLite and PostgreSQL: constraints, cascades, exact text."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from core.storage.models import (
    PRIORITIES,
    Answer,
    AnswerPriority,
    Priority,
    Respondent,
    Response,
    Session,
    respondent_key,
)

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


async def _respondent(n: int = 1) -> Respondent:
    return await Respondent.create(channel="telegram", key_hash=respondent_key("secret", "telegram", n))


async def _response(respondent: Respondent | None = None) -> Response:
    return await Response.create(
        respondent=respondent,
        conversation_id="feedback",
        conversation_version=3,
        channel="telegram",
        language="en",
    )


def test_respondent_key_is_an_hmac_of_channel_and_id() -> None:
    key = respondent_key("secret", "telegram", 123456789)
    assert key == hmac.new(b"secret", b"telegram:123456789", hashlib.sha256).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert "123456789" not in key
    assert key == respondent_key("secret", "telegram", "123456789")
    assert key != respondent_key("other", "telegram", 123456789)
    assert key != respondent_key("secret", "web", 123456789)


async def test_priorities_are_seeded(db: str) -> None:
    rows = await Priority.all().order_by("code").values_list("code", "name")
    assert sorted(rows) == sorted(PRIORITIES)
    assert [code for code, _ in sorted(rows)] == [
        "adulthood",
        "families",
        "multi-agency",
        "provision",
        "provision.mainstream",
        "provision.specialist",
    ]


async def test_respondent_defaults(db: str) -> None:
    respondent = await _respondent()
    fresh = await Respondent.get(id=respondent.id)
    assert UUID4.match(fresh.ref)
    assert fresh.language == "en"
    assert fresh.language_confirmed is False
    assert fresh.contact_ok is False
    assert (fresh.role, fresh.answered_by, fresh.age_band, fresh.consent, fresh.chat_id) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert fresh.created_at.tzinfo is not None
    assert abs((datetime.now(UTC) - fresh.created_at).total_seconds()) < 60
    other = await _respondent(2)
    assert other.ref != fresh.ref


async def test_big_chat_and_message_ids(db: str) -> None:
    respondent = await Respondent.create(channel="telegram", key_hash="b" * 64, chat_id=-1001234567890123)
    session = await Session.create(
        respondent=respondent,
        conversation_id="welcome",
        conversation_version=1,
        state="{}",
        asked_message_id=2**40,
    )
    assert (await Respondent.get(id=respondent.id)).chat_id == -1001234567890123
    fresh = await Session.get(id=session.id)
    assert fresh.asked_message_id == 2**40
    assert (fresh.version, fresh.delivered_version) == (1, 0)


async def test_key_hash_is_unique(db: str) -> None:
    await _respondent(7)
    with pytest.raises(IntegrityError):
        await _respondent(7)


async def test_one_session_per_respondent(db: str) -> None:
    respondent = await _respondent()
    await Session.create(respondent=respondent, conversation_id="welcome", conversation_version=1, state="{}")
    with pytest.raises(IntegrityError):
        await Session.create(
            respondent=respondent, conversation_id="feedback", conversation_version=1, state="{}"
        )


async def test_second_answer_to_a_step_is_refused_by_the_database(db: str) -> None:
    response = await _response()
    await Answer.create(response=response, step_id="about", kind="choice", question="Q", language="en")
    with pytest.raises(IntegrityError):
        await Answer.create(response=response, step_id="about", kind="text", question="Q", language="en")
    # the same step in another response is fine
    other = await _response()
    await Answer.create(response=other, step_id="about", kind="choice", question="Q", language="en")
    assert await Answer.filter(step_id="about").count() == 2


async def test_re_answer_is_an_update(db: str) -> None:
    response = await _response()
    first, created = await Answer.update_or_create(
        defaults={"kind": "choice", "question": "Q", "option_ids": ["school"], "language": "en"},
        response=response,
        step_id="about",
    )
    assert created
    second, created = await Answer.update_or_create(
        defaults={"kind": "choice", "question": "Q", "option_ids": ["health"], "language": "en"},
        response=response,
        step_id="about",
    )
    assert not created
    assert second.id == first.id
    rows = await Answer.filter(response=response).values_list("step_id", "option_ids")
    assert rows == [("about", ["health"])]


TEXTS = [
    "plain",
    "  leading and trailing spaces\t\n",
    "line one\r\nline two\rthree\n",
    "مرحبا، المدرسة لا تساعدني",  # Arabic (RTL)
    "\u202eRTL override\u202c and ‏marks‎",
    "ਪੰਜਾਬੀ ગુજરાતી اردو বাংলা Română Polski Soomaali",
    "emoji 👩🏽‍🦽 🇬🇧 ZWJ and skin tone",
    "x" * 4096,
    "",
]


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
async def test_answer_text_is_stored_exactly(db: str, text: str) -> None:
    response = await _response()
    answer = await Answer.create(
        response=response,
        step_id="tell",
        kind="text",
        question="Tell us 💬",
        text=text,
        label=text[:50],
        language="ar",
        option_ids=["اختيار", "b"],
    )
    fresh = await Answer.get(id=answer.id)
    assert fresh.text == text
    assert fresh.text is not None and fresh.text.encode("utf-8") == text.encode("utf-8")
    assert fresh.label == text[:50]
    assert fresh.option_ids == ["اختيار", "b"]
    assert fresh.question == "Tell us 💬"


async def test_voice_answer(db: str) -> None:
    response = await _response()
    answer = await Answer.create(
        response=response,
        step_id="tell",
        kind="voice",
        question="Tell us",
        voice_file_id="AwACAgQAAxkBAAIB",
        voice_unique_id="AgADx",
        voice_duration=37,
        voice_mime="audio/ogg",
        voice_size=48213,
        label="Voice message (37 s)",
        language="en",
        polarity="not-working",
    )
    fresh = await Answer.get(id=answer.id)
    assert fresh.kind == "voice"
    assert fresh.text is None
    assert fresh.option_ids == []
    assert (
        fresh.voice_file_id,
        fresh.voice_unique_id,
        fresh.voice_duration,
        fresh.voice_mime,
        fresh.voice_size,
    ) == ("AwACAgQAAxkBAAIB", "AgADx", 37, "audio/ogg", 48213)
    assert fresh.polarity == "not-working"


async def test_answer_priorities(db: str) -> None:
    response = await _response()
    answer = await Answer.create(
        response=response, step_id="about", kind="choice", question="Q", language="en"
    )
    await AnswerPriority.create(answer=answer, priority_id="provision.mainstream", source="option")
    await AnswerPriority.create(answer=answer, priority_id="provision.mainstream", source="officer")
    await AnswerPriority.create(answer=answer, priority_id="families", source="officer")
    with pytest.raises(IntegrityError):
        await AnswerPriority.create(answer=answer, priority_id="families", source="officer")
    with pytest.raises(IntegrityError):
        await AnswerPriority.create(answer=answer, priority_id="no-such-priority", source="officer")
    rows = await AnswerPriority.filter(answer=answer).order_by("id").values_list("priority__name", "source")
    assert rows == [
        ("Supporting mainstream schools and settings", "option"),
        ("Supporting mainstream schools and settings", "officer"),
        (
            "Support for and involvement of parents, carers, children, young people and families",
            "officer",
        ),
    ]
    mainstream = await Answer.filter(priorities__priority_id="provision.mainstream").distinct().count()
    assert mainstream == 1


async def test_deleting_a_response_cascades_to_answers_and_codes(db: str) -> None:
    respondent = await _respondent()
    response = await _response(respondent)
    session = await Session.create(
        respondent=respondent,
        conversation_id="feedback",
        conversation_version=3,
        response=response,
        state="{}",
    )
    answer = await Answer.create(
        response=response, step_id="about", kind="choice", question="Q", language="en"
    )
    await AnswerPriority.create(answer=answer, priority_id="adulthood", source="option")
    await response.delete()
    assert await Answer.all().count() == 0
    assert await AnswerPriority.all().count() == 0
    assert (await Session.get(id=session.id)).response_id is None  # type: ignore[attr-defined]
    assert await Priority.all().count() == 6


async def test_deleting_a_respondent_keeps_anonymous_responses(db: str) -> None:
    respondent = await _respondent()
    response = await _response(respondent)
    await Session.create(
        respondent=respondent, conversation_id="feedback", conversation_version=3, state="{}"
    )
    await respondent.delete()
    fresh = await Response.get(id=response.id)
    assert fresh.respondent_id is None  # type: ignore[attr-defined]
    assert fresh.conversation_id == "feedback"
    assert await Session.all().count() == 0


async def test_optimistic_version_update(db: str) -> None:
    respondent = await _respondent()
    session = await Session.create(
        respondent=respondent, conversation_id="welcome", conversation_version=1, state="{}"
    )
    async with in_transaction():
        locked = await Session.filter(id=session.id).select_for_update().get()
        won = await Session.filter(id=session.id, version=locked.version).update(
            state='{"seq":1}', version=F("version") + 1
        )
    lost = await Session.filter(id=session.id, version=1).update(state='{"seq":9}', version=F("version") + 1)
    assert (won, lost) == (1, 0)
    fresh = await Session.get(id=session.id)
    assert (fresh.version, fresh.state) == (2, '{"seq":1}')
