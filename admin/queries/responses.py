"""The responses list (keyset pages), one response with its answers, and officers' changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from admin.filters import Cursor, Filters
from admin.queries import rollup, search
from admin.queries.summary import codes_text, split_codes
from admin.restricted import is_free
from admin.sql import Sql, as_datetime, like_pattern
from core.storage import models as m

PAGE_SIZE = 50
WINDOW = 2000  # newest responses searched with EXISTS before the search index is asked
LIST_COLUMNS = ("r.id, r.ref, r.started_at, r.conversation_id, r.language, r.role, r.age_band, r.status, "
                "r.review_status, r.polarity, r.priority_codes, r.has_voice, r.flagged")


@dataclass
class Row:
    id: int
    ref: str
    started_at: datetime
    conversation: str
    language: str
    role: str | None
    age_band: str | None
    finished: bool
    review_status: str
    polarity: str | None
    priorities: list[str]
    has_voice: bool
    flagged: bool
    snippet: str = ""
    restricted: bool = False  # a flagged response's words, held back from someone who is not a lead


@dataclass
class Page:
    rows: list[Row]
    more_after: bool  # there is a next page
    more_before: bool  # there is a previous page

    @property
    def flagged_words(self) -> int:
        """How many rows show the words of a flagged response (to a safeguarding lead)."""
        return sum(1 for row in self.rows if row.flagged and row.snippet)


def where(sql: Sql, f: Filters, search: bool = True, lead: bool = False) -> tuple[list[str], list[Any]]:
    """SQL conditions and values for the filters (cursor excluded; the search only if ``search``).

    ``lead``: a safeguarding lead. Anyone else's search never looks in flagged responses, whose
    words they may not read (SECURITY.md S9), so that a search cannot tell them what those say.
    """
    conds: list[str] = []
    values: list[Any] = []
    for name, column in (("polarity", "r.polarity"), ("role", "r.role"), ("language", "r.language"),
                         ("age_band", "r.age_band"), ("conversation", "r.conversation_id"),
                         ("status", "r.review_status")):
        chosen = f.values(name)
        if chosen:
            conds.append(f"{column} IN ({','.join('?' * len(chosen))})")
            values += chosen
    if f.values("priority"):
        conds.append("(" + " OR ".join("r.priority_codes LIKE ?" for _ in f.values("priority")) + ")")
        values += [f"%|{code}%" for code in f.values("priority")]
    if f.start:
        conds.append("r.started_at >= ?")
        values.append(sql.dt(f.start))
    if f.end:
        conds.append("r.started_at < ?")
        values.append(sql.dt(f.end))
    if f.has_voice:
        conds.append("r.has_voice = ?")
        values.append(f.has_voice == "yes")
    if f.flagged:
        conds.append("r.flagged = ?")
        values.append(True)
    if f.wave:
        conds.append("r.conversation_id = ? AND r.conversation_version = ?")
        values += list(f.wave)
    if f.step:
        conds.append("EXISTS (SELECT 1 FROM answer w WHERE w.response_id = r.id AND w.step_id = ? "
                     "AND w.kind <> 'skipped')")
        values.append(f.step)
    if f.q and not lead:
        conds.append("r.flagged = ?")
        values.append(False)
    if f.q and search:
        cond, more = contains(sql, f.q)
        conds.append(cond)
        values += more
    return conds, values


def contains(sql: Sql, q: str, per_row: bool = False) -> tuple[str, list[Any]]:
    """The search condition: an answer of the response has ``q`` in its text or transcript.

    ``per_row``: checked response by response in the list's order (PostgreSQL would otherwise
    turn it into a join over every answer, which is slow when the page fills after a few rows).
    """
    pattern = like_pattern(q)
    offset = " OFFSET 0" if per_row and sql.pg else ""  # OFFSET keeps it a per-row subplan
    return (f"EXISTS (SELECT 1 FROM answer a WHERE a.response_id = r.id AND "
            f"(a.text {sql.like} ? ESCAPE '\\' OR a.transcript {sql.like} ? ESCAPE '\\'){offset})",
            [pattern, pattern])


def _seek(sql: Sql, f: Filters, cursor: Cursor) -> tuple[str, list[Any], bool]:
    """The keyset condition; returns (condition, values, reversed order)."""
    newest = f.sort == "newest"
    later = newest == cursor.backwards  # rows after the cursor in time
    op = ">" if later else "<"
    # The first term bounds a range of the started_at index, so a deep page starts where it is.
    cond = f"r.started_at {op}= ? AND (r.started_at {op} ? OR r.id {op} ?)"
    stamp = sql.dt(cursor.started_at)
    return cond, [stamp, stamp, cursor.id], cursor.backwards


async def _search_rows(sql: Sql, q: str, conds: list[str], values: list[Any], order: str
                       ) -> list[dict[str, Any]]:
    """The page's rows for a search, by the quickest way that gives exactly the same rows.

    First the newest WINDOW responses (after the cursor, within the filters) are searched with
    EXISTS: if a whole page matches there, those are the first matches. If not, matches are rare,
    and the search index names the matching responses within the filters (at most CAP answers).
    Only a search with more matches than that, yet few among the newest responses, or one too
    short for the index, scans further with EXISTS.
    """
    exists, more = contains(sql, q, per_row=True)
    ordering = f"ORDER BY r.started_at {order}, r.id {order}"
    clause = f"WHERE {' AND '.join(conds)}" if conds else ""
    if search.usable(q):
        rows = await sql.rows(f"SELECT {LIST_COLUMNS} FROM (SELECT {LIST_COLUMNS} FROM response r {clause} "
                              f"{ordering} LIMIT {WINDOW}) r WHERE {exists} {ordering} LIMIT {PAGE_SIZE + 1}",
                              [*values, *more])
        if len(rows) > PAGE_SIZE:
            return rows
        matching = await search.matching_responses(sql, q, conds, values)
        if matching is not None:
            found = f"r.id IN ({','.join(str(int(i)) for i in matching)})" if matching else "1 = 0"
            return await sql.rows(f"SELECT {LIST_COLUMNS} FROM response r WHERE "
                                  f"{' AND '.join([*conds, found])} {ordering} LIMIT {PAGE_SIZE + 1}", values)
    return await sql.rows(f"SELECT {LIST_COLUMNS} FROM response r WHERE {' AND '.join([*conds, exists])} "
                          f"{ordering} LIMIT {PAGE_SIZE + 1}", [*values, *more])


async def page(f: Filters, lead: bool = False) -> Page:
    """A page of the list. ``lead``: a safeguarding lead, who sees flagged responses' words too."""
    sql = Sql()
    conds, values = where(sql, f, search=False, lead=lead)
    backwards = False
    if f.cursor:
        cond, more, backwards = _seek(sql, f, f.cursor)
        conds.append(cond)
        values += more
    descending = (f.sort == "newest") != backwards
    order = "DESC" if descending else "ASC"
    if f.q:
        rows = await _search_rows(sql, f.q, conds, values, order)
    else:
        clause = f"WHERE {' AND '.join(conds)}" if conds else ""
        rows = await sql.rows(f"SELECT {LIST_COLUMNS} FROM response r {clause} "
                              f"ORDER BY r.started_at {order}, r.id {order} LIMIT {PAGE_SIZE + 1}", values)
    extra = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if backwards:
        rows.reverse()
    result = [_row(r) for r in rows]
    await _add_snippets(sql, result, f.step, lead)
    if backwards:
        return Page(result, more_after=True, more_before=extra)
    return Page(result, more_after=extra, more_before=f.cursor is not None)


