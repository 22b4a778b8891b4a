#!/usr/bin/env python
"""Broadcast benchmark: a campaign to N subscribers through Telegram's flood limits, with people
talking to the bot meanwhile (SCALE.md section 6, goals 3 and 4).

The fake Telegram Bot API (``tests.fakes.botapi.FakeBotAPI``) runs in this process on 127.0.0.1 with
its flood control on: ``--overall`` messages/s in all (default 30, a 1 s sliding window) and one a
second per chat (at most ``--chat-window`` messages in any ``--chat-window`` seconds to one chat);
anything over is answered 429 with ``retry_after``, as Telegram does. The real bot runs as a separate
process (``.venv/bin/voices serve``) on a fresh database holding ``--recipients`` subscribed
respondents and one survey campaign scheduled for now; its sender broadcasts at
``VOICES_BROADCAST_RATE`` (``--rate``, default 25/s).

While the campaign goes out, ``--users`` of the recipients (the first few invited) tap "Start the
survey" on their invitation and answer a question every ``--think-min``..``--think-max`` seconds,
following the keyboard the bot shows. A reply's latency is the time from putting the person's
update into the fake until the bot's first message in reply arrives there (also given: until the
last message of that reply).

Printed: messages/s achieved (first to last invitation), 429s and their share of all message
requests, duplicates and misses per recipient (counted at the fake, and the delivery table), and the
reply latency percentiles. Targets: ≥ 90% of the configured rate, no duplicates, no misses, < 0.5%
of requests answered 429, reply p95 < 1 s. Exit status: 0 all met, 1 a target missed, 2 set-up
failure, 3 overall ``--timeout`` hit.

Run from the project root::

    .venv/bin/python bench/bench_broadcast.py                          # 10,000 recipients, SQLite (~7 min)
    .venv/bin/python bench/bench_broadcast.py --recipients 1000 --database postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT), str(ROOT / "bench")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from bench_bot import (  # noqa: E402
    SECRET_KEY,
    BotProcess,
    Database,
    SetupError,
    _cpu_seconds,
    code_line,
    machine_line,
    percentile,
)

from tests.fakes.botapi import FakeBotAPI, FakeUser, SentMessage  # noqa: E402

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/test"
FIRST_CHAT = 10_000_001
LANGUAGES = ("en", "en", "en", "pl", "ar", "so", "ur", "pa", "gu", "bn", "ro")  # mostly English
INVITE = {"en": "Hello from the council. Please tell us how this year went: it takes about 10 minutes."}
FREE_TEXT = "My teacher gives me more time."
ADVANCE = ("Send my answers", "Next", "Done")  # buttons that move a step on
CONTROLS = ("Help", "Skip", "Back", "Listen", "Stop", "Change", "Tell me more", "Talk to")
REPLY_TIMEOUT = 15.0

TARGET_SHARE = 0.90
TARGET_429 = 0.005
TARGET_P95_MS = 1000.0
EXIT_OK, EXIT_MISSED, EXIT_SETUP, EXIT_TIMEOUT = 0, 1, 2, 3


def is_invitation(message: SentMessage) -> bool:
    return any((data or "").startswith("0:0:survey:") for _, data in message.inline)


class BroadcastFake(FakeBotAPI):
    """The fake, noting each invitation's arrival and waking the simulated people on their messages."""

    def __init__(self) -> None:
        super().__init__()
        self.record_requests = False
        self.invited: Counter[int] = Counter()
        self.invite_times: list[float] = []
        self.first_invite = asyncio.Event()
        self.watchers: dict[int, asyncio.Event] = {}

    def _record_sent(self, message: SentMessage) -> None:
        super()._record_sent(message)
        if is_invitation(message):
            self.invited[message.chat_id] += 1
            self.invite_times.append(message.time)
            self.first_invite.set()
        watcher = self.watchers.get(message.chat_id)
        if watcher is not None:
            watcher.set()


# --------------------------------------------------------------------------------------------------
# The database: N subscribers, one campaign


