"""Per-chat flood control for incoming messages (SECURITY.md B14).

Someone (or a stuck client) sending hundreds of messages in a few seconds must not make the bot
answer each one: that would be hundreds of replies to one chat, which Telegram answers with 429s
that slow every other chat down. Past ``limit`` messages in ``window`` seconds, a chat's further
messages are not read; the first of them gets one kind note saying so (and that nothing they
answered before is lost), the rest nothing, until the chat is quiet again.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Literal

Verdict = Literal["read", "warn", "drop"]


class FloodGate:
    def __init__(self, limit: int = 20, window: float = 10.0, max_chats: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be at least 1 and window positive")
        self.limit, self.window, self.max_chats, self.clock = limit, window, max_chats, clock
        self._seen: OrderedDict[int, deque[float]] = OrderedDict()
        self._warned: set[int] = set()

    def check(self, chat: int) -> Verdict:
        """Whether to read this message: ``read``, or not (``warn`` the first time, then ``drop``)."""
        now = self.clock()
        times = self._seen.pop(chat, None) or deque()
        self._seen[chat] = times  # most recently active last, so the oldest are dropped first
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) < self.limit:
            times.append(now)
            self._warned.discard(chat)
            self._forget_oldest()
            return "read"
        if chat in self._warned:
            return "drop"
        self._warned.add(chat)
        return "warn"

    def _forget_oldest(self) -> None:
        while len(self._seen) > self.max_chats:
            chat, _ = self._seen.popitem(last=False)
            self._warned.discard(chat)
