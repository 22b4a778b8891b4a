"""The admin's commands: ``voices users add``, ``voices export`` and ``voices demo-data``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from admin.keys import AdminConfig
from admin.queries import accounts
from core.settings import Settings
from core.storage.db import close_db, init_db
from core.storage.models import ADMIN_ROLES


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="manage admin users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add an admin user and print their one-time set-up link")
    add.add_argument("email")
    add.add_argument("--role", choices=ADMIN_ROLES, required=True)
    export = sub.add_parser("export", help="export every response, one row per answer")
    export.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    export.add_argument("--output", help="file to write (default: standard output for csv)")
    demo = sub.add_parser("demo-data", help="fill the database with realistic synthetic responses")
    demo.add_argument("--responses", type=int, required=True, help="how many responses to add")
    demo.add_argument("--seed", type=int, default=1)


def base_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.port}"


async def users_add(settings: Settings, email: str, role: str) -> int:
    await init_db(settings.database_url)
    try:
        if await accounts.find_user(email):
            print(f"There is already a user with the email address {email}.", file=sys.stderr)
            return 1
        config = AdminConfig()
        user = await accounts.add_user(email, role)
        token = await accounts.create_invite(role, user, config.clock(), config.invite_lifetime)
    finally:
        await close_db()
    print(f"Added {user.email} as {role}. Send them this link; it works once, for 7 days:")
    print(f"{base_url(settings)}/invite/{token}")
    print("They set a password there, then set up an authenticator app for their sign-in codes.")
    return 0


async def first_admin_link(settings: Settings) -> str | None:
    """On a database with no admin users, a one-time link to create the first admin (db open)."""
    if await accounts.user_count() > 0:
        return None
    config = AdminConfig()
    token = await accounts.create_invite("admin", None, config.clock(), config.invite_lifetime)
    return f"{base_url(settings)}/invite/{token}"


async def export(settings: Settings, fmt: str, output: str | None) -> int:
    from admin import export as exporter
    from admin.filters import Filters
    from admin.queries import summary

    if fmt == "xlsx" and not output:
        print("XLSX needs a file: add --output FILE.xlsx", file=sys.stderr)
        return 2
    await init_db(settings.database_url)
    try:
        await summary.refresh(AdminConfig().clock())
        if fmt == "xlsx":
            rows = await exporter.write_xlsx(Filters(), Path(str(output)))
        elif output:
            with open(output, "wb") as fh:
                rows = await exporter.write_csv(Filters(), fh.write)
        else:
            rows = await exporter.write_csv(Filters(), sys.stdout.buffer.write)
    finally:
        await close_db()
    print(f"Exported {rows:,} answers.", file=sys.stderr)
    return 0


async def demo_data(settings: Settings, responses: int, seed: int) -> int:
    from admin.demo import fill

    if responses < 1:
        print("--responses must be 1 or more", file=sys.stderr)
        return 2
    await init_db(settings.database_url)
    started = time.perf_counter()
    try:
        made, answers = await fill(responses, seed)
    finally:
        await close_db()
    took = time.perf_counter() - started
    print(f"Added {made:,} responses with {answers:,} answers in {took:.1f} s.")
    return 0
