"""Admin benchmark: page times at a million answers, and a full CSV export's speed and memory.

    .venv/bin/python bench/bench_admin.py                       # both, each in a fresh database
    .venv/bin/python bench/bench_admin.py --database sqlite     # SQLite (a file under /tmp)
    .venv/bin/python bench/bench_admin.py --database postgres   # PostgreSQL (VOICES_TEST_PG_URL)
    .venv/bin/python bench/bench_admin.py --url sqlite:///tmp/x.db  # an existing database (filled if empty)

Fills the database with ``voices demo-data``, signs in an officer, then times the dashboard and
the responses list (first page, a deep page, filtered and searched) and the board report over
repeated requests, then the dashboard again while "the bot" changes responses before every request
(so each request includes the admin's catch-up), and runs ``voices export --format csv`` in a child
process to measure rows/s and its peak RSS. The load average is printed before and after.
Targets (issue 3): every page p95 <= 150 ms; export >= 100,000 rows/s and < 150 MB peak.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from admin.app import make_app  # noqa: E402
from admin.demo import fill  # noqa: E402
from admin.filters import cursor_text  # noqa: E402
from admin.queries import accounts, search, summary  # noqa: E402
from admin.sql import Sql, as_datetime  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.storage import models as m  # noqa: E402
from core.storage.db import close_db, init_db  # noqa: E402

Result = dict[str, tuple[float, float]]  # page -> (p50, p95) in ms


async def _deep_cursor(depth: float) -> str:
    sql = Sql()
    total = (await sql.rows("SELECT COUNT(*) AS n FROM response"))[0]["n"]
    rows = await sql.rows(f"SELECT started_at, id FROM response ORDER BY started_at DESC, id DESC "
                          f"LIMIT 1 OFFSET {int(total * depth)}")
    when = as_datetime(rows[0]["started_at"])
    assert when is not None
    return cursor_text(when, int(rows[0]["id"]), False)


async def _bot_writes(count: int) -> None:
    """What the bot does between two page views: the newest responses and their answers change."""
    sql = Sql()
    stamp = sql.dt(datetime.now(UTC))
    rows = await sql.rows(f"SELECT id FROM response ORDER BY started_at DESC LIMIT {count}")
    ids = ",".join(str(int(r["id"])) for r in rows)
    await sql.execute(f"UPDATE response SET updated_at = ? WHERE id IN ({ids})", [stamp])
    await sql.execute(f"UPDATE answer SET updated_at = ? WHERE response_id IN ({ids})", [stamp])


async def _rare_transcripts(count: int) -> None:
    """Officers' transcripts on a few voice answers, with a word nothing else has ("minibus")."""
    sql = Sql()
    rows = await sql.rows(f"SELECT id FROM answer WHERE kind = 'voice' ORDER BY id LIMIT {count}")
    for row in rows:
        await sql.execute("UPDATE answer SET transcript = ?, updated_at = ? WHERE id = ?",
                          ["The minibus driver was kind to us", sql.dt(datetime.now(UTC)), int(row["id"])])


Client = TestClient[web.Request, web.Application]


async def _time(client: Client, path: str, repeat: int, before: int = 0) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        if before:
            await _bot_writes(before)
        started = time.perf_counter()
        response = await client.get(path)
        await response.read()
        assert response.status == 200, (path, response.status)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, math.ceil(len(times) * 0.95) - 1)]


async def pages(url: str, repeat: int) -> Result:
    email = f"bench{time.time_ns()}@example.org"
    user = await m.AdminUser.create(email=email, role="officer", totp_confirmed=True)
    session = await accounts.start_session(user, "full", datetime.now(UTC))
    client = TestClient(TestServer(make_app(Settings(database_url=url))))
    await client.start_server()
    client.session.cookie_jar.update_cookies({"voices-admin": session.token})
    deep = await _deep_cursor(0.9)
    await _rare_transcripts(30)
    paths = {
        "dashboard (12 months)": ("/", 0),
        "dashboard (2 years)": ("/?from=1/1/2000", 0),
        "list, first page": ("/responses", 0),
        "list, page at 90%": (f"/responses?page={quote(deep)}", 0),
        "list, 3 filters": ("/responses?priority=adulthood&polarity=not-working&role=parent-carer", 0),
        "list, search": ("/responses?q=bus", 0),
        "list, rare search": ("/responses?q=minibus", 0),
        "list, search, no match": ("/responses?q=zzzznotthere", 0),
        "board report (year)": ("/report?period=year", 0),
        "dashboard, bot writing": ("/", 20),
        "search, bot writing": ("/responses?q=zzzznotthere", 20),
    }
    result: Result = {}
    try:
        for name, (path, before) in paths.items():
            await client.get(path)  # warm up (and catch up once)
            result[name] = await _time(client, path, repeat, before)
            p50, p95 = result[name]
            print(f"  {name:<26} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms", flush=True)
    finally:
        await client.close()
    return result


