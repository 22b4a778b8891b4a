"""Telegram's webhook: the route that takes updates when VOICES_UPDATE_SOURCE=webhook.

A durable inbox (SCALE.md 4.2): the route checks Telegram's secret header, stores the update in
``inbox_update`` (once, whatever Telegram retries) and only then answers 200; the update is then
processed by the channel exactly as a polled one. Nothing is acknowledged before it is stored: if
the database cannot take it, the answer is 503 and Telegram sends it again (SECURITY.md R3, R10).

A request without the right secret gets 401, is stored nowhere, and is logged without what it
sent; an address that keeps trying gets a cheaper 429 for a while (SECURITY.md T1). The route's path is
made from the secret, so it holds neither the bot token nor anything that can be guessed (T3).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from admin.middleware import WEBHOOK_PREFIX
from admin.throttle import Throttle
from core.settings import Secret
from core.storage.faults import unavailable

log = logging.getLogger("voices.bot")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 256 * 1024  # Telegram's updates are a few kilobytes

Receive = Callable[[Sequence[tuple[int, dict[str, Any]]]], Awaitable[None]]


def webhook_path(secret: Secret) -> str:
    """The route's path: derived from the secret, so only Telegram (which has the secret) knows it."""
    digest = hashlib.sha256(b"voices-telegram-webhook:" + secret.get().encode()).hexdigest()
    return f"{WEBHOOK_PREFIX}{digest[:32]}"


class WebhookRoute:
    """The aiohttp handler. ``receive`` is set when the channel has started; until then, 503."""

    def __init__(self, secret: Secret, throttle: Throttle | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if not secret:
            raise ValueError("a webhook needs a secret")
        self._secret = secret.get().encode()
        self.path = webhook_path(secret)
        self.throttle = throttle or Throttle(limit=10, window=timedelta(minutes=1))
        self.clock = clock
        self.receive: Receive | None = None
        self.refused = 0

    async def handle(self, request: web.Request) -> web.Response:
        supplied = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(supplied, self._secret):
            return self._refuse(request.remote or "unknown")
        if self.receive is None:
            return web.Response(status=503, text="Starting")
        update = await _update(request)
        if update is None:
            log.warning("webhook: a request with the right secret was not an update")
            return web.Response(status=400, text="Not an update")
        try:
            await self.receive([update])
        except Exception as exc:
            # Not stored, so not acknowledged: Telegram sends it again.
            log.error("webhook: could not store update %s (%s)", update[0], type(exc).__name__)
            return web.Response(status=503 if unavailable(exc) else 500, text="Try again")
        return web.Response(status=200)

    def _refuse(self, source: str) -> web.Response:
        """401, or 429 for an address that keeps guessing. Only guesses are throttled: behind a load
        balancer every request has its address, and Telegram's own must never be held back."""
        self.refused += 1
        now = self.clock()
        if self.throttle.blocked(source, now):
            return web.Response(status=429, text="Too many requests")
        self.throttle.fail(source, now)
        log.warning("webhook: refused a request without the right secret")  # never what it sent
        return web.Response(status=401, text="Unauthorized")


async def _update(request: web.Request) -> tuple[int, dict[str, Any]] | None:
    if request.content_length is not None and request.content_length > MAX_UPDATE_BYTES:
        return None
    try:
        body = await request.read()  # the whole body (the app refuses more than its client_max_size)
        payload = json.loads(body) if len(body) <= MAX_UPDATE_BYTES else None
    except (ValueError, UnicodeDecodeError, web.HTTPRequestEntityTooLarge):
        return None
    if not isinstance(payload, dict):
        return None
    update_id = payload.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or update_id < 0:
        return None
    return update_id, payload
