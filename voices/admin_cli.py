"""The admin's commands: ``voices users add``, ``voices export`` and ``voices demo-data``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from admin import audit
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
    add.add_argument("--safeguarding-lead", action="store_true",
                     help="may read flagged responses' answers and the words that raised a safeguarding "
                          "concern (SECURITY.md S9)")
    export = sub.add_parser("export", help="export every response, one row per answer")
    export.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    export.add_argument("--output", help="file to write (default: standard output for csv)")
    demo = sub.add_parser("demo-data", help="fill the database with realistic synthetic responses")
    demo.add_argument("--responses", type=int, required=True, help="how many responses to add")
    demo.add_argument("--seed", type=int, default=1)


def base_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.port}"


async def users_add(settings: Settings, email: str, role: str, safeguarding_lead: bool = False) -> int:
    await init_db(settings.database_url)
    try:
        if await accounts.find_user(email):
            print(f"There is already a user with the email address {email}.", file=sys.stderr)
            return 1
        config = AdminConfig()
        user = await accounts.add_user(email, role, safeguarding_lead)
        token = await accounts.create_invite(role, user, config.clock(), config.invite_lifetime)
        extra = ", safeguarding lead" if safeguarding_lead else ""
        await audit.record(config.clock(), "-", "user-added", f"user:{user.id}",
                           f"role {role}{extra}, from the command line")
    finally:
        await close_db()
    lead = "a safeguarding lead" if safeguarding_lead else "not a safeguarding lead"
    print(f"Added {user.email} as {role}, {lead}. Send them this link; it works once, for 7 days:")
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
    """Every response, one row per answer. Like an officer's download, it leaves out the words of
    responses flagged for safeguarding (SECURITY.md S9): only a safeguarding lead reads them, in the admin."""
    from admin import export as exporter
    from admin.filters import Filters
    from admin.queries import summary

    if fmt == "xlsx" and not output:
        print("XLSX needs a file: add --output FILE.xlsx", file=sys.stderr)
        return 2
    await init_db(settings.database_url)
    words = exporter.Words(lead=False)
    try:
        await summary.refresh(AdminConfig().clock())
        if fmt == "xlsx":
            rows = await exporter.write_xlsx(Filters(), Path(str(output)), words)
        elif output:
            with open(output, "wb") as fh:
                rows = await exporter.write_csv(Filters(), fh.write, words)
        else:
            rows = await exporter.write_csv(Filters(), sys.stdout.buffer.write, words)
        await audit.record(AdminConfig().clock(), "-", "export", "responses",
                           f"{fmt}, {rows} rows, from the command line"
                           + (", flagged responses' words left out" if words.flagged else ""))
    finally:
        await close_db()
    print(f"Exported {rows:,} answers.", file=sys.stderr)
    if words.flagged:
        print(f"The typed and spoken answers of {len(words.flagged):,} responses flagged for safeguarding "
              "were left out: only the safeguarding lead reads them, in the admin.", file=sys.stderr)
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
