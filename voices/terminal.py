"""The terminal channel (``voices try``): the same engine and storage, typed at a prompt."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Callable

from bot.updates import event_from_text
from core.engine import LISTEN
from core.model import Ask, Document, Output, Say
from core.service import Incoming, Reply, Voices

CHANNEL = "terminal"


def show(outputs: list[Output], write: Callable[[str], object] = print) -> None:
    for out in outputs:
        if isinstance(out, Say):
            write(out.text + "\n")
        elif isinstance(out, Document):
            write(f"{out.caption} ({out.name})\n{out.data.decode()}\n")
        elif isinstance(out, Ask):
            lines = [out.text]
            shown = [b for b in out.buttons if b.id != LISTEN]  # no voice notes in a terminal
            lines += [f"  {n}. {b.label}" for n, b in enumerate(shown, start=1)]
            lines += [f"  [{b.label}]" for b in out.inline]
            write("\n".join(lines) + "\n")


async def run_terminal(service: Voices, conversation: str | None, language: str | None,
                       user: str | None = None) -> None:
    """Talk to one person at this terminal until they type /quit or end the input."""
    who = user or getpass.getuser()
    start = Incoming(CHANNEL, who, None, event_from_text("/start"), open_conversation=conversation,
                     language=language)
    print("(Type your answer, or the number of a choice. /back, /skip, /stop, /help and /language work"
          " here too. /quit leaves.)\n")
    _print(await service.handle(start))
    while True:
        line = await asyncio.to_thread(_read)
        if line is None or line.strip() == "/quit":
            return
        reply = await service.handle(Incoming(CHANNEL, who, None, event_from_text(line)))
        _print(reply)


def _read() -> str | None:
    try:
        return input("> ")
    except EOFError:
        return None


def _print(reply: Reply | None) -> None:
    if reply is not None:
        show(reply.outputs)
        sys.stdout.flush()
