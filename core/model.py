"""Plain data the engine takes and gives: state, events and outputs.

All of it is immutable and JSON-friendly (see ``core.statecodec``) so that a
conversation's state can be stored in one database column and the engine stays pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Union

AnswerKind = Literal["choice", "multi", "text", "voice", "skipped"]
Status = Literal["active", "paused", "done"]
Interrupt = Literal["", "language", "restart", "settings", "delete"]


@dataclass(frozen=True)
class VoiceNote:
    file_id: str
    unique_id: str = ""
    duration: int = 0
    mime: str = ""
    size: int = 0


@dataclass(frozen=True)
class Answer:
    step: str
    kind: AnswerKind
    question: str  # the question exactly as the user saw it
    options: tuple[str, ...] = ()  # chosen option ids
    text: str | None = None  # free text exactly as sent (never normalised)
    voice: VoiceNote | None = None
    label: str = ""  # how the answer reads back to the user ("check your answers")


@dataclass(frozen=True)
class State:
    conversation: str
    version: int  # conversation version the answers belong to
    current: str  # current step id ("" once finished)
    answers: Mapping[str, Answer] = field(default_factory=dict)
    history: tuple[str, ...] = ()  # question steps already answered, oldest first (for /back)
    tries: int = 0  # unmatched replies to the current step
    status: Status = "active"
    seq: int = 0  # goes up on every change; inline buttons carry it to spot stale taps
    interrupt: Interrupt = ""
    changing: bool = False  # came from "check your answers": go back there after the answer
    picked: tuple[str, ...] = ()  # multi-choice options picked so far on the current step


# ---- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A typed message or a reply-keyboard tap (which arrives as its label)."""

    text: str


@dataclass(frozen=True)
class Voice:
    note: VoiceNote


@dataclass(frozen=True)
class Media:
    """Something the engine cannot use as an answer: sticker, photo, location, ..."""

    kind: str


@dataclass(frozen=True)
class Command:
    name: Literal["start", "help", "back", "skip", "stop", "language", "privacy", "settings", "delete",
                  "mydata", "news"]


@dataclass(frozen=True)
class Action:
    """An inline (secondary) button. ``seq`` is the state seq the button was made for."""

    name: str
    arg: str
    seq: int


@dataclass(frozen=True)
class Repeat:
    """Show the current step again (after a restart, a language change or a resume)."""


@dataclass(frozen=True)
class Stale:
    """A message the user sent before they saw the current question."""

    text: str


Event = Union[Text, Voice, Media, Command, Action, Repeat, Stale]

# ---- outputs --------------------------------------------------------------------------


@dataclass(frozen=True)
class Button:
    id: str  # option id, or a control id such as "_skip", "_help", "_done"
    label: str
    picture: str = ""  # the option's symbol (an emoji), shown as a picture when pictures are on


@dataclass(frozen=True)
class InlineButton:
    label: str
    action: str
    arg: str = ""


@dataclass(frozen=True)
class Say:
    """A message with nothing to answer."""

    text: str
    buttons: tuple[InlineButton, ...] = ()
    close_keyboard: bool = False  # take the reply keyboard away (after /stop, at the end)


@dataclass(frozen=True)
class Ask:
    """A message that waits for an answer. ``text`` is the whole message, question last."""

    step: str
    text: str
    buttons: tuple[Button, ...] = ()  # reply keyboard; empty means free text (keyboard removed)
    inline: tuple[InlineButton, ...] = ()  # secondary actions (Change, Tell me more)
    placeholder: str = ""
    seq: int = 0
    free_text: bool = False


@dataclass(frozen=True)
class SetProfile:
    key: str
    value: str


@dataclass(frozen=True)
class Submitted:
    """The user sent their answers from "check your answers" (or the last step)."""


@dataclass(frozen=True)
class Finished:
    """The conversation ended. ``then`` names the conversation to start next, if any."""

    then: str | None = None


@dataclass(frozen=True)
class Restart:
    """The user asked to start the conversation again (after confirming)."""


@dataclass(frozen=True)
class ReadAloud:
    """Send ``ask`` as a voice note (its text as the caption, its buttons kept)."""

    ask: Ask


@dataclass(frozen=True)
class Erase:
    """The person confirmed /delete: erase everything Voices holds about them."""


@dataclass(frozen=True)
class AskForPerson:
    """The person asked to talk to a person: an officer sees a request."""


@dataclass(frozen=True)
class ShowMyData:
    """/mydata: send the person everything Voices holds about them."""


@dataclass(frozen=True)
class ShowNews:
    """/news: the latest "You said, we did" bulletins, in the person's language."""


@dataclass(frozen=True)
class ContactChoice:
    """Say whether Voices may send the person messages, with a button to change it.

    Someone who gets messages is offered a way to stop them; with ``offer_start``, someone who
    does not is offered a way to start.
    """

    offer_start: bool = False


@dataclass(frozen=True)
class ConsentChoice:
    """/privacy: say what the person agreed to and when, with a button to withdraw it."""


@dataclass(frozen=True)
class Document:
    """A file to send: ``name`` and its bytes."""

    name: str
    data: bytes
    caption: str = ""


Output = Union[Say, Ask, SetProfile, Submitted, Finished, Restart, ReadAloud, Erase, AskForPerson, ShowMyData,
               Document, ShowNews, ContactChoice, ConsentChoice]
