"""Run ``voices`` (e.g. ``serve``) under cProfile; the stats go to ``$VOICES_PROFILE_OUT``.

Used by ``bench/bench_bot.py --profile cprofile``. ``voices serve`` stops cleanly on SIGTERM,
so the stats are written when the benchmark stops the bot. With ``VOICES_PROFILE_ON_SIGNAL=1``
profiling starts off; SIGUSR1 turns it on and SIGUSR2 off (the benchmark profiles only its timed
phase that way). cProfile sees the main thread only (not aiosqlite's worker thread). Read with::

    .venv/bin/python -m pstats /tmp/voices-bot.prof     # then: sort tottime / stats 30

or ``bench/bench_bot.py`` prints a summary itself.
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from voices.cli import main  # noqa: E402


def run() -> int:
    out = os.environ.get("VOICES_PROFILE_OUT", "voices-bot.prof")
    profile = cProfile.Profile()
    if os.environ.get("VOICES_PROFILE_ON_SIGNAL") == "1":
        signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
        signal.signal(signal.SIGUSR2, lambda *_: profile.disable())
    else:
        profile.enable()
    try:
        return main(sys.argv[1:])
    finally:
        profile.disable()
        profile.dump_stats(out)


if __name__ == "__main__":
    raise SystemExit(run())
