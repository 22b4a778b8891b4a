"""Turning a raw Telegram update (a dict, as the Bot API sends it) into an engine event.

Only what the conversation needs is read: the text, a voice note's file reference, which
button was pressed. Names, usernames, phone numbers, locations and forward origins are
never read, so they cannot be stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from core.model import Action, Command, Event, Media, Text, Voice, VoiceNote

COMMANDS = ("start", "help", "back", "skip", "stop", "language", "settings", "privacy", "mydata", "delete",
            "news")
MEDIA_KINDS = ("sticker", "photo", "video", "video_note", "animation", "audio", "document", "location",
               "venue", "contact", "poll", "dice", "game", "story", "invoice")
_COMMAND = re.compile(r"^/([A-Za-z]+)(?:@[A-Za-z0-9_]+)?(?:\s.*)?$", re.S)
_CALLBACK = re.compile(r"^(\d{1,12}):(\d{1,9}):([a-z]{1,12}):([a-z0-9-]{0,40})$")

# "blocked": the person blocked the bot (or deleted their account) in a private chat.
Kind = Literal["event", "group", "edited", "ignore", "voice-too-long", "blocked"]


@dataclass(frozen=True)
class Parsed:
    """What an update means for Voices."""

    kind: Kind
    chat_id: int | None = None
    user_id: int | None = None
    event: Event | None = None
    message_id: int | None = None
    language_hint: str | None = None
    callback_id: str | None = None  # must be answered, whatever the data says
    action_session: int | None = None


def parse(update: dict[str, Any]) -> Parsed:
    if "callback_query" in update:
        return _callback(update["callback_query"])
    if "edited_message" in update:
        msg = update["edited_message"]
        chat = msg.get("chat") or {}
        kind: Kind = "edited" if chat.get("type") == "private" else "ignore"
        return Parsed(kind, chat_id=chat.get("id"), user_id=(msg.get("from") or {}).get("id"))
    if "my_chat_member" in update:
        chat = update["my_chat_member"].get("chat") or {}
        is_group = chat.get("type") in ("group", "supergroup", "channel")
        member = (update["my_chat_member"].get("new_chat_member") or {}).get("status")
        if chat.get("type") == "private" and member == "kicked":
            return Parsed("blocked", chat_id=chat.get("id"))
        added = member in ("member", "administrator")
        return Parsed("group" if is_group and added else "ignore", chat_id=chat.get("id"))
    msg = update.get("message")
    if not isinstance(msg, dict):
        return Parsed("ignore")
    chat = msg.get("chat") or {}
    if chat.get("type") != "private":
        return Parsed("group", chat_id=chat.get("id"))
    sender = msg.get("from") or {}
    return Parsed("event", chat_id=chat.get("id"), user_id=sender.get("id"), event=_message_event(msg),
                  message_id=msg.get("message_id"), language_hint=sender.get("language_code"))


def event_from_text(text: str) -> Event:
    """A known command ("/back", "/start@bot") or else plain text (so "/admin" is just text)."""
    found = _COMMAND.match(text)
    if found and found.group(1).lower() in COMMANDS:
        return Command(found.group(1).lower())  # type: ignore[arg-type]
    return Text(text)


def _message_event(msg: dict[str, Any]) -> Event:
    text = msg.get("text")
    if isinstance(text, str):
        return event_from_text(text)
    voice = msg.get("voice")
    if isinstance(voice, dict) and voice.get("file_id"):
        return Voice(VoiceNote(
            file_id=str(voice["file_id"]), unique_id=str(voice.get("file_unique_id", "")),
            duration=int(voice.get("duration") or 0), mime=str(voice.get("mime_type") or ""),
            size=int(voice.get("file_size") or 0)))
    for kind in MEDIA_KINDS:
        if kind in msg:
            return Media(kind)
    return Media("other")


def _callback(query: dict[str, Any]) -> Parsed:
    msg = query.get("message") or {}
    chat = msg.get("chat") or {}
    sender = query.get("from") or {}
    chat_id = chat.get("id") if chat else sender.get("id")
    data = query.get("data")
    found = _CALLBACK.match(data) if isinstance(data, str) else None
    if found is None:
        event: Event = Action("", "", -1)  # forged or malformed: the engine says "moved on"
        session = None
    else:
        event = Action(found.group(3), found.group(4), int(found.group(2)))
        session = int(found.group(1))
    kind: Kind = "event" if chat.get("type", "private") == "private" else "group"
    return Parsed(kind, chat_id=chat_id, user_id=sender.get("id"), event=event,
                  language_hint=sender.get("language_code"), callback_id=str(query.get("id", "")),
                  action_session=session)


def callback_data(session_id: int, seq: int, action: str, arg: str) -> str:
    data = f"{session_id}:{seq}:{action}:{arg}"
    if len(data.encode()) > 64 or not _CALLBACK.match(data):
        raise ValueError("callback data does not fit Telegram's 64 bytes")
    return data
