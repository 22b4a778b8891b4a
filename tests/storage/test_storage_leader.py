"""The leader lock on SQLite and PostgreSQL: one holder at a time, and it dies with its holder."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

from core.storage.leader import LeaderLock, lock_key


def test_lock_keys_are_stable_and_distinct() -> None:
    assert lock_key("telegram") == lock_key("telegram")
    assert lock_key("telegram") != lock_key("other")
    assert -(2**63) <= lock_key("telegram") < 2**63


async def test_one_leader_at_a_time_and_the_next_takes_over(db_url: str) -> None:
    first, second = LeaderLock(db_url), LeaderLock(db_url)
    assert await first.acquire()
    assert await first.acquire()  # asking again while holding it is fine
    assert not await second.acquire()
    other = LeaderLock(db_url, name="another-job")
    assert await other.acquire()  # a different lock name is independent
    await first.release()
    assert await second.acquire()
    for lock in (second, other):
        await lock.release()


async def test_wait_returns_when_stopping(db_url: str) -> None:
    holder, waiter = LeaderLock(db_url), LeaderLock(db_url)
    assert await holder.acquire()
    stopping = asyncio.Event()
    task = asyncio.create_task(waiter.wait(stopping, every=0.05))
    await asyncio.sleep(0.2)
    assert not task.done()
    await holder.release()
    assert await asyncio.wait_for(task, timeout=5)  # took over once the holder let go
    stopping.set()
    assert not await LeaderLock(db_url).wait(stopping)
    await waiter.release()


async def test_a_killed_holder_loses_the_lock(db_url: str) -> None:
    script = textwrap.dedent(f"""
        import asyncio, os, sys
        from core.storage.leader import LeaderLock
        async def main():
            lock = LeaderLock({db_url!r})
            assert await lock.acquire()
            print("held", flush=True)
            await asyncio.sleep(60)
        asyncio.run(main())
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        mine = LeaderLock(db_url)
        assert not await mine.acquire()
        child.kill()  # SIGKILL: no chance to release anything
        child.wait(timeout=10)
        stopping = asyncio.Event()
        assert await asyncio.wait_for(mine.wait(stopping, every=0.1), timeout=10)
        await mine.release()
    finally:
        if child.poll() is None:
            child.kill()
