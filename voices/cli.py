"""The ``voices`` command: serve, try and check (DESIGN.md, "The interface")."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from admin.app import BOT_RUNNING, DISK_WATCH, POLL_WATCHDOG, make_app
from admin.queries import rollup
from admin.sql import Sql
from core.alerts import AlertSender
from core.check import check_all, format_problems
from core.definition import Conversation
from core.diskspace import DiskWatch
from core.languages import BY_CODE
from core.loader import ConversationError, load_conversations
from core.retention import RetentionJob
from core.risk import REQUEST_CATEGORIES, load_lexicon
from core.service import Voices
from core.settings import ROOT, Settings, SettingsError, load_settings
from core.storage import erasures
from core.storage.db import SQLITE_ENGINE, close_db, init_db, tortoise_config
from core.storage.leader import LeaderLock
from voices import admin_cli, webhook_cli
from voices.logs import setup_logging

if TYPE_CHECKING:
    from bot.broadcast import Broadcaster
    from bot.runner import TelegramChannel
    from bot.webhook import WebhookRoute

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
    erased = await reapply_erasures(settings)
    if erased:
        print(f"Erased {_people(erased)} again: the database held data that the erasure log says was "
              "erased (a restored backup).", flush=True)
    service = _service(settings, conversations)
    app = make_app(settings, voices=service)
    hook = _webhook(settings, service, app)
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
        if hook is not None:
            await hook.start()
        await _lead(settings, service, app, stopping, hook.channel if hook is not None else None)
    finally:
        await runner.cleanup()
        if hook is not None:
            await hook.channel.stop()
        await close_db()


@dataclass
class _Webhook:
    """Webhook mode: every process takes updates on the admin's server and processes them."""

    channel: TelegramChannel
    route: WebhookRoute

    async def start(self) -> None:
        await self.channel.start(poll=False)
        self.route.receive = self.channel.receive  # until now the route answered 503
        print("The Telegram bot is running (webhook).", flush=True)


def _webhook(settings: Settings, service: Voices, app: web.Application) -> _Webhook | None:
    if not settings.bot_enabled or settings.update_source != "webhook":
        return None
    from bot.webhook import WebhookRoute

    route = WebhookRoute(settings.webhook_secret)
    app.router.add_post(route.path, route.handle)
    app[BOT_RUNNING] = True
    return _Webhook(_channel(settings, service, app), route)


def _channel(settings: Settings, service: Voices, app: web.Application) -> TelegramChannel:
    from bot.pictures import OPENMOJI_DIR, Pictures
    from bot.runner import TelegramChannel
    from bot.speech import Speech

    speech = Speech(settings.cache_dir / "speech", settings.recordings_dir)
    pictures = Pictures(OPENMOJI_DIR, settings.cache_dir / "pictures")
    return TelegramChannel(settings, service, speech=speech, pictures=pictures, watchdog=app[POLL_WATCHDOG])


async def reapply_erasures(settings: Settings) -> int:
    """Erase again everyone in the erasure log whom a restored backup brought back (SECURITY.md R20).

    The database must be open. Their responses also leave the dashboard's counts and (SQLite) the
    search copy of the answers' words at once. Returns how many people were erased.
    """
    count = await erasures.reapply(settings.erasure_log, datetime.now(UTC))
    if count:
        await rollup.forget_erased(Sql())
    return count


def _people(n: int) -> str:
    return f"{n:,} {'person' if n == 1 else 'people'}"


async def restore_erasures(settings: Settings) -> int:
    """``voices restore-erasures``: re-apply the erasure log to the database (after a restore)."""
    log_path = settings.erasure_log
    if not log_path.exists():
        print(f"There is no erasure log at {log_path}. Set VOICES_ERASURE_LOG to the file the live "
              "system wrote (if nobody has been erased yet, there is nothing to do).", file=sys.stderr)
        return 1
    await init_db(settings.database_url)
    try:
        count = await reapply_erasures(settings)
    finally:
        await close_db()
    print(f"Re-applied the erasure log {log_path}: erased {_people(count)} again.")
    return 0


def backup(settings: Settings, target: Path) -> int:
    """``voices backup FILE``: a consistent copy of the SQLite database, safe while the bot writes.

    Uses ``VACUUM INTO`` (never a plain copy of the file, which can catch a write half done). The
    copy is made under a temporary name and then linked to FILE, so FILE is never a partial copy
    and an existing file is never overwritten. PostgreSQL is backed up with ``pg_dump``.
    """
    conn = tortoise_config(settings.database_url)["connections"]["default"]
    if conn["engine"] != SQLITE_ENGINE:
        print("The database is PostgreSQL: take backups with pg_dump (for example "
              "pg_dump --format=custom --file=FILE), and restore them with pg_restore, then run "
              "voices restore-erasures.", file=sys.stderr)
        return 2
    source = Path(str(conn["credentials"]["file_path"]))
    if not source.is_file():
        print(f"There is no SQLite database at {source}.", file=sys.stderr)
        return 1
    if target.exists():
        return _exists(target)
    if not target.parent.is_dir():
        print(f"There is no folder {target.parent} to write the backup in.", file=sys.stderr)
        return 1
    try:
        _vacuum_into(source, target)
    except FileExistsError:
        return _exists(target)
    print(f"Backed up {source} to {target} ({target.stat().st_size / 1e6:,.1f} MB).")
    return 0


