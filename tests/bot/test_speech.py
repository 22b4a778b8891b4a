"""Voice notes (bot.speech): real espeak-ng and ffmpeg runs, checked with ffprobe. No database.

espeak-ng, ffmpeg or ffprobe missing: the tests that need them are skipped, or fail when CI=true.
The sentences are simple ones written for these tests, not reviewed translations.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from bot.speech import (
    VOICES,
    Speech,
    VoiceNote,
    ogg_opus_seconds,
    sentences,
    speech_text,
    voice_key,
)

SENTENCES = {
    "en": "Question 1 of 5\nDo you feel safe at school?",
    "pl": "Czy czujesz się bezpiecznie w szkole?",
    "ro": "Te simți în siguranță la școală?",
    "ar": "هل تشعر بالأمان في المدرسة؟",
    "ur": "کیا آپ اسکول میں محفوظ محسوس کرتے ہیں؟",
    "gu": "શું તમે શાળામાં સુરક્ષિત અનુભવો છો?",
    "pa": "ਕੀ ਤੁਸੀਂ ਸਕੂਲ ਵਿੱਚ ਸੁਰੱਖਿਅਤ ਮਹਿਸੂਸ ਕਰਦੇ ਹੋ?",
    "bn": "তুমি কি স্কুলে নিরাপদ বোধ করো?",
}
MB = 1_000_000


@pytest.fixture(scope="module")
def tools() -> None:
    missing = [tool for tool in ("espeak-ng", "ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if missing:
        reason = f"{', '.join(missing)} not installed (apt-get install -y espeak-ng ffmpeg)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; CI=true, so the voice-note tests must run")
        pytest.skip(reason)


@pytest.fixture
def espeak_log(tmp_path: Path) -> Path:
    """Where the espeak-ng wrapper writes one line (its arguments) per run."""
    return tmp_path / "espeak-runs.log"


@pytest.fixture
def speech(tools: None, tmp_path: Path, espeak_log: Path) -> Speech:
    """A Speech whose espeak-ng is a wrapper that logs each run, then runs the real one."""
    wrapper = tmp_path / "espeak-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{espeak_log}"\nexec "{shutil.which("espeak-ng")}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return Speech(tmp_path / "cache", tmp_path / "recordings", espeak=str(wrapper))


def runs(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def probe(data: bytes, tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "probe.ogg"
    path.write_bytes(data)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_entries",
         "stream=codec_name,channels,sample_rate:format=format_name,duration", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    info = json.loads(out)
    stream = info["streams"][0]
    return {"codec": stream["codec_name"], "channels": stream["channels"], "rate": stream["sample_rate"],
            "format": info["format"]["format_name"], "seconds": float(info["format"]["duration"])}


def assert_voice_note(note: VoiceNote | None, tmp_path: Path, limit: float = 30.0) -> dict[str, object]:
    assert note is not None
    info = probe(note.data, tmp_path)
    assert info["codec"] == "opus" and info["format"] == "ogg"
    assert info["channels"] == 1 and info["rate"] == "48000"
    assert 0.5 < note.seconds <= limit and len(note.data) <= MB
    assert abs(float(str(info["seconds"])) - note.seconds) < 0.1
    return info


def tone(tmp_path: Path, seconds: float = 1.0) -> bytes:
    """A short OGG/Opus file that stands for a human recording."""
    out = tmp_path / "tone.ogg"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi",
         "-i", f"sine=frequency=440:duration={seconds}",
         "-c:a", "libopus", "-ac", "1", "-ar", "48000", "-y", str(out)],
        check=True,
    )
    return out.read_bytes()


# --- Text and keys (no tools needed) ------------------------------------------------------------


def test_speech_text_strips_formatting() -> None:
    text = "\u2068Question 2 of 5\u2069\n🙂 Do you feel safe? 👍🏽\nType /stop to stop, or /my_data."
    assert speech_text(text) == "Question 2 of 5. Do you feel safe? Type stop to stop, or my data."


def test_speech_text_keeps_other_scripts_and_blocks_phoneme_input() -> None:
    assert speech_text("\u2068/skip\u2069 کیا آپ محفوظ ہیں؟") == "skip کیا آپ محفوظ ہیں؟"
    assert "[[" not in speech_text("say [[h@l'oU]]")
    assert speech_text("🙂\n\n") == ""


def test_voice_key_is_stable_and_distinct() -> None:
    key = voice_key("Do you feel safe?", "en")
    assert key == voice_key("Do you feel safe?", "en", "standard")
    assert len(key) == 64 and int(key, 16) >= 0
    assert len({key, voice_key("Do you feel safe?", "pl"), voice_key("Do you feel safe?", "en", "easy"),
                voice_key("Do you feel safe here?", "en")}) == 4
    # formatting that is not spoken does not change the key
    assert voice_key("\u2068Do you feel safe?\u2069 🙂", "en") == key


def test_sentences() -> None:
    assert sentences("One. Two? Three") == ["One.", "Two?", "Three"]
    assert sentences("ایک۔ دو؟") == ["ایک۔", "دو؟"]


def test_ogg_opus_seconds_rejects_other_data() -> None:
    assert ogg_opus_seconds(b"") is None
    assert ogg_opus_seconds(b"RIFF" + bytes(100)) is None
    assert ogg_opus_seconds(b"OggS" + bytes(24) + b"OpusTags" + bytes(20)) is None


# --- Voice notes --------------------------------------------------------------------------------


@pytest.mark.parametrize("language", sorted(SENTENCES))
async def test_each_language_gives_a_valid_voice_note(speech: Speech, tmp_path: Path, language: str) -> None:
    note = await speech.voice_note(SENTENCES[language], language)
    assert_voice_note(note, tmp_path)
    assert note is not None and note.source == "synthesised"
    assert note.key == voice_key(SENTENCES[language], language)


def test_every_language_but_somali_has_a_voice() -> None:
    assert set(VOICES) == set(SENTENCES)


async def test_somali_gives_none_without_running_espeak(speech: Speech, espeak_log: Path) -> None:
    assert await speech.voice_note("Ma dareemaysaa ammaan?", "so") is None
    assert await speech.voice_note("Anything", "xx") is None
    assert await speech.voice_note("Anything", "../../etc") is None
    assert runs(espeak_log) == []


async def test_a_recording_wins(speech: Speech, tmp_path: Path, espeak_log: Path) -> None:
    recorded = tone(tmp_path)
    for language, text in (("en", SENTENCES["en"]), ("so", "Ma dareemaysaa ammaan?")):
        path = speech.recordings_dir / language / f"{voice_key(text, language)}.ogg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(recorded)
        note = await speech.voice_note(text, language)
        assert note is not None and note.source == "recorded" and note.data == recorded
        assert 0.9 < note.seconds < 1.1
    assert runs(espeak_log) == []


@pytest.mark.parametrize("content", [b"not audio at all", b"RIFF" + bytes(1000), "ogg-vorbis", "too-long"])
async def test_an_invalid_recording_is_ignored(
    speech: Speech, tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes | str
) -> None:
    text = SENTENCES["pl"]
    path = speech.recordings_dir / "pl" / f"{voice_key(text, 'pl', 'easy')}.ogg"
    path.parent.mkdir(parents=True)
    if content == "ogg-vorbis":
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=1",
                        "-c:a", "libvorbis", str(path)], check=True)
    elif content == "too-long":  # longer than the Easy Read limit of 20 s
        path.write_bytes(tone(tmp_path, 21))
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="bot.speech"):
        note = await speech.voice_note(text, "pl", "easy")
    assert_voice_note(note, tmp_path, 20)
    assert note is not None and note.source == "synthesised"
    assert str(path) in caplog.text and "bezpiecznie" not in caplog.text


async def test_the_cache_avoids_a_second_synthesis(speech: Speech, tmp_path: Path, espeak_log: Path) -> None:
    first = await speech.voice_note(SENTENCES["bn"], "bn")
    assert first is not None and len(runs(espeak_log)) == 1
    cached = speech.cache_dir / "bn" / f"{first.key}.ogg"
    assert cached.read_bytes() == first.data
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temporary files left
    again = await speech.voice_note(SENTENCES["bn"], "bn")
    restarted = Speech(speech.cache_dir, speech.recordings_dir, espeak=speech.espeak)
    assert again == first == await restarted.voice_note(SENTENCES["bn"], "bn")
    assert len(runs(espeak_log)) == 1
    # another track is another voice note
    assert await speech.voice_note(SENTENCES["bn"], "bn", "easy") is not None
    assert len(runs(espeak_log)) == 2


async def test_a_broken_cache_file_is_made_again(speech: Speech, espeak_log: Path) -> None:
    key = voice_key(SENTENCES["ro"], "ro")
    path = speech.cache_dir / "ro" / f"{key}.ogg"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"OggS half a file")
    note = await speech.voice_note(SENTENCES["ro"], "ro")
    assert note is not None and len(runs(espeak_log)) == 1 and path.read_bytes() == note.data


async def test_awkward_text_is_spoken_safely(
    speech: Speech, tmp_path: Path, espeak_log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = '-v xx --help "quoted" \'single\'\n$(touch pwned) `id`; rm -rf / 🙂🇬🇧 <b>&amp;\n\n--\n-s 999'
    with caplog.at_level(logging.DEBUG, logger="bot.speech"):
        note = await speech.voice_note(text, "en")
    assert_voice_note(note, tmp_path)
    [args] = runs(espeak_log)
    assert args.split()[:4] == ["-v", "en-gb", "-s", "140"] and "quoted" not in args  # the text went on stdin
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    assert "quoted" not in caplog.text


async def test_a_long_text_is_spoken_faster_first(
    speech: Speech, tmp_path: Path, espeak_log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = " ".join(["Please tell us how you feel about school today."] * 9)  # about 32 s at 140 wpm
    with caplog.at_level(logging.INFO, logger="bot.speech"):
        note = await speech.voice_note(text, "en")
    assert_voice_note(note, tmp_path)
    assert note is not None and note.seconds > 24  # nothing was cut
    speeds = [int(args.split()[3]) for args in runs(espeak_log)]
    assert speeds[0] == 140 and 140 < speeds[1] <= 175 and len(speeds) == 2
    assert "cut" not in caplog.text


@pytest.mark.parametrize(("track", "limit"), [("standard", 30.0), ("easy", 20.0)])
async def test_a_very_long_text_is_cut_at_a_sentence(
    speech: Speech, tmp_path: Path, espeak_log: Path, caplog: pytest.LogCaptureFixture,
    track: str, limit: float,
) -> None:
    text = " ".join(f"This is sentence number {n} and it has a few more words." for n in range(60))
    with caplog.at_level(logging.INFO, logger="bot.speech"):
        note = await speech.voice_note(text, "en", track)
    assert_voice_note(note, tmp_path, limit)
    assert note is not None and note.seconds > limit - 5  # cut near the limit, not far before it
    spoken = runs(espeak_log)
    assert all(int(args.split()[3]) <= 175 for args in spoken) and len(spoken) < 12
    assert "cut at a sentence" in caplog.text and "sentence number" not in caplog.text


async def test_a_missing_or_stuck_tool_gives_none(tools: None, tmp_path: Path) -> None:
    missing = Speech(tmp_path / "c1", tmp_path / "r", espeak=str(tmp_path / "no-such-espeak"))
    assert await missing.voice_note("Hello.", "en") is None
    stuck_script = tmp_path / "stuck"
    stuck_script.write_text("#!/bin/sh\nexec sleep 30\n")
    stuck_script.chmod(0o755)
    stuck = Speech(tmp_path / "c2", tmp_path / "r", espeak=str(stuck_script), timeout=0.5)
    assert await stuck.voice_note("Hello.", "en") is None
    assert not (tmp_path / "c1").exists() and not (tmp_path / "c2").exists()
