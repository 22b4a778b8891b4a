"""Putting a conversation into a language and a track."""

from __future__ import annotations

import pytest

from core.loader import load_conversations
from core.localise import localise
from core.settings import ROOT

CONVERSATIONS = load_conversations(ROOT / "conversations")


def upper(text: str) -> str:
    return text.upper()


@pytest.mark.parametrize(
    ("easy", "who_labels", "about_starts"),
    [
        (False, ["A young person", "Helping a young person", "A parent or carer", "Works with young people"],
         "I am a robot from {council}.\nIt takes about 5 minutes"),
        (True, ["A young person", "Helping someone", "Parent or carer"],
         "I am a robot from {council}.\nMy few questions take about 5 minutes."),
    ],
)
def test_the_easy_read_track_has_its_own_texts_and_fewer_choices(easy: bool, who_labels: list[str],
                                                                 about_starts: str) -> None:
    conv = localise(CONVERSATIONS["welcome"], str, "en", {}, easy=easy)
    assert [o.label for o in conv.step("who").options] == who_labels
    assert conv.step("about").text.startswith(about_starts)


def test_every_text_goes_through_the_translation() -> None:
    conv = localise(CONVERSATIONS["feedback"], upper, "xx", {"council": "c"}, easy=True)
    assert conv.step("area").text == "WHAT DO YOU WANT TO TELL US ABOUT?"
    assert [o.label for o in conv.step("area").options] == ["SCHOOL, COLLEGE", "HEALTH OR CARE", "GROWING UP",
                                                            "SOMETHING ELSE"]
    assert conv.ui["council"] == "c" and conv.ui["skip"] == "SKIP" and conv.language == "xx"
