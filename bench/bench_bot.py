#!/usr/bin/env python
"""End-to-end load benchmark of the Telegram bot: throughput, step latency and correctness.

The fake Telegram Bot API (``tests.fakes.botapi.FakeBotAPI``) runs in this process on 127.0.0.1;
the real bot runs as a separate process (``.venv/bin/voices serve``) pointed at it, with a fresh
database. Simulated users go through ``welcome`` then ``feedback`` (14 steps each; a step is one
user message). A step's latency is the time from putting the user's update into the fake until the
bot's last message of that step (the one with the next question's reply keyboard or keyboard
removal, or the final thank-you) arrives at the fake.

Modes (each on a fresh bot process and a fresh database):

* ``burst``: ``--users`` users start at once and answer as soon as each step is complete:
  throughput (steps / wall time from the first update to the last reply) and latency;
* ``paced``: ``--users`` users arrive evenly over ``--arrival`` seconds and pause uniform
  ``--pause-min``..``--pause-max`` seconds (seeded) before each answer: latency.

Afterwards the bot's database is read directly (sqlite3 or asyncpg) to check that every user's
feedback was submitted with the expected answers, once. Exit status: 0 if all checks pass, 1 on a
correctness failure, 2 on a set-up failure, 3 if the overall ``--timeout`` was hit.

Run from the project root::

    .venv/bin/python bench/bench_bot.py                          # SQLite, burst and paced
    .venv/bin/python bench/bench_bot.py --database postgres      # a fresh PostgreSQL database
    .venv/bin/python bench/bench_bot.py --mode burst --profile py-spy   # where the bot spends time
    .venv/bin/python bench/bench_bot.py --mode burst --profile cprofile

``--profile py-spy`` needs ``.venv/bin/pip install py-spy``; it samples the bot process during the
timed phase only. The profiles are written to ``--profile-dir`` (default ``bench/profiles``).

Reading the figures: the table gives the bot's CPU share of the wall time and its CPU per step
(from /proc); the lines under it give the CPU that every OTHER process on the machine used
meanwhile. On a shared 2-core machine other work shows up there, and the bot then gets less than
a core: throughput is lower and the latency tail longer than the code alone would give, and
py-spy counts a thread that is runnable but waiting for a CPU as busy. ``--wait-idle S`` waits
for a quiet machine first; "CPU speed check" and "source hash" show whether two runs are
comparable. Each run is bounded by ``--timeout`` (plus at most ~15 s to stop the bot and clean up).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import math
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.botapi import FakeBotAPI, FakeUser, SentMessage  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/test"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
SECRET_KEY = "bench-secret-key-not-for-production"

# The scripted conversation (as tests/bot/conftest.py WELCOME_TO_FEEDBACK, then test_conversation).
WELCOME = ["/start", "English", "None of these", "Done", "1", "3", "Next", "Next", "1", "2"]
FEEDBACK_STEPS = frozenset({"area", "how", "tell-good", "more"})  # "more" is stored as skipped
THANKS_TEXT = "will read your answers by"
CALIBRATION_ID = 424242  # not 999: the risk lexicon rightly reacts to the emergency number
FIRST_USER_ID = 100_001

TARGET_BURST_STEPS_S = 250.0
TARGET_PACED_P95_MS = 100.0

EXIT_OK, EXIT_INCORRECT, EXIT_SETUP, EXIT_TIMEOUT = 0, 1, 2, 3


def free_text(user_id: int) -> str:
    return f"Bench user {user_id}: my teacher gives me more time."


def script(user_id: int) -> list[str]:
    return [*WELCOME, "School or college", "Going well 🙂", free_text(user_id), "/skip", "Send my answers"]


def ends_step(message: SentMessage) -> bool:
    """The message that closes a step: it carries a reply keyboard or removes it."""
    markup = message.reply_markup
    return markup is not None and ("keyboard" in markup or bool(markup.get("remove_keyboard")))


# --------------------------------------------------------------------------------------------------
# The fake, with a cheap hook on every message the bot sends


class Sim:
    """One simulated user: waits for the end of its current step, event-driven."""

    __slots__ = ("expect", "future", "got", "stuck", "t0", "t_end", "unexpected", "user")

    def __init__(self, user: FakeUser) -> None:
        self.user = user
        self.future: asyncio.Future[float] | None = None
        self.t0 = 0.0
        self.t_end = 0.0
        self.got = 0
        self.expect = 1
        self.unexpected = 0
        self.stuck: str | None = None

    def on_message(self, message: SentMessage) -> None:
        fut = self.future
        if fut is None or fut.done():
            self.unexpected += 1
            return
        self.got += 1
        if self.got >= self.expect and ends_step(message):
            now = time.monotonic()
            self.t_end = now
            fut.set_result(now - self.t0)


class BenchFake(FakeBotAPI):
    def __init__(self) -> None:
        super().__init__()
        self.record_requests = False
        self.sims: dict[int, Sim] = {}

    def _record_sent(self, message: SentMessage) -> None:
        super()._record_sent(message)
        sim = self.sims.get(message.chat_id)
        if sim is not None:
            sim.on_message(message)


# --------------------------------------------------------------------------------------------------
# Databases


def _check_local(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOCAL_HOSTS:
        raise SystemExit(f"refusing {host!r}: the benchmark only uses 127.0.0.1")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _asyncpg_dsn(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


class Database:
    """A fresh database for one bot run, and direct read access to it for the checks."""

    def __init__(self, kind: str, workdir: Path, pg_url: str) -> None:
        self.kind = kind
        self.workdir = workdir
        self.pg_url = pg_url
        self.url = ""
        self.name = ""
        self.path: Path | None = None

    async def create(self) -> None:
        if self.kind == "sqlite":
            self.path = self.workdir / "voices.db"
            self.url = f"sqlite://{self.path}"
            return
        import asyncpg

        _check_local(self.pg_url)
        admin = await asyncpg.connect(_asyncpg_dsn(self.pg_url), timeout=10)
        try:
            self.name = f"voices_bench_{uuid.uuid4().hex[:12]}"
            await admin.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await admin.close()
        self.url = _with_database(self.pg_url, self.name)

    async def drop(self) -> None:
        if self.kind != "postgres" or not self.name:
            return
        import asyncpg

        admin = await asyncpg.connect(_asyncpg_dsn(self.pg_url), timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await admin.close()
        self.name = ""

    async def server_cpu(self) -> dict[int, float]:
        """PostgreSQL only: CPU seconds so far of each server backend connected to this database."""
        if self.kind != "postgres" or not self.name:
            return {}
        import asyncpg

        admin = await asyncpg.connect(_asyncpg_dsn(self.pg_url), timeout=10)
        try:
            pids = [r[0] for r in await admin.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1", self.name)]
        finally:
            await admin.close()
        return {pid: _cpu_seconds(pid) for pid in pids}

    async def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            assert self.path is not None
            conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True)
            try:
                return [tuple(row) for row in conn.execute(sql).fetchall()]
            finally:
                conn.close()
        import asyncpg

        conn = await asyncpg.connect(_asyncpg_dsn(self.url), timeout=10)
        try:
            return [tuple(record) for record in await conn.fetch(sql)]
        finally:
            await conn.close()

    def describe(self) -> str:
        if self.kind == "sqlite":
            return "sqlite (file in a temp dir; WAL, synchronous=NORMAL as init_db sets)"
        host = urlsplit(self.pg_url)
        return f"postgres (fresh database on {host.hostname}:{host.port or 5432}, dropped afterwards)"


# --------------------------------------------------------------------------------------------------
# The bot process


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the benchmark dies, so no bot is left polling."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (from /proc), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sys_seconds(pid: int) -> float:
    """stime (kernel CPU) of a process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return int(fields[12]) / os.sysconf("SC_CLK_TCK")


