"""Isolates keep numbers and Latin words in order inside right-to-left messages."""

from __future__ import annotations

import pytest

from core.bidi import FSI, PDI, isolate
from core.textmatch import norm


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("السؤال 2 من 5", f"السؤال {FSI}2{PDI} من {FSI}5{PDI}"),
        ("اكتب /stop للتوقف", f"اكتب {FSI}/stop{PDI} للتوقف"),
        ("اتصل على 0116 000 0000 الآن", f"اتصل على {FSI}0116 000 0000{PDI} الآن"),
        ("مجلس Leicestershire County Council", f"مجلس {FSI}Leicestershire County Council{PDI}"),
        ("سوال 3 میں سے 4", f"سوال {FSI}3{PDI} میں سے {FSI}4{PDI}"),
        ("شكرا", "شكرا"),
        ("اردو (Urdu)", f"اردو {FSI}(Urdu){PDI}"),
    ],
)
def test_left_to_right_runs_are_isolated(text: str, expected: str) -> None:
    assert isolate(text) == expected
    assert isolate(isolate(text)) == isolate(text)  # applying it twice changes nothing more


def test_isolated_labels_still_match_what_was_typed() -> None:
    assert norm(isolate("نعم 1")) == norm("نعم 1")
