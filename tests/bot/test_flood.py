"""Per-chat flood control (SECURITY.md B14), with a fake clock."""

from __future__ import annotations

import pytest

from bot.flood import FloodGate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("limit", "window", "gaps", "expected"), [
    (3, 10.0, [0, 0, 0], ["read", "read", "read"]),
    (3, 10.0, [0, 0, 0, 0, 0], ["read", "read", "read", "warn", "drop"]),
    (3, 10.0, [0, 0, 0, 0, 10, 0], ["read", "read", "read", "warn", "read", "read"]),
    (2, 1.0, [0, 0.5, 0.6, 0.5], ["read", "read", "read", "read"]),
    (1, 5.0, [0, 1, 1, 4], ["read", "warn", "drop", "read"]),
])
def test_verdicts(limit: int, window: float, gaps: list[float], expected: list[str]) -> None:
    clock = Clock()
    gate = FloodGate(limit, window, clock=clock)
    got = []
    for gap in gaps:
        clock.now += gap
        got.append(gate.check(7))
    assert got == expected


def test_two_hundred_messages_in_ten_seconds_get_one_note_and_others_are_unaffected() -> None:
    clock = Clock()
    gate = FloodGate(20, 10.0, clock=clock)
    verdicts = []
    for i in range(200):
        clock.now = i * 0.05
        verdicts.append(gate.check(1))
        assert gate.check(1000 + i) == "read"  # other chats are never held back
    assert verdicts.count("read") == 20 and verdicts.count("warn") == 1 and verdicts.count("drop") == 179


def test_memory_is_bounded() -> None:
    gate = FloodGate(2, 10.0, max_chats=100, clock=Clock())
    for chat in range(1000):
        gate.check(chat)
    assert len(gate._seen) == 100


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        FloodGate(0, 1.0)
    with pytest.raises(ValueError):
        FloodGate(1, 0)
