"""Engine state <-> compact JSON text, for ``Session.state``.

This runs on every message, so dictionaries are built by hand (``dataclasses.asdict`` deep-copies
everything) and values equal to their defaults are left out of answers and voice notes.

Format (version 1)::

    {"v":1,"conversation":"feedback","version":2,"current":"tell","status":"active","seq":7,
     "tries":0,"interrupt":"","changing":false,"history":["about","how"],"picked":[],
     "answers":{"about":{"kind":"choice","question":"...","options":["school"],"label":"School"}}}

Answers are keyed by step id; an answer's own ``step`` is written only if it differs from its key.
Loading is lenient about the shape of older states: a missing key takes the field's default and
an unknown key is ignored, so states written by older (or newer) versions still load.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast, get_args

from core.model import Answer, AnswerKind, Interrupt, State, Status, VoiceNote

FORMAT_VERSION = 1

_KINDS = frozenset(get_args(AnswerKind))
_STATUSES = frozenset(get_args(Status))
_INTERRUPTS = frozenset(get_args(Interrupt))

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_decode = json.JSONDecoder().decode


def _voice_dict(voice: VoiceNote) -> dict[str, Any]:
    out: dict[str, Any] = {"file_id": voice.file_id}
    if voice.unique_id:
        out["unique_id"] = voice.unique_id
    if voice.duration:
        out["duration"] = voice.duration
    if voice.mime:
        out["mime"] = voice.mime
    if voice.size:
        out["size"] = voice.size
    return out


def _answer_dict(key: str, answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": answer.kind, "question": answer.question}
    if answer.step != key:
        out["step"] = answer.step
    if answer.options:
        out["options"] = list(answer.options)
    if answer.text is not None:
        out["text"] = answer.text
    if answer.voice is not None:
        out["voice"] = _voice_dict(answer.voice)
    if answer.label:
        out["label"] = answer.label
    return out


def dumps_state(state: State) -> str:
    """The state as compact JSON text (UTF-8 characters kept as they are, not escaped)."""
    return _encode(
        {
            "v": FORMAT_VERSION,
            "conversation": state.conversation,
            "version": state.version,
            "current": state.current,
            "status": state.status,
            "seq": state.seq,
            "tries": state.tries,
            "interrupt": state.interrupt,
            "changing": state.changing,
            "history": list(state.history),
            "picked": list(state.picked),
            "answers": {key: _answer_dict(key, answer) for key, answer in state.answers.items()},
        }
    )


def _choice(value: Any, allowed: frozenset[str], default: str, what: str) -> str:
    if value is None:
        return default
    if value not in allowed:
        raise ValueError(f"stored state has an unknown {what}: {value!r}")
    return cast(str, value)


def _strings(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(str(item) for item in value)


def _load_voice(data: Mapping[str, Any]) -> VoiceNote:
    return VoiceNote(
        file_id=str(data.get("file_id", "")),
        unique_id=str(data.get("unique_id", "")),
        duration=int(data.get("duration", 0)),
        mime=str(data.get("mime", "")),
        size=int(data.get("size", 0)),
    )


def _load_answer(key: str, data: Mapping[str, Any]) -> Answer:
    text = data.get("text")
    voice = data.get("voice")
    return Answer(
        step=str(data.get("step", key)),
        kind=cast(AnswerKind, _choice(data.get("kind"), _KINDS, "skipped", "answer kind")),
        question=str(data.get("question", "")),
        options=_strings(data.get("options")),
        text=None if text is None else str(text),
        voice=None if voice is None else _load_voice(voice),
        label=str(data.get("label", "")),
    )


def loads_state(text: str) -> State:
    """The state stored by :func:`dumps_state` (or by an older version of it).

    Raises ``ValueError`` if the text is not a JSON object or holds an unknown enumerated value.
    """
    data = _decode(text)
    if not isinstance(data, dict):
        raise ValueError("stored state is not a JSON object")
    answers = data.get("answers") or {}
    return State(
        conversation=str(data.get("conversation", "")),
        version=int(data.get("version", 0)),
        current=str(data.get("current", "")),
        answers={str(key): _load_answer(str(key), value) for key, value in answers.items()},
        history=_strings(data.get("history")),
        tries=int(data.get("tries", 0)),
        status=cast(Status, _choice(data.get("status"), _STATUSES, "active", "status")),
        seq=int(data.get("seq", 0)),
        interrupt=cast(Interrupt, _choice(data.get("interrupt"), _INTERRUPTS, "", "interrupt")),
        changing=bool(data.get("changing", False)),
        picked=_strings(data.get("picked")),
    )
