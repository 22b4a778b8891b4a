"""The engine state codec: exact round trips, compact output, old states still load."""

from __future__ import annotations

import json

import pytest

from core.model import Answer, State, VoiceNote
from core.storage.statecodec import dumps_state, loads_state

VOICE = VoiceNote(file_id="AwACAgQAAxkBAAIB", unique_id="AgADx", duration=37, mime="audio/ogg", size=48213)

STATES: dict[str, State] = {
    "new": State(conversation="welcome", version=1, current="language"),
    "finished": State(conversation="welcome", version=1, current="", status="done", seq=12),
    "everything": State(
        conversation="feedback",
        version=7,
        current="check",
        answers={
            "about": Answer(
                step="about", kind="choice", question="What is it about?", options=("school",), label="School"
            ),
            "how": Answer(
                step="how",
                kind="multi",
                question="Pick all that fit",
                options=("works-well", "improve"),
                label="Works well, Could be better",
            ),
            "tell": Answer(
                step="tell", kind="text", question="Tell us", text="  exact\r\ntext\t ", label="…"
            ),
            "voice": Answer(
                step="voice", kind="voice", question="Or say it", voice=VOICE, label="Voice (37 s)"
            ),
            "more": Answer(step="more", kind="skipped", question="Anything else?"),
        },
        history=("about", "how", "tell", "voice", "more"),
        tries=2,
        status="paused",
        seq=41,
        interrupt="language",
        changing=True,
        picked=("a", "b"),
    ),
    "unicode": State(
        conversation="annual-parent",
        version=2,
        current="q2",
        answers={
            "q1": Answer(
                step="q1",
                kind="text",
                question="ਤੁਹਾਡਾ ਅਨੁਭਵ? 你好 👩🏽‍🦽",
                text='ਪੰਜਾਬੀ ગુજરાતી বাংলা Română Polski Soomaali 🇬🇧 "quotes" \\ backslash \u2028',
            )
        },
        history=("q1",),
    ),
    "rtl": State(
        conversation="feedback",
        version=1,
        current="more",
        answers={
            "tell": Answer(
                step="tell",
                kind="text",
                question="أخبرنا",
                text="المدرسة لا تساعد ابني \u202bمع\u202c اردو میں بھی",
                label="المدرسة",
            )
        },
        interrupt="restart",
    ),
    "long text": State(
        conversation="feedback",
        version=1,
        current="more",
        answers={"tell": Answer(step="tell", kind="text", question="Tell us", text="é" * 4096)},
    ),
    "empty strings and zero voice": State(
        conversation="feedback",
        version=0,
        current="tell",
        answers={
            "tell": Answer(step="tell", kind="text", question="", text=""),
            "v": Answer(step="v", kind="voice", question="Q", voice=VoiceNote(file_id="f")),
        },
    ),
    "step differs from key": State(
        conversation="feedback",
        version=1,
        current="x",
        answers={"old-key": Answer(step="renamed", kind="choice", question="Q", options=("o",))},
    ),
}


@pytest.mark.parametrize("name", list(STATES))
def test_round_trip(name: str) -> None:
    state = STATES[name]
    text = dumps_state(state)
    loaded = loads_state(text)
    assert loaded == state
    assert isinstance(loaded.history, tuple) and isinstance(loaded.picked, tuple)
    for answer in loaded.answers.values():
        assert isinstance(answer.options, tuple)
    assert list(loaded.answers) == list(state.answers)  # order kept
    assert dumps_state(loaded) == text


def test_output_is_compact_and_unescaped() -> None:
    text = dumps_state(STATES["rtl"])
    assert ": " not in text and ", " not in text.replace("، ", "")
    assert "المدرسة" in text
    assert "\\u" not in text
    data = json.loads(text)
    assert data["v"] == 1
    assert data["answers"]["tell"] == {
        "kind": "text",
        "question": "أخبرنا",
        "text": "المدرسة لا تساعد ابني \u202bمع\u202c اردو میں بھی",
        "label": "المدرسة",
    }


def test_exact_encoding_of_a_small_state() -> None:
    state = State(
        conversation="welcome",
        version=1,
        current="role",
        answers={"language": Answer(step="language", kind="choice", question="Language?", options=("pl",))},
        history=("language",),
        seq=3,
    )
    assert dumps_state(state) == (
        '{"v":1,"conversation":"welcome","version":1,"current":"role","status":"active","seq":3,'
        '"tries":0,"interrupt":"","changing":false,"history":["language"],"picked":[],'
        '"answers":{"language":{"kind":"choice","question":"Language?","options":["pl"]}}}'
    )


def test_voice_note_round_trips_every_field() -> None:
    loaded = loads_state(dumps_state(STATES["everything"]))
    assert loaded.answers["voice"].voice == VOICE
    assert loaded.answers["tell"].text == "  exact\r\ntext\t "
    assert loaded.answers["more"].text is None and loaded.answers["more"].voice is None


def test_older_state_with_missing_keys_loads_with_defaults() -> None:
    old = (
        '{"conversation":"feedback","version":2,"current":"tell",'
        '"answers":{"about":{"kind":"choice","question":"Q","options":["school"]},'
        '"v":{"kind":"voice","question":"Q","voice":{"file_id":"F"}}}}'
    )
    assert loads_state(old) == State(
        conversation="feedback",
        version=2,
        current="tell",
        answers={
            "about": Answer(step="about", kind="choice", question="Q", options=("school",)),
            "v": Answer(step="v", kind="voice", question="Q", voice=VoiceNote(file_id="F")),
        },
    )
    assert loads_state("{}") == State(conversation="", version=0, current="")


def test_unknown_keys_are_ignored() -> None:
    newer = json.loads(dumps_state(STATES["new"]))
    newer["v"] = 2
    newer["mood"] = "sunny"
    newer["answers"] = {"a": {"kind": "text", "question": "Q", "text": "t", "sentiment": 0.5}}
    loaded = loads_state(json.dumps(newer))
    assert loaded == State(
        conversation="welcome",
        version=1,
        current="language",
        answers={"a": Answer(step="a", kind="text", question="Q", text="t")},
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("[]", "not a JSON object"),
        ('{"status":"sleeping"}', "unknown status"),
        ('{"interrupt":"panic"}', "unknown interrupt"),
        ('{"answers":{"a":{"kind":"essay","question":"Q"}}}', "unknown answer kind"),
    ],
)
def test_corrupt_state_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        loads_state(text)
