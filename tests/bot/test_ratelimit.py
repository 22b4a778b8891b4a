"""The shared rate limiter (bot/ratelimit.py), on a fake clock: no real time passes and nothing is timed.

The rules are checked as tables of cases on :class:`Budget`; the waiting (interactive first, broadcasts
paced, paused by 429s) on :class:`RateLimiter` with a clock whose sleeps only end when the test moves
time on.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from dataclasses import dataclass

import pytest

from bot.ratelimit import Budget, Priority, RateLimiter

IA, BC = Priority.INTERACTIVE, Priority.BROADCAST  # a reply, a broadcast
EPS = 1e-9


class FakeClock:
    """Monotonic time that moves only in :meth:`run`; ``sleep`` ends when time reaches its deadline."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    @staticmethod
    async def settle() -> None:
        """Let every task run until it waits again."""
        for _ in range(50):
            await asyncio.sleep(0)

    async def run(self, until: float) -> None:
        """Move time to ``until``, waking each sleeper at its deadline in order."""
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= until:
            deadline, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not future.done():
                future.set_result(None)
            await self.settle()
        self.now = max(self.now, until)
        await self.settle()


# ---- the rules -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    sends: tuple[tuple[Priority, int | None, float], ...]  # (kind, chat, time) already sent
    ask: tuple[Priority, int | None, float]  # may one more go? (kind, chat, now)
    delay: float  # seconds until it may
    pause: tuple[float, float] | None = None  # (at, seconds) a 429 paused broadcasts


FULL = tuple((IA, 100 + n, n * 0.01) for n in range(30))  # the overall cap (30 in 1 s) reached by t=0.29

