"""An in-process fake of the Telegram Bot API plus scripted users that talk to it.

The server speaks enough of the real HTTP API for python-telegram-bot's ``Bot`` to work against it
unchanged (``base_url=fake.base_url``, ``base_file_url=fake.base_file_url``).  Everything the bot
does is recorded so tests can assert on it, and faults (errors, 429s, blocked users, latency) can be
injected per method.

Telegram's flood control can be switched on (:meth:`FakeBotAPI.rate_limit`): more than N messages a
second in all, or more than about one a second to one chat, are answered 429 with ``retry_after``
and counted (``count_429``). :meth:`FakeBotAPI.hold` keeps the answer to the Nth call of a method
(which is carried out: the message arrives) until released, so that a test can kill the bot while
that message is in flight.

Typical use::

    async with FakeBotAPI() as fake:
        user = fake.user(1001, first_name="Sam")
        await user.send("/start")
        welcome = await user.reply()
        assert "Sam" in welcome.text
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import html
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "CallbackAnswer",
    "ErrorRecord",
    "FakeBotAPI",
    "FakeUser",
    "FloodControl",
    "Hold",
    "SentMessage",
    "StoredFile",
    "check_entities",
]

JsonDict = dict[str, Any]

DEFAULT_TOKEN = "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz"

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_TEXT_LIMIT = 200
CALLBACK_DATA_LIMIT = 64
DOWNLOAD_LIMIT = 20 * 1024 * 1024

# Form fields that must never be JSON-decoded: PTB sends ``str`` values raw, so "42" or "true" typed
# by a user must stay a string.
# fmt: off
_KEEP_STRING = frozenset({
    "text", "caption", "description", "short_description", "name", "title", "callback_query_id",
    "inline_query_id", "parse_mode", "language_code", "action", "url", "file_id", "voice", "audio",
    "document", "photo", "sticker", "emoji", "question", "first_name", "last_name", "phone_number",
    "address", "secret_token", "business_connection_id", "message_effect_id", "inline_message_id",
})
# fmt: on
_JSON_START = frozenset("{[-0123456789tfn")

# fmt: off
_CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
})
# fmt: on
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_LANG_RE = re.compile(r"^[a-z]{2}$")
_BOT_COMMAND_IN_TEXT = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")

_ERR_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_ERR_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": status, "description": ...}``."""

    def __init__(self, status: int, description: str, parameters: JsonDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


# --------------------------------------------------------------------------------------------------
# Entity parsing (HTML / MarkdownV2 / Markdown): simple but strict enough to catch bot bugs.


class _EntityError(Exception):
    pass


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


# fmt: off
_HTML_TAGS = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code",
    "pre", "blockquote", "tg-emoji",
})
# fmt: on
_HTML_SPECIAL = re.compile(r"[<&]")
_HTML_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?>")
_HTML_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")


def _parse_html(text: str) -> str:
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while True:
        m = _HTML_SPECIAL.search(text, i)
        if m is None:
            out.append(text[i:])
            break
        j = m.start()
        out.append(text[i:j])
        if text[j] == "&":
            ent = _HTML_ENTITY.match(text, j)
            if ent is None:
                raise _EntityError(
                    f'Unsupported HTML entity or unescaped "&" at byte offset {_byte_offset(text, j)}'
                )
            out.append(html.unescape(ent.group(0)))
            i = ent.end()
            continue
        tag = _HTML_TAG.match(text, j)
        if tag is None:
            raise _EntityError(f'Unclosed or unescaped "<" at byte offset {_byte_offset(text, j)}')
        name = tag.group(2).lower()
        if tag.group(1):
            if not stack or stack[-1] != name:
                raise _EntityError(f'Unexpected end tag "{name}" at byte offset {_byte_offset(text, j)}')
            stack.pop()
        else:
            if name not in _HTML_TAGS:
                raise _EntityError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, j)}')
            stack.append(name)
        i = tag.end()
    if stack:
        raise _EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
    "`": "code",
    "```": "pre",
    "[": "text URL",
}


def _parse_markdown_v2(text: str) -> str:
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    n = len(text)

    def reserved(index: int) -> _EntityError:
        return _EntityError(
            f"Character '{text[index]}' is reserved and must be escaped with the preceding '\\'"
        )

    def toggle(token: str, index: int) -> None:
        if stack and stack[-1][0] == token:
            stack.pop()
        elif any(tok == token for tok, _ in stack):
            start = next(pos for tok, pos in stack if tok == token)
            raise _EntityError(
                f"Can't find end of {_MDV2_NAMES[token]} entity at byte offset {_byte_offset(text, start)}"
            )
        else:
            stack.append((token, index))

    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 >= n:
                raise reserved(i)
            out.append(text[i + 1])
            i += 2
            continue
        top = stack[-1][0] if stack else None
        if top in ("`", "```"):
            assert top is not None
            if text.startswith(top, i):
                stack.pop()
                i += len(top)
            else:
                out.append(c)
                i += 1
            continue
        if c == "`":
            token = "```" if text.startswith("```", i) else "`"
            stack.append((token, i))
            i += len(token)
            continue
        if c in "*~":
            toggle(c, i)
            i += 1
        elif c == "_":
            token = "__" if text.startswith("__", i) else "_"
            toggle(token, i)
            i += len(token)
        elif c == "|":
            if not text.startswith("||", i):
                raise reserved(i)
            toggle("||", i)
            i += 2
        elif c == "[" or (c == "!" and text.startswith("![", i)):
            start = i
            i += 1 if c == "[" else 2
            stack.append(("[", start))
        elif c == "]":
            if top != "[":
                raise reserved(i)
            stack.pop()
            if not text.startswith("(", i + 1):
                raise reserved(i)
            j = i + 2
            while j < n and text[j] != ")":
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise _EntityError(f"Can't find end of a URL at byte offset {_byte_offset(text, i + 1)}")
            i = j + 1
        elif c == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1
        elif c in _MDV2_RESERVED:
            raise reserved(i)
        else:
            out.append(c)
            i += 1
    if stack:
        token, pos = stack[-1]
        raise _EntityError(
            f"Can't find end of {_MDV2_NAMES[token]} entity at byte offset {_byte_offset(text, pos)}"
        )
    return "".join(out)


def _parse_markdown(text: str) -> str:
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
            continue
        if c in "*_`":
            token = "```" if text.startswith("```", i) else c
            end = text.find(token, i + len(token))
            if end < 0:
                raise _EntityError(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            out.append(text[i + len(token) : end])
            i = end + len(token)
            continue
        if c == "[":
            close = text.find("]", i + 1)
            if close >= 0 and text.startswith("(", close + 1):
                paren = text.find(")", close + 2)
                if paren >= 0:
                    out.append(text[i + 1 : close])
                    i = paren + 1
                    continue
            raise _EntityError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
            )
        out.append(c)
        i += 1
    return "".join(out)


def check_entities(text: str, parse_mode: str | None) -> str:
    """Return the plain text of ``text`` under ``parse_mode``; raise ``ApiError(400)`` if unparsable."""
    if not parse_mode:
        return text
    mode = parse_mode.lower()
    try:
        if mode == "html":
            return _parse_html(text)
        if mode == "markdownv2":
            return _parse_markdown_v2(text)
        if mode == "markdown":
            return _parse_markdown(text)
    except _EntityError as exc:
        raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
    raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode!r}")


