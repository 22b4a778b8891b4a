"""The campaign sender: invitations, reminders and bulletins, each to each person at most once.

:class:`Broadcaster` runs in ``voices serve`` beside :class:`bot.runner.TelegramChannel`, on the
same ``Bot`` and the same :class:`bot.ratelimit.RateLimiter`, so that broadcasts stay within
Telegram's limits and replies to people in a conversation always go first (SCALE.md 4.3).

Every ``tick_seconds`` it runs :func:`core.storage.campaigns.tick` (launch what is due, queue
reminders, mark rows a crash left behind ``unknown``, close finished campaigns). In between it
takes batches of pending deliveries and, for each: waits for a broadcast slot, takes the row with
the conditional :func:`~core.storage.campaigns.begin` (skipped if another sender got it), sends,
and records what Telegram said. Nothing stands between ``begin`` and the request but building
the message, so a kill -9 leaves at most the messages actually in flight ``sending``, and those
are never sent again (the module docstring of ``core/storage/campaigns.py``).

What an error means for the delivery (:func:`classify`):

* ``RetryAfter`` (429): not sent; back in the queue after ``retry_after`` and broadcasts pause.
* ``Forbidden`` (the person blocked the bot, or deleted their account) and ``BadRequest`` "chat not
  found": ``blocked``, and the person gets nothing more.
* other ``BadRequest``: ``failed``.
* a time-out or a broken connection after the request went (``TimedOut``, server disconnected):
  ``unknown``, as the message may have arrived; never sent again.
* no connection at all (the request never left), or an error answer from Telegram's servers
  (5xx): back in the queue with a growing wait; after :data:`MAX_ATTEMPTS` tries, ``failed``.

Logs carry delivery ids and exception type names only: never a text, a name or a chat id.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Sequence
from typing import Any, Literal

import aiohttp
from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.warnings import PTBUserWarning

from bot.ratelimit import Priority, RateLimiter, retry_after
from bot.render import Message, Style, render
from core.languages import BY_CODE
from core.service import Voices
from core.storage import campaigns
from core.storage import models as m

log = logging.getLogger("voices.broadcast")
warnings.filterwarnings("ignore", message=r".*Bot\.sendMessage", category=PTBUserWarning)

TICK_SECONDS = 5.0  # campaigns launched, reminders queued, leftovers recovered this often
IDLE_SECONDS = 2.0  # with nothing to send, look again this often
BATCH = 100  # four seconds at 25/s
RECHECK = 25  # deliveries between looks at whether their campaign is still sending (one second)
CONCURRENCY = 8  # messages in flight at once (Telegram takes 50-200 ms to answer each)
MAX_ATTEMPTS = 5  # tries of one delivery that could not be sent (no connection, server errors)
FIRST_BACKOFF = 5.0  # seconds before the second try; doubling
MAX_BACKOFF = 300.0
STOP_SECONDS = 20.0

Outcome = Literal["later", "blocked", "failed", "unknown"]


def classify(exc: BaseException) -> tuple[Outcome, float]:
    """What a failed send means for its delivery, and seconds to wait before the next try."""
    if isinstance(exc, RetryAfter):
        return "later", retry_after(exc)
    if isinstance(exc, Forbidden):
        return "blocked", 0.0
    if isinstance(exc, BadRequest):
        text = exc.message.lower()
        return ("blocked" if "chat not found" in text or "peer_id_invalid" in text else "failed"), 0.0
    if isinstance(exc, ChatMigrated | Conflict):
        return "failed", 0.0
    if isinstance(exc, InvalidToken):
        return "later", 0.0  # refused at the door: nothing went; an operator must fix the token
    if isinstance(exc, NetworkError):  # TimedOut too
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            return "later", 0.0  # no connection was made, so the request never left
        if cause is None and not isinstance(exc, TimedOut):
            return "later", 0.0  # Telegram answered with a server error: the method failed
        return "unknown", 0.0  # sent, no answer: it may have arrived
    return "unknown", 0.0


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th try could not be sent."""
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2.0 ** max(0, attempts - 1))


