"""The poll watchdog (SECURITY.md R8) on a clock the test moves."""

from __future__ import annotations

import logging

import pytest

from core.pollwatch import PollWatchdog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_quiet_for_less_than_the_limit_is_fine(clock: Clock) -> None:
    dog = PollWatchdog(90, clock)
    clock.now += 89
    assert not dog.overdue() and not dog.failing and dog.status() == {"polling": "ok"}


def test_one_alert_per_outage_and_a_note_when_it_ends(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    dog = PollWatchdog(90, clock)
    with caplog.at_level(logging.INFO, logger="voices.bot"):
        clock.now += 90
        assert dog.overdue()
        dog.restarted()
        clock.now += 30
        assert not dog.overdue()  # a restarted poller gets a whole period
        clock.now += 60
        assert dog.overdue()
        dog.restarted()
        assert dog.status() == {"polling": "failing", "seconds_without": 180}
        assert [r.levelname for r in caplog.records] == ["ERROR"]
        assert "no successful getUpdates from Telegram for 90 s" in caplog.text
        clock.now += 10
        dog.heard()
    assert dog.restarts == 2 and not dog.failing and dog.status() == {"polling": "ok"}
    assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING"]
    assert "works again after 190 s" in caplog.records[-1].getMessage()


def test_polling_every_few_seconds_never_alerts(clock: Clock) -> None:
    dog = PollWatchdog(90, clock)
    for _ in range(100):
        clock.now += 30
        dog.heard()
        assert not dog.overdue()


@pytest.mark.parametrize(("limit", "every"), [(90, 5.0), (8, 2.0), (0.4, 0.2), (2, 0.5)])
def test_checks_often_enough_for_the_limit(limit: float, every: float) -> None:
    assert PollWatchdog(limit).check_every == every