def _system_busy_seconds() -> float:
    """Busy CPU time of the whole machine (all cores), in seconds."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return float("nan")
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


class BotProcess:
    """``voices serve`` against the fake; ``env`` adds settings (bench_broadcast sets its rate)."""

    def __init__(self, fake: FakeBotAPI, db: Database, workdir: Path, profile: str, prof_out: Path | None,
                 env: dict[str, str] | None = None, stop_within: float = 10.0):
        self.fake = fake
        self.db = db
        self.workdir = workdir
        self.profile = profile
        self.prof_out = prof_out
        self.extra_env = env or {}
        self.stop_within = stop_within
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path = workdir / "bot.log"
        self.port = 0

    async def start(self, ready_timeout: float = 60.0) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICES_", "TELEGRAM_"))}
        env.update({
            "TELEGRAM_BOT_TOKEN": self.fake.token,
            "TELEGRAM_API_BASE_URL": self.fake.base_url,
            "DATABASE_URL": self.db.url,
            "VOICES_HOST": "127.0.0.1",
            "VOICES_PORT": str(self.port),
            "VOICES_SECRET_KEY": SECRET_KEY,
            "VOICES_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        })
        if self.profile == "cprofile":
            assert self.prof_out is not None
            env["VOICES_PROFILE_OUT"] = str(self.prof_out)
            env["VOICES_PROFILE_ON_SIGNAL"] = "1"
            cmd = [str(VENV_BIN / "python"), str(ROOT / "bench" / "profile_bot.py"), "serve"]
        else:
            cmd = [str(VENV_BIN / "voices"), "serve"]
        log = self.log_path.open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *cmd, env=env, cwd=str(self.workdir), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_die_with_parent)
        finally:
            log.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_timeout
        while not self.fake.polling:
            if self.proc.returncode is not None:
                raise SetupError(f"the bot exited with status {self.proc.returncode}:\n{self.log_tail()}")
            if loop.time() > deadline:
                raise SetupError(f"the bot was not polling after {ready_timeout:.0f} s:\n{self.log_tail()}")
            await asyncio.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(sig)

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after ``stop_within`` s; the exit status (negative: killed by a signal)."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), self.stop_within)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                print(f"  ! the bot did not stop within {self.stop_within:.0f} s of SIGTERM; killed",
                      flush=True)
        return proc.returncode

    def log_lines(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def log_tail(self, n: int = 20) -> str:
        return "\n".join("    " + line for line in self.log_lines()[-n:])


class SetupError(Exception):
    pass


# --------------------------------------------------------------------------------------------------
# Driving users


@dataclass
class Calibration:
    counts: list[int]  # bot messages per step
    transcript: list[tuple[str, list[str]]]
    notes: list[str] = field(default_factory=list)


async def calibrate(fake: BenchFake, step_timeout: float) -> Calibration:
    """One user through the script, waiting for silence after each step: messages per step."""
    user = fake.user(CALIBRATION_ID, first_name="Calibration")
    counts: list[int] = []
    transcript: list[tuple[str, list[str]]] = []
    notes: list[str] = []
    for n, text in enumerate(script(CALIBRATION_ID), 1):
        await user.send(text)
        messages = await user.replies(1, timeout=step_timeout)
        messages += await user.settle(quiet=0.4, timeout=step_timeout)
        transcript.append((text, [m.summary() for m in messages]))
        marks = [i for i, m in enumerate(messages) if ends_step(m)]
        if not marks or marks[-1] != len(messages) - 1:
            raise SetupError(f"step {n} ({text!r}): the last bot message carries no reply keyboard or "
                             f"keyboard removal: {[m.summary() for m in messages]}")
        if len(marks) > 1:
            notes.append(f"step {n} ({text!r}) has {len(marks)} keyboard messages; its end is message "
                         f"{len(messages)} of the step (counted, not the first keyboard)")
        counts.append(len(messages))
    last = user.sent[-1].text or ""
    if THANKS_TEXT not in last:
        raise SetupError(f"the calibration user did not get the thank-you; last message: {last!r}")
    return Calibration(counts, transcript, notes)


@dataclass
class PhaseResult:
    mode: str
    users: int
    planned_steps: int
    latencies: list[tuple[int, float]]  # (step index, seconds)
    ends: list[float]  # seconds from the first update to the end of each step (same order)
    records: list[tuple[int, int, float, float]]  # (user id, step index, t0 and t_end from first update)
    wall: float
    timeouts: int
    stuck: list[str]
    unexpected: int
    count_mismatch: list[str]
    api_errors: list[str]
    bot_cpu: float
    driver_cpu: float
    other_cpu: float  # CPU seconds used by every other process on the machine meanwhile
    samples: list[tuple[float, float, float, float]]  # (t, bot CPU, own CPU, machine busy), cumulative
    bot_sys: float = 0.0  # the bot's kernel CPU (part of bot_cpu)
    db_cpu: float = 0.0  # PostgreSQL backends of the bot's database (taken out of other_cpu)

    @property
    def steps(self) -> int:
        return len(self.latencies)


async def drive(fake: BenchFake, user_ids: Sequence[int], counts: Sequence[int], step_timeout: float,
                starts: Sequence[float] | None, pauses: Sequence[Sequence[float]] | None,
                mode: str, bot_pid: int, deadline: float) -> PhaseResult:
    loop = asyncio.get_running_loop()
    latencies: list[tuple[int, float]] = []
    ends: list[float] = []
    records: list[tuple[int, int, float, float]] = []
    first_inject: list[float] = []
    sims = {uid: Sim(fake.user(uid, first_name=f"U{uid}")) for uid in user_ids}
    fake.sims.update(sims)
    errors_before = len(fake.errors)
    stuck: list[str] = []

    async def run_user(index: int, uid: int) -> None:
        sim = sims[uid]
        user = sim.user
        lines = script(uid)
        if starts is not None:
            await asyncio.sleep(max(0.0, t_base + starts[index] - loop.time()))
        for step, text in enumerate(lines):
            if pauses is not None and step > 0:
                await asyncio.sleep(pauses[index][step - 1])
            fut: asyncio.Future[float] = loop.create_future()
            sim.future, sim.got, sim.expect = fut, 0, counts[step]
            sim.t0 = time.monotonic()
            if not first_inject:
                first_inject.append(sim.t0)
            await user.send(text)
            try:
                latency = await asyncio.wait_for(fut, min(step_timeout, max(0.1, deadline - loop.time())))
            except TimeoutError:
                sim.stuck = (f"user {uid} stuck at step {step + 1} ({text!r}) after {sim.got} of "
                             f"{counts[step]} messages")
                stuck.append(sim.stuck)
                sim.future = None
                return
            latencies.append((step, latency))
            ends.append(sim.t_end)
            records.append((uid, step, sim.t0, sim.t_end))
        sim.future = None

    samples: list[tuple[float, float, float, float]] = []

    def sample() -> None:
        samples.append((time.monotonic(), _cpu_seconds(bot_pid), time.process_time(), _system_busy_seconds()))

    async def sampler() -> None:
        while True:
            await asyncio.sleep(0.5)
            sample()

    sample()
    sys0 = _sys_seconds(bot_pid)
    t_base = loop.time()
    sampling = asyncio.create_task(sampler())
    try:
        await asyncio.gather(*(run_user(i, uid) for i, uid in enumerate(user_ids)))
    finally:
        sampling.cancel()
    sample()
    bot_sys = _sys_seconds(bot_pid) - sys0
    t_last = max((s.t_end for s in sims.values()), default=0.0)
    cpu_bot, cpu_me = samples[-1][1] - samples[0][1], samples[-1][2] - samples[0][2]
    cpu_other = samples[-1][3] - samples[0][3] - cpu_bot - cpu_me
    t_first = first_inject[0] if first_inject else samples[0][0]
    # let late extra messages arrive before counting them
    await asyncio.sleep(0.3)
    expected_total = sum(counts)
    mismatch = []
    for uid, sim in sims.items():
        got = len(fake._sent.get(uid, ()))
        if sim.stuck is None and got != expected_total:
            mismatch.append(f"user {uid}: {got} bot messages, expected {expected_total}")
    errors = [f"{e.method} {e.status} {e.description} (chat {e.chat_id})"
              for e in fake.errors[errors_before:]]
    return PhaseResult(
        mode=mode, users=len(user_ids), planned_steps=len(user_ids) * len(counts), latencies=latencies,
        ends=[t - first_inject[0] for t in ends] if first_inject else [],
        records=[(u, s, a - first_inject[0], b - first_inject[0]) for u, s, a, b in records],
        wall=(t_last - first_inject[0]) if first_inject and t_last else float("nan"),
        timeouts=len(stuck), stuck=stuck, unexpected=sum(s.unexpected for s in sims.values()),
        count_mismatch=mismatch, api_errors=errors, bot_cpu=cpu_bot, driver_cpu=cpu_me, other_cpu=cpu_other,
        samples=[(t - t_first, b, m, busy) for t, b, m, busy in samples], bot_sys=bot_sys)


# --------------------------------------------------------------------------------------------------
# Correctness, read from the database


async def check_database(db: Database, user_ids: Sequence[int], n_steps: int, stuck: int) -> list[str]:
    lo, hi = min(user_ids), max(user_ids)
    bench = f"p.chat_id BETWEEN {lo} AND {hi}"
    problems: list[str] = []
    q = db.query

    # every response of the bench users, by conversation and status
    rows = await q(f"SELECT r.conversation_id, r.status, COUNT(*) FROM response r "
                   f"JOIN respondent p ON p.id = r.respondent_id WHERE {bench} "
                   f"GROUP BY r.conversation_id, r.status")
    by = {(conv, status): int(n) for conv, status, n in rows}
    users = len(user_ids)
    for conv in ("welcome", "feedback"):
        submitted = by.get((conv, "submitted"), 0)
        if submitted != users:
            problems.append(f"{submitted} submitted {conv} responses, expected {users}")
        others = {s: n for (c, s), n in by.items() if c == conv and s != "submitted"}
        if others:
            problems.append(f"{conv} responses not submitted: {others}")
    respondents = (await q(f"SELECT COUNT(*) FROM respondent p WHERE {bench}"))[0][0]
    if respondents != users:
        problems.append(f"{respondents} respondents for {users} users")

    # answers per response: feedback as expected; welcome as the calibration user's
    rows = await q("SELECT r.id, r.conversation_id, p.chat_id, a.step_id, a.text FROM response r "
                   "JOIN respondent p ON p.id = r.respondent_id LEFT JOIN answer a ON a.response_id = r.id "
                   f"WHERE (({bench}) OR p.chat_id = {CALIBRATION_ID}) AND r.status = 'submitted'")
    steps: dict[tuple[int, str, int], set[str]] = defaultdict(set)
    texts: dict[int, str | None] = {}
    for rid, conv, chat, step_id, text in rows:
        key = (int(rid), str(conv), int(chat))
        steps.setdefault(key, set())
        if step_id is not None:
            steps[key].add(str(step_id))
        if step_id == "tell-good":
            texts[int(chat)] = text
    welcome_expected = next((s for (_, c, chat), s in steps.items()
                             if c == "welcome" and chat == CALIBRATION_ID), None)
    bad: Counter[str] = Counter()
    for (_, conv, chat), got in steps.items():
        if chat == CALIBRATION_ID:
            continue
        expected = FEEDBACK_STEPS if conv == "feedback" else welcome_expected
        if got != expected:
            bad[f"{conv}: {sorted(got)} instead of {sorted(expected or ())}"] += 1
    for what, n in bad.items():
        problems.append(f"{n} responses with answers {what}")
    wrong_text = [chat for chat in user_ids if chat in texts and texts[chat] != free_text(chat)]
    if wrong_text:
        problems.append(f"{len(wrong_text)} users' free-text answer is not their own "
                        f"(e.g. chat {wrong_text[0]})")

    dups = await q("SELECT response_id, step_id, COUNT(*) FROM answer GROUP BY response_id, step_id "
                   "HAVING COUNT(*) > 1")
    if dups:
        problems.append(f"{len(dups)} duplicate (response_id, step_id) answer rows")

    total, unprocessed, failed, payloads = (await q(
        "SELECT COUNT(*), "
        "SUM(CASE WHEN processed_at IS NULL THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN payload IS NOT NULL THEN 1 ELSE 0 END) FROM inbox_update"))[0]
    expected_updates = (users + 1) * n_steps  # + the calibration user
    if unprocessed:
        problems.append(f"{unprocessed} of {total} inbox rows not processed ({failed or 0} dead-lettered)")
    if payloads:
        problems.append(f"{payloads} inbox rows still hold their payload")
    if not stuck and total != expected_updates:
        problems.append(f"{total} inbox rows, expected {expected_updates}")

    undelivered = (await q("SELECT COUNT(*) FROM session WHERE delivered_version <> version"))[0][0]
    if undelivered:
        problems.append(f"{undelivered} sessions whose last messages are not marked delivered")
    return problems


# --------------------------------------------------------------------------------------------------
# Profiles


def _frame_parts(frame: str) -> tuple[str, str]:
    """'func (path/to/file.py)' -> (func, path)."""
    if frame.endswith(")") and " (" in frame:
        name, _, path = frame[:-1].rpartition(" (")
        return name, path
    return frame, ""


BUCKETS = [
    ("sqlite3 (C, in aiosqlite's thread)", ("sqlite3/",)),
    ("aiosqlite", ("aiosqlite",)),
    ("asyncpg", ("asyncpg",)),
    ("pypika (tortoise's SQL builder)", ("pypika",)),
    ("tortoise ORM", ("tortoise/",)),
    ("python-telegram-bot", ("telegram/",)),
    ("aiohttp/yarl/multidict", ("aiohttp", "yarl", "multidict")),
    ("asyncio + selectors", ("asyncio/", "selectors.py")),
    ("json", ("json/",)),
    ("threading/queue (aiosqlite hand-off)", ("threading.py", "queue.py", "concurrent/")),
    ("voices core/", (f"{ROOT}/core/",)),
    ("voices bot/", (f"{ROOT}/bot/",)),
]


# Where a sample's time goes: the innermost frame that belongs to one of these (stdlib frames such as
# json, copy or re count for whoever called them).
CATEGORIES = [
    ("database: ORM + SQL building + driver, event-loop side",
     ("pypika", "tortoise/", "aiosqlite", "asyncpg")),
    ("Telegram requests: PTB (serialise, parse replies) + aiohttp", ("telegram/", "aiohttp", "yarl",
                                                                     "multidict", f"{ROOT}/bot/request.py")),
    ("conversation engine, texts, rendering", tuple(f"{ROOT}/{m}" for m in (
        "core/engine.py", "core/localise.py", "core/texts.py", "core/i18n.py", "core/textmatch.py",
        "bot/render.py", "bot/updates.py", "core/statecodec.py", "core/storage/statecodec.py"))),
    ("service + runner glue (core/service, bot/runner, inbox)", (f"{ROOT}/core/", f"{ROOT}/bot/")),
    ("event loop itself (asyncio, selectors)", ("asyncio/", "selectors.py")),
]


def _category(body: Sequence[str], thread: str) -> str:
    if "aiosqlite worker" in thread:
        return "aiosqlite worker thread: SQLite C calls + waiting for work/GIL"
    for frame in reversed(body):
        _, path = _frame_parts(frame)
        for name, keys in CATEGORIES:
            if any(k in path for k in keys):
                return name
    return "other"


def _bucket(path: str) -> str:
    for name, keys in BUCKETS:
        if any(k in path for k in keys):
            return name
    return "other (stdlib etc.)"


def summarise_pyspy(raw: Path, top: int = 25) -> str:
    stacks: list[tuple[list[str], int]] = []
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    total = sum(n for _, n in stacks)
    if not total:
        return "  (py-spy recorded no samples)"
    by_thread: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    self_fn: Counter[str] = Counter()
    self_bucket: Counter[str] = Counter()
    incl_app: Counter[str] = Counter()
    incl_any: Counter[str] = Counter()
    for frames, n in stacks:
        head = frames[0]
        thread = head.split(": ", 1)[1] if head.startswith("thread (") and ": " in head else "?"
        body = [f for f in frames if not f.startswith(("thread (", "process "))]
        if not body:
            continue
        if thread == "MainThread":
            thread = "MainThread (event loop)"
        elif any("_connection_worker_thread" in f for f in body):
            thread = "aiosqlite worker thread (runs the sqlite3 C calls)"
        by_thread[thread] += n
        by_category[_category(body, thread)] += n
        leaf_name, leaf_path = _frame_parts(body[-1])
        self_fn[f"{leaf_name} ({_short(leaf_path)})"] += n
        self_bucket[_bucket(leaf_path)] += n
        seen: set[str] = set()
        for frame in body:
            name, path = _frame_parts(frame)
            key = f"{name} ({_short(path)})"
            if key in seen:
                continue
            seen.add(key)
            incl_any[key] += n
            if f"{ROOT}/" in path and "/.venv/" not in path:
                incl_app[key] += n

    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    out = [f"  {total} samples of threads running or runnable (idle waits excluded; a runnable thread "
           "may be waiting for a CPU or the GIL)", "  by thread:"]
    out += [f"    {pct(n)}  {name}" for name, n in by_thread.most_common()]
    out.append("  by activity (innermost attributable frame):")
    out += [f"    {pct(n)}  {name}" for name, n in by_category.most_common()]
    out.append("  self time by library (the leaf frame's file):")
    out += [f"    {pct(n)}  {name}" for name, n in self_bucket.most_common()]
    out.append(f"  top {top} functions by self time:")
    out += [f"    {pct(n)}  {name}" for name, n in self_fn.most_common(top)]
    out.append("  voices functions by inclusive time:")
    out += [f"    {pct(n)}  {name}" for name, n in incl_app.most_common(20)]
    out.append("  any function by inclusive time (top 25):")
    out += [f"    {pct(n)}  {name}" for name, n in incl_any.most_common(top)]
    return "\n".join(out)


def _short(path: str) -> str:
    for marker in ("/site-packages/", "/lib/python3.11/", f"{ROOT}/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def summarise_cprofile(path: Path, top: int = 25) -> str:
    import pstats

    st = pstats.Stats(str(path))
    raw: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in raw.values()) or 1.0
    rows = [(tt, ct, nc, f"{func} ({_short(file)}:{line})")
            for (file, line, func), (_, nc, tt, ct, _) in raw.items()]
    out = [f"  main thread only; total self time {total:.2f} s (includes cProfile overhead)",
           f"  top {top} by self time:"]
    for tt, _, nc, name in sorted(rows, reverse=True)[:top]:
        out.append(f"    {100 * tt / total:5.1f}%  {tt:6.2f} s  {nc:>8} calls  {name}")
    buckets: Counter[str] = Counter()
    for (file, _, _), (_, _, tt, _, _) in raw.items():
        buckets[_bucket(file)] += tt
    out.append("  self time by library:")
    out += [f"    {100 * t / total:5.1f}%  {name}" for name, t in buckets.most_common()]
    out.append("  voices functions by cumulative time (coroutines: time while running, not awaiting):")
    app = [(ct, nc, name) for tt, ct, nc, name in rows if "/.venv/" not in name and (
        name.split("(")[-1].startswith(("core/", "bot/", "voices/")))]
    for ct, nc, name in sorted(app, reverse=True)[:15]:
        out.append(f"    {100 * ct / total:5.1f}%  {ct:6.2f} s  {nc:>8} calls  {name}")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# Reporting


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[k]


async def wait_idle(limit: float, quiet: float = 3.0, busy_max: float = 0.15) -> str:
    """Wait (at most ``limit`` s) until the machine has been nearly idle for ``quiet`` s."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    calm_since: float | None = None
    prev_t, prev_busy = loop.time(), _system_busy_seconds()
    while loop.time() - start < limit:
        await asyncio.sleep(0.5)
        now, busy = loop.time(), _system_busy_seconds()
        share = (busy - prev_busy) / ((now - prev_t) * (os.cpu_count() or 1))
        prev_t, prev_busy = now, busy
        if share <= busy_max:
            calm_since = calm_since if calm_since is not None else now
            if now - calm_since >= quiet:
                return f"machine idle after waiting {now - start:.0f} s"
        else:
            calm_since = None
    return f"machine still busy after waiting {limit:.0f} s (--wait-idle); running anyway"


