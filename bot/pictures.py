"""A picture for a choice or scale option: an OpenMoji emoji as a PNG for Telegram (issue 4, part 7).

The pictures are OpenMoji's colour SVGs (https://openmoji.org, CC BY-SA 4.0; credited in the README),
from the npm package ``openmoji`` pinned in ``pictures/package.json`` and installed by ``make install``
into ``pictures/node_modules/openmoji``. Telegram takes PNG or JPEG photos, not SVG, so ``rsvg-convert``
(Debian's ``librsvg2-bin``) draws each one once, and the PNG is cached as ``cache_dir/<hexcode>.png``.

The picture only repeats the option's text, which carries the whole meaning; so a missing picture is
never an error. Nothing here raises: an unknown emoji, a missing package or tool, a failed or slow
run all give ``None`` and, apart from an unknown emoji, a logged warning.

The PNG has a white background, not a transparent one. OpenMoji draws black outlines, which vanish
on Telegram's dark themes when the background is transparent; Telegram also recompresses photos as
JPEG, which has no transparency, so the background would be filled anyway, with a colour we do not
choose. White keeps every picture the same in light and dark themes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

#: Where ``make install`` puts the OpenMoji package: the usual ``openmoji_dir``.
OPENMOJI_DIR = Path(__file__).resolve().parent.parent / "pictures" / "node_modules" / "openmoji"
SIZE = 256  # pixels, square; Telegram shows photos of this size without upscaling much
TIMEOUT = 10.0  # seconds for one rsvg-convert run
BACKGROUND = "white"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CODEPOINTS = 16  # the longest OpenMoji sequences have 10; anything longer is not an emoji

_VS15 = 0xFE0E  # text presentation selector: OpenMoji has no such file names
_VS16 = 0xFE0F  # emoji presentation selector


def hexcode(symbol: str) -> str:
    """OpenMoji's file name (without ".svg") for an emoji: "🙂" → "1F642".

    Code points in upper-case hex, at least four digits, joined by "-" ("#️⃣" → "0023-FE0F-20E3").
    OpenMoji names files after the fully qualified Unicode sequence, except that an emoji that is a
    single code point drops its variation selector: "❤️" (2764 FE0F) → "2764", while "🏳️‍🌈" keeps
    it → "1F3F3-FE0F-200D-1F308". This rule gives the hexcode column of OpenMoji 17's
    data/openmoji.csv for all of its 4,495 entries. FE0E (text style) is dropped everywhere.
    """
    points = [ord(c) for c in symbol if ord(c) != _VS15]
    if len(points) == 2 and points[1] == _VS16:
        points = points[:1]
    return "-".join(f"{p:04X}" for p in points)


def _unqualified(code: str) -> str:
    return "-".join(part for part in code.split("-") if part != f"{_VS16:04X}")


class Pictures:
    """PNG pictures of emoji, drawn from OpenMoji with rsvg-convert and cached on disk."""

    def __init__(
        self, openmoji_dir: Path, cache_dir: Path, size: int = SIZE, rsvg: str = "rsvg-convert",
    ) -> None:
        self.svg_dir = Path(openmoji_dir) / "color" / "svg"
        self.cache_dir = Path(cache_dir)
        self.size = size
        self.rsvg = rsvg
        self._names: dict[str, str] | None = None  # unqualified hexcode -> OpenMoji's file name
        self._locks: dict[str, asyncio.Lock] = {}

    async def picture(self, symbol: str) -> bytes | None:
        """The PNG for ``symbol`` (size × size, white background), or None if there is none."""
        try:
            return await self._picture(symbol)
        except Exception:  # a picture is never worth a failed conversation
            log.warning("picture failed", exc_info=True)
            return None

    def svg_path(self, symbol: str) -> Path | None:
        """OpenMoji's colour SVG for ``symbol``, or None if it has none.

        Emoji written without their variation selectors ("🏳‍🌈" for "🏳️‍🌈") are found too.
        """
        if not symbol or len(symbol) > MAX_CODEPOINTS:
            return None
        code = hexcode(symbol)
        if not code:
            return None
        path = self.svg_dir / f"{code}.svg"
        if path.is_file():
            return path
        name = self._index().get(_unqualified(code))
        return self.svg_dir / f"{name}.svg" if name else None

    def _index(self) -> dict[str, str]:
        if self._names is None:
            try:
                names = [p.stem for p in self.svg_dir.glob("*.svg")]
            except OSError:
                names = []
            self._names = {_unqualified(name): name for name in names}
        return self._names

    async def _picture(self, symbol: str) -> bytes | None:
        if not self.svg_dir.is_dir():
            log.warning("OpenMoji is not installed at %s (run: make install)", self.svg_dir)
            return None
        svg = self.svg_path(symbol)
        if svg is None:
            log.debug("no OpenMoji picture for a symbol of %d code points", len(symbol))  # no user text
            return None
        cached = self.cache_dir / f"{svg.stem}.png"
        lock = self._locks.setdefault(svg.stem, asyncio.Lock())
        async with lock:
            with contextlib.suppress(OSError):
                data = cached.read_bytes()
                if data.startswith(PNG_SIGNATURE):
                    return data
            drawn = await self._render(svg)
            if drawn is not None:
                self._store(cached, drawn)
            return drawn

    async def _render(self, svg: Path) -> bytes | None:
        argv = [
            self.rsvg, "--format=png", f"--width={self.size}", f"--height={self.size}",
            "--keep-aspect-ratio", f"--background-color={BACKGROUND}", str(svg),
        ]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            log.warning("%s cannot run (%s); install librsvg2-bin", self.rsvg, exc.strerror)
            return None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            log.warning("%s took more than %g s for %s", self.rsvg, TIMEOUT, svg.name)
            return None
        if proc.returncode != 0 or not out.startswith(PNG_SIGNATURE):
            log.warning("%s exited with %s for %s: %s", self.rsvg, proc.returncode, svg.name,
                        err.decode(errors="replace").strip()[:200])
            return None
        return out

    def _store(self, path: Path, data: bytes) -> None:
        """Write the cache file atomically; a failure only costs a redraw next time."""
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            log.warning("cannot cache %s: %s", path.name, exc.strerror)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
