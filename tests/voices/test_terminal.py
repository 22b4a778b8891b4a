"""The terminal channel: the same engine and storage, typed at a prompt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.i18n import translations
from core.loader import load_conversations
from core.service import Voices
from core.settings import ROOT, Secret, Settings
from core.storage import models as m
from core.texts import fill
from voices import terminal


def scripted(lines: list[str]) -> Iterator[str | None]:
    yield from lines
    yield None


async def test_voices_try_runs_welcome_and_feedback(db: str, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    lines = scripted(["English", "None of these", "Done",
                      "3", "Next", "Next", "1", "2", "4", "Not going well", "Nobody calls back",
                      "/back", "Nobody ever calls back", "/skip", "Send my answers"])
    monkeypatch.setattr(terminal, "_read", lambda: next(lines))
    service = Voices(Settings(database_url=db, secret_key=Secret("k")),
                     load_conversations(ROOT / "conversations"))
    await terminal.run_terminal(service, None, None, user="tester")
    out = capsys.readouterr().out
    assert "  1. English" in out and "Question 1 of 4" in out
    assert "Your answer was: Nobody calls back" in out
    assert "3. What you told us: Nobody ever calls back" in out
    assert "will read your answers by" in out
    respondent = await m.Respondent.get()
    who = (respondent.channel, respondent.role, respondent.answered_by)
    assert who == ("terminal", "parent-carer", "proxy")
    texts = await m.Answer.filter(step_id="tell-bad").values_list("text", flat=True)
    assert texts == ["Nobody ever calls back"]
    assert await m.Response.filter(conversation_id="feedback", status="submitted").count() == 1


async def test_voices_try_one_conversation_in_a_language(db: str, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    lines = scripted(["/quit"])
    monkeypatch.setattr(terminal, "_read", lambda: next(lines))
    service = Voices(Settings(database_url=db, secret_key=Secret("k")),
                     load_conversations(ROOT / "conversations"))
    await terminal.run_terminal(service, "feedback", "pl", user="tester")
    out = capsys.readouterr().out
    polish = translations(ROOT / "locales", "pl").gettext
    assert fill(polish("Question {n} of {total}"), {"n": 1, "total": 4}) in out
    assert polish("Listen") not in out  # nothing to listen to in a terminal
    respondent = await m.Respondent.get()
    assert respondent.language == "pl" and respondent.language_confirmed
