"""Engine outputs as Telegram messages: plain text (never a parse mode) and keyboards.

Answers use reply keyboards, so a tapped answer shows in the chat as the user's own
message. Inline buttons are only for secondary actions (Change); the message they sit
on is followed by the question with its reply keyboard, so the question stays last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.updates import callback_data
from core.bidi import isolate
from core.model import Ask, Button, Document, InlineButton, Output, ReadAloud, Say

MAX_TEXT = 4096
WIDE_LABEL = 12  # longer labels get a row each (ACCESSIBILITY.md requirement 10)

Markup = ReplyKeyboardMarkup | ReplyKeyboardRemove | InlineKeyboardMarkup | None


MAX_CAPTION = 1024


@dataclass(frozen=True)
class Message:
    text: str
    markup: Markup = None
    question: bool = False  # carries the reply keyboard of the current question
    speak: bool = False  # send as a voice note with ``text`` as its caption
    album: tuple[tuple[str, str], ...] = ()  # (symbol, caption): a picture for each answer
    document: tuple[str, bytes] | None = None  # (file name, bytes), with ``text`` as its caption


@dataclass(frozen=True)
class Style:
    """How one person wants messages: from their language and personal settings."""

    rtl: bool = False
    one_per_row: bool = False  # screen-reader mode
    speak: bool = False  # read every question aloud
    pictures: bool = False  # a picture for each answer, before the question


def render(outputs: Sequence[Output], session_id: int, style: Style = Style()) -> list[Message]:
    """Messages for the outputs; for right-to-left languages, with numbers and Latin isolated."""
    if style.rtl:
        outputs = [_isolated(out) for out in outputs]
    messages: list[Message] = []
    for out in outputs:
        if isinstance(out, Say):
            markup: Markup = ReplyKeyboardRemove() if out.close_keyboard else None
            if out.buttons:
                markup = _inline(out.buttons, session_id, 0)
            messages += _split(out.text, markup)
        elif isinstance(out, Ask):
            messages += _album(out, style) + _spoken(_ask(out, session_id, style), style.speak)
        elif isinstance(out, ReadAloud):
            messages += _spoken(_ask(out.ask, session_id, style), True)
        elif isinstance(out, Document):
            messages.append(Message(out.caption, document=(out.name, out.data)))
    return messages


def _album(ask: Ask, style: Style) -> list[Message]:
    """The answers' pictures, each captioned with its answer (the words carry the meaning)."""
    shown = tuple((b.picture, b.label) for b in ask.buttons if b.picture)
    return [Message("", album=shown)] if style.pictures and 2 <= len(shown) <= 10 else []


def _spoken(messages: list[Message], speak: bool) -> list[Message]:
    """Mark the question to be sent as a voice note, if its text fits in a caption."""
    return [replace(m, speak=True) if speak and m.question and len(m.text) <= MAX_CAPTION else m
            for m in messages]


def _isolated(out: Output) -> Output:
    if isinstance(out, ReadAloud):
        return replace(out, ask=replace(out.ask, text=isolate(out.ask.text)))
    if isinstance(out, Say):
        return replace(out, text=isolate(out.text))
    if isinstance(out, Ask):
        return replace(out, text=isolate(out.text),
                       buttons=tuple(replace(b, label=isolate(b.label)) for b in out.buttons),
                       inline=tuple(replace(b, label=isolate(b.label)) for b in out.inline))
    return out


def _ask(ask: Ask, session_id: int, style: Style) -> list[Message]:
    keyboard: Markup = (_keyboard(ask.buttons, ask.placeholder, style.one_per_row) if ask.buttons
                        else ReplyKeyboardRemove())
    if not ask.inline:
        return _split(ask.text, keyboard, question=True)
    head, _, question = ask.text.rpartition("\n\n")
    inline = _inline(ask.inline, session_id, ask.seq)
    if not head:  # nothing to hang the secondary buttons on: the question alone
        return _split(question, keyboard, question=True)
    return [*_split(head, inline), *_split(question, keyboard, question=True)]


def _keyboard(buttons: Sequence[Button], placeholder: str, one_per_row: bool = False) -> ReplyKeyboardMarkup:
    labels = [b.label for b in buttons]
    per_row = 1 if one_per_row or any(len(label) > WIDE_LABEL for label in labels) else 2
    rows = [[KeyboardButton(label) for label in labels[i:i + per_row]]
            for i in range(0, len(labels), per_row)]
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True,
                               input_field_placeholder=placeholder[:64] or None)


def _inline(buttons: Sequence[InlineButton], session_id: int, seq: int) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(b.label, callback_data=callback_data(session_id, seq, b.action, b.arg))]
            for b in buttons]
    return InlineKeyboardMarkup(rows)


def _split(text: str, markup: Markup, question: bool = False) -> list[Message]:
    """Text over Telegram's 4,096 characters goes in several messages; markup on the last."""
    text = text.strip() or "…"
    parts: list[str] = []
    while len(text) > MAX_TEXT:
        cut = text.rfind("\n", 0, MAX_TEXT)
        if cut < MAX_TEXT // 2:
            cut = text.rfind(" ", 0, MAX_TEXT)
        if cut < MAX_TEXT // 2:
            cut = MAX_TEXT
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    parts.append(text)
    return [Message(p, markup if i == len(parts) - 1 else None, question and i == len(parts) - 1)
            for i, p in enumerate(parts)]