CASES = [
    Case("nothing sent: a reply goes now", (), (IA, 1, 0.0), 0.0),
    Case("nothing sent: a broadcast goes now", (), (BC, 1, 0.0), 0.0),
    Case("broadcasts are spaced 1/25 s", ((BC, 1, 0.0),), (BC, 2, 0.0), 0.04),
    Case("... and the grid is kept", ((BC, 1, 0.0), (BC, 2, 0.04)), (BC, 3, 0.05), 0.03),
    Case("a late send keeps the grid", ((BC, 1, 0.0), (BC, 2, 0.055)), (BC, 3, 0.06), 0.02),
    Case("... up to one spacing late (two go close)", ((BC, 1, 0.0), (BC, 2, 0.079)), (BC, 3, 0.079), 0.001),
    Case("... but not later", ((BC, 1, 0.0), (BC, 2, 0.09)), (BC, 3, 0.09), 0.04),
    Case("after an idle spell, no catch-up burst", ((BC, 1, 0.0), (BC, 2, 5.0)), (BC, 3, 5.0), 0.04),
    Case("replies are not spaced", ((IA, 1, 0.0),), (IA, 2, 0.0), 0.0),
    Case("replies do not wait for broadcasts", ((BC, 1, 0.0),), (IA, 2, 0.0), 0.0),
    Case("a broadcast keeps a gap after a reply in its chat", ((IA, 7, 0.0),), (BC, 7, 0.3), 0.7),
    Case("a broadcast keeps a gap after a broadcast in its chat", ((BC, 7, 0.0),), (BC, 7, 0.5), 0.5),
    Case("the gap is per chat", ((BC, 7, 0.0),), (BC, 8, 0.5), 0.0),
    Case("a reply does not keep the chat gap", ((BC, 7, 0.0),), (IA, 7, 0.1), 0.0),
    Case("the gap is over", ((BC, 7, 0.0),), (BC, 7, 1.0), 0.0),
    Case("overall cap: a reply waits for the oldest to leave the window", FULL, (IA, 1, 0.5), 0.5),
    Case("overall cap: a broadcast waits too", FULL, (BC, 1, 0.5), 0.5),
    Case("overall cap: the window has moved on", FULL, (IA, 1, 1.0), 0.0),
    Case("overall cap: one slot freed", FULL, (IA, 1, 1.005), 0.0),
    Case("429: broadcasts wait as long as Telegram said", (), (BC, 1, 1.0), 2.0, pause=(0.0, 3.0)),
    Case("429: replies are not held", (), (IA, 1, 1.0), 0.0, pause=(0.0, 3.0)),
    Case("429: the pause is over", (), (BC, 1, 3.0), 0.0, pause=(0.0, 3.0)),
    Case("429 and spacing: the later one counts", ((BC, 1, 0.0),), (BC, 2, 0.0), 0.5, pause=(0.0, 0.5)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_budget(case: Case) -> None:
    budget = Budget(overall_rate=30, broadcast_rate=25, chat_gap=1.0)
    for kind, chat, at in case.sends:
        budget.record(kind, chat, at)
    if case.pause is not None:
        budget.pause(case.pause[1], case.pause[0])
    kind, chat, now = case.ask
    assert budget.delay(kind, chat, now) == pytest.approx(case.delay, abs=1e-9)


@pytest.mark.parametrize(("overall", "broadcast", "window", "cap", "spacing"), [
    (30, 25, 1.0, 30, 0.04),
    (30, 40, 1.0, 30, 1 / 30),  # a broadcast rate above the cap is held to the cap
    (20, 5, 2.0, 40, 0.2),
    (0.5, 0.5, 1.0, 1, 2.0),  # at least one send per window
])
def test_budget_settings(overall: float, broadcast: float, window: float, cap: int, spacing: float) -> None:
    budget = Budget(overall, broadcast, 1.0, window)
    assert (budget.cap, budget.spacing, budget.window) == (cap, pytest.approx(spacing), window)


@pytest.mark.parametrize(("jitter", "at", "delay"), [(0.0, 1.0, 0.0), (0.1, 1.0, 0.1), (0.1, 1.1, 0.0)])
def test_jitter_holds_the_cap_over_a_longer_stretch(jitter: float, at: float, delay: float) -> None:
    """30 sent at 0.0-0.29 s: with jitter the 31st waits until 30 fit in window + jitter."""
    budget = Budget(overall_rate=30, window=1.0, jitter=jitter)
    for kind, chat, t in FULL:
        budget.record(kind, chat, t)
    assert budget.cap == 30
    assert budget.delay(IA, 1, at) == pytest.approx(delay)


@pytest.mark.parametrize("bad", [dict(overall_rate=0), dict(broadcast_rate=-1), dict(window=0),
                                 dict(chat_gap=-0.1), dict(jitter=-1)])
def test_budget_refuses_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Budget(**bad)


def test_chats_long_quiet_are_forgotten() -> None:
    budget = Budget(chat_gap=1.0)
    for n in range(5000):  # 5,000 recipients at 25/s: 200 s
        budget.record(BC, n, n * 0.04)
    assert budget.chats_tracked < 1100  # not one entry per recipient for ever
    assert budget.delay(BC, 4999, 5000 * 0.04) > 0  # the recent ones are kept


# ---- waiting ---------------------------------------------------------------------------------------

@dataclass
class Grant:
    kind: Priority
    chat: int | None
    asked: float
    at: float


async def request(limiter: RateLimiter, clock: FakeClock, kind: Priority, chat: int | None,
                  log: list[Grant]) -> None:
    asked = clock()
    await limiter.acquire(chat, kind)
    log.append(Grant(kind, chat, asked, clock()))


def in_any_window(times: list[float], window: float) -> int:
    """The most of ``times`` in any half-open window of ``window`` seconds."""
    times = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window + EPS:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_a_broadcast_is_paced_evenly_at_its_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, 25, 1.0, clock=clock, sleep=clock.sleep)
    log: list[Grant] = []
    sender = asyncio.create_task(_broadcast(limiter, clock, range(100), log))
    await clock.run(10.0)
    await sender
    times = [g.at for g in log]
    assert len(times) == 100
    assert times[-1] == pytest.approx(99 * 0.04)
    assert all(b - a == pytest.approx(0.04) for a, b in itertools.pairwise(times))
    assert in_any_window(times, 1.0) == 25


async def _broadcast(limiter: RateLimiter, clock: FakeClock, chats: range | list[int],
                     log: list[Grant]) -> None:
    for chat in chats:
        await request(limiter, clock, BC, chat, log)


def broadcasts_within_cap(log: list[Grant], cap: int, window: float = 1.0) -> bool:
    """No broadcast went when the sends before it (replies included) already filled the window."""
    for g in log:
        if g.kind is BC:
            before = [o for o in log if o is not g and g.at - window + EPS < o.at <= g.at + EPS]
            if len(before) >= cap:
                return False
    return True


async def test_replies_go_at_once_and_a_broadcast_makes_room_for_them() -> None:
    """Broadcast at the full cap (4/s); three replies at 0.8 s go at once and the broadcast waits."""
    clock = FakeClock()
    limiter = RateLimiter(overall_rate=4, broadcast_rate=4, chat_gap=0, clock=clock, sleep=clock.sleep)
    log: list[Grant] = []
    sender = asyncio.create_task(_broadcast(limiter, clock, range(20), log))
    await clock.run(0.8)
    replies = [asyncio.create_task(request(limiter, clock, IA, 900 + n, log)) for n in range(3)]
    await clock.run(10.0)
    await asyncio.gather(sender, *replies)
    granted = [g for g in log if g.kind is IA]
    assert [g.at - g.asked for g in granted] == [0.0, 0.0, 0.0]
    assert min(g.at for g in log if g.kind is BC and g.at > 0.8) == pytest.approx(1.75)
    assert broadcasts_within_cap(log, 4)
    assert in_any_window([g.at for g in log if g.kind is BC], 1.0) <= 4


async def test_a_reply_under_the_cap_does_not_wait_at_all() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, 25, 1.0, clock=clock, sleep=clock.sleep)
    log: list[Grant] = []
    sender = asyncio.create_task(_broadcast(limiter, clock, range(50), log))
    await clock.run(0.5)
    reply = asyncio.create_task(request(limiter, clock, IA, 12, log))
    await clock.settle()
    assert reply.done()
    await clock.run(5.0)
    await sender
    assert [g.at - g.asked for g in log if g.kind is IA] == [0.0]