def _row(r: dict[str, Any]) -> Row:
    started = as_datetime(r["started_at"])
    assert started is not None
    return Row(int(r["id"]), r["ref"], started, r["conversation_id"], r["language"], r["role"],
               r["age_band"], r["status"] == "submitted", r["review_status"], r["polarity"],
               split_codes(r["priority_codes"]), bool(r["has_voice"]), bool(r["flagged"]))


async def _add_snippets(sql: Sql, rows: list[Row], step: str = "", lead: bool = False) -> None:
    """The first typed answer of each response (the answer to ``step``, when the list is for one question).

    A flagged response's answer is shown to a safeguarding lead only; others see it is restricted.
    """
    if not rows:
        return
    ids = [row.id for row in rows]
    only = " AND step_id = ?" if step else ""
    found = await sql.rows(
        f"SELECT response_id, text FROM answer WHERE response_id IN ({','.join('?' * len(ids))}) "
        f"AND text IS NOT NULL AND kind = 'text'{only} ORDER BY id", [*ids, *([step] if step else [])])
    first: dict[int, str] = {}
    for item in found:
        first.setdefault(int(item["response_id"]), item["text"])
    for row in rows:
        text = first.get(row.id, "")
        if row.flagged and text and not lead:
            row.restricted = True
            continue
        row.snippet = text if len(text) <= 120 else text[:117] + "..."


@dataclass
class Detail:
    response: m.Response
    answers: list[m.Answer]
    option_codes: dict[int, list[str]]
    codes: list[str]
    notes: list[m.ResponseNote]
    quotes: list[m.BoardQuote]
    history: list[m.AuditEvent]
    suggestions: list[str] = field(default_factory=list)


