"""Option pictures (bot.pictures): OpenMoji SVGs drawn as PNG by a real rsvg-convert. No database.

rsvg-convert (apt-get install -y librsvg2-bin) or the OpenMoji package (make install) missing: the
tests that need them are skipped, or fail when CI=true.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import stat
import struct
from pathlib import Path

import pytest

from bot.pictures import OPENMOJI_DIR, PNG_SIGNATURE, Pictures, hexcode

SIZE = 256


# --- hexcode: pure -------------------------------------------------------------------------------


@pytest.mark.parametrize(("symbol", "code"), [
    ("🙂", "1F642"),
    ("😐", "1F610"),
    ("🏫", "1F3EB"),
    ("©", "00A9"),  # at least four hex digits
    ("👍🏽", "1F44D-1F3FD"),  # skin tone
    ("👨‍👩‍👧", "1F468-200D-1F469-200D-1F467"),  # ZWJ
    ("🧑🏻‍🦽", "1F9D1-1F3FB-200D-1F9BD"),  # skin tone and ZWJ
    ("❤️", "2764"),  # one code point: FE0F dropped
    ("❤", "2764"),
    ("☺️", "263A"),
    ("☺︎", "263A"),  # FE0E (text style) dropped
    ("🏳️‍🌈", "1F3F3-FE0F-200D-1F308"),  # a sequence: FE0F kept
    ("❤️‍🔥", "2764-FE0F-200D-1F525"),
    ("#️⃣", "0023-FE0F-20E3"),  # keycap
    ("🇬🇧", "1F1EC-1F1E7"),  # flag
    ("", ""),
])
def test_hexcode(symbol: str, code: str) -> None:
    assert hexcode(symbol) == code


# --- Pictures: real rsvg-convert and OpenMoji ------------------------------------------------------


@pytest.fixture(scope="module")
def rsvg() -> str:
    """The real rsvg-convert, with the OpenMoji package installed."""
    missing = []
    tool = shutil.which("rsvg-convert")
    if tool is None:
        missing.append("rsvg-convert (apt-get install -y librsvg2-bin)")
    if not (OPENMOJI_DIR / "color" / "svg" / "1F642.svg").is_file():
        missing.append(f"OpenMoji at {OPENMOJI_DIR} (make install)")
    if missing:
        reason = " and ".join(missing) + " not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; CI=true, so the picture tests must run")
        pytest.skip(reason)
    assert tool is not None
    return tool


@pytest.fixture
def rsvg_log(tmp_path: Path) -> Path:
    """Where the rsvg-convert wrapper writes one line per run."""
    return tmp_path / "rsvg-runs.log"


@pytest.fixture
def pictures(rsvg: str, tmp_path: Path, rsvg_log: Path) -> Pictures:
    """Pictures whose rsvg-convert is a wrapper that logs each run, then runs the real one."""
    wrapper = tmp_path / "rsvg-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{rsvg_log}"\nexec "{rsvg}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return Pictures(OPENMOJI_DIR, tmp_path / "cache", size=SIZE, rsvg=str(wrapper))


def runs(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("symbol", ["🙂", "😐", "🙁", "🏫"])
async def test_real_png(pictures: Pictures, tmp_path: Path, symbol: str) -> None:
    data = await pictures.picture(symbol)
    assert data is not None
    assert png_size(data) == (SIZE, SIZE)
    assert len(data) > 1000  # a drawing, not an empty canvas
    assert (tmp_path / "cache" / f"{hexcode(symbol)}.png").read_bytes() == data


async def test_other_size(rsvg: str, tmp_path: Path) -> None:
    data = await Pictures(OPENMOJI_DIR, tmp_path, size=96, rsvg=rsvg).picture("🙂")
    assert data is not None and png_size(data) == (96, 96)


async def test_qualified_or_not(pictures: Pictures, tmp_path: Path) -> None:
    """With or without variation selectors, an emoji finds its one OpenMoji file."""
    heart = await pictures.picture("❤️")
    assert heart is not None and heart == await pictures.picture("❤")
    flag = await pictures.picture("🏳‍🌈")  # written without FE0F
    assert flag is not None
    assert (tmp_path / "cache" / "1F3F3-FE0F-200D-1F308.png").read_bytes() == flag


@pytest.mark.parametrize("symbol", ["", "x", "Yes", "\U0001f6ff", "🙂" * 40, "../../etc/passwd"])
async def test_unknown_symbol(pictures: Pictures, rsvg_log: Path, symbol: str) -> None:
    assert await pictures.picture(symbol) is None
    assert runs(rsvg_log) == []


async def test_cache_avoids_second_run(pictures: Pictures, rsvg_log: Path, tmp_path: Path) -> None:
    first = await pictures.picture("🙂")
    assert first is not None
    assert len(runs(rsvg_log)) == 1
    assert await pictures.picture("🙂") == first
    assert await pictures.picture("🙂️") == first  # the same file, FE0F or not
    assert len(runs(rsvg_log)) == 1
    # a new Pictures (say, after a restart) reads the same cache
    again = Pictures(OPENMOJI_DIR, tmp_path / "cache", size=SIZE, rsvg=pictures.rsvg)
    assert await again.picture("🙂") == first
    assert len(runs(rsvg_log)) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["1F642.png"]  # no temporary files left


async def test_concurrent_requests_draw_once(pictures: Pictures, rsvg_log: Path) -> None:
    results = await asyncio.gather(*(pictures.picture("🏫") for _ in range(5)))
    assert results[0] is not None and all(r == results[0] for r in results)
    assert len(runs(rsvg_log)) == 1


async def test_broken_cache_file_is_redrawn(pictures: Pictures, rsvg_log: Path, tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "1F642.png").write_bytes(b"not a png")
    data = await pictures.picture("🙂")
    assert data is not None and png_size(data) == (SIZE, SIZE)
    assert len(runs(rsvg_log)) == 1


# --- Failures: None and a warning, never an exception ----------------------------------------------


async def test_missing_tool(rsvg: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pictures = Pictures(OPENMOJI_DIR, tmp_path / "cache", rsvg=str(tmp_path / "no-such-rsvg-convert"))
    with caplog.at_level(logging.WARNING, logger="bot.pictures"):
        assert await pictures.picture("🙂") is None
    assert "cannot run" in caplog.text
    assert not (tmp_path / "cache" / "1F642.png").exists()


async def test_failing_tool(rsvg: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tool = tmp_path / "failing-rsvg"
    tool.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    tool.chmod(0o755)
    pictures = Pictures(OPENMOJI_DIR, tmp_path / "cache", rsvg=str(tool))
    with caplog.at_level(logging.WARNING, logger="bot.pictures"):
        assert await pictures.picture("🙂") is None
    assert "exited with 3" in caplog.text
    assert not (tmp_path / "cache").exists()


async def test_slow_tool(rsvg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("bot.pictures.TIMEOUT", 0.2)
    tool = tmp_path / "slow-rsvg"
    tool.write_text("#!/bin/sh\nexec sleep 5\n")
    tool.chmod(0o755)
    pictures = Pictures(OPENMOJI_DIR, tmp_path / "cache", rsvg=str(tool))
    with caplog.at_level(logging.WARNING, logger="bot.pictures"):
        assert await pictures.picture("🙂") is None
    assert "took more than" in caplog.text


async def test_missing_package(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pictures = Pictures(tmp_path / "no-openmoji", tmp_path / "cache")
    with caplog.at_level(logging.WARNING, logger="bot.pictures"):
        assert await pictures.picture("🙂") is None
    assert "make install" in caplog.text
