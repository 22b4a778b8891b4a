"""Put a conversation into one language: every text field through a translate function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from core.definition import Conversation, Option, Step
from core.texts import UI

Translate = Callable[[str], str]


def _option(opt: Option, t: Translate, easy: bool) -> Option:
    label = opt.easy or opt.label if easy else opt.label
    return replace(opt, label=t(label), also=tuple(t(w) for w in opt.also))


def _step(step: Step, t: Translate, easy: bool) -> Step:
    text = step.easy or step.text if easy else step.text
    more = step.easy_more or step.more if easy else step.more
    options = [o for o in step.options if not (easy and o.hide_in_easy)]
    return replace(
        step,
        text=t(text) if text else "",
        short=t(step.short) if step.short else "",
        more=t(more) if more else "",
        done=t(step.done) if step.done else "",
        options=tuple(_option(o, t, easy) for o in options),
    )


def localise(conv: Conversation, t: Translate, language: str, values: Mapping[str, str],
             easy: bool = False) -> Conversation:
    """``conv`` with its texts and the engine's own texts (``UI``) in ``language``.

    ``easy`` picks the Easy Read track: its texts and labels, and only its options.
    ``values`` fills placeholders such as ``{council}``, ``{read_by}`` and ``{contact}``.
    """
    ui = {key: t(text) for key, text in UI.items()}
    ui.update(values)
    return replace(
        conv,
        title=t(conv.title),
        steps=tuple(_step(s, t, easy) for s in conv.steps),
        language=language,
        ui=ui,
    )
