"""Put a conversation into one language: every text field through a translate function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from core.definition import Conversation, Option, Step
from core.texts import UI

Translate = Callable[[str], str]


def _option(opt: Option, t: Translate) -> Option:
    return replace(opt, label=t(opt.label), also=tuple(t(w) for w in opt.also))


def _step(step: Step, t: Translate) -> Step:
    return replace(
        step,
        text=t(step.text) if step.text else "",
        short=t(step.short) if step.short else "",
        more=t(step.more) if step.more else "",
        done=t(step.done) if step.done else "",
        options=tuple(_option(o, t) for o in step.options),
    )


def localise(conv: Conversation, t: Translate, language: str, values: Mapping[str, str]) -> Conversation:
    """``conv`` with its texts and the engine's own texts (``UI``) in ``language``.

    ``values`` fills placeholders such as ``{council}``, ``{read_by}`` and ``{contact}``.
    """
    ui = {key: t(text) for key, text in UI.items()}
    ui.update(values)
    return replace(
        conv,
        title=t(conv.title),
        steps=tuple(_step(s, t) for s in conv.steps),
        language=language,
        ui=ui,
    )