def _exists(target: Path) -> int:
    print(f"{target} already exists. Choose a new file name: voices backup never overwrites a file.",
          file=sys.stderr)
    return 1


def _vacuum_into(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` (mode 0600) with VACUUM INTO, through a temporary file."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)  # an empty file, which VACUUM INTO may write to
    partial = Path(name)
    try:
        db = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            db.execute("VACUUM INTO ?", (str(partial),))
        finally:
            db.close()
        with open(partial, "rb+") as fh:
            os.fsync(fh.fileno())
        os.link(partial, target)  # fails if target exists, unlike a rename
    finally:
        partial.unlink(missing_ok=True)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _service(settings: Settings, conversations: dict[str, Conversation]) -> Voices:
    return Voices(settings, conversations, risks=load_lexicon(settings.lexicon_dir),
                  requests=load_lexicon(settings.requests_dir, REQUEST_CATEGORIES))


@dataclass
class _Jobs:
    """The background work: the bot, campaigns, safeguarding alerts, retention and the disk watch."""

    channel: TelegramChannel | None = None
    broadcaster: Broadcaster | None = None
    sender: AlertSender | None = None
    retention: RetentionJob | None = None
    disk: DiskWatch | None = None


async def _lead(settings: Settings, service: Voices, app: web.Application, stopping: asyncio.Event,
                hooked: TelegramChannel | None = None) -> None:
    """Run the background work in one process per database, until ``stopping``.

    Every process serves the admin (and in webhook mode, ``hooked``, takes updates), but only the
    holder of the leader lock polls Telegram, sends campaigns and alerts and runs the retention job
    (SECURITY.md T5): a second process started on the same database waits, and takes over within
    seconds if the first one stops or dies.
    """
    leader = LeaderLock(settings.database_url, "worker")
    if not await leader.acquire():
        print("Another Voices process is running the bot and the background jobs on this database. "
              "This one serves the admin, and takes over if that one stops.", flush=True)
        if not await leader.wait(stopping):
            return
    jobs = _Jobs()
    try:
        await _start_jobs(settings, service, app, jobs, hooked)
        await stopping.wait()
    finally:
        await _stop_jobs(jobs)
        await leader.release()


async def _start_jobs(settings: Settings, service: Voices, app: web.Application, jobs: _Jobs,
                      hooked: TelegramChannel | None) -> None:
    channel = hooked
    if settings.bot_enabled and hooked is None:
        channel = jobs.channel = _channel(settings, service, app)
        await channel.start()
        app[BOT_RUNNING] = True
        print("The Telegram bot is running (long polling).", flush=True)
    if channel is not None:
        from bot.broadcast import Broadcaster

        # Campaigns: invitations, reminders and bulletins, on the bot's own rate limiter.
        jobs.broadcaster = Broadcaster(service, channel.bot, channel.limiter)
        await jobs.broadcaster.start()
    jobs.sender = AlertSender(settings, channel.bot if channel is not None else None)
    await jobs.sender.start()
    jobs.retention = RetentionJob(settings.retention_days, service.clock)
    jobs.retention.start()
    jobs.disk = app[DISK_WATCH]  # the admin's banner and /healthz read it (SECURITY.md R12)
    jobs.disk.start()


async def _stop_jobs(jobs: _Jobs) -> None:
    if jobs.disk is not None:
        await jobs.disk.stop()
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
    b = sub.add_parser("backup", help="write a consistent copy of the SQLite database to FILE")
    b.add_argument("file", type=Path, help="the backup file to write (must not exist)")
    sub.add_parser("restore-erasures", help="after restoring a backup: erase again everyone the erasure "
                                            "log names")
    admin_cli.add_parsers(sub)
    webhook_cli.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(os.environ.get("VOICES_LOG_LEVEL", "INFO"))
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "check":
        return check(settings)
    if args.command == "backup":
        return backup(settings, args.file)
    if args.command == "restore-erasures":
        return asyncio.run(restore_erasures(settings))
    if args.command == "users":
        return asyncio.run(admin_cli.users_add(settings, args.email, args.role, args.safeguarding_lead))
    if args.command == "export":
        return asyncio.run(admin_cli.export(settings, args.format, args.output))
    if args.command == "webhook":
        return asyncio.run(webhook_cli.run(settings, args))
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
