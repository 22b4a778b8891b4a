"""A question's text as a Telegram voice note, made offline (ACCESSIBILITY.md requirements 23, 28, T15).

A human recording ``recordings_dir/<language>/<key>.ogg`` wins; otherwise espeak-ng speaks the text
into WAV and ffmpeg encodes it as OGG/Opus, mono, 48 kHz, 32 kb/s (§5.5). Results are cached on disk
as ``cache_dir/<language>/<key>.ogg``. Somali and any other language without an espeak-ng voice give
``None``: the caller sends the text alone with a note. Nothing here raises for a bad input or a
failed tool; failures are logged (never with the spoken text) and give ``None``.

Voice notes keep to T15: at most 30 s (20 s on the Easy Read track) and 1 MB. Longer speech is first
spoken faster, up to 175 words a minute, and then cut at a sentence boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

#: espeak-ng voice for each language the bot speaks (espeak-ng 1.51, Debian 12). Somali has none.
VOICES = {"en": "en-gb", "pl": "pl", "ro": "ro", "ar": "ar", "ur": "ur", "gu": "gu", "pa": "pa", "bn": "bn"}
MAX_BYTES = 1_000_000  # python-telegram-bot: voice notes over 1 MB show as files
MAX_SECONDS = 30.0
EASY_MAX_SECONDS = 20.0
MAX_WPM = 175  # espeak-ng's default pace; faster is hard to follow for this audience
TIMEOUT = 20.0  # seconds for one espeak-ng or ffmpeg run
OPUS_RATE = 48_000  # Ogg Opus granule positions always count 48 kHz samples

Source = Literal["recorded", "synthesised"]


@dataclass(frozen=True)
class VoiceNote:
    data: bytes  # OGG/Opus, ready for sendVoice
    seconds: float
    key: str  # sha256 of language, track and spoken text: the file name and the file_id key
    source: Source


# --- Text ---------------------------------------------------------------------------------------

_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U0001fc00-\U0001ffff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff"
    "\u2190-\u21ff\u25a0-\u25ff\ufe0e\ufe0f\u200d\u20e3\U000e0020-\U000e007f]"
)
_COMMAND = re.compile(r"(?<![\w/])/([A-Za-z][A-Za-z0-9_]*)\b")
_SENTENCE_END = ".!?؟۔।…"  # full stops and question marks in the nine languages' scripts
_LINE_END = _SENTENCE_END + ",;:،"
_SENTENCE = re.compile(rf"(?<=[{_SENTENCE_END}])\s+")


def speech_text(text: str) -> str:
    """The words to speak: no isolates, emoji or command slashes; each line ends a sentence.

    Lines become sentences so that "Question 2 of 5" and the question after it get a pause
    between them. "[[" would switch espeak-ng into phoneme input, so it is split.
    """
    text = _BIDI.sub("", text)
    text = _EMOJI.sub(" ", text)
    text = _COMMAND.sub(lambda m: m.group(1).replace("_", " "), text)
    text = text.replace("[[", "[ [")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line if line[-1] in _LINE_END else line + "." for line in lines if line]
    return " ".join(lines)


def voice_key(text: str, language: str, track: str = "standard") -> str:
    """The stable key of a prompt: it names recordings and cache files (sha256, hex)."""
    spoken = speech_text(text)
    return hashlib.sha256(f"{language}\n{track}\n{spoken}".encode()).hexdigest()


def max_seconds(track: str) -> float:
    return EASY_MAX_SECONDS if track.startswith("easy") else MAX_SECONDS


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s]


# --- Audio --------------------------------------------------------------------------------------


def wav_seconds(wav: bytes) -> float:
    """Length of espeak-ng's WAV output (16-bit mono PCM, 44-byte header).

    Streamed to stdout, espeak-ng writes placeholder sizes in the header, so count the bytes.
    """
    if len(wav) < 44 or wav[:4] != b"RIFF":
        return 0.0
    rate = struct.unpack_from("<I", wav, 24)[0] or 22_050
    return (len(wav) - 44) / (2 * rate)


def ogg_opus_seconds(data: bytes) -> float | None:
    """Duration of an Ogg Opus stream from its last granule position, or None if it is not one."""
    if not data.startswith(b"OggS") or len(data) < 47 or data[28:36] != b"OpusHead":
        return None
    pre_skip: int = struct.unpack_from("<H", data, 38)[0]
    last = data.rfind(b"OggS")
    if last < 0 or last + 14 > len(data):
        return None
    granule: int = struct.unpack_from("<q", data, last + 6)[0]
    return max(granule - pre_skip, 0) / OPUS_RATE


class ToolError(Exception):
    """espeak-ng or ffmpeg failed, timed out or is missing."""


async def run(argv: Sequence[str], data: bytes, timeout: float = TIMEOUT) -> bytes:
    """Run a program (never through a shell), feed it ``data`` on stdin, return its stdout."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ToolError(f"{argv[0]} cannot run: {exc.strerror}") from exc
    try:
        out, _ = await asyncio.wait_for(proc.communicate(data), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ToolError(f"{argv[0]} took more than {timeout:g} s") from None
    if proc.returncode != 0:
        # stderr is left out: a tool may quote the text it was given
        raise ToolError(f"{argv[0]} exited with {proc.returncode}")
    return out


# --- Voice notes --------------------------------------------------------------------------------

_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
_MARGIN = 0.25  # seconds kept free: Opus encoding and resampling can add a few milliseconds


class Speech:
    """Voice notes for prompts: human recordings first, then espeak-ng, cached on disk."""

    def __init__(
        self,
        cache_dir: Path,
        recordings_dir: Path,
        espeak: str = "espeak-ng",
        ffmpeg: str = "ffmpeg",
        words_per_minute: int = 140,
        timeout: float = TIMEOUT,
        max_parallel: int | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.recordings_dir = Path(recordings_dir)
        self.espeak = espeak
        self.ffmpeg = ffmpeg
        self.words_per_minute = words_per_minute
        self.timeout = timeout
        # synthesis is CPU-bound: more runs than cores only makes every one of them slower
        self._slots = asyncio.Semaphore(max_parallel or os.cpu_count() or 1)

    async def voice_note(self, text: str, language: str, track: str = "standard") -> VoiceNote | None:
        """The prompt as a voice note, or None when there is no voice for it (never raises)."""
        if not _LANGUAGE.fullmatch(language):
            log.warning("voice note: unsupported language code %r", language[:20])
            return None
        key = voice_key(text, language, track)
        limit = max_seconds(track)
        recorded = self.recordings_dir / language / f"{key}.ogg"
        if recorded.is_file():
            note = self._load(recorded, key, limit, "recorded")
            if note is not None:
                return note
            log.warning("voice note: ignoring recording %s: not OGG/Opus within %g s and 1 MB",
                        recorded, limit)
        voice = VOICES.get(language)
        if voice is None:
            return None
        cached = self.cache_dir / language / f"{key}.ogg"
        if cached.is_file() and (note := self._load(cached, key, limit, "synthesised")) is not None:
            return note
        return await self._make(speech_text(text), voice, key, limit, cached)

    def _load(self, path: Path, key: str, limit: float, source: Source) -> VoiceNote | None:
        """A stored OGG/Opus file as a voice note, or None if it is unreadable or breaks T15."""
        try:
            if path.stat().st_size > MAX_BYTES:
                return None
            data = path.read_bytes()
        except OSError:
            return None
        seconds = ogg_opus_seconds(data)
        if seconds is None or seconds > limit or len(data) > MAX_BYTES:
            return None
        return VoiceNote(data, seconds, key, source)

    async def _make(self, spoken: str, voice: str, key: str, limit: float, path: Path) -> VoiceNote | None:
        if not spoken:
            return None
        try:
            async with self._slots:
                data = await self._synthesise(spoken, voice, limit, key)
        except ToolError as exc:
            log.warning("voice note %s: %s", key, exc)
            return None
        seconds = ogg_opus_seconds(data)
        if seconds is None or seconds > limit or len(data) > MAX_BYTES:
            log.warning("voice note %s: the encoder's output is not OGG/Opus within %g s and 1 MB",
                        key, limit)
            return None
        self._store(path, data)
        return VoiceNote(data, seconds, key, "synthesised")

    async def _synthesise(self, spoken: str, voice: str, limit: float, key: str) -> bytes:
        """OGG/Opus for ``spoken``: faster if too long, then cut at a sentence if still too long."""
        budget = limit - _MARGIN
        wpm = self.words_per_minute
        wav = await self._speak(spoken, voice, wpm)
        seconds = wav_seconds(wav)
        if seconds > budget and wpm < MAX_WPM:
            wpm = min(MAX_WPM, int(wpm * seconds / budget) + 1)
            wav = await self._speak(spoken, voice, wpm)
            seconds = wav_seconds(wav)
        if seconds > budget:
            wav = await self._shorten(spoken, voice, wpm, budget)
            log.info("voice note %s: cut at a sentence boundary to keep within %g s", key, limit)
        return await self._encode(wav)

    async def _shorten(self, spoken: str, voice: str, wpm: int, budget: float) -> bytes:
        """The longest run of whole sentences from the start that fits; whole words if none does."""
        for units in (sentences(spoken), spoken.split()):
            lo, hi, best = 0, len(units), b""  # lo units fit, hi do not (the whole text is too long)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                wav = await self._speak(" ".join(units[:mid]), voice, wpm)
                if wav_seconds(wav) <= budget:
                    lo, best = mid, wav
                else:
                    hi = mid
            if best:
                return best
        raise ToolError("not even one word fits in the time limit")

    async def _speak(self, text: str, voice: str, wpm: int) -> bytes:
        """espeak-ng's WAV for ``text``, which goes on stdin: no argument can be mistaken for an option."""
        argv = [self.espeak, "-v", voice, "-s", str(wpm), "-b", "1", "--stdin", "--stdout"]
        return await run(argv, text.encode(), self.timeout)

    async def _encode(self, wav: bytes) -> bytes:
        argv = [
            self.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "wav", "-i", "pipe:0",
            "-map_metadata", "-1", "-c:a", "libopus", "-b:a", "32k", "-ac", "1", "-ar", str(OPUS_RATE),
            "-application", "voip", "-f", "ogg", "pipe:1",
        ]
        return await run(argv, wav, self.timeout)

    @staticmethod
    def _store(path: Path, data: bytes) -> None:
        """Write atomically (temporary file, then rename), so no reader sees half a file."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            log.warning("voice note: cannot cache %s: %s", path, exc.strerror)
