"""One rate limiter for every message the bot sends, so that broadcasts never crowd out replies.

Telegram lets a bot send about 30 messages a second in all and about one a second to one chat
(SCALE.md section 2). Two kinds of send share that budget:

* **interactive**: replies to someone in a conversation. They go first and never wait; they are
  counted against the overall cap (``overall_rate`` a second, counted over ``window`` plus a little
  ``jitter``), so broadcasts make room for them.
* **broadcast**: invitations, reminders and bulletins. They are spaced evenly at
  ``broadcast_rate`` a second, keep ``chat_gap`` seconds after the last message to the same chat
  (whatever its kind), stay under the overall cap too, and stop for as long as Telegram asks when
  it answers 429 (:meth:`RateLimiter.pause`).

The rules are in :class:`Budget`, which only does arithmetic on times it is given (so it can be
tested with a table of cases); :class:`RateLimiter` waits on it with asyncio sleeps, never
polling. All times are ``time.monotonic()`` seconds unless a clock is given.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable

from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning

OVERALL_RATE = 30.0  # Telegram's free broadcast limit, messages per second for the whole bot
WINDOW = 1.0  # seconds over which the overall cap is counted
# What the bot counts is when a send was let through; what Telegram counts is when the request
# arrives, which for a broadcast is a database write and a connection later. Holding the cap over a
# slightly longer stretch (30 in any 1.1 s) keeps that jitter from making 31 in Telegram's second.
JITTER = 0.1
PRUNE_EVERY = 1024  # sends between clean-ups of the per-chat times


class Priority(enum.Enum):
    INTERACTIVE = "interactive"
    BROADCAST = "broadcast"


class Budget:
    """The sending rules as arithmetic on times: when may the next message go?

    ``overall_rate * window`` messages in any ``window + jitter`` seconds, both kinds together;
    broadcasts one every ``1 / broadcast_rate`` seconds and ``chat_gap`` seconds apart in one chat,
    and none before ``paused_until``.
    """

    def __init__(self, overall_rate: float = OVERALL_RATE, broadcast_rate: float = 25.0,
                 chat_gap: float = 1.0, window: float = WINDOW, jitter: float = 0.0) -> None:
        if overall_rate <= 0 or broadcast_rate <= 0 or window <= 0 or chat_gap < 0 or jitter < 0:
            raise ValueError("rates and the window must be positive, the chat gap and jitter not negative")
        self.cap = max(1, int(overall_rate * window))  # sends allowed in any window
        self.window = window + jitter
        self.spacing = 1.0 / min(broadcast_rate, overall_rate)
        self.chat_gap = chat_gap
        self.paused_until = float("-inf")
        self._recent: deque[float] = deque()  # times of the last ``cap`` sends, oldest first
        self._next_broadcast = float("-inf")
        self._last_in_chat: dict[int, float] = {}
        self._since_prune = 0

    def overall_delay(self, now: float) -> float:
        """Seconds until one more send fits under the overall cap (0: now)."""
        if len(self._recent) < self.cap:
            return 0.0
        return max(0.0, self._recent[0] + self.window - now)

    def chat_delay(self, chat_id: int | None, now: float) -> float:
        if chat_id is None or self.chat_gap <= 0:
            return 0.0
        last = self._last_in_chat.get(chat_id)
        return 0.0 if last is None else max(0.0, last + self.chat_gap - now)

    def delay(self, priority: Priority, chat_id: int | None, now: float) -> float:
        """Seconds until a send of this kind to this chat may go, by the rules alone (0: now).

        (That interactive sends waiting hold broadcasts back is the limiter's part.)
        """
        wait = self.overall_delay(now)
        if priority is Priority.BROADCAST:
            wait = max(wait, self.paused_until - now, self._next_broadcast - now,
                       self.chat_delay(chat_id, now))
        return max(0.0, wait)

    def record(self, priority: Priority, chat_id: int | None, now: float) -> None:
        """A message of this kind goes to ``chat_id`` at ``now``."""
        self._recent.append(now)
        while len(self._recent) > self.cap:
            self._recent.popleft()
        if priority is Priority.BROADCAST:
            # Evenly spaced. A send up to one spacing late keeps to the grid (so a sender that is
            # held up a moment does not slow the rate, at worst two go close together); after a
            # longer gap the grid starts again from now, so there is never a catch-up burst.
            on_time = now - self._next_broadcast <= self.spacing
            self._next_broadcast = (self._next_broadcast if on_time else now) + self.spacing
        if chat_id is not None:
            self._last_in_chat[chat_id] = max(now, self._last_in_chat.get(chat_id, now))
            self._since_prune += 1
            if self._since_prune >= PRUNE_EVERY:
                self._prune(now)

    def pause(self, seconds: float, now: float) -> None:
        """Telegram said "retry after ``seconds``": no broadcast before then."""
        self.paused_until = max(self.paused_until, now + max(0.0, seconds))

    def _prune(self, now: float) -> None:
        """Forget chats whose gap is long over (the map would otherwise grow with every recipient)."""
        self._since_prune = 0
        old = now - self.chat_gap
        self._last_in_chat = {c: t for c, t in self._last_in_chat.items() if t > old}

    @property
    def chats_tracked(self) -> int:
        return len(self._last_in_chat)


class RateLimiter:
    """Waits until a send may go, by :class:`Budget`'s rules, interactive sends first.

    ``await limiter.acquire(chat_id, Priority.INTERACTIVE)`` before each Bot API call that sends a
    message. Interactive callers never wait (they are counted). Broadcast callers queue one behind
    the other and wait for their own rules, the replies counted in the overall cap included.
    """

    def __init__(self, overall_rate: float = OVERALL_RATE, broadcast_rate: float = 25.0,
                 chat_gap: float = 1.0, window: float = WINDOW, jitter: float = 0.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.budget = Budget(overall_rate, broadcast_rate, chat_gap, window, jitter)
        self._clock = clock
        self._sleep = sleep
        self._broadcast_turn = asyncio.Lock()  # broadcast callers wait in order, one at a time
        self.sent = {Priority.INTERACTIVE: 0, Priority.BROADCAST: 0}
        self.pauses = 0

    async def acquire(self, chat_id: int | None, priority: Priority = Priority.INTERACTIVE) -> None:
        """Return when a message to ``chat_id`` may be sent now; it is counted as sent."""
        if priority is Priority.INTERACTIVE:
            await self._interactive(chat_id)
        else:
            async with self._broadcast_turn:
                await self._broadcast(chat_id)

    async def _interactive(self, chat_id: int | None) -> None:
        """Replies go at once, whatever the count: a person waiting for the next question comes first.

        They are counted, so broadcasts make room for them; Telegram's cap is a broadcast limit
        ("bulk notifications"), and a reply it refuses with 429 is tried again after the wait it
        asks for (``TelegramChannel._call``). Holding replies to the cap would hold every person
        answering at busy times (SCALE.md goal 1: 50 steps a second) behind it.
        """
        self.budget.record(Priority.INTERACTIVE, chat_id, self._clock())
        self.sent[Priority.INTERACTIVE] += 1

    async def _broadcast(self, chat_id: int | None) -> None:
        budget = self.budget
        while True:
            now = self._clock()
            wait = budget.delay(Priority.BROADCAST, chat_id, now)
            if wait <= 0:
                break
            await self._sleep(wait)
        budget.record(Priority.BROADCAST, chat_id, now)
        self.sent[Priority.BROADCAST] += 1

    def pause(self, seconds: float) -> None:
        """Flood control (429 "retry after"): broadcasts wait that long; replies are not held."""
        self.budget.pause(seconds, self._clock())
        self.pauses += 1

    @property
    def paused_for(self) -> float:
        """Seconds left of the current pause (0 if none)."""
        return max(0.0, self.budget.paused_until - self._clock())


def retry_after(exc: RetryAfter) -> float:
    """Seconds Telegram asked us to wait (PTB gives an int or a timedelta, and warns about the int)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
