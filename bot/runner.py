"""The Telegram channel: long polling into a durable inbox, one worker per chat, replies.

python-telegram-bot's own ``Updater`` confirms updates to Telegram before its handlers
run, so a crash loses them. Here every batch from ``getUpdates`` is written to the
``inbox_update`` table first; only then is the next ``getUpdates`` (which confirms the
batch) made. Each update is processed in a transaction that also marks it done, so it is
processed at most once, and anything left unprocessed by a crash is picked up at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from telegram import Bot, BotCommand, InputFile, InputMediaPhoto
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBUserWarning

from bot.flood import FloodGate
from bot.pictures import Pictures
from bot.ratelimit import JITTER, OVERALL_RATE, Priority, RateLimiter, retry_after
from bot.render import Message, Style, render
from bot.request import AiohttpRequest
from bot.speech import Speech
from bot.updates import Parsed, parse
from core.i18n import has_catalogue
from core.languages import BY_CODE, LANGUAGES, best_match
from core.model import Event, Voice
from core.pollwatch import PollWatchdog
from core.service import Clip, Incoming, Reply, Voices
from core.settings import Settings
from core.storage import campaigns
from core.storage.faults import unavailable
from core.storage.inbox import inbox_add, inbox_mark_done, inbox_mark_failed, inbox_pending
from core.texts import N_, UI, fill

log = logging.getLogger("voices.bot")
# getUpdates, sendMessage and sendVoice go through do_api_request to get the raw JSON without
# building Update and Message objects (the inbox stores updates as they came; of a sent message
# only its id is needed). That halves the library's cost per message; PTB warns on each call.
warnings.filterwarnings("ignore", message=r".*Bot\.(getUpdates|sendMessage|sendVoice|sendDocument)",
                        category=PTBUserWarning)
SOURCE = "telegram"
MAX_VOICE_BYTES = 10 * 1024 * 1024  # Telegram lets bots download up to 20 MB
MAX_VOICE_SECONDS = 5 * 60
PATIENCE = 600.0  # seconds an update waits for the database to come back before it counts as failed
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
COMMAND_HELP = {
    "start": N_("Start, or start again"),
    "help": N_("Get help"),
    "back": N_("Change your last answer"),
    "skip": N_("Skip this question"),
    "stop": N_("Stop for now"),
    "language": N_("Change the language"),
    "settings": N_("Settings"),
    "privacy": N_("How we use your answers"),
    "mydata": N_("See everything we keep about you"),
    "delete": N_("Delete your answers"),
    "news": N_("What we changed"),
}


def make_bot(settings: Settings, poll_request: AiohttpRequest, send_timeout: float = 15.0) -> Bot:
    base = settings.telegram_base_url
    file_base = base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base
    return Bot(
        settings.telegram_token.get(),
        base_url=base,
        base_file_url=file_base,
        request=AiohttpRequest(connection_pool_size=64, read_timeout=send_timeout),
        get_updates_request=poll_request,
    )


class TelegramChannel:
    """Runs the bot inside the caller's event loop (beside the admin server)."""

    def __init__(self, settings: Settings, service: Voices, poll_timeout: int = 25,
                 max_concurrency: int = 64, speech: Speech | None = None,
                 pictures: Pictures | None = None, limiter: RateLimiter | None = None,
                 flood: FloodGate | None = None, send_timeout: float = 15.0,
                 patience: float = PATIENCE, watchdog: PollWatchdog | None = None) -> None:
        self.service = service
        self.speech = speech
        self.pictures = pictures
        self._voice_ids: dict[str, str] = {}  # voice note key -> Telegram file_id
        self.poll_timeout = poll_timeout
        self._poll_request = AiohttpRequest(connection_pool_size=1, read_timeout=poll_timeout + 10)
        self.bot = make_bot(settings, self._poll_request, send_timeout)
        self.patience = patience
        self.watchdog = watchdog or PollWatchdog(settings.poll_watchdog)
        # Every message this process sends goes through this: replies here, broadcasts from
        # bot.broadcast.Broadcaster on the same Bot, so together they stay within Telegram's limits.
        self.limiter = limiter or RateLimiter(OVERALL_RATE, settings.broadcast_rate, settings.chat_gap,
                                              jitter=JITTER)
        self._queues: dict[int, deque[tuple[int, dict[str, Any]]]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._seen: set[int] = set()
        self._limit = asyncio.Semaphore(max_concurrency)
        self._poller: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._offset: int | None = None
        self._refused = False
        self._stopping = asyncio.Event()
        self.flood = flood or FloodGate()
        self._side_tasks: set[asyncio.Task[None]] = set()
        # The language of each chat's last reply, to speak it when the database cannot be asked.
        self._languages: dict[int, str] = {}
        self._lost: set[int] = set()  # chats a message could not reach (Telegram unreachable)
        self._unsent: dict[int, int] = {}  # session id -> chat id: a reply to send again
        self._resender: asyncio.Task[None] | None = None

    # ---- life cycle -----------------------------------------------------------------

    async def start(self, poll: bool = True) -> None:
        """Start; ``poll=False`` when updates come by webhook (``receive``) instead of ``getUpdates``."""
        await self.bot.initialize()
        await self._register_commands()
        await self._recover()
        if poll:
            self._poller = asyncio.create_task(self._poll(), name="telegram-poll")
            self._watcher = asyncio.create_task(self._watch(), name="telegram-watchdog")
        else:
            self._watcher = asyncio.create_task(self._sweep(), name="telegram-sweeper")
        self._resender = asyncio.create_task(self._send_again(), name="telegram-resend")

    async def stop(self) -> None:
        """Stop polling, let updates already taken finish, then close the client."""
        self._stopping.set()
        for task in (self._resender, self._watcher, self._poller):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._workers:
            await asyncio.wait(list(self._workers.values()), timeout=20)
        await self.service.flush_delivered()
        await self.bot.shutdown()

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake as soon as the channel stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _register_commands(self) -> None:
        """The command menu and the bot's descriptions, in every language that has a catalogue.

        The default (no language code) is English; Telegram shows each user the one for their
        app's language, so the empty chat is already in their language.
        """
        try:
            for code in [""] + [lang.code for lang in LANGUAGES if lang.code != "en"]:
                if code and not has_catalogue(self.service.settings.locales_dir, code):
                    continue
                await self._register_language(code)
        except (NetworkError, TimedOut, BadRequest) as exc:
            log.warning("could not register commands: %s", type(exc).__name__)

    async def _register_language(self, code: str) -> None:
        t = self.service.translate(code or "en")
        council = {"council": self.service.settings.council_name}
        commands = [BotCommand(name, t(text)) for name, text in COMMAND_HELP.items()]
        language = code or None
        await self.bot.set_my_commands(commands, language_code=language)
        await self.bot.set_my_description(fill(t(UI["description"]), council), language_code=language)
        await self.bot.set_my_short_description(fill(t(UI["short_description"]), council),
                                                language_code=language)

    async def _recover(self) -> None:
        """Finish what a crash left: unprocessed updates, then questions never sent."""
        for update_id, payload in await inbox_pending(SOURCE, limit=10_000):
            self._dispatch(update_id, payload)
        for session_id, chat_id in await self.service.undelivered(SOURCE, dt.timedelta(hours=24)):
            reply = await self.service.resend(session_id)
            if reply is not None:
                # The same question again: an answer the person sent to the first copy while the
                # bot was down must still count, so the question's message id is not moved on.
                await self._send(chat_id, reply, new_question=False)

    # ---- polling --------------------------------------------------------------------

    async def _poll(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                batch = await self._get_updates(self._offset)
                backoff = 1.0
                self.watchdog.heard()
            except (NetworkError, TimedOut, Conflict, RetryAfter) as exc:
                wait = retry_after(exc) if isinstance(exc, RetryAfter) else backoff
                log.warning("getUpdates failed (%s); trying again in %.0f s", type(exc).__name__, wait)
                await asyncio.sleep(wait)
                backoff = min(backoff * 2, 30.0)
                continue
            except InvalidToken:
                log.error("Telegram refused the bot token; the bot is not running")
                self._refused = True  # nothing for the watchdog to restart
                return
            if not batch:
                continue
            updates = [(int(u["update_id"]), u) for u in batch if isinstance(u, dict) and "update_id" in u]
            try:
                await self.receive(updates)  # durable before Telegram is told
            except Exception as exc:
                # Not stored, so not confirmed either: Telegram sends the batch again.
                log.error("could not store updates (%s); trying again in %.0f s", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            self._offset = max(uid for uid, _ in updates) + 1

    async def receive(self, updates: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """Store updates in the inbox, then process the ones not seen before (from polling or a webhook).

        Raises if they cannot be stored: the caller must then not acknowledge them to Telegram.
        """
        new = set(await inbox_add(SOURCE, updates))
        for update_id, payload in updates:
            if update_id in new and self._let_in(update_id, payload):
                self._dispatch(update_id, payload)

    async def _sweep(self, every: float = 30.0, older: float = 60.0) -> None:
        """Webhook mode, several processes: take over updates another process stored, then died on.

        An update being processed elsewhere is safe to take too: only one transaction can mark
        it done, and the other is rolled back without a reply.
        """
        while not self._stopping.is_set():
            await self._pause(every)
            if self._stopping.is_set():
                return
            try:
                stale = await inbox_pending(SOURCE, limit=1000, older_than=dt.timedelta(seconds=older))
            except Exception as exc:
                log.warning("could not look for updates left undone (%s)", type(exc).__name__)
                continue
            for update_id, payload in stale:
                self._dispatch(update_id, payload)

    async def _watch(self) -> None:
        """SECURITY.md R8: with no good ``getUpdates`` for a while, alert and start polling afresh.

        The alert is an ERROR in the log and a failing ``/healthz``, so that whoever runs the
        server hears of it (and a supervisor can restart the process). Polling is restarted on a
        new connection: a connection that hangs without an error would otherwise never recover.
        The offset is kept, so nothing is fetched twice or skipped; Telegram keeps updates 24 hours.
        """
        while not self._stopping.is_set() and not self._refused:
            await asyncio.sleep(self.watchdog.check_every)
            if self._refused or not self.watchdog.overdue():
                continue
            self.watchdog.restarted()
            if self._poller is not None:
                self._poller.cancel()
                await asyncio.gather(self._poller, return_exceptions=True)
            await self._poll_request.shutdown()
            await self._poll_request.initialize()
            if not self._stopping.is_set():
                self._poller = asyncio.create_task(self._poll(), name="telegram-poll")

    async def _get_updates(self, offset: int | None) -> list[Any]:
        kwargs: dict[str, Any] = {"timeout": self.poll_timeout, "allowed_updates": ALLOWED_UPDATES}
        if offset is not None:
            kwargs["offset"] = offset
        result = await self.bot.do_api_request("getUpdates", api_kwargs=kwargs,
                                               read_timeout=self.poll_timeout + 10)
        return list(result or [])

    # ---- one worker per chat ----------------------------------------------------------

    def _let_in(self, update_id: int, payload: dict[str, Any]) -> bool:
        """Flood control for new updates (SECURITY.md B14); updates recovered at start are not held back.

        An update the gate holds back is marked done unread; the first of a flood gets one note.
        """
        parsed = parse(payload)
        if parsed.kind != "event" or parsed.chat_id is None:
            return True
        verdict = self.flood.check(parsed.chat_id)
        if verdict == "read":
            return True
        log.warning("update %s not read: too many messages from one chat", update_id)
        task = asyncio.create_task(self._not_read(update_id, parsed, verdict == "warn"))
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)
        return False

    async def _not_read(self, update_id: int, parsed: Parsed, tell: bool) -> None:
        try:
            if parsed.callback_id:
                await self._answer_callback(parsed.callback_id)
            if await inbox_mark_done(update_id) and tell and parsed.chat_id is not None:
                language = await self.service.language_of(SOURCE, str(parsed.user_id or ""))
                await self._send_text(parsed.chat_id, self.service.text(language, "slow_down"))
        except Exception as exc:
            log.error("update %s: could not set it aside: %s", update_id, type(exc).__name__)

    def _dispatch(self, update_id: int, payload: dict[str, Any]) -> None:
        if update_id in self._seen:
            return
        self._seen.add(update_id)
        chat = parse(payload).chat_id or 0
        self._queues.setdefault(chat, deque()).append((update_id, payload))
        if chat not in self._workers:
            self._workers[chat] = asyncio.create_task(self._chat_worker(chat))

    async def _chat_worker(self, chat: int) -> None:
        queue = self._queues[chat]
        try:
            while queue:
                update_id, payload = queue.popleft()
                await self._process_patiently(update_id, payload)
                self._seen.discard(update_id)
        finally:
            del self._workers[chat]
            if not queue:
                self._queues.pop(chat, None)
            else:  # something arrived as the worker ended: keep going
                self._workers[chat] = asyncio.create_task(self._chat_worker(chat))

    async def _process_patiently(self, update_id: int, payload: dict[str, Any]) -> None:
        """Process an update; while the database cannot be used, wait and try again.

        SECURITY.md R10, R12, R14: a locked or full database, or a PostgreSQL restart, rolls the
        turn back whole. The update is safe in the inbox, so the person is told once that an
        answer is coming, and the same update is tried again (the chat's later updates wait
        behind it, so order is kept). After ``patience`` seconds it counts as failed; if the
        channel stops first, it stays in the inbox and is processed at the next start.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.patience
        wait, told = 1.0, False
        while True:
            async with self._limit:
                trouble = await self._process(update_id, payload)
            if trouble is None or self._stopping.is_set():
                return
            if loop.time() + wait > give_up:
                await self._failed(update_id, parse(payload), trouble)
                return
            if not told:
                told = await self._tell_wait(parse(payload))
            await self._pause(wait)
            wait = min(wait * 2, 30.0)

    async def _tell_wait(self, parsed: Parsed) -> bool:
        """Tell the person their message is kept and an answer will come (the database is not needed)."""
        if parsed.chat_id is None or parsed.kind != "event":
            return False
        language = self._languages.get(parsed.chat_id) or best_match(parsed.language_hint)
        await self._send_text(parsed.chat_id, self.service.text(language, "wait_a_minute"))
        return True

    async def _process(self, update_id: int, payload: dict[str, Any]) -> Exception | None:
        """Process one update: None when done (or failed for good), else the database's error."""
        parsed = parse(payload)
        log.debug("update %s: %s", update_id, parsed.kind)  # the id and kind only, never content
        try:
            if parsed.callback_id:
                await self._answer_callback(parsed.callback_id)
            event = parsed.event
            if parsed.kind == "event" and event is not None and parsed.user_id is not None:
                clip, refused = await self._voice_clip(str(parsed.user_id), event)
                if refused:
                    parsed = replace(parsed, kind="voice-too-long")
                else:
                    reply = await self.service.handle(Incoming(
                        SOURCE, str(parsed.user_id), parsed.chat_id, event,
                        message_id=parsed.message_id, language_hint=parsed.language_hint,
                        update_id=update_id, action_session=parsed.action_session, clip=clip))
                    if reply is not None and parsed.chat_id is not None:
                        await self._send(parsed.chat_id, reply)
                    return None
            if parsed.kind == "blocked" and parsed.chat_id is not None:
                # No more invitations, reminders or bulletins (idempotent, so a crash before the
                # update is marked done only repeats it).
                await campaigns.mark_blocked(SOURCE, parsed.chat_id, self.service.clock())
            if await inbox_mark_done(update_id):
                await self._side_reply(parsed)
        except Exception as exc:
            if unavailable(exc):
                log.warning("update %s: the database cannot be used just now (%s)", update_id,
                            type(exc).__name__)
                return exc
            await self._failed(update_id, parsed, exc)
        return None

    async def _side_reply(self, parsed: Parsed) -> None:
        """Replies that store nothing: group chats and edited messages."""
        if parsed.chat_id is None:
            return
        if parsed.kind == "group":
            await self._send_text(parsed.chat_id, self.service.text("en", "group"))
            with contextlib.suppress(BadRequest, Forbidden):
                await self.bot.leave_chat(parsed.chat_id)
        elif parsed.kind in ("edited", "voice-too-long") and parsed.user_id is not None:
            language = await self.service.language_of(SOURCE, str(parsed.user_id))
            key = "edited" if parsed.kind == "edited" else "voice_too_long"
            await self._send_text(parsed.chat_id, self.service.text(language, key))

    async def _voice_clip(self, user: str, event: Event) -> tuple[Clip | None, bool]:
        """Download a voice note that answers the current question: (its audio, refused as too long).

        Nothing is fetched unless the question takes a voice note. Files over the size or length
        limit are refused; a download that fails or is not audio leaves the answer without audio.
        """
        if not isinstance(event, Voice) or not await self.service.accepts_voice(SOURCE, user):
            return None, False
        note = event.note
        if note.size > MAX_VOICE_BYTES or note.duration > MAX_VOICE_SECONDS:
            return None, True
        try:
            file = await self.bot.get_file(note.file_id)
            if (file.file_size or 0) > MAX_VOICE_BYTES:
                return None, True
            data = bytes(await file.download_as_bytearray())
        except (NetworkError, TimedOut, BadRequest) as exc:
            log.warning("could not download a voice note: %s", type(exc).__name__)
            return None, False
        mime = _audio_type(data)
        if mime is None or len(data) > MAX_VOICE_BYTES:
            log.warning("a voice note was not audio, or too big; kept without its audio")
            return None, False
        return Clip(note.file_id, mime, data), False

    async def _failed(self, update_id: int, parsed: Parsed, exc: Exception) -> None:
        log.error("update %s failed: %s", update_id, type(exc).__name__)
        try:
            await inbox_mark_failed(update_id, type(exc).__name__)
            if parsed.chat_id is not None and parsed.kind == "event":
                await self._send_text(parsed.chat_id, self.service.text("en", "error"))
        except Exception as again:
            log.error("could not record failure of update %s: %s", update_id, type(again).__name__)

    async def _answer_callback(self, callback_id: str) -> None:
        with contextlib.suppress(BadRequest):  # too old to answer; the text reply confirms the tap
            await self.bot.answer_callback_query(callback_id)

    # ---- sending ----------------------------------------------------------------------

    async def _send_again(self, every: float = 5.0) -> None:
        """Replies lost because Telegram could not be reached: the question again, once it can be.

        Without this the person would wait for a question that never comes (the answer itself is
        stored). A chat that is busy (the person wrote again) gets its reply from that instead.
        """
        while not self._stopping.is_set():
            await self._pause(every)
            for session_id, chat in list(self._unsent.items()):
                if self._stopping.is_set() or chat in self._workers:
                    continue
                self._unsent.pop(session_id, None)
                try:
                    reply = await self.service.resend(session_id)
                    if reply is not None:
                        # As at start-up: the first copy may have arrived after all (a time-out), and
                        # an answer to it must still count, so the question's message id stays.
                        await self._send(chat, reply, new_question=False)
                except Exception as exc:
                    log.warning("could not send a question again: %s", type(exc).__name__)
                    self._unsent.setdefault(session_id, chat)

    async def _send(self, chat_id: int, reply: Reply, new_question: bool = True) -> None:
        question_id: int | None = None
        if len(self._languages) > 100_000:  # kept bounded: it is only a convenience
            self._languages.clear()
        self._languages[chat_id] = reply.language
        self._lost.discard(chat_id)
        style = Style(rtl=reply.rtl, one_per_row=reply.has("screen-reader"), speak=reply.has("voice"),
                      pictures=reply.has("pictures") and self.pictures is not None)
        for message in render(reply.outputs, reply.session_id, style):
            if message.album:
                await self._send_album(chat_id, message.album)
                continue
            if message.document:
                name, data = message.document
                await self._call("sendDocument", {"chat_id": chat_id, "caption": message.text,
                                                  "document": InputFile(data, filename=name)})
                continue
            if message.speak:
                sent = await self._send_voice(chat_id, message, reply)
            else:
                sent = await self._send_message(chat_id, message)
            if sent is None:
                if chat_id in self._lost and reply.session_id and len(self._unsent) < 100_000:
                    self._unsent[reply.session_id] = chat_id  # Telegram was unreachable: try later
                return
            if message.question:
                question_id = sent
        self._unsent.pop(reply.session_id, None)
        await self.service.delivered(reply.session_id, reply.version, question_id if new_question else None)

    async def _send_text(self, chat_id: int, text: str) -> None:
        await self._send_message(chat_id, Message(text))

    async def _send_message(self, chat_id: int, message: Message) -> int | None:
        kwargs: dict[str, Any] = {"chat_id": chat_id, "text": message.text}
        if message.markup is not None:
            kwargs["reply_markup"] = message.markup
        sent = await self._call("sendMessage", kwargs)
        return int(sent["message_id"]) if sent else None

    async def _send_voice(self, chat_id: int, message: Message, reply: Reply) -> int | None:
        """The question as a voice note with its text as the caption; the text alone if it cannot be."""
        track = "easy" if reply.has("easy") else "standard"
        note = await self.speech.voice_note(message.text, reply.language, track) if self.speech else None
        if note is None:
            name = BY_CODE[reply.language].label if reply.language in BY_CODE else reply.language
            await self._send_text(chat_id, self.service.text(reply.language, "no_voice", language=name))
            return await self._send_message(chat_id, replace(message, speak=False))
        known = self._voice_ids.get(note.key)
        kwargs: dict[str, Any] = {"chat_id": chat_id, "caption": message.text,
                                  "duration": round(note.seconds),
                                  "voice": known or InputFile(note.data, filename="question.ogg")}
        if message.markup is not None:
            kwargs["reply_markup"] = message.markup
        sent = await self._call("sendVoice", kwargs)
        if not sent:
            return None
        file_id = (sent.get("voice") or {}).get("file_id")
        if file_id and not known:
            self._voice_ids[note.key] = str(file_id)  # later sends reuse Telegram's copy
        return int(sent["message_id"])

    async def _send_album(self, chat_id: int, album: tuple[tuple[str, str], ...]) -> None:
        """The answers' pictures as one album; a picture that cannot be made is left out."""
        assert self.pictures is not None
        media = []
        for symbol, caption in album:
            png = await self.pictures.picture(symbol)
            if png is not None:
                media.append(InputMediaPhoto(png, caption=caption))
        if len(media) < 2:
            return
        for _ in media:  # Telegram counts each picture of an album as a message
            await self.limiter.acquire(chat_id, Priority.INTERACTIVE)
        try:
            await self.bot.send_media_group(chat_id, media)
        except (BadRequest, Forbidden, NetworkError, TimedOut, RetryAfter) as exc:
            log.warning("could not send pictures: %s", type(exc).__name__)

    async def _call(self, method: str, kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """A Bot API call that sends a message, ahead of any broadcast (the shared rate limiter),
        with a few retries on flood control; its result, or None if it cannot go."""
        chat = kwargs.get("chat_id")
        for attempt in range(4):
            await self.limiter.acquire(chat if isinstance(chat, int) else None, Priority.INTERACTIVE)
            try:
                result = await self.bot.do_api_request(method, api_kwargs=kwargs)
                return dict(result)
            except RetryAfter as exc:
                wait = retry_after(exc)
                self.limiter.pause(wait)  # broadcasts wait too
                await asyncio.sleep(wait)
            except Forbidden:  # the person blocked the bot or deleted their account: no more messages
                if isinstance(chat, int) and chat > 0:
                    await campaigns.mark_blocked(SOURCE, chat, self.service.clock())
                return None
            except BadRequest as exc:  # before NetworkError, of which PTB makes it a kind
                log.warning("Telegram refused a message: %s", type(exc).__name__)
                return None
            except (TimedOut, NetworkError) as exc:
                if attempt >= 1:
                    log.warning("send failed: %s", type(exc).__name__)
                    if isinstance(chat, int):
                        self._lost.add(chat)
                    return None
                await asyncio.sleep(0.5)
        return None


def _audio_type(data: bytes) -> str | None:
    """The type of a voice note's audio from its first bytes (Telegram sends OGG/Opus)."""
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"ID3") or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if data[4:8] == b"ftyp":
        return "audio/mp4"
    return None