async def populate(url: str, recipients: int, talkers: int) -> int:
    """Subscribers (as people who finished the welcome and said yes to messages), one campaign."""
    from core.loader import load_conversations
    from core.model import State
    from core.storage import models as m
    from core.storage.db import close_db, init_db
    from core.storage.statecodec import dumps_state

    conversations = load_conversations(ROOT / "conversations")
    welcome, feedback = conversations["welcome"], conversations["feedback"]
    await init_db(url)
    try:
        people = [m.Respondent(channel="telegram", key_hash=m.respondent_key(SECRET_KEY, "telegram", chat),
                               chat_id=chat, language=LANGUAGES[n % len(LANGUAGES)], language_confirmed=True,
                               role="parent-carer", consent="yes", contact_ok=True)
                  for n, chat in enumerate(range(FIRST_CHAT, FIRST_CHAT + recipients))]
        for n, person in enumerate(people):
            if n < talkers:  # the people who will talk during the broadcast read English
                person.language = "en"
        await m.Respondent.bulk_create(people, batch_size=1000)
        ids = dict(await m.Respondent.filter(chat_id__lt=FIRST_CHAT + talkers).values_list("chat_id", "id"))
        state = dumps_state(State("welcome", welcome.version, "", status="done"))
        await m.Session.bulk_create([m.Session(respondent_id=ids[chat], conversation_id="welcome",
                                               conversation_version=welcome.version, state=state,
                                               version=1, delivered_version=1) for chat in ids])
        campaign = await m.Campaign.create(
            kind="survey", name="Benchmark", conversation_id="feedback",
            conversation_version=feedback.version, audience={}, invitation=INVITE, reminder_days=7,
            status="scheduled",
            scheduled_at=dt.datetime.now(dt.UTC))
        return int(campaign.id)
    finally:
        await close_db()


async def delivery_statuses(db: Database, campaign_id: int) -> dict[str, int]:
    rows = await db.query(f"SELECT status, COUNT(*) FROM delivery WHERE campaign_id = {int(campaign_id)} "
                          "GROUP BY status")
    return {str(status): int(n) for status, n in rows}


# --------------------------------------------------------------------------------------------------
# The bot


# --------------------------------------------------------------------------------------------------
# People talking to the bot during the broadcast


@dataclass
class Talk:
    first: list[float] = field(default_factory=list)  # seconds to the first message of each reply
    last: list[float] = field(default_factory=list)  # ... to the last message before the next action
    stuck: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    transcript: list[str] = field(default_factory=list)


def choose(user: FakeUser) -> tuple[str, str]:
    """What a person does next: ("tap", label), ("type", text) or ("press", callback data)."""
    keyboard = user.last_keyboard()
    for wanted in ADVANCE:
        found = next((b for b in keyboard if b.startswith(wanted)), None)
        if found:
            return "tap", found
    answers = [b for b in keyboard if not b.startswith(CONTROLS)]
    if answers:
        return "tap", answers[0]
    last = user.sent[-1] if user.sent else None
    if last is not None and (last.text or last.caption or "").startswith("Question "):
        return "type", FREE_TEXT  # a question answered in words
    invitation = next(m for m in reversed(user.sent) if is_invitation(m))
    return "press", next(data for _, data in invitation.inline if (data or "").startswith("0:0:survey:"))


async def talk(fake: BroadcastFake, user: FakeUser, done: asyncio.Event, rng: random.Random,
               think: tuple[float, float], out: Talk, verbose: bool) -> None:
    """Wait for the invitation, then act, wait for the reply and think, until the broadcast is over."""
    watcher = fake.watchers[user.id] = asyncio.Event()
    while not any(is_invitation(m) for m in user.sent):
        watcher.clear()
        await watcher.wait()
    while not done.is_set():
        kind, what = choose(user)
        out.actions[kind] += 1
        before = len(user.sent)
        t0 = time.monotonic()
        if kind == "press":
            await user.press(what)
        else:
            await user.send(what)
        try:
            first = await user.reply(timeout=REPLY_TIMEOUT)
        except AssertionError:
            out.stuck += 1
            continue
        out.first.append(first.time - t0)
        pause = rng.uniform(*think)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), pause)
        replies = user.sent[before:]
        out.last.append(replies[-1].time - t0)
        await user.settle(quiet=0)
        if verbose and len(out.transcript) < 40:
            said = " | ".join(r.summary() for r in replies)
            out.transcript.append(f"  {user.id} {kind} {what!r} -> {said}")


# --------------------------------------------------------------------------------------------------
# One run


