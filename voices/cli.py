"""The ``voices`` command: serve, try and check (DESIGN.md, "The interface")."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from admin.app import BOT_RUNNING, make_app
from core.alerts import AlertSender
from core.check import check_all, format_problems
from core.definition import Conversation
from core.languages import BY_CODE
from core.loader import ConversationError, load_conversations
from core.retention import RetentionJob
from core.risk import REQUEST_CATEGORIES, load_lexicon
from core.service import Voices
from core.settings import ROOT, Settings, load_settings
from core.storage.db import close_db, init_db
from core.storage.leader import LeaderLock
from voices import admin_cli
from voices.logs import setup_logging

if TYPE_CHECKING:
    from bot.broadcast import Broadcaster
    from bot.runner import TelegramChannel

log = logging.getLogger("voices")


def _conversations(settings: Settings) -> dict[str, Conversation]:
    try:
        return load_conversations(settings.conversations_dir)
    except ConversationError as exc:
        print(format_problems(exc.problems), file=sys.stderr)
        raise SystemExit(2) from exc


async def serve(settings: Settings) -> None:
    """Create or upgrade the database, then run the admin server and (with a token) the bot."""
    conversations = _conversations(settings)
    await init_db(settings.database_url)
    service = _service(settings, conversations)
    app = make_app(settings, voices=service)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stopping = _stop_on_signals()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        print(f"Voices is running. Admin: http://{settings.host}:{settings.port}/", flush=True)
        first = await admin_cli.first_admin_link(settings)
        if first:
            print(f"No admin users yet. Create the first admin account (this link works once): {first}",
                  flush=True)
        if not settings.bot_enabled:
            print("TELEGRAM_BOT_TOKEN is not set, so the bot is off. "
                  "Try a conversation in this terminal with: voices try", flush=True)
        await _lead(settings, service, app, stopping)
    finally:
        await runner.cleanup()
        await close_db()


def _service(settings: Settings, conversations: dict[str, Conversation]) -> Voices:
    return Voices(settings, conversations, risks=load_lexicon(settings.lexicon_dir),
                  requests=load_lexicon(settings.requests_dir, REQUEST_CATEGORIES))


@dataclass
class _Jobs:
    """The background work: the bot, campaigns, safeguarding alerts and retention."""

    channel: TelegramChannel | None = None
    broadcaster: Broadcaster | None = None
    sender: AlertSender | None = None
    retention: RetentionJob | None = None


async def _lead(settings: Settings, service: Voices, app: web.Application, stopping: asyncio.Event) -> None:
    """Run the background work in one process per database, until ``stopping``.

    Every process serves the admin, but only the holder of the leader lock polls Telegram, sends
    campaigns and alerts and runs the retention job (SECURITY.md T5): a second process started on
    the same database waits, and takes over within seconds if the first one stops or dies.
    """
    leader = LeaderLock(settings.database_url, "worker")
    if not await leader.acquire():
        print("Another Voices process is running the bot and the background jobs on this database. "
              "This one serves the admin, and takes over if that one stops.", flush=True)
        if not await leader.wait(stopping):
            return
    jobs = _Jobs()
    try:
        await _start_jobs(settings, service, app, jobs)
        await stopping.wait()
    finally:
        await _stop_jobs(jobs)
        await leader.release()


async def _start_jobs(settings: Settings, service: Voices, app: web.Application, jobs: _Jobs) -> None:
    if settings.bot_enabled:
        from bot.broadcast import Broadcaster
        from bot.pictures import OPENMOJI_DIR, Pictures
        from bot.runner import TelegramChannel
        from bot.speech import Speech

        speech = Speech(settings.cache_dir / "speech", settings.recordings_dir)
        pictures = Pictures(OPENMOJI_DIR, settings.cache_dir / "pictures")
        jobs.channel = TelegramChannel(settings, service, speech=speech, pictures=pictures)
        await jobs.channel.start()
        # Campaigns: invitations, reminders and bulletins, on the bot's own rate limiter.
        jobs.broadcaster = Broadcaster(service, jobs.channel.bot, jobs.channel.limiter)
        await jobs.broadcaster.start()
        app[BOT_RUNNING] = True
        print("The Telegram bot is running (long polling).", flush=True)
    jobs.sender = AlertSender(settings, jobs.channel.bot if jobs.channel is not None else None)
    await jobs.sender.start()
    jobs.retention = RetentionJob(settings.retention_days, service.clock)
    jobs.retention.start()


async def _stop_jobs(jobs: _Jobs) -> None:
    if jobs.retention is not None:
        await jobs.retention.stop()
    if jobs.sender is not None:
        await jobs.sender.stop()
    if jobs.broadcaster is not None:  # before the channel, which closes the Bot they share
        await jobs.broadcaster.stop()
    if jobs.channel is not None:
        await jobs.channel.stop()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def try_conversation(settings: Settings, conversation: str | None, language: str | None) -> None:
    from voices.terminal import run_terminal

    conversations = _conversations(settings)
    if conversation is not None and conversation not in conversations:
        known = ", ".join(sorted(conversations))
        raise SystemExit(f"There is no conversation called {conversation!r}. Try one of: {known}")
    if language is not None and language not in BY_CODE:
        raise SystemExit(f"Unknown language {language!r}. Use one of: {', '.join(BY_CODE)}")
    if language is not None and conversation is None:
        conversation = settings.first_conversation
    await init_db(settings.database_url)
    try:
        await run_terminal(_service(settings, conversations), conversation, language)
    finally:
        await close_db()


def check(settings: Settings) -> int:
    problems = check_all(ROOT, settings.conversations_dir, settings.locales_dir)
    print(format_problems(problems) if problems else "All conversation files and translations are OK.")
    return 1 if problems else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voices", description="Voices: feedback from young people and families.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="create or upgrade the database, run the admin and the bot")
    t = sub.add_parser("try", help="run a conversation in this terminal")
    t.add_argument("conversation", nargs="?", help="conversation id, e.g. feedback (default: from the start)")
    t.add_argument("--lang", help="language code, e.g. pl")
    sub.add_parser("check", help="check every conversation file")
    admin_cli.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(os.environ.get("VOICES_LOG_LEVEL", "INFO"))
    settings = load_settings()
    if args.command == "check":
        return check(settings)
    if args.command == "users":
        return asyncio.run(admin_cli.users_add(settings, args.email, args.role, args.safeguarding_lead))
    if args.command == "export":
        return asyncio.run(admin_cli.export(settings, args.format, args.output))
    if args.command == "demo-data":
        return asyncio.run(admin_cli.demo_data(settings, args.responses, args.seed))
    with contextlib.suppress(KeyboardInterrupt):
        if args.command == "serve":
            asyncio.run(serve(settings))
        elif args.command == "try":
            asyncio.run(try_conversation(settings, args.conversation, args.lang))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
