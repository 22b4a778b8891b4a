"""Bulletins ("You said, we did"): the list, one bulletin with its linked responses, and changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from admin.forms import BulletinForm
from admin.sql import Sql
from core.storage import models as m

PAGE = 25


@dataclass
class Listed:
    bulletin: m.Bulletin
    linked: int  # how many responses it answers
    drafts: int  # translations still marked draft


@dataclass
class Linked:
    ref: str
    conversation_id: str
    language: str
    role: str | None
    started_at: datetime


def drafts(bulletin: m.Bulletin) -> list[str]:
    """Languages whose text is a draft that needs review by a native speaker."""
    return [code for code, entry in (bulletin.texts or {}).items()
            if (entry or {}).get("review") != "reviewed"]


def parse_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


async def page(before: int | None) -> tuple[list[Listed], int | None]:
    query = m.Bulletin.all()
    if before:
        query = query.filter(id__lt=before)
    found = await query.order_by("-id").limit(PAGE + 1)
    more = found[PAGE - 1].id if len(found) > PAGE else None
    found = found[:PAGE]
    counts: dict[int, int] = {}
    if found:
        sql = Sql()
        ids = [b.id for b in found]
        rows = await sql.rows(f"SELECT bulletin_id, COUNT(*) AS n FROM bulletin_response "
                              f"WHERE bulletin_id IN ({','.join('?' * len(ids))}) GROUP BY bulletin_id", ids)
        counts = {int(r["bulletin_id"]): int(r["n"]) for r in rows}
    return [Listed(b, counts.get(b.id, 0), len(drafts(b))) for b in found], more


async def find(raw: str) -> m.Bulletin | None:
    ident = parse_id(raw)
    return await m.Bulletin.get_or_none(id=ident) if ident is not None else None


async def linked(bulletin: m.Bulletin) -> list[Linked]:
    found = await bulletin.responses.all().order_by("started_at", "id") \
        .values("ref", "conversation_id", "language", "role", "started_at")
    return [Linked(r["ref"], r["conversation_id"], r["language"], r["role"], r["started_at"]) for r in found]


async def linked_refs(bulletin: m.Bulletin) -> list[str]:
    return [str(r) for r in await bulletin.responses.all().order_by("started_at", "id")
            .values_list("ref", flat=True)]


async def campaigns(bulletin: m.Bulletin) -> list[m.Campaign]:
    return await m.Campaign.filter(bulletin_id=bulletin.id).order_by("-id")


async def missing(refs: list[str]) -> list[str]:
    """The references that are not a stored response."""
    if not refs:
        return []
    found = {str(ref) for ref in await m.Response.filter(ref__in=refs).values_list("ref", flat=True)}
    return [ref for ref in refs if ref not in found]


async def _link(conn: BaseDBAsyncClient, bulletin: m.Bulletin, refs: list[str]) -> None:
    await bulletin.responses.clear(using_db=conn)
    if refs:
        responses = await m.Response.filter(ref__in=refs).using_db(conn)
        await bulletin.responses.add(*responses, using_db=conn)


async def create(form: BulletinForm, actor: str) -> m.Bulletin:
    async with in_transaction() as conn:
        bulletin = await m.Bulletin.create(title=form.title, texts=form.texts, status="draft",
                                           created_by=actor, using_db=conn)
        await _link(conn, bulletin, form.refs)
    return bulletin


async def update(bulletin: m.Bulletin, form: BulletinForm) -> list[str]:
    """Save the new title, texts and links; the names of what changed (never the words)."""
    changed = ["title"] if bulletin.title != form.title else []
    old = bulletin.texts or {}
    changed += [f"text {code}" for code in sorted(set(old) | set(form.texts))
                if old.get(code) != form.texts.get(code)]
    if sorted(await linked_refs(bulletin)) != sorted(form.refs):
        changed.append("responses")
    bulletin.title, bulletin.texts = form.title, form.texts
    async with in_transaction() as conn:
        await bulletin.save(update_fields=["title", "texts", "updated_at"], using_db=conn)
        await _link(conn, bulletin, form.refs)
    return changed


async def publish(bulletin: m.Bulletin, now: datetime) -> bool:
    """Published now (what the bot's /news shows); False if it already was."""
    draft = m.Bulletin.filter(id=bulletin.id, status="draft")
    return await draft.update(status="published", published_at=now) == 1
