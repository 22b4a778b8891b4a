"""Reading-age checks on the English texts (T1, T2, T12, T13)."""

from __future__ import annotations

import pytest

from core.loader import load_conversations
from core.readability import EASY, STANDARD, check_english, check_flow
from core.settings import ROOT

PLAIN = [
    "Hello. I am a robot. I want to know what you think about your school.",
    "There are 5 questions. You can stop at any time.",
    "Thank you. Your answers will help make things better for you and your friends.",
    "Is there anything else you want to tell us? You can tell us in your own words.",
]


def test_the_shipped_english_passes() -> None:
    assert check_english(load_conversations(ROOT / "conversations")) == []


def test_a_plain_flow_passes_on_both_tracks() -> None:
    assert check_flow("demo", PLAIN, STANDARD) == []
    assert check_flow("demo", PLAIN, EASY) == []


@pytest.mark.parametrize(
    ("texts", "phrase"),
    [
        (["Leicestershire County Council is undertaking a consultation regarding the provision of special "
          "educational needs services, and your participation would be greatly appreciated."] * 3,
         "(T1)"),
        (["We value your participation in this consultation enormously."], "(T12)"),
        (["Your answers are saved."], "'are saved' reads as passive"),
        (["The form was completed by an officer."], "'was completed' reads as passive"),
    ],
)
def test_hard_english_is_reported(texts: list[str], phrase: str) -> None:
    reasons = check_flow("demo", texts, STANDARD)
    assert any(phrase in reason for reason in reasons), reasons


def test_listen_is_not_mistaken_for_a_passive() -> None:
    assert check_flow("demo", ["You can listen when you are ready."], STANDARD) == []
