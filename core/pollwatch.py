"""Notices when polling Telegram has stopped working (SECURITY.md R8).

In core, not bot, so that the admin can report it (`/healthz`, a banner) without importing Telegram.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("voices.bot")


class PollWatchdog:
    """Keeps the time of the last good ``getUpdates`` and says when it is too long ago.

    ``overdue`` logs one ERROR when the silence first passes ``limit`` seconds (the alert), and
    ``heard`` logs how long it lasted when polling works again. ``status`` is for ``/healthz``.
    """

    def __init__(self, limit: float = 90.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self.check_every = max(0.2, min(5.0, limit / 4))
        self._last = clock()
        self._since: float | None = None  # when the silence that raised the alert began
        self.restarts = 0

    def heard(self) -> None:
        now = self.clock()
        if self._since is not None:
            log.warning("polling Telegram works again after %.0f s without it", now - self._since)
            self._since = None
        self._last = now

    def overdue(self) -> bool:
        """Whether the last good poll is more than ``limit`` seconds ago (alerting the first time)."""
        silence = self.clock() - self._last
        if silence < self.limit:
            return False
        if self._since is None:
            self._since = self._last
            log.error("ALERT: no successful getUpdates from Telegram for %.0f s; restarting polling",
                      silence)
        return True

    def restarted(self) -> None:
        """Polling is being started afresh: give it a whole ``limit`` before the next restart."""
        self.restarts += 1
        self._last = self.clock()

    def status(self) -> dict[str, object]:
        """For ``/healthz``: whether polling works, and for how long it has not."""
        if self._since is None:
            return {"polling": "ok"}
        return {"polling": "failing", "seconds_without": round(self.clock() - self._since)}

    @property
    def failing(self) -> bool:
        return self._since is not None
