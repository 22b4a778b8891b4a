"""The erasure log kept outside the database, and re-applying it after a restore (SECURITY.md R20).

On SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import stat
from pathlib import Path
from typing import Any

import pytest

from core.loader import load_conversations
from core.model import Command, Event, Repeat, Text
from core.service import Incoming, Voices
from core.settings import ROOT, Secret, Settings
from core.storage import erasures
from core.storage import models as m

T0 = dt.datetime(2027, 1, 5, 9, 0, tzinfo=dt.UTC)  # the person's record is made
T1 = dt.datetime(2027, 2, 1, 12, 0, tzinfo=dt.UTC)  # they are erased (after last night's backup)
T2 = dt.datetime(2027, 3, 1, 8, 0, tzinfo=dt.UTC)  # someone comes back and starts again
T3 = dt.datetime(2027, 4, 1, 8, 0, tzinfo=dt.UTC)  # and is erased once more
NOW = dt.datetime(2027, 6, 1, 10, 0, tzinfo=dt.UTC)  # the restore
CHAT_ID = 987654321
USER_ID = "424242"
WORDS = "Zebedee Quince says the bus is late"


def key(name: str) -> str:
    return name.encode().hex().ljust(64, "0")


# ---- the log file ---------------------------------------------------------------------------------


async def say(service: Voices, event: Event | str, **extra: Any) -> None:
    message = Text(event) if isinstance(event, str) else event
    await service.handle(Incoming("telegram", USER_ID, CHAT_ID, message, **extra))


async def test_delete_logs_only_a_pseudonym_and_a_time(db: str, tmp_path: Path) -> None:
    log_path = tmp_path / "erasures.log"
    service = Voices(Settings(database_url=db, secret_key=Secret("k"), erasure_log=log_path),
                     load_conversations(ROOT / "conversations"))
    await say(service, Repeat(), open_conversation="feedback")
    for text in ("1", "1", WORDS, Command("skip"), "Send my answers"):
        await say(service, text)
    assert await m.Answer.filter(text=WORDS).exists()
    assert not log_path.exists()  # nothing erased yet

    await say(service, Command("delete"))
    before = dt.datetime.now(dt.UTC)
    await say(service, "Yes, delete them")

    assert not await m.Respondent.all().exists() and not await m.Answer.all().exists()
    raw = log_path.read_bytes()
    lines = raw.decode("ascii").splitlines()
    assert len(lines) == 1 and raw.endswith(b"\n")
    record = json.loads(lines[0])
    assert set(record) == {"key_hash", "at"}
    assert record["key_hash"] == service.key("telegram", USER_ID)
    assert record["key_hash"] == (await m.Tombstone.get()).key_hash
    at = dt.datetime.fromisoformat(record["at"])
    assert at.utcoffset() == dt.timedelta(0)
    assert before <= at <= dt.datetime.now(dt.UTC)
    for secret in (USER_ID, str(CHAT_ID), "Zebedee", "Quince", "bus", "telegram"):
        assert secret.encode() not in raw, secret
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600


async def test_an_erasure_the_log_cannot_record_does_not_happen(db: str, tmp_path: Path) -> None:
    """The line is written before the erasure commits: no erasure can be missing from the log."""
    service = Voices(Settings(database_url=db, secret_key=Secret("k"),
                              erasure_log=tmp_path / "no-such-folder" / "erasures.log"),
                     load_conversations(ROOT / "conversations"))
    await say(service, Repeat(), open_conversation="feedback")
    await say(service, Command("delete"))
    with pytest.raises(FileNotFoundError):
        await say(service, "Yes, delete them")
    assert await m.Respondent.all().count() == 1 and not await m.Tombstone.all().exists()


def test_a_torn_last_line_is_skipped_quietly_and_the_next_line_starts_afresh(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log_path = tmp_path / "erasures.log"
    erasures.append(log_path, key("a"), T1)
    erasures.append(log_path, key("b"), T2)
    with open(log_path, "ab") as fh:  # the machine died half way through a third line
        fh.write(b'{"key_hash":"' + key("c")[:20].encode())
    with caplog.at_level(logging.WARNING):
        assert erasures.read(log_path) == [erasures.Erasure(key("a"), T1), erasures.Erasure(key("b"), T2)]
    assert "Skipped 1 unreadable line(s)" in caplog.text and "line 3" in caplog.text
    assert key("c")[:20] not in caplog.text and "key_hash" not in caplog.text

    erasures.append(log_path, key("d"), T3)
    with open(log_path, "ab") as fh:  # and other kinds of damage
        fh.write(b"\xff\xfe not json\n[1, 2]\n{\"key_hash\": 5, \"at\": \"x\"}\n"
                 b'{"key_hash": "e", "at": "2027-01-01T00:00:00"}\n\n')
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        found = erasures.read(log_path)
    assert [e.key_hash for e in found] == [key("a"), key("b"), key("d")]
    assert found[2].at == T3
    assert "Skipped 5 unreadable line(s)" in caplog.text and "not json" not in caplog.text
    assert erasures.read(tmp_path / "missing.log") == []


def test_the_log_refuses_what_it_must_not_hold(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        erasures.append(tmp_path / "x.log", "a name with spaces", T1)
    with pytest.raises(ValueError):
        erasures.append(tmp_path / "x.log", key("a"), T1.replace(tzinfo=None))
    assert not (tmp_path / "x.log").exists()


# ---- re-applying after a restore ----------------------------------------------------------------------


async def respondent(name: str, created: dt.datetime) -> m.Respondent:
    """Someone with a response, a typed and a voice answer with its clip, a session and an invitation."""
    who = await m.Respondent.create(channel="telegram", key_hash=key(name), chat_id=CHAT_ID, language="en")
    await m.Respondent.filter(id=who.id).update(created_at=created)
    response = await m.Response.create(respondent=who, conversation_id="feedback", conversation_version=1,
                                       channel="telegram", language="en", status="submitted")
    await m.Answer.create(response=response, step_id="tell-bad", kind="text", question="?",
                          text=f"{name} words", label="", language="en")
    voice = await m.Answer.create(response=response, step_id="more", kind="voice", question="?",
                                  voice_file_id=f"tg-{name}", label="Voice message", language="en")
    await m.VoiceClip.create(answer=voice, mime="audio/ogg", size=4, data=b"OggS")
    await m.Session.create(respondent=who, conversation_id="feedback", conversation_version=1,
                           response=response, state="{}")
    campaign = await m.Campaign.get_or_create(name="Yearly", defaults={
        "conversation_id": "feedback", "conversation_version": 1, "status": "done"})
    await m.Delivery.create(campaign=campaign[0], respondent=who, kind="invite", status="sent")
    return who


async def held(who: m.Respondent) -> dict[str, int]:
    responses = await m.Response.filter(respondent_id=who.id).values_list("id", flat=True)
    return {"respondent": await m.Respondent.filter(id=who.id).count(), "responses": len(responses),
            "answers": await m.Answer.filter(response_id__in=responses).count(),
            "clips": await m.VoiceClip.filter(answer__response_id__in=responses).count(),
            "sessions": await m.Session.filter(respondent_id=who.id).count(),
            "deliveries": await m.Delivery.filter(respondent_id=who.id).count()}


FULL = {"respondent": 1, "responses": 1, "answers": 2, "clips": 1, "sessions": 1, "deliveries": 1}
GONE = dict.fromkeys(FULL, 0)


async def snapshot() -> dict[str, list[Any]]:
    tables: dict[str, Any] = {"respondent": m.Respondent, "response": m.Response, "answer": m.Answer,
                              "voice_clip": m.VoiceClip, "session": m.Session, "delivery": m.Delivery}
    out = {name: sorted(await model.all().values_list("id", flat=True)) for name, model in tables.items()}
    out["tombstone"] = sorted(await m.Tombstone.all().values_list("key_hash", "deleted_at", "last_update_id"))
    return out


async def test_reapply_erases_the_restored_and_spares_who_came_back(db: str, tmp_path: Path) -> None:
    restored = await respondent("restored", T0)  # erased at T1, back again with the backup
    again = await respondent("again", T2)  # erased at T1 and at T3; the backup holds their second record
    returned = await respondent("returned", T2)  # erased at T1, then came back at T2: theirs now
    bystander = await respondent("bystander", T0)  # never erased
    await m.Tombstone.create(key_hash=key("restored"), deleted_at=T0, last_update_id=77)  # an older erasure
    log_path = tmp_path / "erasures.log"
    for name, at in (("restored", T1), ("again", T1), ("returned", T1), ("gone", T1), ("again", T3)):
        erasures.append(log_path, key(name), at)

    assert await erasures.reapply(log_path, NOW) == 2

    for who in (restored, again):
        assert await held(who) == GONE, who.key_hash
    assert not await m.Answer.filter(text__in=["restored words", "again words"]).exists()
    for who in (returned, bystander):
        assert await held(who) == FULL, who.key_hash
    tombs = {t.key_hash: (t.deleted_at, t.last_update_id) for t in await m.Tombstone.all()}
    assert tombs == {key("restored"): (NOW, 77), key("again"): (NOW, None), key("returned"): (T1, None),
                     key("gone"): (T1, None)}

    before = await snapshot()
    assert await erasures.reapply(log_path, NOW + dt.timedelta(days=1)) == 0  # idempotent
    assert await snapshot() == before


async def test_reapply_with_no_log_changes_nothing(db: str, tmp_path: Path) -> None:
    who = await respondent("kept", T0)
    assert await erasures.reapply(tmp_path / "never-written.log", NOW) == 0
    assert await held(who) == FULL and not await m.Tombstone.all().exists()
