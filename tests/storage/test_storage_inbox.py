"""The durable inbox on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from core.storage.db import connection
from core.storage.inbox import (
    inbox_add,
    inbox_is_done,
    inbox_mark_done,
    inbox_mark_failed,
    inbox_pending,
    strip_nul,
)
from core.storage.models import InboxUpdate


def update(update_id: int, text: str = "hello") -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {"message_id": update_id * 10, "chat": {"id": 42, "type": "private"}, "text": text},
    }


async def test_add_stores_new_updates_and_returns_their_ids(db: str) -> None:
    assert await inbox_add("telegram", []) == []
    added = await inbox_add("telegram", [(5, update(5)), (3, update(3, "مرحبا 👋")), (9, update(9))])
    assert added == [5, 3, 9]
    rows = await InboxUpdate.all().order_by("update_id").values_list("update_id", "source", "attempts")
    assert rows == [(3, "telegram", 0), (5, "telegram", 0), (9, "telegram", 0)]
    assert await inbox_pending("telegram") == [(3, update(3, "مرحبا 👋")), (5, update(5)), (9, update(9))]


async def test_same_update_twice_is_stored_once(db: str) -> None:
    assert await inbox_add("telegram", [(100, update(100))]) == [100]
    assert await inbox_add("telegram", [(100, update(100, "replayed"))]) == []
    assert await InboxUpdate.filter(update_id=100).count() == 1
    assert await inbox_pending("telegram") == [(100, update(100))]  # the first copy is kept
    # duplicates inside one batch, and a replay of an already processed update
    assert await inbox_add("telegram", [(101, update(101)), (101, update(101)), (100, update(100))]) == [101]
    assert await inbox_mark_done(100)
    assert await inbox_add("telegram", [(100, update(100))]) == []
    assert await inbox_is_done(100)
    assert await InboxUpdate.all().count() == 2


async def test_concurrent_adds_with_overlapping_ids(db: str) -> None:
    first = [(i, update(i)) for i in range(1, 301)]
    second = [(i, update(i)) for i in range(151, 451)]
    third = [(i, update(i)) for i in range(1, 451, 7)]
    results = await asyncio.gather(
        inbox_add("telegram", first), inbox_add("telegram", second), inbox_add("telegram", third)
    )
    returned = [uid for result in results for uid in result]
    assert sorted(returned) == list(range(1, 451))  # every id handed out exactly once
    assert await InboxUpdate.all().count() == 450
    ids = await InboxUpdate.all().order_by("update_id").values_list("update_id")
    assert [row[0] for row in ids] == list(range(1, 451))


async def test_large_batch_in_chunks(db: str) -> None:
    batch = [(i, update(i, "x" * 50)) for i in range(10_000, 12_500)]
    assert await inbox_add("telegram", batch) == list(range(10_000, 12_500))
    assert await InboxUpdate.all().count() == 2500
    assert len(await inbox_pending("telegram", limit=2000)) == 2000


async def test_pending_is_ordered_limited_and_per_source(db: str) -> None:
    await inbox_add("telegram", [(i, update(i)) for i in (7, 2, 5, 4)])
    await inbox_add("web", [(1, update(1))])
    assert [uid for uid, _ in await inbox_pending("telegram", limit=3)] == [2, 4, 5]
    assert [uid for uid, _ in await inbox_pending("web")] == [1]
    await inbox_mark_done(4)
    await inbox_mark_failed(5, "ValueError", max_attempts=1)
    assert [uid for uid, _ in await inbox_pending("telegram")] == [2, 7]


async def test_mark_done_clears_the_payload(db: str) -> None:
    await inbox_add("telegram", [(1, update(1, "my words")), (2, update(2))])
    assert not await inbox_is_done(1)
    assert await inbox_mark_done(1) is True
    row = await InboxUpdate.get(update_id=1)
    assert row.payload is None
    assert row.processed_at is not None
    assert await inbox_is_done(1)
    assert not await inbox_is_done(2)
    assert (await InboxUpdate.get(update_id=2)).payload is not None
    first_done = row.processed_at
    assert await inbox_mark_done(1) is False  # already done: nothing changes
    assert (await InboxUpdate.get(update_id=1)).processed_at == first_done
    assert await inbox_mark_done(999) is False
    assert not await inbox_is_done(999)


async def test_mark_done_in_the_callers_transaction(db: str) -> None:
    await inbox_add("telegram", [(1, update(1)), (2, update(2))])

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with in_transaction() as conn:
            assert await inbox_mark_done(1, connection=conn)
            raise Boom
    assert not await inbox_is_done(1)  # rolled back with the transaction
    assert (await InboxUpdate.get(update_id=1)).payload is not None

    async with in_transaction() as conn:
        assert await inbox_mark_done(1, connection=conn)
        assert await inbox_mark_done(1, connection=conn) is False
    assert await inbox_is_done(1)


async def test_dead_letter_after_max_attempts(db: str) -> None:
    await inbox_add("telegram", [(1, update(1, "a child's words"))])
    assert await inbox_mark_failed(1, "TimeoutError") is False
    assert await inbox_mark_failed(1, KeyError("a child's words")) is False
    row = await InboxUpdate.get(update_id=1)
    assert (row.attempts, row.error, row.failed_at) == (2, "KeyError", None)
    assert row.payload is not None
    assert [uid for uid, _ in await inbox_pending("telegram")] == [1]

    assert await inbox_mark_failed(1, "ValueError: a child's words") is True
    row = await InboxUpdate.get(update_id=1)
    assert (row.attempts, row.error) == (3, "ValueError")
    assert row.payload is None
    assert row.failed_at is not None
    assert row.processed_at is None
    assert await inbox_pending("telegram") == []
    assert await inbox_is_done(1)
    assert await inbox_mark_failed(1, "ValueError") is True  # stays dead, not counted again
    assert (await InboxUpdate.get(update_id=1)).attempts == 3
    assert await inbox_add("telegram", [(1, update(1))]) == []


async def test_mark_failed_leaves_processed_and_unknown_updates_alone(db: str) -> None:
    await inbox_add("telegram", [(1, update(1))])
    await inbox_mark_done(1)
    assert await inbox_mark_failed(1, RuntimeError, max_attempts=1) is False
    row = await InboxUpdate.get(update_id=1)
    assert (row.attempts, row.error, row.failed_at) == (0, None, None)
    assert await inbox_mark_failed(12345, "OSError") is False


async def test_nul_characters_are_stripped(db: str) -> None:
    payload = {
        "update_id": 1,
        "message": {"text": "a\x00b\x00", "entities": [{"type": "bold\x00"}], "k\x00ey": "\x00"},
        "n": 0,
        "f": 1.5,
        "ok": True,
        "none": None,
    }
    assert await inbox_add("telegram", [(1, payload)]) == [1]
    stored = await inbox_pending("telegram")
    assert stored == [
        (
            1,
            {
                "update_id": 1,
                "message": {"text": "ab", "entities": [{"type": "bold"}], "key": ""},
                "n": 0,
                "f": 1.5,
                "ok": True,
                "none": None,
            },
        )
    ]
    _, rows = await connection().execute_query('SELECT "payload" FROM "inbox_update"')
    assert "\x00" not in rows[0][0] and "\\u0000" not in rows[0][0]


async def test_nul_stripped_on_postgresql(db: str) -> None:
    if not db.startswith("postgres"):
        pytest.skip("PostgreSQL only")
    assert connection().capabilities.dialect == "postgres"
    assert await inbox_add("telegram", [(7, update(7, "hi\x00 there"))]) == [7]
    assert await inbox_pending("telegram") == [(7, update(7, "hi there"))]


async def test_lone_surrogates_are_kept_escaped(db: str) -> None:
    bad = update(1, "broken \ud83d emoji")
    assert await inbox_add("telegram", [(1, bad)]) == [1]
    assert await inbox_pending("telegram") == [(1, bad)]


def test_strip_nul_keeps_everything_else() -> None:
    value = {"a": ["x\x00y", 1, None, {"b": "\x00"}], "t": ("q\x00",), "s": "  exact  "}
    assert strip_nul(value) == {"a": ["xy", 1, None, {"b": ""}], "t": ["q"], "s": "  exact  "}
    clean = "no nul here"
    assert strip_nul(clean) is clean