async def find(ref: str) -> m.Response | None:
    if not 0 < len(ref) <= 36:
        return None
    return await m.Response.get_or_none(ref=ref)


RESTRICTED_EVENTS = ("view", "restricted-view", "restricted-view-refused")  # reads, not changes


def restricted_answers(response: m.Response, answers: list[m.Answer]) -> list[m.Answer]:
    """The answers in the person's own words, if the response is flagged (restricted to leads)."""
    if not response.flagged:
        return []
    return [a for a in answers if is_free(a.kind, a.text, a.transcript)]


async def detail(response: m.Response, lead: bool = False) -> Detail:
    """One response. ``lead``: a safeguarding lead (otherwise nothing is drawn from restricted words)."""
    answers = await m.Answer.filter(response_id=response.id).order_by("created_at", "id")
    links = await m.AnswerPriority.filter(answer_id__in=[a.id for a in answers]) \
        .values("answer_id", "priority_id")
    option_codes: dict[int, list[str]] = {}
    for link in links:
        option_codes.setdefault(link["answer_id"], []).append(link["priority_id"])
    codes = await m.ResponseCode.filter(response_id=response.id).values_list("priority_id", flat=True)
    notes = await m.ResponseNote.filter(response_id=response.id).order_by("created_at", "id")
    quotes = await m.BoardQuote.filter(response_id=response.id).order_by("created_at", "id")
    history = await m.AuditEvent.filter(target=f"response:{response.ref}") \
        .exclude(action__in=RESTRICTED_EVENTS).order_by("-at", "-id").limit(50)
    found = Detail(response, answers, option_codes, sorted(str(c) for c in codes), notes, quotes, history)
    hidden = set() if lead else {a.id for a in restricted_answers(response, answers)}
    found.suggestions = await suggest(response.language, [a for a in answers if a.id not in hidden])
    return found


async def suggest(language: str, answers: list[m.Answer]) -> list[str]:
    """Priorities whose keyword rules (for the response's language) appear in its answers."""
    text = " ".join(filter(None, [a.text for a in answers] + [a.transcript for a in answers])).casefold()
    if not text:
        return []
    rules = await m.KeywordRule.filter(language__in=[language, "any"]).values("keyword", "priority_id")
    return sorted({r["priority_id"] for r in rules if r["keyword"].casefold() in text})


async def set_codes(response: m.Response, codes: list[str], actor: str) -> tuple[list[str], list[str]]:
    """Make the officer's codes exactly ``codes``; returns (added, removed)."""
    current = set(await m.ResponseCode.filter(response_id=response.id).values_list("priority_id", flat=True))
    wanted = set(codes)
    added, removed = sorted(wanted - current), sorted(str(c) for c in current - wanted)
    if removed:
        await m.ResponseCode.filter(response_id=response.id, priority_id__in=removed).delete()
    if added:
        await m.ResponseCode.bulk_create(
            [m.ResponseCode(response_id=response.id, priority_id=c, coded_by=actor) for c in added])
    await _resummarise_codes(response)
    return added, removed


async def _resummarise_codes(response: m.Response) -> None:
    option = await m.AnswerPriority.filter(answer__response_id=response.id) \
        .values_list("priority_id", flat=True)
    coded = await m.ResponseCode.filter(response_id=response.id).values_list("priority_id", flat=True)
    await m.Response.filter(id=response.id).update(
        priority_codes=codes_text({str(c) for c in [*option, *coded]}))
    await rollup.update(Sql(), [response.id])


async def add_note(response: m.Response, text: str, actor: str) -> m.ResponseNote:
    return await m.ResponseNote.create(response_id=response.id, author=actor, text=text)


async def set_status(response: m.Response, status: str) -> None:
    await m.Response.filter(id=response.id).update(review_status=status)


async def set_flag(response: m.Response, flagged: bool) -> None:
    await m.Response.filter(id=response.id).update(flagged=flagged)


async def set_transcript(response: m.Response, answer_id: int, text: str) -> bool:
    changed = await m.Answer.filter(id=answer_id, response_id=response.id).update(transcript=text or None)
    if changed == 1:
        await search.reindex(Sql(), answer_id)
    return changed == 1


async def add_quote(response: m.Response, text: str, actor: str) -> m.BoardQuote:
    return await m.BoardQuote.create(response_id=response.id, text=text, chosen_by=actor)


async def voice_file(response: m.Response, answer_id: int) -> str | None:
    found = await m.Answer.filter(id=answer_id, response_id=response.id) \
        .values_list("voice_file_id", flat=True)
    return str(found[0]) if found and found[0] else None