async def test_429_pauses_broadcasts_but_not_replies() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, 10, 1.0, clock=clock, sleep=clock.sleep)
    log: list[Grant] = []
    sender = asyncio.create_task(_broadcast(limiter, clock, range(30), log))
    await clock.run(0.55)
    limiter.pause(2.0)
    assert limiter.paused_for == pytest.approx(2.0)
    await clock.run(1.0)
    reply = asyncio.create_task(request(limiter, clock, IA, 5, log))
    await clock.run(10.0)
    await asyncio.gather(sender, reply)
    broadcast = [g.at for g in log if g.kind is BC]
    assert not any(0.55 < t < 2.55 - EPS for t in broadcast), broadcast
    assert min(t for t in broadcast if t > 0.55) == pytest.approx(2.55)
    assert [g.at for g in log if g.kind is IA] == [1.0]
    assert limiter.pauses == 1 and limiter.paused_for == 0.0


async def test_the_chat_gap_holds_only_that_chat_back() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, 25, 1.0, clock=clock, sleep=clock.sleep)
    log: list[Grant] = []
    sender = asyncio.create_task(_broadcast(limiter, clock, [1, 1, 2, 1], log))
    await clock.run(5.0)
    await sender
    at = [(g.chat, round(g.at, 6)) for g in log]
    assert at == [(1, 0.0), (1, 1.0), (2, 1.04), (1, 2.0)]


async def test_a_cancelled_wait_leaves_nothing_behind() -> None:
    clock = FakeClock()
    limiter = RateLimiter(overall_rate=1, broadcast_rate=1, chat_gap=0, clock=clock, sleep=clock.sleep)
    log: list[Grant] = []
    await request(limiter, clock, BC, 1, log)  # the cap (1/s) is now full
    waiting = asyncio.create_task(request(limiter, clock, BC, 3, log))
    await clock.settle()
    assert not waiting.done()
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    after = asyncio.create_task(request(limiter, clock, BC, 4, log))  # neither the turn nor a count is kept
    await clock.run(1.0)
    await after
    assert [(g.chat, g.at) for g in log] == [(1, 0.0), (4, 1.0)]


@pytest.mark.parametrize("seed", range(6))
async def test_random_traffic_keeps_every_rule(seed: int) -> None:
    """Replies in random bursts over a broadcast to random chats: replies never wait, no broadcast
    goes when the window is full (replies counted), broadcasts keep their spacing and chat gap."""
    rnd = random.Random(seed)
    clock = FakeClock()
    limiter = RateLimiter(overall_rate=10, broadcast_rate=8, chat_gap=1.0, clock=clock, sleep=clock.sleep)
    log: list[Grant] = []
    chats = [rnd.randrange(40) for _ in range(120)]
    tasks = [asyncio.create_task(_broadcast(limiter, clock, chats, log))]
    t = 0.0
    while t < 12.0:
        t += rnd.expovariate(2.0)
        await clock.run(t)
        for _ in range(rnd.choice([1, 1, 2, 3, 6])):
            tasks.append(asyncio.create_task(request(limiter, clock, IA, rnd.randrange(40), log)))
    await clock.run(60.0)
    await asyncio.gather(*tasks)
    assert len([g for g in log if g.kind is BC]) == 120
    replies = [g for g in log if g.kind is IA]
    broadcasts = [g for g in log if g.kind is BC]
    assert all(r.at == r.asked for r in replies)
    assert broadcasts_within_cap(log, 10)
    times = [g.at for g in broadcasts]
    assert in_any_window(times, 1.0) <= 9  # 8/s, and at most one early after a hold-up
    assert in_any_window(times, 5.0) <= 41
    last: dict[int | None, float] = {}
    for g in sorted(log, key=lambda g: g.at):
        if g.kind is BC and g.chat in last:
            assert g.at - last[g.chat] >= 1.0 - EPS, (g, last[g.chat])
        last[g.chat] = g.at
