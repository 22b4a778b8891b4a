"""The ``voices`` command: serve, try and check (DESIGN.md, "The interface")."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

from aiohttp import web

from admin.app import BOT_RUNNING, make_app
from core.alerts import AlertSender
from core.check import check_all, format_problems
from core.definition import Conversation
from core.languages import BY_CODE
from core.loader import ConversationError, load_conversations
from core.retention import RetentionJob
from core.risk import load_lexicon
from core.service import Voices
from core.settings import ROOT, Settings, load_settings
from core.storage.db import close_db, init_db
from voices import admin_cli
from voices.logs import setup_logging

if TYPE_CHECKING:
    from bot.broadcast import Broadcaster

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
    service = Voices(settings, conversations, risks=load_lexicon(settings.lexicon_dir))
    app = make_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    channel = None
    broadcaster: Broadcaster | None = None
    sender: AlertSender | None = None
    retention: RetentionJob | None = None
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        print(f"Voices is running. Admin: http://{settings.host}:{settings.port}/", flush=True)
        first = await admin_cli.first_admin_link(settings)
        if first:
            print(f"No admin users yet. Create the first admin account (this link works once): {first}",
                  flush=True)
        if settings.bot_enabled:
            from bot.broadcast import Broadcaster
            from bot.pictures import OPENMOJI_DIR, Pictures
            from bot.runner import TelegramChannel
            from bot.speech import Speech

            speech = Speech(settings.cache_dir / "speech", settings.recordings_dir)
            pictures = Pictures(OPENMOJI_DIR, settings.cache_dir / "pictures")
            channel = TelegramChannel(settings, service, speech=speech, pictures=pictures)
            await channel.start()
            # Campaigns: invitations, reminders and bulletins, on the bot's own rate limiter.
            broadcaster = Broadcaster(service, channel.bot, channel.limiter)
            await broadcaster.start()
            app[BOT_RUNNING] = True
            print("The Telegram bot is running (long polling).", flush=True)
        else:
            print("TELEGRAM_BOT_TOKEN is not set, so the bot is off. "
                  "Try a conversation in this terminal with: voices try", flush=True)
        sender = AlertSender(settings, channel.bot if channel is not None else None)
        await sender.start()
        retention = RetentionJob(settings.retention_days, service.clock)
        retention.start()
        await _until_stopped()
    finally:
        if retention is not None:
            await retention.stop()
        if sender is not None:
            await sender.stop()
        if broadcaster is not None:  # before the channel, which closes the Bot they share
            await broadcaster.stop()
        if channel is not None:
            await channel.stop()
        await runner.cleanup()
        await close_db()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


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
        service = Voices(settings, conversations, risks=load_lexicon(settings.lexicon_dir))
        await run_terminal(service, conversation, language)
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
        return asyncio.run(admin_cli.users_add(settings, args.email, args.role))
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