def _high_water(pid: int) -> float:
    """VmHWM of a running process in MB (0 if it has just ended)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def export(url: str) -> tuple[int, float, float]:
    """Runs ``voices export``; returns (rows, seconds, peak RSS in MB)."""
    env = {**os.environ, "DATABASE_URL": url, "VOICES_SECRET_KEY": "bench"}
    command = [str(ROOT / ".venv/bin/voices"), "export", "--format", "csv", "--output", os.devnull]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The child's own high-water mark, read while it runs: its rusage would also count this
    # (large) process's pages, which it shares between fork and exec.
    peak = 0.0
    while child.poll() is None:
        peak = max(peak, _high_water(child.pid))
        time.sleep(0.05)
    took = time.perf_counter() - started
    assert child.stderr is not None
    err = child.stderr.read()
    assert child.returncode == 0, err
    rows = int("".join(ch for ch in err.split("Exported", 1)[1].split("answers")[0] if ch.isdigit()))
    print(f"  CSV export: {rows:,} rows in {took:.1f} s = {rows / took:,.0f} rows/s (whole process, "
          f"start-up included); peak RSS {peak:.0f} MB", flush=True)
    return rows, took, peak


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def run(name: str, url: str, args: argparse.Namespace) -> tuple[Result, tuple[int, float, float]]:
    await init_db(url)
    try:
        sql = Sql()
        present = int((await sql.rows("SELECT COUNT(*) AS n FROM answer"))[0]["n"])
        if not present:
            started = time.perf_counter()
            made, answers = await fill(int(args.answers / 3.9))
            print(f"{name}: {made:,} responses, {answers:,} answers filled in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
        else:
            print(f"{name}: {present:,} answers already there", flush=True)
        started = time.perf_counter()
        await summary.refresh(datetime.now(UTC))
        await search.catch_up(sql)
        print(f"  catch-up before the first page: {time.perf_counter() - started:.1f} s", flush=True)
        if sql.pg:
            await sql.execute("ANALYZE")
        print(f"  load average before: {_load()}", flush=True)
        result = await pages(url, args.repeat)
    finally:
        await close_db()
    done = export(url)
    print(f"  load average after: {_load()}", flush=True)
    return result, done


def table(results: dict[str, tuple[Result, tuple[int, float, float]]]) -> None:
    names = list(results)
    print("\n| page | " + " | ".join(f"{n} p50 | {n} p95" for n in names) + " |")
    print("|---|" + "---:|" * (2 * len(names)))
    for page in next(iter(results.values()))[0]:
        cells = [f"{results[n][0][page][i]:.1f} ms" for n in names for i in (0, 1)]
        print(f"| {page} | " + " | ".join(cells) + " |")
    for n in names:
        rows, took, peak = results[n][1]
        print(f"{n}: CSV export {rows:,} rows in {took:.1f} s = {rows / took:,.0f} rows/s, "
              f"peak RSS {peak:.0f} MB")
    print(f"load average: {_load()} on {os.cpu_count()} cores")


async def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--url", help="use this database (filled if it has no answers) instead of a new one")
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    results = {}
    if args.url:
        results["pg" if args.url.startswith("postgres") else "sqlite"] = await run("given", args.url, args)
        table(results)
        return
    if args.database in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = await run("sqlite", f"sqlite://{tmp}/voices.db", args)
    if args.database in ("postgres", "both"):
        sys.path.insert(0, str(ROOT / "tests"))
        from tests.conftest import pg_database

        async with pg_database() as url:
            results["postgres"] = await run("postgres", url, args)
    table(results)


if __name__ == "__main__":
    asyncio.run(main())