# --------------------------------------------------------------------------------------------------
# Records


def _flatten_keyboard(markup: JsonDict | None, key: str) -> list[Any]:
    if not markup or key not in markup:
        return []
    return [button for row in markup[key] or [] for button in row]


@dataclass(slots=True, eq=False)
class SentMessage:
    """A message the bot created (sendMessage, sendVoice, ...), kept up to date by edits."""

    message_id: int
    chat_id: int
    method: str
    text: str | None
    caption: str | None
    reply_markup: JsonDict | None
    params: JsonDict = field(repr=False)
    time: float = field(repr=False)  # time.monotonic() when the request arrived
    date: int = field(default=0, repr=False)  # unix time, as in the Message object
    plain: str | None = field(default=None, repr=False)  # text/caption after entity parsing
    media: JsonDict | None = field(default=None, repr=False)  # e.g. {"voice": {...}}
    file_id: str | None = field(default=None, repr=False)
    original_reply_markup: JsonDict | None = field(default=None, repr=False)
    edit_count: int = field(default=0, repr=False)
    edit_date: int | None = field(default=None, repr=False)
    deleted: bool = field(default=False, repr=False)

    @property
    def content(self) -> str:
        """The text, or the caption for media messages ('' if neither)."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def parse_mode(self) -> str | None:
        value = self.params.get("parse_mode")
        return value if isinstance(value, str) else None

    @property
    def buttons(self) -> list[str]:
        """Reply-keyboard labels, flattened row by row."""
        return [
            b["text"] if isinstance(b, dict) else str(b)
            for b in _flatten_keyboard(self.reply_markup, "keyboard")
        ]

    @property
    def inline(self) -> list[tuple[str, str | None]]:
        """Inline buttons as (text, callback_data); callback_data is None for URL buttons etc."""
        return [
            (b.get("text", ""), b.get("callback_data"))
            for b in _flatten_keyboard(self.reply_markup, "inline_keyboard")
        ]

    @property
    def has_inline(self) -> bool:
        return bool(self.reply_markup and "inline_keyboard" in self.reply_markup)

    @property
    def removes_keyboard(self) -> bool:
        return bool(self.reply_markup and self.reply_markup.get("remove_keyboard"))

    @property
    def voice(self) -> bytes | None:
        """Uploaded bytes of a sendVoice (None when the bot sent a file_id)."""
        value = self.params.get("voice")
        return value if isinstance(value, bytes) else None

    def summary(self) -> str:
        body = self.content
        if len(body) > 80:
            body = body[:77] + "..."
        extra = ""
        if self.buttons:
            extra = f" keyboard={self.buttons}"
        elif self.inline:
            extra = f" inline={self.inline}"
        elif self.removes_keyboard:
            extra = " remove_keyboard"
        return f"#{self.message_id} {self.method} {body!r}{extra}"


@dataclass(slots=True)
class CallbackAnswer:
    callback_query_id: str
    chat_id: int | None
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    time: float


@dataclass(slots=True)
class ErrorRecord:
    """A non-ok answer the fake gave (injected faults included, flagged ``injected``)."""

    method: str
    status: int
    description: str
    chat_id: int | None
    params: JsonDict = field(repr=False)
    injected: bool = False
    time: float = field(default=0.0, repr=False)  # time.monotonic() when the request was answered


@dataclass(slots=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes = field(repr=False)
    mime_type: str | None = None
    file_name: str | None = None

    def as_file(self) -> JsonDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass(slots=True)
class _Fault:
    status: int
    description: str
    parameters: JsonDict | None
    remaining: int


class _Pending:
    __slots__ = ("delivered", "update", "update_id")

    def __init__(self, update: JsonDict) -> None:
        self.update = update
        self.update_id: int = update["update_id"]
        self.delivered = False


# Methods that send messages, and so count against Telegram's flood limits (an album counts each item).
MESSAGE_METHODS = frozenset({
    "sendMessage", "sendVoice", "sendAudio", "sendDocument", "sendPhoto", "sendMediaGroup",
})


class FloodControl:
    """Telegram's flood limits as sliding windows: at most ``overall`` messages in any ``window``
    seconds, and at most ``per_chat * chat_window`` (at least 1) to one chat in any ``chat_window``
    seconds. Only messages that were let through count. ``check`` says how long to wait (0: go).
    """

    def __init__(self, overall: float = 30.0, per_chat: float = 1.0, window: float = 1.0,
                 chat_window: float = 3.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.overall_limit = max(1, int(overall * window))
        self.chat_limit = max(1, int(per_chat * chat_window))
        self.window = window
        self.chat_window = chat_window
        self.clock = clock
        self._all: collections.deque[float] = collections.deque()
        self._chats: dict[int, collections.deque[float]] = {}
        self.rejected = 0
        self.rejected_chat = 0  # of ``rejected``: refused for the per-chat limit

    def check(self, chat_id: int | None, count: int = 1) -> float:
        """Let ``count`` messages to ``chat_id`` through now (returns 0), or the seconds to wait."""
        now = self.clock()
        while self._all and self._all[0] <= now - self.window:
            self._all.popleft()
        wait = 0.0
        if len(self._all) + count > self.overall_limit:
            wait = self._all[0] + self.window - now if self._all else self.window
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is not None:
            while chat and chat[0] <= now - self.chat_window:
                chat.popleft()
            if len(chat) + count > self.chat_limit:
                chat_wait = chat[0] + self.chat_window - now if chat else self.chat_window
                if chat_wait > wait:
                    self.rejected_chat += 1
                wait = max(wait, chat_wait)
        if wait > 0:
            self.rejected += 1
            return wait
        self._all.extend([now] * count)
        if chat_id is not None:
            if chat is None:
                chat = self._chats[chat_id] = collections.deque()
            chat.extend([now] * count)
            if len(self._chats) > 50_000:  # forget idle chats now and then
                self._chats = {c: q for c, q in self._chats.items() if q and q[-1] > now - self.chat_window}
        return 0.0


class Hold:
    """The answer to one call, held back: the call was carried out, the bot has not heard yet."""

    def __init__(self, method: str, nth: int) -> None:
        self.method = method
        self.nth = nth
        self.arrived = asyncio.Event()  # set when the call came (and was carried out)
        self.released = asyncio.Event()
        self.params: JsonDict | None = None
        self.result: Any = None

    def release(self) -> None:
        self.released.set()

    async def wait(self, timeout: float = 10.0) -> JsonDict:
        """Wait for the held call to arrive; its parameters."""
        await asyncio.wait_for(self.arrived.wait(), timeout)
        assert self.params is not None
        return self.params


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _command_entities(text: str) -> list[JsonDict]:
    return [
        {"type": "bot_command", "offset": _utf16_len(text[: m.start()]), "length": _utf16_len(m.group(0))}
        for m in _BOT_COMMAND_IN_TEXT.finditer(text)
    ]


# --------------------------------------------------------------------------------------------------
# The server


class FakeBotAPI:
    """A fake Telegram Bot API server on loopback. See the module docstring."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "voices_test_bot",
        bot_first_name: str = "Voices",
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.bot_user: JsonDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }

        # Records
        self.record_requests = True  # set False in long benchmarks to keep memory flat
        self.requests: list[tuple[str, JsonDict]] = []
        self.request_counts: dict[str, int] = {}
        self.errors: list[ErrorRecord] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.menu_buttons: dict[int | None, JsonDict] = {}
        self.left_chats: list[int] = []
        self.webhook_url = ""
        self.webhook_secret = ""
        self.webhook_retry = 0.3  # seconds before a failed webhook delivery is tried again
        self.webhook_deliveries: list[tuple[int, int]] = []  # (update_id, HTTP status), every attempt
        self._pusher: asyncio.Task[None] | None = None

        # Fault injection
        self._faults: dict[str, list[_Fault]] = {}
        self._delays: dict[str, float] = {}
        self._blocked: set[int] = set()
        self.flood: FloodControl | None = None
        self.count_429 = 0  # every 429 answered (flood control and injected ones)
        self.message_calls = 0  # calls of MESSAGE_METHODS that reached the fake
        self._holds: dict[str, list[tuple[int, Hold]]] = {}
        self._held: list[Hold] = []  # holds whose call came
        self._done_calls: dict[str, int] = {}

        # State
        self._users: dict[int, FakeUser] = {}
        self._groups: dict[int, str] = {}
        self._msg_counters: dict[int, int] = {}
        self._sent: dict[int, list[SentMessage]] = {}
        self._all_sent: list[SentMessage] = []
        self._bot_messages: dict[tuple[int, int], SentMessage] = {}
        self._user_messages: dict[tuple[int, int], JsonDict] = {}
        self._calls: dict[str, list[JsonDict]] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_seq = 0
        self._callback_seq = 0
        self._open_callbacks: dict[str, int | None] = {}
        self._answers: dict[str, CallbackAnswer] = {}
        self._pending: list[_Pending] = []
        self._next_update_id = 1

        # Waiting
        self._updates_event: asyncio.Event | None = None
        self._poller: web.Request | None = None
        self._poller_done: asyncio.Event | None = None
        self._chat_events: dict[int, asyncio.Event] = {}
        self._any_event: asyncio.Event | None = None
        self._closing = False

        # Server
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port: int | None = None

        handlers: dict[str, Callable[[JsonDict], Any]] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendVoice": lambda p: self._send_media(p, "sendVoice", "voice"),
            "sendAudio": lambda p: self._send_media(p, "sendAudio", "audio"),
            "sendDocument": lambda p: self._send_media(p, "sendDocument", "document"),
            "sendPhoto": lambda p: self._send_media(p, "sendPhoto", "photo"),
            "sendMediaGroup": self._send_media_group,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": lambda p: self._set_text_setting(p, self.descriptions, "description", 512),
            "getMyDescription": lambda p: self._get_text_setting(p, self.descriptions, "description"),
            "setMyShortDescription": lambda p: self._set_text_setting(
                p, self.short_descriptions, "short_description", 120
            ),
            "getMyShortDescription": lambda p: self._get_text_setting(
                p, self.short_descriptions, "short_description"
            ),
            "setMyName": lambda p: self._set_text_setting(p, self.names, "name", 64),
            "getMyName": lambda p: self._get_text_setting(p, self.names, "name"),
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "getFile": self._get_file,
            "leaveChat": self._leave_chat,
        }
        self._methods: dict[str, tuple[str, Callable[[JsonDict], Any] | None]] = {
            name.lower(): (name, handler) for name, handler in handlers.items()
        }
        self._methods["getupdates"] = ("getUpdates", None)  # needs the request; special-cased

    # ---------------------------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeBotAPI already started")
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self._closing = False
        self._host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing = True
        self._wake_pollers()
        if self._pusher is not None:
            self._pusher.cancel()
            await asyncio.gather(self._pusher, return_exceptions=True)
        for hold in [*self._held, *(h for holds in self._holds.values() for _, h in holds)]:
            hold.release()
        self._holds.clear()
        self._held.clear()
        await runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self._host}:{self.port}/file/bot"

    # ------------------------------------------------------------------------------ fault injection

    def _canonical(self, method: str) -> str:
        entry = self._methods.get(method.lower())
        if entry is None:
            raise ValueError(f"FakeBotAPI does not implement method {method!r}")
        return entry[0]

    def fail_next(
        self,
        method: str,
        status: int = 500,
        description: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
    ) -> None:
        """Make the next ``count`` calls of ``method`` answer with an error (429 carries retry_after)."""
        parameters: JsonDict | None = None
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after
        if retry_after is not None:
            parameters = {"retry_after": retry_after}
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(status, "Error")
        self._faults.setdefault(self._canonical(method), []).append(
            _Fault(status, description, parameters, count)
        )

    def clear_faults(self) -> None:
        self._faults.clear()
        self._delays.clear()
        self._blocked.clear()

    def block(self, chat_id: int) -> None:
        """Sends/edits/chat actions to ``chat_id`` answer 403 'bot was blocked by the user'."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    @property
    def blocked(self) -> set[int]:
        """Chat ids that answer 403 "Forbidden: bot was blocked by the user" (the live set; add to it)."""
        return self._blocked

    def rate_limit(self, overall: float = 30.0, per_chat: float = 1.0, window: float = 1.0,
                   chat_window: float = 3.0, clock: Callable[[], float] = time.monotonic) -> FloodControl:
        """Answer 429 (retry_after in whole seconds, at least 1) to messages over Telegram's limits.

        See :class:`FloodControl`; ``rate_limit(0)`` is not allowed, :meth:`no_rate_limit` turns it off.
        """
        self.flood = FloodControl(overall, per_chat, window, chat_window, clock)
        return self.flood

    def no_rate_limit(self) -> None:
        self.flood = None

    def hold(self, method: str, nth: int = 1) -> Hold:
        """Hold the answer to the ``nth`` call of ``method`` from now on (1: the next).

        That call is carried out (a message is recorded as sent), then its answer waits until
        ``release()`` or the fake stops, or the client goes away (killed).
        """
        name = self._canonical(method)
        if nth < 1:
            raise ValueError("nth counts from 1")
        hold = Hold(name, nth)
        self._holds.setdefault(name, []).append((self._done_calls.get(name, 0) + nth, hold))
        return hold

    def delay(self, method: str, seconds: float) -> None:
        """Add latency to every call of ``method`` (0 removes it)."""
        name = self._canonical(method)
        if seconds > 0:
            self._delays[name] = seconds
        else:
            self._delays.pop(name, None)

    # ----------------------------------------------------------------------------------- queries

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        """Bot messages in ``chat_id`` (all chats when None), oldest first."""
        if chat_id is None:
            return list(self._all_sent)
        return list(self._sent.get(chat_id, ()))

    def message(self, chat_id: int, message_id: int) -> SentMessage | None:
        return self._bot_messages.get((chat_id, message_id))

    def calls(self, method: str) -> list[JsonDict]:
        """Params of every recorded call of ``method`` (any case), oldest first."""
        return list(self._calls.get(self._canonical(method), ()))

    def callback_answer(self, callback_query_id: str) -> CallbackAnswer | None:
        return self._answers.get(callback_query_id)

    def file(self, file_id: str) -> StoredFile | None:
        return self._files.get(file_id)

    def command_names(self, scope: str | JsonDict | None = None, language_code: str = "") -> list[str]:
        return [c["command"] for c in self.commands.get((self._scope_key(scope), language_code), [])]

    @property
    def pending_updates(self) -> list[JsonDict]:
        """Updates not yet confirmed by the bot (delivered or not)."""
        return [p.update for p in self._pending]

    @property
    def polling(self) -> bool:
        """True while a getUpdates long poll is waiting."""
        return self._poller is not None

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 5.0, message: str = "condition"
    ) -> None:
        """Wait until ``predicate()`` holds; re-checked after every API call and enqueued update."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"Timed out after {timeout}s waiting for {message}")
            if self._any_event is None:
                self._any_event = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._any_event.wait(), remaining)

    async def wait_confirmed(self, timeout: float = 5.0) -> None:
        """Wait until the bot has confirmed (offset past) every enqueued update."""
        await self.wait_for(lambda: not self._pending, timeout, "the bot to confirm all updates")

    # ------------------------------------------------------------------------------ scripted users

    def user(
        self,
        user_id: int,
        first_name: str = "Sam",
        language_code: str | None = "en",
        last_name: str | None = None,
        username: str | None = None,
    ) -> FakeUser:
        """The scripted user ``user_id`` (created on first call; its private chat id is ``user_id``)."""
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = FakeUser(self, user_id, first_name, language_code, last_name, username)
        self._users[user_id] = user
        return user

    async def inject(self, update: JsonDict) -> JsonDict:
        """Enqueue a raw update. A given ``update_id`` is kept (and redelivered even if seen before)."""
        update = dict(update)
        uid = _as_int(update.get("update_id"))
        if uid is None:
            uid = self._next_update_id
        update["update_id"] = uid
        self._next_update_id = max(self._next_update_id, uid + 1)
        query = update.get("callback_query")
        if isinstance(query, dict) and "id" in query and query["id"] not in self._answers:
            chat = ((query.get("message") or {}).get("chat") or {}).get("id")
            self._open_callbacks[str(query["id"])] = chat
        self._push(update)
        return update

    async def group_message(
        self, chat_id: int, user_id: int, text: str, title: str = "Test group"
    ) -> JsonDict:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        self._groups.setdefault(chat_id, title)
        sender = self._users[user_id].as_dict() if user_id in self._users else self._stranger(user_id)
        message: JsonDict = {
            "message_id": self._next_message_id(chat_id),
            "from": sender,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            "text": text,
        }
        entities = _command_entities(text)
        if entities:
            message["entities"] = entities
        self._user_messages[(chat_id, message["message_id"])] = message
        return self._enqueue({"message": message})

    async def bot_added_to_group(
        self, chat_id: int, by_user_id: int | None = None, title: str = "Test group"
    ) -> JsonDict:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        self._groups.setdefault(chat_id, title)
        by = by_user_id if by_user_id is not None else 1
        actor = self._users[by].as_dict() if by in self._users else self._stranger(by)
        return self._enqueue({"my_chat_member": self._member_update(chat_id, actor, "left", "member")})

    # ------------------------------------------------------------------------------ HTTP handling

    def _error_response(self, error: ApiError) -> web.Response:
        return web.json_response(error.payload(), status=error.status)

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error_response(ApiError(401, "Unauthorized"))
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            return self._error_response(ApiError(404, "Not Found: method not found"))
        name, handler = entry
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            return self._error_response(exc)

        if self.record_requests:
            self.requests.append((name, params))
            self._calls.setdefault(name, []).append(params)
        self.request_counts[name] = self.request_counts.get(name, 0) + 1

        delay = self._delays.get(name)
        if delay:
            await asyncio.sleep(delay)
        try:
            faults = self._faults.get(name)
            if faults:
                fault = faults[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    faults.pop(0)
                error = ApiError(fault.status, fault.description, fault.parameters)
                self._record_error(name, params, error, injected=True)
                if error.status == 429:
                    self.count_429 += 1
                return self._error_response(error)
            if name in MESSAGE_METHODS:
                self.message_calls += 1
                self._flood_check(name, params)
            if handler is None:
                result = await self._get_updates(params, request)
            else:
                result = handler(params)
        except ApiError as exc:
            if exc.status == 429:
                self.count_429 += 1
            self._record_error(name, params, exc)
            return self._error_response(exc)
        finally:
            self._notify_any()
        hold = self._hold_for(name)
        if hold is not None:
            hold.params, hold.result = params, result
            hold.arrived.set()
            self._notify_any()
            released = asyncio.ensure_future(hold.released.wait())
            try:
                await released  # cancelled (with this handler) if the client goes away
            finally:
                released.cancel()
        return web.json_response({"ok": True, "result": result})

    def _flood_check(self, name: str, params: JsonDict) -> None:
        flood = self.flood
        if flood is None:
            return
        media = params.get("media")
        count = len(media) if name == "sendMediaGroup" and isinstance(media, list) else 1
        wait = flood.check(_as_int(params.get("chat_id")), count)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})

    def _hold_for(self, name: str) -> Hold | None:
        """Count a call carried out; the hold waiting for it, if any."""
        done = self._done_calls[name] = self._done_calls.get(name, 0) + 1
        holds = self._holds.get(name)
        if not holds:
            return None
        for i, (at, hold) in enumerate(holds):
            if at == done:
                holds.pop(i)
                self._held.append(hold)
                return hold
        return None

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error_response(ApiError(401, "Unauthorized"))
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return self._error_response(ApiError(404, "Not Found"))
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    async def _read_params(self, request: web.Request) -> JsonDict:
        params: JsonDict = {}
        for key, value in request.query.items():
            params[key] = _decode_field(key, value)
        if not request.body_exists:
            return params
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON request body must be an object")
            for key, value in body.items():
                if value is not None:
                    params[key] = _decode_field(key, value)
            return params
        if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            files: dict[str, tuple[bytes, str | None, str | None]] = {}
            for key, item in form.items():
                if isinstance(item, web.FileField):
                    data = item.file.read()
                    files[key] = (data, item.filename, item.content_type)
                    params[key] = data
                else:
                    params[key] = _decode_field(key, item)
            for key, decoded in list(params.items()):
                if isinstance(decoded, str) and decoded.startswith("attach://"):
                    attached = files.get(decoded[len("attach://") :])
                    if attached is not None:
                        params[key] = attached[0]
                if isinstance(decoded, list):  # an album's media items point at parts too
                    for entry in decoded:
                        ref = entry.get("media") if isinstance(entry, dict) else None
                        if isinstance(ref, str) and ref.startswith("attach://") and ref[9:] in files:
                            entry["media"] = files[ref[9:]][0]
            if files:
                params["_files"] = {k: {"filename": f, "mime_type": m} for k, (_, f, m) in files.items()}
            return params
        raw = await request.read()
        if raw.lstrip().startswith(b"{"):  # JSON sent without a JSON content type
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if isinstance(body, dict):
                params.update((k, _decode_field(k, v)) for k, v in body.items() if v is not None)
                return params
        raise ApiError(400, f"Bad Request: unsupported content type {ctype!r}")

    def _record_error(self, method: str, params: JsonDict, error: ApiError, injected: bool = False) -> None:
        self.errors.append(
            ErrorRecord(
                method, error.status, error.description, _as_int(params.get("chat_id")), params, injected,
                time.monotonic(),
            )
        )

    # ------------------------------------------------------------------------------ notifications

    def _notify_any(self) -> None:
        ev = self._any_event
        if ev is not None:
            self._any_event = None
            ev.set()

    def _notify_chat(self, chat_id: int | None) -> None:
        if chat_id is not None:
            ev = self._chat_events.pop(chat_id, None)
            if ev is not None:
                ev.set()

    def _wake_pollers(self) -> None:
        ev = self._updates_event
        if ev is not None:
            self._updates_event = None
            ev.set()

    async def _wait_chat(self, chat_id: int, timeout: float) -> None:
        """Wait (at most ``timeout``) for the next change in ``chat_id``."""
        ev = self._chat_events.get(chat_id)
        if ev is None:
            ev = self._chat_events[chat_id] = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ev.wait(), max(timeout, 0))

    # ------------------------------------------------------------------------------ update queue

    def _enqueue(self, update: JsonDict) -> JsonDict:
        full = {"update_id": self._next_update_id, **update}
        self._next_update_id += 1
        self._push(full)
        return full

    def _push(self, update: JsonDict) -> None:
        self._pending.append(_Pending(update))
        self._wake_pollers()
        self._notify_any()

    def _confirm(self, offset: int) -> None:
        if not self._pending:
            return
        if offset < 0:
            self._pending = self._pending[offset:]
        elif offset > 0:
            self._pending = [p for p in self._pending if not (p.delivered and p.update_id < offset)]

    async def _get_updates(self, params: JsonDict, request: web.Request) -> list[JsonDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if self._poller is not None:
            await self._await_stale_poller()
            if self._poller is not None:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
        offset = _as_int(params.get("offset")) or 0
        limit = min(max(_as_int(params.get("limit")) or 100, 1), 100)
        timeout = params.get("timeout")
        wait = float(timeout) if isinstance(timeout, int | float) and not isinstance(timeout, bool) else 0.0
        self._confirm(offset)
        if not self._pending and wait > 0 and not self._closing:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            self._poller = request
            done = self._poller_done = asyncio.Event()
            self._notify_any()
            try:
                while not self._pending and not self._closing:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    if self._updates_event is None:
                        self._updates_event = asyncio.Event()
                    try:
                        await asyncio.wait_for(self._updates_event.wait(), remaining)
                    except TimeoutError:
                        break
            finally:
                if self._poller is request:
                    self._poller = None
                done.set()
        batch = self._pending[:limit]
        for entry in batch:
            entry.delivered = True
        return [entry.update for entry in batch]

    async def _await_stale_poller(self) -> None:
        """Give a poll whose client just went away a moment to be cancelled before calling it a conflict."""
        poller, done = self._poller, self._poller_done
        if poller is None or done is None:
            return
        transport = poller.transport
        if transport is None or transport.is_closing():
            self._poller = None
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 0.05)

    # ------------------------------------------------------------------------------ helpers

    def _next_message_id(self, chat_id: int) -> int:
        n = self._msg_counters.get(chat_id, 0) + 1
        self._msg_counters[chat_id] = n
        return n

    def _stranger(self, user_id: int) -> JsonDict:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}

    def _chat(self, chat_id: int) -> JsonDict:
        if chat_id < 0:
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "type": kind, "title": self._groups.get(chat_id, "Test group")}
        user = self._users.get(chat_id)
        chat: JsonDict = {"id": chat_id, "type": "private", "first_name": user.first_name if user else "User"}
        if user is not None:
            if user.last_name:
                chat["last_name"] = user.last_name
            if user.username:
                chat["username"] = user.username
        return chat

    def _member_update(self, chat_id: int, actor: JsonDict, old: str, new: str) -> JsonDict:
        def member(status: str) -> JsonDict:
            data: JsonDict = {"user": self.bot_user, "status": status}
            if status == "kicked":
                data["until_date"] = 0
            return data

        return {
            "chat": self._chat(chat_id),
            "from": actor,
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }

    def _target_chat(self, params: JsonDict) -> int:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat_id = _as_int(raw)
        if chat_id is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _check_markup(self, markup: Any, inline_only: bool = False) -> JsonDict | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            for button in _flatten_keyboard(markup, "inline_keyboard"):
                if not isinstance(button, dict) or not button.get("text"):
                    raise ApiError(400, "Bad Request: inline keyboard button text must be non-empty")
                data = button.get("callback_data")
                if data is not None and not (1 <= len(str(data).encode("utf-8")) <= CALLBACK_DATA_LIMIT):
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        elif inline_only:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        elif "keyboard" in markup:
            for button in _flatten_keyboard(markup, "keyboard"):
                label = button.get("text") if isinstance(button, dict) else button
                if not label:
                    raise ApiError(400, "Bad Request: keyboard button text must be non-empty")
        return markup

    def _check_text(self, params: JsonDict) -> tuple[str, str]:
        text = params.get("text")
        if text is None or not str(text).strip():
            raise ApiError(400, "Bad Request: message text is empty")
        text = str(text)
        plain = check_entities(text, params.get("parse_mode"))
        if not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(plain) > TEXT_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        return text, plain

    def _check_caption(self, params: JsonDict) -> tuple[str | None, str | None]:
        caption = params.get("caption")
        if caption is None:
            return None, None
        caption = str(caption)
        plain = check_entities(caption, params.get("parse_mode"))
        if len(plain) > CAPTION_LIMIT:
            raise ApiError(400, "Bad Request: message caption is too long")
        return caption, plain

    def _record_sent(self, message: SentMessage) -> None:
        self._sent.setdefault(message.chat_id, []).append(message)
        self._all_sent.append(message)
        self._bot_messages[(message.chat_id, message.message_id)] = message
        self._notify_chat(message.chat_id)

    def _message_dict(self, sent: SentMessage) -> JsonDict:
        msg: JsonDict = {
            "message_id": sent.message_id,
            "from": self.bot_user,
            "chat": self._chat(sent.chat_id),
            "date": sent.date,
        }
        if sent.text is not None:
            msg["text"] = sent.plain if sent.plain is not None else sent.text
        if sent.media:
            msg.update(sent.media)
        if sent.caption is not None:
            msg["caption"] = sent.plain if sent.plain is not None else sent.caption
        if sent.has_inline:
            msg["reply_markup"] = sent.reply_markup
        if sent.edit_date is not None:
            msg["edit_date"] = sent.edit_date
        return msg

    def _store_file(
        self, data: bytes, kind: str, mime_type: str | None = None, file_name: str | None = None
    ) -> StoredFile:
        self._file_seq += 1
        n = self._file_seq
        ext = {"voice": "oga", "audio": "mp3", "photo": "jpg", "sticker": "webp"}.get(kind, "bin")
        if file_name and "." in file_name:
            ext = file_name.rsplit(".", 1)[1]
        stored = StoredFile(
            file_id=f"{kind}-{n:06d}-{self.bot_id}",
            file_unique_id=f"u{kind}{n:06d}",
            file_path=f"{kind}s/file_{n}.{ext}",
            data=data,
            mime_type=mime_type,
            file_name=file_name,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _editable(self, params: JsonDict) -> SentMessage:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by FakeBotAPI")
        chat_id = self._target_chat(params)
        message_id = _as_int(params.get("message_id"))
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        sent = self._bot_messages.get((chat_id, message_id))
        if sent is None or sent.deleted:
            if (chat_id, message_id) in self._user_messages:
                raise ApiError(400, "Bad Request: message can't be edited")
            raise ApiError(400, "Bad Request: message to edit not found")
        return sent

    def _apply_markup_edit(self, sent: SentMessage, markup: JsonDict | None) -> None:
        # Editing only ever changes the inline keyboard; a reply keyboard stays with its message.
        if markup is not None or sent.reply_markup is None or sent.has_inline:
            sent.reply_markup = markup
        sent.edit_count += 1
        sent.edit_date = int(time.time())
        self._notify_chat(sent.chat_id)

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if scope is None:
            return "default"
        if isinstance(scope, str):
            return scope
        if not isinstance(scope, dict) or "type" not in scope:
            raise ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        kind = str(scope["type"])
        if kind in ("chat", "chat_administrators"):
            return f"{kind}:{scope.get('chat_id')}"
        if kind == "chat_member":
            return f"chat_member:{scope.get('chat_id')}:{scope.get('user_id')}"
        return kind

    @staticmethod
    def _language(params: JsonDict) -> str:
        code = params.get("language_code") or ""
        if code and not _LANG_RE.match(str(code)):
            raise ApiError(400, "Bad Request: invalid language code specified")
        return str(code)

    # ------------------------------------------------------------------------------ API methods

    def _true(self, params: JsonDict) -> bool:
        return True

    def _get_me(self, params: JsonDict) -> JsonDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _set_webhook(self, params: JsonDict) -> bool:
        url = params.get("url")
        self.webhook_url = str(url) if url else ""
        self.webhook_secret = str(params.get("secret_token") or "")
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self._pending.clear()
        if self.webhook_url and (self._pusher is None or self._pusher.done()):
            self._pusher = asyncio.get_running_loop().create_task(self._push_to_webhook())
        return True

    def _delete_webhook(self, params: JsonDict) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self._pending.clear()
        return True

    async def _push_to_webhook(self) -> None:
        """Deliver pending updates to the webhook one at a time, in order, as Telegram does for a chat.

        An update leaves the queue only on a 2xx answer; anything else (or no answer) is tried
        again after ``webhook_retry`` seconds. Stops when the webhook is deleted.
        """
        import aiohttp

        async with aiohttp.ClientSession() as session:
            while self.webhook_url and not self._closing:
                if not self._pending:
                    await self.wait_for(lambda: bool(self._pending) or not self.webhook_url, 3600, "updates")
                    continue
                entry = self._pending[0]
                status = await self._post_update(session, entry.update)
                self.webhook_deliveries.append((entry.update_id, status))
                if 200 <= status < 300:
                    if self._pending and self._pending[0] is entry:
                        self._pending.pop(0)
                    self._notify_any()
                else:
                    await asyncio.sleep(self.webhook_retry)

    async def _post_update(self, session: Any, update: JsonDict) -> int:
        import aiohttp

        headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret} if self.webhook_secret else {}
        try:
            async with session.post(self.webhook_url, json=update, headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=10)) as response:
                return response.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            return 0

    def _get_webhook_info(self, params: JsonDict) -> JsonDict:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    def _send_message(self, params: JsonDict) -> JsonDict:
        chat_id = self._target_chat(params)
        text, plain = self._check_text(params)
        markup = self._check_markup(params.get("reply_markup"))
        sent = SentMessage(
            message_id=self._next_message_id(chat_id),
            chat_id=chat_id,
            method="sendMessage",
            text=text,
            caption=None,
            reply_markup=markup,
            params=params,
            time=time.monotonic(),
            date=int(time.time()),
            plain=plain,
            original_reply_markup=markup,
        )
        self._record_sent(sent)
        return self._message_dict(sent)

    def _send_media(self, params: JsonDict, method: str, kind: str) -> JsonDict:
        chat_id = self._target_chat(params)
        value = params.get(kind)
        if isinstance(value, bytes):
            meta = (params.get("_files") or {}).get(kind) or {}
            mime = meta.get("mime_type") or {"voice": "audio/ogg", "audio": "audio/mpeg"}.get(kind)
            stored = self._store_file(value, kind, mime, meta.get("filename"))
        elif isinstance(value, str) and value:
            found = self._files.get(value)
            if found is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            stored = found
        else:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        caption, plain = self._check_caption(params)
        markup = self._check_markup(params.get("reply_markup"))
        base: JsonDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        obj: Any
        if kind in ("voice", "audio"):
            obj = {**base, "duration": _as_int(params.get("duration")) or 1}
            if stored.mime_type:
                obj["mime_type"] = stored.mime_type
        elif kind == "photo":
            obj = [{**base, "width": 800, "height": 600}]
        else:
            obj = {**base, "file_name": stored.file_name or "file.bin"}
            if stored.mime_type:
                obj["mime_type"] = stored.mime_type
        sent = SentMessage(
            message_id=self._next_message_id(chat_id),
            chat_id=chat_id,
            method=method,
            text=None,
            caption=caption,
            reply_markup=markup,
            params=params,
            time=time.monotonic(),
            date=int(time.time()),
            plain=plain,
            media={kind: obj},
            file_id=stored.file_id,
            original_reply_markup=markup,
        )
        self._record_sent(sent)
        return self._message_dict(sent)

    def _send_media_group(self, params: JsonDict) -> list[JsonDict]:
        """An album of 2-10 photos: one message each, captions kept; no reply markup allowed."""
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of messages in the album; must be 2-10")
        sent = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") != "photo":
                raise ApiError(400, "Bad Request: only photos are supported in this fake album")
            single = {"chat_id": params.get("chat_id"), "photo": item.get("media"),
                      "caption": item.get("caption")}
            sent.append(self._send_media(single, "sendMediaGroup", "photo"))
        return sent

    def _send_chat_action(self, params: JsonDict) -> bool:
        chat_id = self._target_chat(params)
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        self.chat_actions.append((chat_id, str(action)))
        return True

    def _answer_callback_query(self, params: JsonDict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_callbacks:
            raise ApiError(400, _ERR_QUERY_INVALID)
        text = params.get("text")
        if text is not None and len(str(text)) > CALLBACK_TEXT_LIMIT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        chat_id = self._open_callbacks.pop(query_id)
        answer = CallbackAnswer(
            callback_query_id=query_id,
            chat_id=chat_id,
            text=None if text is None else str(text),
            show_alert=params.get("show_alert") in (True, "true", "True"),
            url=params.get("url"),
            cache_time=_as_int(params.get("cache_time")),
            time=time.monotonic(),
        )
        self.callback_answers.append(answer)
        self._answers[query_id] = answer
        self._notify_chat(chat_id)
        return True

    def _edit_message_text(self, params: JsonDict) -> JsonDict:
        sent = self._editable(params)
        if sent.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, plain = self._check_text(params)
        markup = self._check_markup(params.get("reply_markup"), inline_only=True)
        current = sent.reply_markup if sent.has_inline else None
        if text == sent.text and params.get("parse_mode") == sent.parse_mode and markup == current:
            raise ApiError(400, _ERR_NOT_MODIFIED)
        sent.text, sent.plain = text, plain
        sent.params = {**sent.params, "text": text, "parse_mode": params.get("parse_mode")}
        self._apply_markup_edit(sent, markup)
        return self._message_dict(sent)

    def _edit_message_caption(self, params: JsonDict) -> JsonDict:
        sent = self._editable(params)
        if sent.text is not None:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, plain = self._check_caption(params)
        markup = self._check_markup(params.get("reply_markup"), inline_only=True)
        current = sent.reply_markup if sent.has_inline else None
        if caption == sent.caption and markup == current:
            raise ApiError(400, _ERR_NOT_MODIFIED)
        sent.caption, sent.plain = caption, plain
        self._apply_markup_edit(sent, markup)
        return self._message_dict(sent)

    def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        sent = self._editable(params)
        markup = self._check_markup(params.get("reply_markup"), inline_only=True)
        current = sent.reply_markup if sent.has_inline else None
        if markup == current:
            raise ApiError(400, _ERR_NOT_MODIFIED)
        self._apply_markup_edit(sent, markup)
        return self._message_dict(sent)

    def _delete_message(self, params: JsonDict) -> bool:
        chat_id = self._target_chat(params)
        message_id = _as_int(params.get("message_id"))
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        sent = self._bot_messages.get((chat_id, message_id))
        if sent is not None and not sent.deleted:
            sent.deleted = True
            self._notify_chat(chat_id)
            return True
        if self._user_messages.pop((chat_id, message_id), None) is not None:
            return True
        raise ApiError(400, "Bad Request: message to delete not found")

    def _set_my_commands(self, params: JsonDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        cleaned: list[JsonDict] = []
        for item in commands:
            if not isinstance(item, dict) or not _COMMAND_RE.match(str(item.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = str(item.get("description", ""))
            if not 1 <= len(description.strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": str(item["command"]), "description": description})
        key = (self._scope_key(params.get("scope")), self._language(params))
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        return True

    def _get_my_commands(self, params: JsonDict) -> list[JsonDict]:
        key = (self._scope_key(params.get("scope")), self._language(params))
        return list(self.commands.get(key, []))

    def _delete_my_commands(self, params: JsonDict) -> bool:
        self.commands.pop((self._scope_key(params.get("scope")), self._language(params)), None)
        return True

    def _set_text_setting(self, params: JsonDict, store: dict[str, str], key: str, limit: int) -> bool:
        language = self._language(params)
        value = params.get(key)
        if value is None or str(value) == "":
            store.pop(language, None)
            return True
        if len(str(value)) > limit:
            raise ApiError(400, f"Bad Request: {key.replace('_', ' ')} is too long")
        store[language] = str(value)
        return True

    def _get_text_setting(self, params: JsonDict, store: dict[str, str], key: str) -> JsonDict:
        return {key: store.get(self._language(params), "")}

    def _set_chat_menu_button(self, params: JsonDict) -> bool:
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict):
            raise ApiError(400, "Bad Request: can't parse menu button JSON object")
        self.menu_buttons[_as_int(params.get("chat_id"))] = button
        return True

    def _get_chat_menu_button(self, params: JsonDict) -> JsonDict:
        chat_id = _as_int(params.get("chat_id"))
        return self.menu_buttons.get(chat_id) or self.menu_buttons.get(None) or {"type": "commands"}

    def _get_file(self, params: JsonDict) -> JsonDict:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > DOWNLOAD_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        return stored.as_file()

    def _leave_chat(self, params: JsonDict) -> bool:
        chat_id = _as_int(params.get("chat_id"))
        if chat_id is None:
            raise ApiError(400, "Bad Request: chat not found")
        self.left_chats.append(chat_id)
        return True


def _decode_field(key: str, value: Any) -> Any:
    """Form values arrive as strings; PTB JSON-encodes everything that is not already a str."""
    if isinstance(value, str) and value and key not in _KEEP_STRING and value[0] in _JSON_START:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# --------------------------------------------------------------------------------------------------
# Scripted users


class FakeUser:
    """A scripted Telegram user chatting privately with the bot (``chat_id == id``)."""

    def __init__(
        self,
        fake: FakeBotAPI,
        user_id: int,
        first_name: str,
        language_code: str | None,
        last_name: str | None = None,
        username: str | None = None,
    ) -> None:
        self.fake = fake
        self.id = user_id
        self.first_name = first_name
        self.language_code = language_code
        self.last_name = last_name
        self.username = username
        self.last_update: JsonDict | None = None
        self.last_action_at = 0.0  # time.monotonic() of the latest action
        self.last_callback_id: str | None = None
        self._cursor = 0  # index into the chat's bot messages: everything before it counts as read

    def __repr__(self) -> str:
        return f"FakeUser(id={self.id}, first_name={self.first_name!r})"

    @property
    def chat_id(self) -> int:
        return self.id

    def as_dict(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    # ---------------------------------------------------------------------------------- actions

    def _act(self, update: JsonDict) -> JsonDict:
        self._cursor = len(self.fake._sent.get(self.id, ()))
        self.last_action_at = time.monotonic()
        full = self.fake._enqueue(update)
        self.last_update = full
        return full

    def _message(self, content: JsonDict) -> JsonDict:
        fake = self.fake
        message: JsonDict = {
            "message_id": fake._next_message_id(self.id),
            "from": self.as_dict(),
            "chat": fake._chat(self.id),
            "date": int(time.time()),
            **content,
        }
        fake._user_messages[(self.id, message["message_id"])] = message
        return self._act({"message": message})

    def _file(
        self, kind: str, data: bytes, mime_type: str | None = None, file_name: str | None = None
    ) -> JsonDict:
        stored = self.fake._store_file(data, kind, mime_type, file_name)
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": len(data)}

    async def send(self, text: str) -> JsonDict:
        content: JsonDict = {"text": text}
        entities = _command_entities(text)
        if entities:
            content["entities"] = entities
        return self._message(content)

    async def tap(self, label: str) -> JsonDict:
        """Tap a reply-keyboard button: Telegram delivers it as a plain text message."""
        return await self.send(label)

    async def press(self, callback_data: str, message_id: int | None = None) -> JsonDict:
        """Press an inline button; by default on the latest bot message whose keyboard has that data."""
        fake = self.fake
        target: SentMessage | None = None
        if message_id is not None:
            target = fake.message(self.id, message_id)
            if target is None:
                raise AssertionError(f"{self!r}: no bot message #{message_id} to press a button on")
        else:
            messages = fake._sent.get(self.id, [])
            for attr in ("reply_markup", "original_reply_markup"):
                for sent in reversed(messages):
                    markup = getattr(sent, attr)
                    if any(
                        b.get("callback_data") == callback_data
                        for b in _flatten_keyboard(markup, "inline_keyboard")
                    ):
                        target = sent
                        break
                if target is not None:
                    break
            if target is None:
                seen = [m.summary() for m in messages if m.inline] or ["(no inline keyboards)"]
                raise AssertionError(
                    f"{self!r}: no bot message has an inline button with data {callback_data!r}; "
                    f"inline keyboards seen: {seen}"
                )
        fake._callback_seq += 1
        query_id = str(4_000_000_000_000_000 + fake._callback_seq)
        fake._open_callbacks[query_id] = self.id
        self.last_callback_id = query_id
        query = {
            "id": query_id,
            "from": self.as_dict(),
            "message": fake._message_dict(target),
            "chat_instance": f"ci{self.id}",
            "data": callback_data,
        }
        return self._act({"callback_query": query})

    async def send_voice(self, data: bytes, duration: int = 3, mime_type: str = "audio/ogg") -> JsonDict:
        voice = {**self._file("voice", data, mime_type), "duration": duration, "mime_type": mime_type}
        return self._message({"voice": voice})

    async def send_sticker(self, emoji: str = "👍") -> JsonDict:
        sticker = {
            **self._file("sticker", b"RIFF\x00\x00\x00\x00WEBP", "image/webp"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._message({"sticker": sticker})

    async def send_photo(self, caption: str | None = None) -> JsonDict:
        base = self._file("photo", b"\xff\xd8\xff\xe0fake-jpeg", "image/jpeg")
        content: JsonDict = {
            "photo": [{**base, "width": 90, "height": 90}, {**base, "width": 800, "height": 600}]
        }
        if caption is not None:
            content["caption"] = caption
        return self._message(content)

    async def send_location(self, latitude: float = 51.4816, longitude: float = -3.1791) -> JsonDict:
        return self._message({"location": {"latitude": latitude, "longitude": longitude}})

    async def send_contact(self, phone_number: str = "+447700900123", first_name: str = "Alex") -> JsonDict:
        return self._message({"contact": {"phone_number": phone_number, "first_name": first_name}})

    async def send_document(
        self, file_name: str = "notes.pdf", mime_type: str = "application/pdf", size: int = 1024
    ) -> JsonDict:
        document = {**self._file("document", b"\0" * size, mime_type, file_name), "file_name": file_name}
        document["mime_type"] = mime_type
        return self._message({"document": document})

    async def send_poll(
        self, question: str = "Which day?", options: Iterable[str] = ("Mon", "Tue")
    ) -> JsonDict:
        self.fake._file_seq += 1
        poll = {
            "id": str(5_000_000_000 + self.fake._file_seq),
            "question": question,
            "options": [{"text": option, "voter_count": 0} for option in options],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
        }
        return self._message({"poll": poll})

    async def send_dice(self, emoji: str = "🎲", value: int = 4) -> JsonDict:
        return self._message({"dice": {"emoji": emoji, "value": value}})

    async def edit(self, message_id: int, text: str) -> JsonDict:
        """Edit one of this user's earlier messages (an ``edited_message`` update)."""
        original = self.fake._user_messages.get((self.id, message_id))
        message: JsonDict = {
            "message_id": message_id,
            "from": self.as_dict(),
            "chat": self.fake._chat(self.id),
            "date": original["date"] if original else int(time.time()),
            "edit_date": int(time.time()),
            "text": text,
        }
        entities = _command_entities(text)
        if entities:
            message["entities"] = entities
        return self._act({"edited_message": message})

    async def forward(self, text: str, from_user_id: int = 777, from_name: str = "Alex") -> JsonDict:
        origin = {
            "type": "user",
            "sender_user": {"id": from_user_id, "is_bot": False, "first_name": from_name},
            "date": int(time.time()) - 60,
        }
        return self._message({"text": text, "forward_origin": origin})

    async def block_bot(self) -> JsonDict:
        """Block the bot: later sends get 403 and the bot receives a my_chat_member 'kicked' update."""
        self.fake.block(self.id)
        return self._act(
            {"my_chat_member": self.fake._member_update(self.id, self.as_dict(), "member", "kicked")}
        )

    async def unblock_bot(self) -> JsonDict:
        self.fake.unblock(self.id)
        return self._act(
            {"my_chat_member": self.fake._member_update(self.id, self.as_dict(), "kicked", "member")}
        )

    # ---------------------------------------------------------------------------------- waiting

    @property
    def sent(self) -> list[SentMessage]:
        """Every bot message in this chat."""
        return self.fake.sent(self.id)

    def unread(self) -> list[SentMessage]:
        """Bot messages since the last action that replies()/settle() have not returned yet."""
        return self.fake._sent.get(self.id, [])[self._cursor :]

    def _timeout_error(self, what: str, timeout: float) -> AssertionError:
        arrived = [m.summary() for m in self.unread()] or ["(none)"]
        last = self.last_update or {}
        action = {k: v for k, v in last.items() if k != "update_id"}
        errors = [f"{e.method} {e.status} {e.description}" for e in self.fake.errors if e.chat_id == self.id]
        lines = [
            f"{self!r}: timed out after {timeout}s waiting for {what}.",
            f"  last action: {json.dumps(action, ensure_ascii=False, default=str)[:300]}",
            f"  new bot messages: {arrived}",
        ]
        if errors:
            lines.append(f"  API errors in this chat: {errors[-5:]}")
        return AssertionError("\n".join(lines))

    async def replies(self, n: int = 1, timeout: float = 5.0) -> list[SentMessage]:
        """Wait for ``n`` new bot messages since the last action; return (and mark read) exactly ``n``."""
        fake = self.fake
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            messages = fake._sent.get(self.id, [])
            if len(messages) - self._cursor >= n:
                batch = messages[self._cursor : self._cursor + n]
                self._cursor += n
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise self._timeout_error(f"{n} bot message(s)", timeout)
            await fake._wait_chat(self.id, remaining)

    async def reply(self, timeout: float = 5.0) -> SentMessage:
        return (await self.replies(1, timeout))[0]

    async def settle(self, quiet: float = 0.3, timeout: float = 5.0) -> list[SentMessage]:
        """Wait until the bot has been silent in this chat for ``quiet`` seconds; return all unread."""
        fake = self.fake
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + timeout
        count = len(fake._sent.get(self.id, ()))
        last_change = start
        while True:
            now = loop.time()
            if now - last_change >= quiet:
                messages = fake._sent.get(self.id, [])
                batch = messages[self._cursor :]
                self._cursor = len(messages)
                return batch
            if now >= deadline:
                raise self._timeout_error(f"{quiet}s of silence", timeout)
            await fake._wait_chat(self.id, min(quiet - (now - last_change), deadline - now))
            new_count = len(fake._sent.get(self.id, ()))
            if new_count != count:
                count = new_count
                last_change = loop.time()

    async def callback_answer(self, timeout: float = 5.0) -> CallbackAnswer:
        """Wait for the bot to answer this user's latest button press."""
        query_id = self.last_callback_id
        if query_id is None:
            raise AssertionError(f"{self!r} has not pressed any inline button")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (answer := self.fake._answers.get(query_id)) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise self._timeout_error(f"answerCallbackQuery for query {query_id}", timeout)
            await self.fake._wait_chat(self.id, remaining)
        return answer

    def last_keyboard(self) -> list[str]:
        """Labels of the reply keyboard currently shown ([] if none or removed)."""
        for sent in reversed(self.fake._sent.get(self.id, [])):
            markup = sent.reply_markup
            if markup and "keyboard" in markup:
                return sent.buttons
            if markup and markup.get("remove_keyboard"):
                return []
        return []

    def last_inline(self) -> list[tuple[str, str | None]]:
        """(text, callback_data) of the latest bot message that currently has an inline keyboard."""
        for sent in reversed(self.fake._sent.get(self.id, [])):
            if sent.has_inline and not sent.deleted:
                return sent.inline
        return []