def speed_check() -> float:
    """ms for a fixed pure-Python loop (best of 3): compares how fast the CPU was between runs."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        total = 0
        for i in range(300_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - t)
    return best * 1000


def source_hash() -> str:
    """A short hash of the bot's source files as they are on disk now."""
    import hashlib

    digest = hashlib.sha1()
    files = sorted(p for d in ("core", "bot", "voices", "conversations") for p in (ROOT / d).rglob("*")
                   if p.is_file() and p.suffix in (".py", ".yaml", ".yml") and "__pycache__" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def code_line() -> str:
    """Which code the bot runs: git HEAD, uncommitted changes, and the source hash."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "core", "bot", "voices",
                            "conversations"], capture_output=True, text=True, check=False).stdout
    changed = len(dirty.splitlines())
    return (f"code: git {head}{f' + {changed} uncommitted paths' if changed else ''} in core/bot/voices/"
            f"conversations; source hash {source_hash()}")


def machine_line() -> str:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    bot_py = subprocess.run([str(VENV_BIN / "python"), "-c",
                             "import platform; print(platform.python_version())"],
                            capture_output=True, text=True, check=False).stdout.strip()
    return (f"machine: nproc={os.cpu_count()} ({cpu or platform.machine()}), {platform.system()} "
            f"{platform.release()}; python {platform.python_version()} (bench), {bot_py} (bot)")


HEADER = (f"{'mode':<6} {'db':<8} {'users':>5} {'steps':>6} {'wall s':>7} {'steps/s':>8} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6} {'timeouts':>8} {'bot CPU':>8} "
          f"{'ms CPU/step':>11}  target")


def row(r: PhaseResult, db: str) -> str:
    lat = sorted(x * 1000 for _, x in r.latencies)
    rate = r.steps / r.wall if r.wall and r.wall > 0 else float("nan")
    errors = len(r.api_errors) + r.unexpected + len(r.count_mismatch)
    if r.mode == "burst":
        target = f"≥{TARGET_BURST_STEPS_S:.0f} steps/s: {'met' if rate >= TARGET_BURST_STEPS_S else 'MISSED'}"
    else:
        p95 = percentile(lat, 95)
        target = f"p95 ≤{TARGET_PACED_P95_MS:.0f} ms: {'met' if p95 <= TARGET_PACED_P95_MS else 'MISSED'}"
    cpu_pct = 100 * r.bot_cpu / r.wall if r.wall else float("nan")
    per_step = 1000 * r.bot_cpu / r.steps if r.steps else float("nan")
    return (f"{r.mode:<6} {db:<8} {r.users:>5} {r.steps:>6} {r.wall:>7.2f} {rate:>8.1f} "
            f"{percentile(lat, 50):>7.1f} {percentile(lat, 95):>7.1f} {percentile(lat, 99):>7.1f} "
            f"{(lat[-1] if lat else float('nan')):>7.1f} {errors:>6} {r.timeouts:>8} {cpu_pct:>7.0f}% "
            f"{per_step:>11.2f}  {target}")


def per_step_lines(r: PhaseResult, labels: Sequence[str], counts: Sequence[int]) -> list[str]:
    by_step: dict[int, list[float]] = defaultdict(list)
    for step, x in r.latencies:
        by_step[step].append(x * 1000)
    out = [f"  per step ({r.mode}):  #  msgs  p50 ms  p95 ms  max ms  user says"]
    for step, label in enumerate(labels):
        xs = sorted(by_step.get(step, []))
        out.append(f"  {'':<20}{step + 1:>2}  {counts[step]:>4}  {percentile(xs, 50):>6.1f}  "
                   f"{percentile(xs, 95):>6.1f}  {(xs[-1] if xs else float('nan')):>6.1f}  {label!r}")
    return out


def time_lines(r: PhaseResult, width: float) -> list[str]:
    bins: dict[int, list[float]] = defaultdict(list)
    for (_, x), t in zip(r.latencies, r.ends, strict=True):
        bins[int(t // width)].append(x * 1000)
    out = [f"  over time ({r.mode}):  from s   steps  steps/s  p50 ms  p95 ms  max ms   bot CPU  "
           "others' CPU (incl. any DB server)"]
    for b in sorted(bins):
        xs = sorted(bins[b])
        inside = [x for x in r.samples if b * width - 0.25 <= x[0] <= (b + 1) * width + 0.25]
        cpu = ""
        if len(inside) >= 2:
            (t0, b0, m0, u0), (t1, b1, m1, u1) = inside[0], inside[-1]
            dt = t1 - t0
            if dt > 0:
                others = (u1 - u0) - (b1 - b0) - (m1 - m0)
                cpu = f"  {100 * (b1 - b0) / dt:>7.0f}%  {100 * others / dt:>10.0f}%"
        out.append(f"  {'':<20}{b * width:>6.0f}  {len(xs):>6}  {len(xs) / width:>7.1f}  "
                   f"{percentile(xs, 50):>6.1f}  {percentile(xs, 95):>6.1f}  {xs[-1]:>6.1f}{cpu}")
    return out


# --------------------------------------------------------------------------------------------------
# One mode: fresh fake, database and bot; calibrate; drive; stop; check


@dataclass
class ModeOutcome:
    result: PhaseResult | None
    problems: list[str]
    notes: list[str]


async def run_mode(mode: str, args: argparse.Namespace, deadline: float) -> ModeOutcome:
    loop = asyncio.get_running_loop()
    workdir = Path(tempfile.mkdtemp(prefix=f"voices-bench-{mode}-"))
    db = Database(args.database, workdir, args.pg_url)
    fake = BenchFake()
    bot: BotProcess | None = None
    spy: asyncio.subprocess.Process | None = None
    notes: list[str] = []
    problems: list[str] = []
    result: PhaseResult | None = None
    prof_dir = Path(args.profile_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    prof_out = prof_dir / f"{mode}-{args.database}-{stamp}.{ 'prof' if args.profile == 'cprofile' else 'txt'}"
    try:
        await fake.start("127.0.0.1", 0)
        await db.create()
        bot = BotProcess(fake, db, workdir, args.profile, prof_out if args.profile == "cprofile" else None)
        t = time.monotonic()
        await bot.start()
        notes.append(f"bot polling {time.monotonic() - t:.1f} s after start (pid {bot.pid}); "
                     f"workdir {workdir}")
        try:
            cal = await calibrate(fake, max(10.0, args.step_timeout))
        except AssertionError as exc:  # a FakeUser wait timed out
            raise SetupError(f"calibration failed: {exc}\n{bot.log_tail()}") from exc
        notes += cal.notes
        if args.verbose:
            for n, (text, msgs) in enumerate(cal.transcript, 1):
                print(f"  step {n:>2} {text!r}")
                for m in msgs:
                    print(f"           <- {m}")

        users = args.users
        user_ids = [FIRST_USER_ID + i for i in range(users)]
        starts = pauses = None
        if mode == "paced":
            rng = random.Random(args.seed)
            starts = [i * args.arrival / users for i in range(users)]
            n_pauses = len(cal.counts) - 1
            pauses = [[rng.uniform(args.pause_min, args.pause_max) for _ in range(n_pauses)]
                      for _ in user_ids]

        if args.profile == "py-spy":
            prof_dir.mkdir(parents=True, exist_ok=True)
            spy = await asyncio.create_subprocess_exec(
                str(VENV_BIN / "py-spy"), "record", "--pid", str(bot.pid), "--rate", str(args.spy_rate),
                "--format", "raw", "--full-filenames", "--nolineno", "--threads",
                *([] if "--native" in args.spy_arg else ["--nonblocking"]), *args.spy_arg,
                "-o", str(prof_out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            await asyncio.sleep(1.0)  # let it attach
            if spy.returncode is not None:
                err = (await spy.stderr.read()).decode(errors="replace") if spy.stderr else ""
                raise SetupError(f"py-spy failed to start: {err.strip()}")
        elif args.profile == "cprofile":
            prof_dir.mkdir(parents=True, exist_ok=True)
            bot.signal(signal.SIGUSR1)
            await asyncio.sleep(0.2)

        pg_before = await db.server_cpu()
        result = await drive(fake, user_ids, cal.counts, args.step_timeout, starts, pauses, mode, bot.pid,
                             deadline)
        pg_after = await db.server_cpu()
        if pg_after:
            result.db_cpu = sum(v - pg_before.get(pid, 0.0) for pid, v in pg_after.items()
                                if not math.isnan(v))
            result.other_cpu -= result.db_cpu

        if spy is not None:
            spy.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(spy.wait(), 30)
            except TimeoutError:
                spy.kill()
                await spy.wait()
        if args.profile == "cprofile":
            bot.signal(signal.SIGUSR2)

        if args.dump:
            dump = Path(f"{args.dump}-{mode}-{args.database}.csv")
            dump.parent.mkdir(parents=True, exist_ok=True)
            with dump.open("w") as fh:
                fh.write("user,step,t_inject_s,t_reply_s,latency_ms\n")
                for u, st, a, b in result.records:
                    fh.write(f"{u},{st + 1},{a:.6f},{b:.6f},{1000 * (b - a):.3f}\n")
            notes.append(f"per-step records written to {dump}")
        labels = script(FIRST_USER_ID)
        print(f"\n[{mode}] {result.steps} of {result.planned_steps} steps in {result.wall:.2f} s", flush=True)
        if args.verbose or result.timeouts:
            print("\n".join(per_step_lines(result, labels, cal.counts)))
        if args.verbose:
            print("\n".join(time_lines(result, 2.0 if mode == "burst" else 5.0)))
        log_lines = bot.log_lines()
        status = await bot.stop()
        if status not in (0, None):
            problems.append(f"the bot exited with status {status} after SIGTERM")
        bad_log = [line for line in log_lines if " ERROR " in line or "Traceback" in line or "ERROR" in line]
        warn_log = [line for line in log_lines if "WARNING" in line]
        if bad_log:
            problems.append(f"{len(bad_log)} ERROR lines in the bot log, e.g. {bad_log[0][:200]!r}")
        if warn_log:
            notes.append(f"{len(warn_log)} WARNING lines in the bot log, e.g. {warn_log[0][:200]!r}")
        for line in result.stuck[:5]:
            problems.append(line)
        if len(result.stuck) > 5:
            problems.append(f"... and {len(result.stuck) - 5} more stuck users")
        if result.api_errors:
            problems.append(f"{len(result.api_errors)} Bot API errors, e.g. {result.api_errors[0]}")
        if result.unexpected:
            problems.append(f"{result.unexpected} bot messages arrived after their step had ended")
        if result.count_mismatch:
            problems.append(f"{len(result.count_mismatch)} users got the wrong number of messages, "
                            f"e.g. {result.count_mismatch[0]}")
        problems += await check_database(db, user_ids, len(cal.counts), result.timeouts)

        if args.profile == "py-spy" and prof_out.exists():
            print(f"\n[{mode}] py-spy profile of the bot during the timed phase ({prof_out}):")
            print(summarise_pyspy(prof_out))
        elif args.profile == "cprofile" and prof_out.exists():
            print(f"\n[{mode}] cProfile of the bot during the timed phase ({prof_out}):")
            print(summarise_cprofile(prof_out))
        return ModeOutcome(result, problems, notes)
    finally:
        with contextlib.suppress(ProcessLookupError):
            if spy is not None and spy.returncode is None:
                spy.kill()
                await spy.wait()
        if bot is not None:
            await bot.stop()
        await fake.stop()
        with contextlib.suppress(Exception):
            await db.drop()
        if args.keep:
            print(f"  (kept {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        _ = loop


async def main_async(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    modes = ["burst", "paced"] if args.mode == "both" else [args.mode]
    print(machine_line())
    print(code_line())
    print(f"settings: database={args.database}, users={args.users} per mode, {len(script(1))} steps/user "
          f"(welcome 7 + feedback 5), modes={','.join(modes)}; paced: arrivals over {args.arrival:g} s, "
          f"pause U({args.pause_min:g}, {args.pause_max:g}) s, seed {args.seed}; step timeout "
          f"{args.step_timeout:g} s, overall timeout {args.timeout:g} s; bot: .venv/bin/voices serve "
          f"(log level WARNING{', under ' + args.profile if args.profile != 'none' else ''}); fresh "
          f"bot + database per mode, 1 calibration user first (not timed)")
    print(f"targets: burst ≥ {TARGET_BURST_STEPS_S:.0f} steps/s; paced p95 ≤ {TARGET_PACED_P95_MS:.0f} ms",
          flush=True)
    outcomes: list[tuple[str, ModeOutcome]] = []
    timed_out = False
    try:
        async with asyncio.timeout_at(deadline):
            for mode in modes:
                db_desc = Database(args.database, Path("."), args.pg_url).describe()
                if args.wait_idle > 0:
                    print(f"\n[{mode}] {await wait_idle(args.wait_idle)}", flush=True)
                print(f"\n[{mode}] starting: {db_desc}; CPU speed check {speed_check():.1f} ms "
                      f"(fixed loop, best of 3; lower is faster), load average "
                      f"{os.getloadavg()[0]:.2f}; source hash {source_hash()}", flush=True)
                outcomes.append((mode, await run_mode(mode, args, deadline)))
    except TimeoutError:
        timed_out = True
    except SetupError as exc:
        print(f"\nSET-UP FAILED: {exc}", flush=True)
        return EXIT_SETUP

    print("\n" + HEADER)
    for _, outcome in outcomes:
        if outcome.result is not None:
            print(row(outcome.result, args.database))
    failed = False
    for mode, outcome in outcomes:
        for note in outcome.notes:
            print(f"  note ({mode}): {note}")
        r = outcome.result
        if r is not None:
            print(f"  {mode}: CPU over {r.wall:.2f} s wall: bot {r.bot_cpu:.2f} s ({r.bot_sys:.2f} s of it "
                  f"in the kernel), benchmark process "
                  f"(fake API + users) {r.driver_cpu:.2f} s, "
                  f"{f'PostgreSQL backends {r.db_cpu:.2f} s, ' if r.db_cpu else ''}"
                  f"OTHER processes on the machine "
                  f"{r.other_cpu:.2f} s ({100 * r.other_cpu / r.wall:.0f}% of one core; over 10% means "
                  f"the bot competed for CPU and the figures are pessimistic)")
        if outcome.problems:
            failed = True
            print(f"correctness ({mode}): FAILED")
            for p in outcome.problems:
                print(f"  - {p}")
        else:
            print(f"correctness ({mode}): OK (submitted feedback = users, 4 answers each, 0 duplicate "
                  f"(response_id, step_id), inbox all processed, all sessions delivered)")
    if timed_out:
        print(f"\nTIMED OUT after {args.timeout:g} s (overall --timeout); figures above are incomplete")
        return EXIT_TIMEOUT
    return EXIT_INCORRECT if failed else EXIT_OK


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["burst", "paced", "both"], default="both")
    p.add_argument("--users", type=int, default=200)
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--pg-url", default=os.environ.get("VOICES_TEST_PG_URL") or DEFAULT_PG_URL,
                   help="server on which a fresh database is created (127.0.0.1 only)")
    p.add_argument("--timeout", type=float, default=300.0, help="overall bound in seconds (default 300)")
    p.add_argument("--step-timeout", type=float, default=30.0, help="a user waiting longer is stuck")
    p.add_argument("--arrival", type=float, default=10.0, help="paced: users arrive over this many s")
    p.add_argument("--pause-min", type=float, default=1.5)
    p.add_argument("--pause-max", type=float, default=2.5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--profile", choices=["none", "py-spy", "cprofile"], default="none",
                   help="profile the bot process during the timed phase")
    p.add_argument("--spy-rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--spy-arg", action="append", default=[],
                   help="extra py-spy record argument, e.g. --spy-arg=--native or --spy-arg=--gil")
    p.add_argument("--profile-dir", default=str(ROOT / "bench" / "profiles"))
    p.add_argument("--dump", metavar="PREFIX", help="write every step's times to PREFIX-MODE-DB.csv")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="S",
                   help="before each mode wait up to S seconds for the machine to be idle for 3 s "
                        "(shared machines); counts against --timeout")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (bot log, SQLite file)")
    p.add_argument("-v", "--verbose", action="store_true", help="show the script and per-step latency")
    args = p.parse_args(argv)
    if args.users < 1:
        p.error("--users must be at least 1")
    if args.profile == "py-spy" and not (VENV_BIN / "py-spy").exists():
        p.error("py-spy is not installed: .venv/bin/pip install py-spy")
    if args.database == "postgres":
        _check_local(args.pg_url)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(main_async(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
