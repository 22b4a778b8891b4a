"""Year on year: the answers to each question, wave by wave (a wave is a conversation version).

For every conversation with answers in two or more versions, and every question (step id) that
appears in two or more of them, the answers side by side: for a choice question the count and
share of each option, for a text question the number of answers. Keeping a question's step id the
same from wave to wave is what makes it comparable (see ``conversations/annual-parent.yaml``).

Two grouped queries per page, whatever the number of questions: the responses per version (the
``response_conversation`` index covers it), then the answers of the conversations that have more
than one version, grouped by version, step, kind and chosen options.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from admin.sql import Sql
from core.definition import CHOICE_KINDS, Conversation
from core.languages import BY_CODE

CHOICE = ("choice", "multi")
TEXT = ("text", "voice")


@dataclass
class Option:
    id: str
    label: str
    counts: dict[int, int] = field(default_factory=dict)  # version -> answers that chose it


@dataclass
class Question:
    step_id: str
    text: str
    versions: list[int]
    totals: dict[int, int] = field(default_factory=dict)  # version -> answers, skipped included
    skipped: dict[int, int] = field(default_factory=dict)
    answered: dict[int, int] = field(default_factory=dict)  # text questions: typed or voice answers
    options: list[Option] = field(default_factory=list)
    multi: bool = False  # more than one option could be chosen
    choice: bool = False  # answered by choosing (else typed or spoken)
    links: dict[int, str] = field(default_factory=dict)  # text questions: version -> responses list

    def share(self, n: int, version: int) -> str:
        total = self.totals.get(version, 0)
        return f"{round(100 * n / total)}%" if total else "–"


@dataclass
class Compared:
    conversation_id: str
    title: str
    versions: list[int]
    responses: dict[int, int]  # version -> responses (finished or not)
    questions: list[Question]


def wave_key(conversation_id: str, version: int) -> str:
    """The responses list's ``wave`` filter value."""
    return f"{conversation_id}:{version}"


async def compare(conversations: Mapping[str, Conversation], english: Mapping[str, Conversation] | None = None
                  ) -> list[Compared]:
    """Every conversation with answers in two or more versions, its comparable questions in order.

    ``conversations``: the loaded definitions, for the order of questions and (through ``english``,
    the same localised into English with the council's values filled in) their words and option
    labels. Questions the current version no longer has come after, named by their step id.
    """
    sql = Sql()
    waves: dict[str, dict[int, int]] = defaultdict(dict)
    for row in await sql.rows("SELECT conversation_id, conversation_version, COUNT(*) AS n FROM response "
                              "GROUP BY conversation_id, conversation_version"):
        waves[str(row["conversation_id"])][int(row["conversation_version"])] = int(row["n"])
    several = sorted(c for c, versions in waves.items() if len(versions) > 1)
    if not several:
        return []
    rows = await sql.rows(
        "SELECT r.conversation_id AS c, r.conversation_version AS v, a.step_id AS s, a.kind AS k, "
        "a.option_ids AS o, COUNT(*) AS n, "
        "MAX(CASE WHEN a.kind = 'choice' AND a.language = 'en' THEN a.label END) AS label "
        "FROM answer a JOIN response r ON r.id = a.response_id "
        f"WHERE r.conversation_id IN ({','.join('?' * len(several))}) "
        "GROUP BY r.conversation_id, r.conversation_version, a.step_id, a.kind, a.option_ids", several)
    by_conversation: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_conversation[str(row["c"])].append(row)
    result = []
    for cid in several:
        words = (english or {}).get(cid) or conversations.get(cid)
        questions = _questions(cid, by_conversation.get(cid, []), words)
        if questions:
            title = words.title if words else cid
            versions = sorted(waves[cid])
            result.append(Compared(cid, title, versions, waves[cid], questions))
    return result


def _option_ids(value: Any) -> list[str]:
    found = json.loads(value) if isinstance(value, str | bytes) else value
    return [str(o) for o in found] if isinstance(found, list) else []


def _questions(cid: str, rows: list[dict[str, Any]], words: Conversation | None) -> list[Question]:
    per_step: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        per_step[str(row["s"])].append(row)
    order = {step.id: i for i, step in enumerate(words.steps)} if words else {}
    found = []
    for step_id in sorted(per_step, key=lambda s: (order.get(s, len(order)), s)):
        step_rows = per_step[step_id]
        versions = sorted({int(r["v"]) for r in step_rows})
        if len(versions) < 2:
            continue
        found.append(_question(cid, step_id, versions, step_rows, words))
    return found


def _question(cid: str, step_id: str, versions: list[int], rows: list[dict[str, Any]],
              words: Conversation | None) -> Question:
    step = words.step(step_id) if words and words.has_step(step_id) else None
    question = Question(step_id, step.text.strip() if step else step_id, versions)
    labels = {o.id: o.label for o in step.options} if step else {}
    if step and step.kind == "language":
        labels = {code: lang.label for code, lang in BY_CODE.items()}
    options: dict[str, Option] = {o: Option(o, label) for o, label in labels.items()}
    stored: dict[str, str] = {}
    for row in rows:
        version, kind, n = int(row["v"]), str(row["k"]), int(row["n"])
        question.totals[version] = question.totals.get(version, 0) + n
        if kind == "skipped":
            question.skipped[version] = question.skipped.get(version, 0) + n
        elif kind in TEXT:
            question.answered[version] = question.answered.get(version, 0) + n
        elif kind in CHOICE:
            chosen = _option_ids(row["o"])
            question.multi = question.multi or kind == "multi"
            for option_id in chosen:
                option = options.setdefault(option_id, Option(option_id, option_id))
                option.counts[version] = option.counts.get(version, 0) + n
            if kind == "choice" and len(chosen) == 1 and row["label"]:
                stored.setdefault(chosen[0], str(row["label"]))
    for option_id, label in stored.items():
        if option_id not in labels:
            options[option_id].label = label
    question.choice = step.kind in CHOICE_KINDS if step else any(o.counts for o in options.values())
    if question.choice:
        question.options = [o for o in options.values() if o.counts or o.id in labels]
    else:
        question.links = {v: "/responses?" + urlencode({"wave": wave_key(cid, v), "step": step_id})
                          for v in versions}
    return question