@dataclass
class Result:
    recipients: int
    rate: float
    invited: int = 0
    duplicates: int = 0
    misses: int = 0
    achieved: float = 0.0
    wall: float = 0.0
    requests: int = 0
    count_429: int = 0
    flood_chat: int = 0
    talk: Talk = field(default_factory=Talk)
    statuses: dict[str, int] = field(default_factory=dict)
    bot_cpu: float = 0.0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def run(args: argparse.Namespace) -> Result:
    result = Result(args.recipients, args.rate)
    workdir = Path(tempfile.mkdtemp(prefix="voices-bench-broadcast-"))
    db = Database(args.database, workdir, args.pg_url)
    fake = BroadcastFake()
    fake.rate_limit(overall=args.overall, per_chat=1.0, window=1.0, chat_window=args.chat_window)
    bot: BotProcess | None = None
    done = asyncio.Event()
    talkers: list[asyncio.Task[None]] = []
    try:
        await fake.start("127.0.0.1", 0)
        await db.create()
        t = time.monotonic()
        campaign_id = await populate(db.url, args.recipients, args.users)
        print(f"  {args.recipients} subscribers and a campaign written in {time.monotonic() - t:.1f} s "
              f"({db.describe()})", flush=True)
        bot = BotProcess(fake, db, workdir, "none", None, env={"VOICES_BROADCAST_RATE": str(args.rate)},
                         stop_within=30.0)
        await bot.start()
        cpu_before = _cpu_seconds(bot.pid)
        rng = random.Random(args.seed)
        users = [fake.user(FIRST_CHAT + n, first_name=f"Parent{n}") for n in range(args.users)]
        talkers = [asyncio.create_task(talk(fake, u, done, random.Random(rng.random()),
                                            (args.think_min, args.think_max), result.talk, args.verbose))
                   for u in users]
        await asyncio.wait_for(fake.first_invite.wait(), 60)
        started = time.monotonic()
        last_report = started
        while len(fake.invited) < args.recipients:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            if now - last_report >= 30:
                last_report = now
                sent = sum(fake.invited.values())
                print(f"  {now - started:5.0f} s: {sent} invitations, {sent / (now - started):.1f}/s, "
                      f"429s {fake.count_429}, replies {len(result.talk.first)}", flush=True)
            if bot.proc is not None and bot.proc.returncode is not None:
                raise SetupError(f"the bot exited with status {bot.proc.returncode}:\n{bot.log_tail()}")
            idle = now - (fake.invite_times[-1] if fake.invite_times else started)
            if idle > 60:
                result.problems.append(f"no invitation for 60 s with {len(fake.invited)} of "
                                       f"{args.recipients} invited")
                break
        done.set()
        await asyncio.gather(*talkers, return_exceptions=True)
        result.bot_cpu = _cpu_seconds(bot.pid) - cpu_before
        times = sorted(fake.invite_times)
        result.wall = times[-1] - times[0] if len(times) > 1 else 0.0
        result.achieved = (len(times) - 1) / result.wall if result.wall > 0 else float("nan")
        result.invited = len(fake.invited)
        result.duplicates = sum(1 for n in fake.invited.values() if n > 1)
        result.misses = args.recipients - sum(1 for c in range(FIRST_CHAT, FIRST_CHAT + args.recipients)
                                              if fake.invited.get(c))
        result.requests = fake.message_calls
        result.count_429 = fake.count_429
        result.flood_chat = fake.flood.rejected_chat if fake.flood else 0
        await asyncio.sleep(1.0)  # the last marks reach the database
        result.statuses = await delivery_statuses(db, campaign_id)
        status = await bot.stop()
        if status not in (0, None):
            result.problems.append(f"the bot exited with status {status} after SIGTERM")
        lines = bot.log_lines()
        bad = [line for line in lines if "ERROR" in line or "Traceback" in line]
        if bad:
            result.problems.append(f"{len(bad)} ERROR lines in the bot log, e.g. {bad[0][:200]!r}")
        warned = [line for line in lines if "WARNING" in line]
        if warned:
            result.notes.append(f"{len(warned)} WARNING lines in the bot log, e.g. {warned[0][:160]!r}")
        return result
    finally:
        done.set()
        for task in talkers:
            task.cancel()
        await asyncio.gather(*talkers, return_exceptions=True)
        if bot is not None:
            await bot.stop()
        await fake.stop()
        with contextlib.suppress(Exception):
            await db.drop()
        if args.keep:
            print(f"  (kept {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report(r: Result, args: argparse.Namespace) -> int:
    first = sorted(x * 1000 for x in r.talk.first)
    last = sorted(x * 1000 for x in r.talk.last)
    share_429 = r.count_429 / r.requests if r.requests else 0.0
    p95 = percentile(first, 95)
    print(f"\nbroadcast: {r.invited} of {r.recipients} recipients invited in {r.wall:.1f} s "
          f"(first to last invitation): {r.achieved:.2f} messages/s, {100 * r.achieved / r.rate:.1f}% of the "
          f"configured {r.rate:g}/s")
    print(f"  duplicates: {r.duplicates} recipients got more than one invitation; "
          f"misses: {r.misses} got none")
    print(f"  deliveries in the database: {dict(sorted(r.statuses.items()))}")
    print(f"  429s: {r.count_429} of {r.requests} message requests ({100 * share_429:.3f}%); "
          f"{r.flood_chat} of them for the per-chat limit")
    share = 100 * r.bot_cpu / r.wall if r.wall else 0.0
    print(f"  bot CPU during the broadcast: {r.bot_cpu:.1f} s ({share:.0f}% of one core)")
    print(f"interactive: {args.users} people answering every {args.think_min:g}-{args.think_max:g} s: "
          f"{len(first)} replies ({dict(r.talk.actions)}), {r.talk.stuck} without a reply in "
          f"{REPLY_TIMEOUT:g} s")
    print(f"  first message of a reply: p50 {percentile(first, 50):.0f} ms, p95 {p95:.0f} ms, "
          f"p99 {percentile(first, 99):.0f} ms, max {first[-1] if first else float('nan'):.0f} ms")
    print(f"  last message of a reply:  p50 {percentile(last, 50):.0f} ms, "
          f"p95 {percentile(last, 95):.0f} ms, max {last[-1] if last else float('nan'):.0f} ms")
    for line in r.talk.transcript:
        print(line)
    for note in r.notes:
        print(f"  note: {note}")
    checks = [
        (f"rate ≥ {100 * TARGET_SHARE:.0f}% of {r.rate:g}/s", r.achieved >= TARGET_SHARE * r.rate),
        ("no duplicates", r.duplicates == 0),
        ("no misses", r.misses == 0 and r.statuses.get("sent", 0) == r.recipients),
        (f"429s < {100 * TARGET_429:.1f}% of requests", share_429 < TARGET_429),
        (f"reply p95 < {TARGET_P95_MS:.0f} ms", bool(first) and p95 < TARGET_P95_MS and r.talk.stuck == 0),
    ]
    print("targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in checks))
    for problem in r.problems:
        print(f"  - problem: {problem}")
    return EXIT_OK if all(ok for _, ok in checks) and not r.problems else EXIT_MISSED


async def main_async(args: argparse.Namespace) -> int:
    print(machine_line())
    print(code_line())
    print(f"settings: {args.recipients} recipients, database {args.database}, "
          f"broadcast rate {args.rate:g}/s, "
          f"fake flood control {args.overall:g}/s overall and 1/s per chat (window {args.chat_window:g} s), "
          f"{args.users} people talking, think {args.think_min:g}-{args.think_max:g} s, seed {args.seed}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    timeout = args.timeout or args.recipients / args.rate * 1.5 + 180
    try:
        result = await asyncio.wait_for(run(args), timeout)
    except TimeoutError:
        print(f"\nTIMED OUT after {timeout:.0f} s")
        return EXIT_TIMEOUT
    except SetupError as exc:
        print(f"\nSET-UP FAILED: {exc}")
        return EXIT_SETUP
    return report(result, args)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=10_000)
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--pg-url", default=os.environ.get("VOICES_TEST_PG_URL") or DEFAULT_PG_URL)
    p.add_argument("--rate", type=float, default=25.0, help="VOICES_BROADCAST_RATE for the bot")
    p.add_argument("--overall", type=float, default=30.0, help="the fake's messages/s limit, all chats")
    p.add_argument("--chat-window", type=float, default=3.0,
                   help="the fake's per-chat window: at most this many messages in this many seconds")
    p.add_argument("--users", type=int, default=5, help="people talking to the bot during the broadcast")
    p.add_argument("--think-min", type=float, default=1.5)
    p.add_argument("--think-max", type=float, default=2.5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=0.0, help="overall bound in s (default: from the size)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (bot log, SQLite file)")
    p.add_argument("-v", "--verbose", action="store_true", help="show the first replies to the talkers")
    args = p.parse_args(argv)
    if args.recipients < 1 or args.users < 0 or args.users > args.recipients:
        p.error("need 1 ≤ recipients and 0 ≤ users ≤ recipients")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
