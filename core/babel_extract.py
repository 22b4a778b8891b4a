"""A babel extraction method for conversation files, so ``pybabel extract`` finds every text.

Used from ``babel.cfg`` as ``[core.babel_extract:extract_conversation: conversations/*.yaml]``.
Each text is yielded with its line and a comment naming the conversation, step and field, which
translators see in the catalogue.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

STEP_TEXTS = ("text", "easy", "short", "more", "easy_more", "done")
OPTION_TEXTS = ("label", "easy")

Extracted = tuple[int, str | None, str, list[str]]


def _pairs(node: Node) -> dict[str, Node]:
    if not isinstance(node, MappingNode):
        return {}
    return {k.value: v for k, v in node.value if isinstance(k, ScalarNode)}


def _text(node: Node | None) -> str:
    if isinstance(node, ScalarNode) and node.tag != "tag:yaml.org,2002:null":
        return str(node.value).strip()
    return ""


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def extract_conversation(fileobj: IO[bytes], keywords: Mapping[str, Any], comment_tags: Collection[str],
                         options: Mapping[str, Any]) -> Iterator[Extracted]:
    root = yaml.compose(fileobj.read().decode("utf-8"))
    if root is None:
        return
    top = _pairs(root)
    name = _text(top.get("id")) or "conversation"
    if _text(top.get("title")):
        yield _line(top["title"]), None, _text(top["title"]), [f"{name}: title"]
    steps = top.get("steps")
    for step in steps.value if isinstance(steps, SequenceNode) else []:
        yield from _step(name, _pairs(step))


def _step(name: str, fields: dict[str, Node]) -> Iterator[Extracted]:
    step_id = _text(fields.get("id"))
    for key in STEP_TEXTS:
        if _text(fields.get(key)):
            track = " (Easy Read)" if key.startswith("easy") else ""
            yield _line(fields[key]), None, _text(fields[key]), [f"{name}, step {step_id}: {key}{track}"]
    options = fields.get("options")
    for option in options.value if isinstance(options, SequenceNode) else []:
        yield from _option(name, step_id, _pairs(option))


def _option(name: str, step_id: str, fields: dict[str, Node]) -> Iterator[Extracted]:
    where = f"{name}, step {step_id}, option {_text(fields.get('id'))}"
    for key in OPTION_TEXTS:
        if _text(fields.get(key)):
            note = "button, at most 4 words" if key == "label" else "Easy Read button, at most 3 words"
            yield _line(fields[key]), None, _text(fields[key]), [f"{where}: {note}"]
    also = fields.get("also")
    for word in also.value if isinstance(also, SequenceNode) else []:
        if _text(word):
            yield _line(word), None, _text(word), [f"{where}: another word that means this answer"]
