#!/usr/bin/env python
"""Fault injection (SECURITY.md goal G1): no acknowledged answer lost, none stored twice.

Simulated users go through ``welcome`` and ``feedback`` (14 steps each) against the real bot
(``voices serve``) and the fake Bot API, while faults are injected one after another at random:

* ``kill``: SIGKILL the bot, start it again at once (R1, R2);
* ``db``: the database goes away: PostgreSQL behind a TCP proxy that is cut for 0.5-2 s (R10,
  R14), or SQLite held by another connection's exclusive lock for 0.5-9 s (R10, R11);
* ``telegram``: the bot's connection to the Bot API is cut for 0.5-2 s (R8);
* ``duplicate``: Telegram delivers an update it delivered before, again (R4, T2).

A user sends their next answer only when the bot has shown the next question (the answer was
acknowledged). Afterwards the database is read directly: every user must have exactly one
submitted welcome and one submitted feedback, each step answered exactly once, the free-text
answer as sent, and nothing left unprocessed in the inbox. Exit status 0 when all holds.

    .venv/bin/python bench/bench_faults.py --faults 200                     # SQLite
    .venv/bin/python bench/bench_faults.py --faults 200 --database postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_bot import (  # noqa: E402
    DEFAULT_PG_URL,
    FIRST_USER_ID,
    BotProcess,
    Database,
    ends_step,
    free_text,
    script,
)

from tests.fakes.botapi import FakeBotAPI, FakeUser  # noqa: E402
from tests.fakes.tcpproxy import TcpProxy  # noqa: E402

KINDS = ("kill", "db", "telegram", "duplicate")
STEP_TIMEOUT = 120.0


async def _step(user: FakeUser, text: str) -> None:
    """Send ``text``; return when the bot has shown the next question (and gone quiet)."""
    seen = len(user.sent)
    await user.send(text)
    await user.fake.wait_for(lambda: any(ends_step(m) for m in user.sent[seen:]), STEP_TIMEOUT,
                             f"the reply to {text!r} for user {user.id}")
    await user.settle(quiet=0.4, timeout=STEP_TIMEOUT)


class Injector:
    def __init__(self, args: argparse.Namespace, fake: FakeBotAPI, bot: BotProcess, db: Database,
                 db_proxy: TcpProxy | None, tg_proxy: TcpProxy) -> None:
        self.args, self.fake, self.bot, self.db = args, fake, bot, db
        self.db_proxy, self.tg_proxy = db_proxy, tg_proxy
        self.rng = random.Random(args.seed)
        self.done: Counter[str] = Counter()
        self.restart_seconds: list[float] = []

    async def run(self, users_done: asyncio.Event) -> None:
        while sum(self.done.values()) < self.args.faults and not users_done.is_set():
            await asyncio.sleep(self.rng.uniform(0.1, self.args.gap))
            kind = self.rng.choice(KINDS)
            await getattr(self, f"_{kind}")()
            self.done[kind] += 1

    async def _kill(self) -> None:
        self.bot.signal(signal.SIGKILL)
        assert self.bot.proc is not None
        await self.bot.proc.wait()
        started = time.monotonic()
        await self.bot.start()
        self.restart_seconds.append(time.monotonic() - started)

    async def _db(self) -> None:
        # SQLite's busy timeout (5 s) absorbs a short lock: some outages are longer than that.
        outage = self.rng.uniform(0.5, 2.0) if self.db_proxy is not None else self.rng.uniform(0.5, 9.0)
        if self.db_proxy is not None:
            await self.db_proxy.cut()
            await asyncio.sleep(outage)
            await self.db_proxy.restore()
            return
        assert self.db.path is not None
        locker = sqlite3.connect(self.db.path, timeout=0, isolation_level=None)
        try:
            for _ in range(200):  # the bot may be writing: take the lock when it can be had
                try:
                    locker.execute("BEGIN EXCLUSIVE")
                    break
                except sqlite3.OperationalError:
                    await asyncio.sleep(0.01)
            await asyncio.sleep(outage)
            with contextlib.suppress(sqlite3.OperationalError):
                locker.execute("ROLLBACK")
        finally:
            locker.close()

    async def _telegram(self) -> None:
        await self.tg_proxy.cut()
        await asyncio.sleep(self.rng.uniform(0.5, 2.0))
        await self.tg_proxy.restore()

    async def _duplicate(self) -> None:
        users = [u for u in self.fake._users.values() if u.last_update is not None]
        if users:
            again = dict(self.rng.choice(users).last_update)
            self.fake._push(again)  # the same update_id once more


async def check(db: Database, users: Sequence[int]) -> list[str]:
    lo, hi = min(users), max(users)
    where = f"p.chat_id BETWEEN {lo} AND {hi}"
    problems: list[str] = []
    rows = await db.query(f"SELECT r.conversation_id, r.status, COUNT(*) FROM response r JOIN respondent p "
                          f"ON p.id = r.respondent_id WHERE {where} GROUP BY r.conversation_id, r.status")
    found = {(str(c), str(s)): int(n) for c, s, n in rows}
    expected = {("welcome", "submitted"): len(users), ("feedback", "submitted"): len(users)}
    if found != expected:
        problems.append(f"responses {found}, expected {expected}")
    twice = await db.query(f"SELECT a.response_id, a.step_id, COUNT(*) FROM answer a JOIN response r "
                           f"ON r.id = a.response_id JOIN respondent p ON p.id = r.respondent_id "
                           f"WHERE {where} GROUP BY a.response_id, a.step_id HAVING COUNT(*) > 1")
    if twice:
        problems.append(f"{len(twice)} steps answered more than once")
    texts = await db.query(f"SELECT p.chat_id, a.text FROM answer a JOIN response r ON r.id = a.response_id "
                           f"JOIN respondent p ON p.id = r.respondent_id WHERE {where} "
                           f"AND a.step_id = 'tell-good'")
    wrong = [chat for chat, text in texts if text != free_text(int(chat))]
    if len(texts) != len(users) or wrong:
        problems.append(f"{len(texts)} free-text answers for {len(users)} users, {len(wrong)} not as sent")
    per_user = await db.query(f"SELECT COUNT(*) FROM answer a JOIN response r ON r.id = a.response_id "
                              f"JOIN respondent p ON p.id = r.respondent_id WHERE {where} "
                              f"GROUP BY p.chat_id")
    if len({int(n) for (n,) in per_user}) > 1:
        problems.append(f"users have different numbers of answers: {Counter(int(n) for (n,) in per_user)}")
    left = (await db.query("SELECT COUNT(*) FROM inbox_update WHERE processed_at IS NULL"))[0][0]
    if left:
        problems.append(f"{left} updates left unprocessed in the inbox")
    return problems


async def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="voices-faults-"))
    db = Database(args.database, workdir, args.pg_url)
    await db.create()
    async with FakeBotAPI() as fake, TcpProxy.in_front_of(fake.base_url) as tg_proxy:
        db_proxy: TcpProxy | None = None
        if args.database == "postgres":
            db_proxy = TcpProxy.in_front_of(db.url, 5432)
            await db_proxy.start()
        env = {"TELEGRAM_API_BASE_URL": tg_proxy.through(fake.base_url),
               "VOICES_POLL_WATCHDOG": "5"}
        if db_proxy is not None:
            env["DATABASE_URL"] = db_proxy.through(db.url)
        bot = BotProcess(fake, db, workdir, "none", None, env=env)
        try:
            return await _drive(args, fake, bot, db, db_proxy, tg_proxy)
        finally:
            await bot.stop()
            if db_proxy is not None:
                await db_proxy.stop()
            await db.drop()


async def _drive(args: argparse.Namespace, fake: FakeBotAPI, bot: BotProcess, db: Database,
                 db_proxy: TcpProxy | None, tg_proxy: TcpProxy) -> int:
    await bot.start()
    user_ids: list[int] = []
    injector = Injector(args, fake, bot, db, db_proxy, tg_proxy)
    users_done = asyncio.Event()
    stuck: list[str] = []

    async def worker() -> None:
        """New users one after another, until the faults are all injected and enough have answered."""
        while not (faults.done() and len(user_ids) >= args.users):
            uid = FIRST_USER_ID + len(user_ids)
            user_ids.append(uid)
            user = fake.user(uid, first_name="Faults")
            try:
                for text in script(uid):
                    await _step(user, text)
            except AssertionError as exc:
                stuck.append(str(exc).splitlines()[0])

    started = time.monotonic()
    faults = asyncio.create_task(injector.run(users_done))
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    users_done.set()
    await faults
    wall = time.monotonic() - started
    await asyncio.sleep(2)  # let the last delivery marks and inbox updates settle
    problems = await check(db, user_ids) + [f"stuck: {s}" for s in stuck[:5]]
    steps = len(user_ids) * len(script(FIRST_USER_ID))
    restarts = sorted(injector.restart_seconds)
    print(f"database: {args.database}; users: {len(user_ids)}; steps: {steps}; wall: {wall:.1f} s")
    print(f"faults injected: {sum(injector.done.values())} ({dict(injector.done)})")
    if restarts:
        print(f"bot restart after kill -9: median {restarts[len(restarts) // 2]:.2f} s, "
              f"max {restarts[-1]:.2f} s")
    print(f"users stuck: {len(stuck)}; bot messages seen: {len(fake._all_sent)}")
    print("what the bot logged meanwhile (so the faults were felt): " + _felt(bot.log_lines()))
    print("result: " + ("OK: no answer lost, none stored twice" if not problems else "FAILED"))
    for problem in problems:
        print("  - " + problem)
    return 0 if not problems else 1


FELT = {"update waited for the database": "the database cannot be used just now",
        "batch not stored": "could not store updates", "getUpdates failed": "getUpdates failed",
        "send failed": "send failed", "watchdog alert": "ALERT: no successful getUpdates"}


def _felt(lines: Sequence[str]) -> str:
    counts = {name: sum(text in line for line in lines) for name, text in FELT.items()}
    return ", ".join(f"{name}: {n}" for name, n in counts.items())


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL)
    p.add_argument("--users", type=int, default=60, help="at least this many (more while faults remain)")
    p.add_argument("--concurrency", type=int, default=20, help="users answering at the same time")
    p.add_argument("--faults", type=int, default=100, help="stop injecting after this many")
    p.add_argument("--gap", type=float, default=1.0, help="at most this many seconds between faults")
    p.add_argument("--seed", type=int, default=1)
    return asyncio.run(run(p.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