class Broadcaster:
    """Sends what the campaign tables say is due. ``start()`` beside the bot, ``stop()`` before it."""

    def __init__(self, service: Voices, bot: Bot, limiter: RateLimiter, *,
                 tick_seconds: float = TICK_SECONDS, idle_seconds: float = IDLE_SECONDS,
                 batch_size: int = BATCH, concurrency: int = CONCURRENCY) -> None:
        self.service = service
        self.bot = bot
        self.limiter = limiter
        self.tick_seconds = tick_seconds
        self.idle_seconds = idle_seconds
        self.batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_tick = 0.0
        self.outcomes: Counter[str] = Counter()  # sent, later, blocked, failed, unknown, taken-elsewhere

    # ---- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="campaign-sender")

    async def stop(self) -> None:
        """Finish the messages in flight (so none is left ``sending``), then stop."""
        self._stopping.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=STOP_SECONDS)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def wake(self) -> None:
        """Tick and look for work now (e.g. a campaign was just scheduled)."""
        self._next_tick = 0.0
        self._wake.set()

    # ---- the loop -------------------------------------------------------------------

    def _now(self) -> dt.datetime:
        return self.service.clock()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                if time.monotonic() >= self._next_tick:
                    self._next_tick = time.monotonic() + self.tick_seconds
                    await campaigns.tick(self._now())
                batch = await campaigns.next_batch(self._now(), self.batch_size)
                if batch:
                    await self._send_batch(batch)
                failures = 0
            except Exception as exc:  # the database is away, most likely: wait, then carry on
                failures += 1
                log.error("campaign sender: %s", type(exc).__name__)
                await self._idle(min(60.0, 2.0 ** failures))
                continue
            if not batch:
                await self._idle(min(self.idle_seconds, max(0.0, self._next_tick - time.monotonic())))

    async def _idle(self, seconds: float) -> None:
        self._wake.clear()
        if seconds > 0 and not self._stopping.is_set():
            await _within(self._wake.wait(), seconds)

    async def _send_batch(self, batch: Sequence[campaigns.Outgoing]) -> None:
        rows, bulletins = await self._rows(batch)
        flying: set[asyncio.Task[None]] = set()
        running = set(rows)
        try:
            for n, out in enumerate(batch):
                if n and n % RECHECK == 0:  # an officer may have paused or cancelled one meanwhile
                    running = {c.id for c in await m.Campaign.filter(id__in=running, status="sending")
                               .only("id")}
                campaign = rows.get(out.campaign_id)
                if campaign is None or campaign.id not in running:  # gone, paused or cancelled
                    continue
                if not await self._or_stop(self._slots.acquire()):
                    break
                if not await self._or_stop(self.limiter.acquire(out.chat_id, Priority.BROADCAST)):
                    self._slots.release()
                    break
                bulletin = bulletins.get(_bulletin_id(campaign) or 0)
                task = asyncio.create_task(self._deliver(out, campaign, bulletin))
                flying.add(task)
                task.add_done_callback(lambda _: self._slots.release())
        finally:
            if flying:  # every row of the batch is settled before the next batch is read
                await asyncio.gather(*flying, return_exceptions=True)

    async def _or_stop(self, waiting: Awaitable[Any]) -> bool:
        """Wait for ``waiting`` unless the sender is told to stop first (then it is cancelled)."""
        if self._stopping.is_set():
            if asyncio.iscoroutine(waiting):
                waiting.close()
            return False
        job = asyncio.ensure_future(waiting)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({job, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if job.done():
            job.result()
            return True
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
        if job.cancelled():
            return False
        job.result()
        return True

    async def _rows(self, batch: Sequence[campaigns.Outgoing]
                    ) -> tuple[dict[int, m.Campaign], dict[int, m.Bulletin]]:
        """The batch's campaigns and bulletins, read once per batch."""
        ids = {out.campaign_id for out in batch}
        rows = {c.id: c for c in await m.Campaign.filter(id__in=ids)}
        wanted = {b for b in map(_bulletin_id, rows.values()) if b is not None}
        bulletins = {b.id: b for b in await m.Bulletin.filter(id__in=wanted)} if wanted else {}
        return rows, bulletins

    # ---- one delivery ---------------------------------------------------------------

    def _messages(self, out: campaigns.Outgoing, campaign: m.Campaign,
                  bulletin: m.Bulletin | None) -> list[Message]:
        say = self.service.outreach_message(out.kind, out.language, campaign, bulletin)
        language = BY_CODE.get(out.language)
        return render([say], 0, Style(rtl=bool(language and language.rtl)))

    async def _deliver(self, out: campaigns.Outgoing, campaign: m.Campaign,
                       bulletin: m.Bulletin | None) -> None:
        """Take the delivery, send it at once, and write what became of it.

        Nothing but building the message stands between taking the row and the request, so a
        crash leaves ``sending`` only what may really be on its way.
        """
        try:
            if not await campaigns.begin(out.delivery_id, self._now()):
                self.outcomes["taken-elsewhere"] += 1  # another sender, or paused or cancelled
                return
        except Exception as exc:
            log.error("delivery %s: could not take it: %s", out.delivery_id, type(exc).__name__)
            return
        try:
            messages = self._messages(out, campaign, bulletin)
        except Exception as exc:
            await self._record(out, "failed", 0.0, type(exc).__name__)
            return
        message_id: int | None = None
        for n, message in enumerate(messages):
            if n:  # a text too long for one message: the rest, a chat gap apart
                await self.limiter.acquire(out.chat_id, Priority.BROADCAST)
            kwargs: dict[str, Any] = {"chat_id": out.chat_id, "text": message.text}
            if message.markup is not None:
                kwargs["reply_markup"] = message.markup
            try:
                result = await self.bot.do_api_request("sendMessage", api_kwargs=kwargs)
            except Exception as exc:
                outcome, wait = classify(exc)
                if isinstance(exc, RetryAfter):
                    self.limiter.pause(wait)  # every broadcast waits, not just this one
                if n and outcome == "later":
                    outcome = "unknown"  # part of it went: never again
                await self._record(out, outcome, wait, type(exc).__name__, exc)
                return
            message_id = int(dict(result).get("message_id") or 0) or None
        try:
            await campaigns.sent(out.delivery_id, self._now(), message_id)
            self.outcomes["sent"] += 1
        except Exception as exc:  # it went; the row stays "sending" and is marked unknown later
            log.error("delivery %s: sent, but could not record it: %s", out.delivery_id, type(exc).__name__)

    async def _record(self, out: campaigns.Outgoing, outcome: Outcome, wait: float, error: str,
                      exc: BaseException | None = None) -> None:
        now = self._now()
        try:
            if outcome == "later":
                if isinstance(exc, RetryAfter):  # not counted against the delivery: try until it goes
                    await campaigns.later(out.delivery_id, now + dt.timedelta(seconds=wait), error)
                    log.info("delivery %s: flood control, waiting %.0f s", out.delivery_id, wait)
                else:
                    attempts = await self._attempts(out.delivery_id)
                    if attempts >= MAX_ATTEMPTS:
                        outcome = "failed"
                        await campaigns.failed(out.delivery_id, "failed", error, now)
                    else:
                        wait = backoff(attempts)
                        self.limiter.pause(min(wait, 30.0))  # the same is likely for the next one
                        await campaigns.later(out.delivery_id, now + dt.timedelta(seconds=wait), error)
                    log.warning("delivery %s: %s (%s)", out.delivery_id, error, outcome)
            else:
                await campaigns.failed(out.delivery_id, outcome, error, now)
                log.log(logging.INFO if outcome == "blocked" else logging.WARNING,
                        "delivery %s: %s (%s)", out.delivery_id, error, outcome)
        except Exception as again:
            log.error("delivery %s: could not record %s: %s", out.delivery_id, outcome, type(again).__name__)
        self.outcomes[outcome] += 1

    async def _attempts(self, delivery_id: int) -> int:
        found = await m.Delivery.filter(id=delivery_id).only("id", "attempts").first()
        return found.attempts if found is not None else MAX_ATTEMPTS


async def _within(waiting: Awaitable[Any], seconds: float) -> None:
    """Wait for ``waiting`` at most ``seconds``."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(waiting, seconds)


def _bulletin_id(campaign: m.Campaign) -> int | None:
    value = getattr(campaign, "bulletin_id", None)  # tortoise's column of the ``bulletin`` link
    return int(value) if value is not None else None
