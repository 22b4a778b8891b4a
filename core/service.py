"""One turn of a conversation, for any channel: load, step the engine, store, reply.

A channel adapter builds an :class:`Incoming` from what the user sent and gets back a
:class:`Reply` whose outputs it renders. Everything a turn changes (the answer, the
session state, the respondent's profile and the inbox row of the update) is written in
one database transaction, before the adapter sends anything.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from babel.dates import format_date
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from core import engine
from core.definition import Conversation
from core.i18n import has_catalogue, translations
from core.languages import BY_CODE, DEFAULT, best_match
from core.localise import localise
from core.model import (
    Action,
    Answer,
    AskForPerson,
    Command,
    ConsentChoice,
    ContactChoice,
    Document,
    Erase,
    Event,
    Finished,
    InlineButton,
    Output,
    Repeat,
    Restart,
    Say,
    SetProfile,
    ShowMyData,
    ShowNews,
    Stale,
    State,
    Submitted,
    Text,
)
from core.settings import Settings
from core.signposts import signpost
from core.storage import campaigns as outreach
from core.storage import erasures
from core.storage import models as m
from core.storage import turns as q
from core.storage.statecodec import dumps_state, loads_state
from core.texts import UI, fill

REDRAWN = frozenset({"language", "settings", "toggle", "settings_done"})
OUTREACH_ACTIONS = frozenset({"survey", "sub", "unsub", "withdraw"})  # buttons outside any question
HELPED_AGES = frozenset({"under-13", "13-15"})  # under 16: answered with an adult helping
ANSWERED_BY = {"young-person": "self", "helper": "assisted", "parent-carer": "proxy", "professional": "self"}
CONSENT_VERSION = "privacy-1"
ASKED_CACHE = 50_000
log = logging.getLogger("voices.service")
DELIVERY_FLUSH_SECONDS = 0.2
READ_WITHIN_DAYS = 7
MAX_WORDS = 4000  # of a message kept with a safeguarding alert or a request


class RiskFound(Protocol):
    @property
    def category(self) -> str: ...
    @property
    def matched(self) -> str: ...
    @property
    def severity(self) -> int: ...


class RiskDetector(Protocol):
    """Finds words that suggest someone may be at risk (``core.risk.Lexicon``)."""

    def detect(self, text: str, language: str) -> RiskFound | None: ...


class ConcurrentChange(Exception):
    """Another worker changed the session first; the turn is run again from the start."""


class AlreadyProcessed(Exception):
    """The update was processed before (a redelivery): the turn is rolled back, nothing sent."""


@dataclass(frozen=True)
class Clip:
    """A downloaded voice note: kept with the answer it gives."""

    file_id: str
    mime: str
    data: bytes


@dataclass(frozen=True)
class Incoming:
    channel: str
    external_id: str
    chat_id: int | None
    event: Event
    message_id: int | None = None  # the user's message id, to spot replies to old questions
    language_hint: str | None = None  # e.g. Telegram's language_code, used for a new respondent
    update_id: int | None = None  # marked processed in the same transaction
    action_session: int | None = None  # the session id an inline button was made for
    key_hash: str | None = None  # instead of external_id, when only the hash is known
    open_conversation: str | None = None  # start this conversation now (``voices try NAME``)
    clip: Clip | None = None  # the audio of a voice note sent as this answer
    language: str | None = None  # set the respondent's language first (``voices try --lang``)


@dataclass(frozen=True)
class Reply:
    outputs: list[Output]
    language: str
    session_id: int
    version: int  # session version after this turn (see Voices.delivered)
    chat_id: int | None
    settings: str = ""  # the person's settings that are on, e.g. "easy,voice"

    def has(self, setting: str) -> bool:
        return setting in self.settings.split(",")

    @property
    def rtl(self) -> bool:
        lang = BY_CODE.get(self.language)
        return bool(lang and lang.rtl)


@dataclass
class _Turn:
    """What one turn is working on; lives only inside the transaction."""

    conn: BaseDBAsyncClient
    person: q.Person
    session: q.SessionRow | None
    response_id: int | None
    base: State | None  # the stored state at the start of the turn (for this response)
    now: dt.datetime
    dirty: set[str] = field(default_factory=set)
    clip: Clip | None = None
    saved: dict[str, int] = field(default_factory=dict)  # step id -> answer id written this turn
    key_hash: str = ""
    update_id: int | None = None
    erased: bool = False


def _answer_row(conv: Conversation, answer: Answer, language: str) -> tuple[q.AnswerRow, list[str]]:
    """The answer as stored, and the priority codes its chosen options carry."""
    step = conv.step(answer.step) if conv.has_step(answer.step) else None
    options = [o for o in step.options if o.id in answer.options] if step is not None else []
    voice = answer.voice
    polarity = next((o.polarity for o in options if o.polarity), None)
    row = q.AnswerRow(
        kind=answer.kind, question=answer.question, option_ids=answer.options, text=answer.text,
        label=answer.label, language=language, polarity=polarity,
        voice_file_id=voice.file_id if voice else None, voice_unique_id=voice.unique_id if voice else None,
        voice_duration=voice.duration if voice else None, voice_mime=voice.mime if voice else None,
        voice_size=voice.size if voice else None)
    return row, sorted({code for o in options for code in o.priorities})


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Voices:
    """The application service every channel calls."""

    def __init__(self, settings: Settings, conversations: dict[str, Conversation],
                 clock: Callable[[], dt.datetime] = _utcnow, risks: RiskDetector | None = None,
                 requests: RiskDetector | None = None) -> None:
        self.settings = settings
        self.conversations = conversations
        self.clock = clock
        self.risks = risks
        self.requests = requests  # data requests and complaints, passed to a person (P3, P8)
        self._defs: dict[tuple[str, str, str, dt.date], Conversation] = {}
        self._asked: dict[int, int] = {}  # session id -> message id of the last question sent
        self._marks: dict[int, tuple[int, int | None]] = {}  # delivery marks not yet written
        self._flusher: asyncio.Task[None] | None = None

    # ---- texts ----------------------------------------------------------------------

    def translate(self, language: str) -> Callable[[str], str]:
        return translations(self.settings.locales_dir, language).gettext

    def text(self, lang: str, key: str, **values: object) -> str:
        """One of the engine's own texts (``core.texts.UI``) in language ``lang``."""
        return fill(self.translate(lang)(UI[key]), values)

    def _contact(self, language: str) -> str:
        s = self.settings
        key = "contact_phone" if s.help_phone else "contact_email" if s.help_email else "contact_none"
        return self.text(language, key, team=s.help_team, phone=s.help_phone, email=s.help_email,
                         hours=s.help_hours)

    def definition(self, conversation_id: str, language: str, settings: str = "") -> Conversation:
        """``conversation_id`` in ``language`` and the person's track, with today's dates filled in.

        ``settings`` lists the personal settings that are on (``easy``, ``screen-reader``, ...).
        Cached per day, language and settings.
        """
        today = self.clock().date()
        key = (conversation_id, language, settings, today)
        found = self._defs.get(key)
        if found is None:
            if len(self._defs) > 500:
                self._defs.clear()
            read_by = today + dt.timedelta(days=READ_WITHIN_DAYS)
            values = {
                "council": self.settings.council_name,
                "contact": self._contact(language),
                "privacy_url": self.settings.privacy_url,
                "read_by": format_date(read_by, "EEEE d MMMM", locale=_babel_locale(language)),
                "settings_on": settings,
            }
            on = set(settings.split(","))
            source = self.conversations[conversation_id]
            found = localise(source, self.translate(language), language, values, easy="easy" in on)
            self._defs[key] = found
        return found

    # ---- turns ----------------------------------------------------------------------

    def key(self, channel: str, external_id: str) -> str:
        return m.respondent_key(self.settings.secret_key.get(), channel, external_id)

    async def accepts_voice(self, channel: str, external_id: str) -> bool:
        """Whether this person's current step takes a voice note as its answer.

        Asked before a voice note is downloaded, so that nothing is fetched for a question that
        would not keep it.
        """
        async with in_transaction() as conn:
            _, session = await q.load(conn, self.key(channel, external_id))
        if session is None:
            return False
        state = loads_state(session.state)
        if state.status != "active" or state.interrupt or state.conversation not in self.conversations:
            return False
        conv = self.conversations[state.conversation]
        return conv.has_step(state.current) and conv.step(state.current).kind == "text"

    async def language_of(self, channel: str, external_id: str) -> str:
        """The language a person chose, for replies outside a turn (English if unknown)."""
        found = await m.Respondent.filter(key_hash=self.key(channel, external_id)) \
            .values_list("language", flat=True)
        return str(found[0]) if found else DEFAULT

    async def handle(self, incoming: Incoming) -> Reply | None:
        """Run one turn, again from the start if another worker got there first.

        Returns None when the update was already processed (nothing to send).
        """
        for _ in range(4):
            try:
                return await self._turn(incoming)
            except ConcurrentChange:
                continue
            except AlreadyProcessed:
                return None
        raise ConcurrentChange("the session kept changing under this turn")

    async def _turn(self, inc: Incoming) -> Reply:
        now = self.clock()
        async with in_transaction() as conn:
            if inc.update_id is not None and not await q.claim_update(conn, inc.update_id, now):
                raise AlreadyProcessed()
            if _asks_about_own_data(inc):
                nothing = await self._nothing_held(conn, inc)
                if nothing is not None:
                    return nothing
            person, session = await self._person(conn, inc, now)
            turn = _Turn(conn, person, session, session.response_id if session else None, None, now,
                         clip=inc.clip, key_hash=inc.key_hash or self.key(inc.channel, inc.external_id),
                         update_id=inc.update_id)
            if inc.open_conversation is not None:
                state, outputs = await self._open(turn, inc)
            elif isinstance(inc.event, Action) and inc.event.name in OUTREACH_ACTIONS and session is not None:
                state, outputs = await self._outreach_action(turn, inc.event)
            elif session is None:
                state, outputs = await self._begin(turn, self._first_conversation(person))
            else:
                state, outputs = await self._continue(turn, inc)
            state, outputs = await self._apply(turn, state, outputs)
            if turn.erased:
                return Reply(outputs, person.language, 0, 0, person.chat_id)
            await self._save_answers(turn, state)
            outputs = await self._pass_on_requests(turn, inc.event, outputs)
            outputs = await self._safeguard(turn, inc.event, outputs)
            saved = await self._save_session(turn, state)
            if turn.dirty:
                await q.save_person(conn, person, turn.dirty, now)
        return Reply(outputs, person.language, saved.id, saved.version, person.chat_id, person.settings)

    async def _nothing_held(self, conn: BaseDBAsyncClient, inc: Incoming) -> Reply | None:
        """/delete, /mydata or "Stop messages" from someone Voices holds nothing about (say, after /delete).

        They are told so, and nothing is created for them: no respondent, no conversation.
        """
        person, _ = await q.load(conn, inc.key_hash or self.key(inc.channel, inc.external_id))
        if person is not None:
            return None
        lang = best_match(inc.language_hint)
        key = "messages_stopped" if isinstance(inc.event, Action) else "mydata_none"
        return Reply([Say(self.text(lang, key), close_keyboard=True)], lang, 0, 0, inc.chat_id)

    def _definition(self, turn: _Turn, conversation_id: str) -> Conversation:
        return self.definition(conversation_id, turn.person.language, turn.person.settings)

    async def _person(self, conn: BaseDBAsyncClient, inc: Incoming, now: dt.datetime
                      ) -> tuple[q.Person, q.SessionRow | None]:
        key = inc.key_hash or self.key(inc.channel, inc.external_id)
        person, session = await q.load(conn, key)
        if person is None and inc.update_id is not None and \
                await q.tombstone_covers(conn, key, inc.update_id):
            raise AlreadyProcessed()  # a late copy of a message from before /delete
        if person is None:
            try:
                async with in_transaction() as inner:
                    person = await q.create_person(inner, inc.channel, key, inc.chat_id,
                                                   best_match(inc.language_hint))
            except IntegrityError as exc:  # created by a concurrent turn for the same person
                raise ConcurrentChange() from exc
        elif inc.chat_id is not None and person.chat_id != inc.chat_id:
            person.chat_id = inc.chat_id
            await q.save_person(conn, person, {"chat_id"}, now)
        return person, session

    async def _open(self, turn: _Turn, inc: Incoming) -> tuple[State, list[Output]]:
        """Start ``inc.open_conversation`` whatever the respondent was doing."""
        assert inc.open_conversation is not None
        if inc.language in BY_CODE:
            turn.person.language, turn.person.language_confirmed = inc.language, True
            turn.dirty |= {"language", "language_confirmed"}
        await self._abandon(turn)
        return await self._begin(turn, inc.open_conversation)

    def _first_conversation(self, person: q.Person) -> str:
        if person.consent == "yes":
            return self.settings.feedback_conversation
        return self.settings.first_conversation

    async def _continue(self, turn: _Turn, inc: Incoming) -> tuple[State, list[Output]]:
        assert turn.session is not None
        state = loads_state(turn.session.state)
        turn.base = state
        conv = self._definition(turn, state.conversation)
        state = _upgrade(conv, state)
        return engine.step(conv, state, self._event(turn.session, inc))

    def _event(self, session: q.SessionRow, inc: Incoming) -> Event:
        event = inc.event
        if isinstance(event, Action) and inc.action_session != session.id:
            return replace(event, seq=-1)  # a button from another session (or forged)
        asked = max(session.asked_message_id or 0, self._asked.get(session.id, 0))
        if isinstance(event, Text) and inc.message_id is not None and inc.message_id < asked:
            return Stale(event.text)
        return event

    async def _begin(self, turn: _Turn, conversation_id: str) -> tuple[State, list[Output]]:
        """Open a conversation with a new response row."""
        conv = self._definition(turn, conversation_id)
        turn.response_id = await q.create_response(turn.conn, turn.person, conv.id, conv.version)
        turn.base = None
        return engine.begin(conv)

    async def _apply(self, turn: _Turn, state: State, outputs: list[Output]) -> tuple[State, list[Output]]:
        """Carry out what the engine asked for; return what the user should see."""
        shown: list[Output] = []
        pending = list(outputs)
        while pending:
            out = pending.pop(0)
            if isinstance(out, SetProfile):
                more = await self._set_profile(turn, state, out)
                if more is not None:
                    state, extra = more
                    pending = extra + pending
            elif isinstance(out, Submitted):
                await self._submit(turn, state)
            elif isinstance(out, Finished):
                if turn.person.consent == "no":
                    state = await self._forget(turn, state)
                if out.then and turn.person.consent == "yes":
                    await self._save_answers(turn, state)
                    state, extra = await self._begin(turn, out.then)
                    pending = extra + pending
            elif isinstance(out, ShowMyData):
                shown += await self._my_data(turn)
            elif isinstance(out, ShowNews):
                shown += await self._news(turn)
            elif isinstance(out, ContactChoice):
                shown += self._contact_choice(turn, out.offer_start)
            elif isinstance(out, ConsentChoice):
                shown += self._consent_choice(turn)
            elif isinstance(out, AskForPerson):
                await m.SafeguardingAlert.create(
                    using_db=turn.conn, response_id=turn.response_id, source="request", category="request",
                    severity=2, language=turn.person.language, age_band=turn.person.age_band)
            elif isinstance(out, Erase):
                return state, await self._erase(turn)
            elif isinstance(out, Restart):
                await self._save_answers(turn, state)
                await self._abandon(turn)
                state, extra = await self._begin(turn, self._first_conversation(turn.person))
                pending = extra + pending
            else:
                shown.append(out)
        return state, shown

    async def _set_profile(self, turn: _Turn, state: State, out: SetProfile
                           ) -> tuple[State, list[Output]] | None:
        p = turn.person
        if out.key in REDRAWN:
            return await self._redraw(turn, state, out)
        if out.key == "role":
            p.role, p.answered_by = out.value, ANSWERED_BY.get(out.value, "self")
            turn.dirty |= {"role", "answered_by"}
            await self._stamp_response(turn, role=p.role, answered_by=p.answered_by)
        elif out.key == "age_band":
            p.age_band = out.value
            turn.dirty.add("age_band")
            if p.role == "young-person" and out.value in HELPED_AGES:  # told to answer with an adult
                p.answered_by = "assisted"
                turn.dirty.add("answered_by")
            await self._stamp_response(turn, age_band=out.value, answered_by=p.answered_by)
        elif out.key == "consent":
            p.anonymous = out.value == "anonymous"
            p.consent = "yes" if p.anonymous else out.value
            p.consent_version, p.consent_at = CONSENT_VERSION, turn.now
            turn.dirty |= {"consent", "consent_version", "consent_at", "anonymous"}
            if p.anonymous:
                return state, [Say(self.text(p.language, "anonymous_chosen"))]
        elif out.key == "contact":
            self._set_contact(turn, out.value == "yes")
        return None

    def _set_contact(self, turn: _Turn, ok: bool) -> None:
        turn.person.contact_ok, turn.person.contact_at = ok, turn.now
        turn.dirty |= {"contact_ok", "contact_at"}
        if ok and turn.person.blocked_at is not None:  # they unblocked the bot and asked again
            turn.person.blocked_at = None
            turn.dirty.add("blocked_at")

    async def _redraw(self, turn: _Turn, state: State, out: SetProfile) -> tuple[State, list[Output]]:
        """Language or settings changed: show the current step again as the person now wants it."""
        p, note = turn.person, []
        if out.key == "language":
            p.language, p.language_confirmed = out.value, True
            turn.dirty |= {"language", "language_confirmed"}
            await self._stamp_response(turn, language=out.value)
            if not has_catalogue(self.settings.locales_dir, out.value):
                name = BY_CODE[out.value].label if out.value in BY_CODE else out.value
                note = [Say(self.text(DEFAULT, "no_catalogue", language=name))]
        elif out.key in ("settings", "toggle"):
            p.settings = _new_settings(p.settings, out)
            turn.dirty.add("settings")
        new_state, more = engine.step(self._definition(turn, state.conversation), state, Repeat())
        return new_state, [*note, *more]

    async def _safeguard(self, turn: _Turn, event: Event, outputs: list[Output]) -> list[Output]:
        """If the person's words suggest a risk: signposts first, and an alert for an officer.

        Runs on every typed message, answer or not, in the same transaction as the answer, so
        the alert exists before anything is sent. The alert holds which lexicon entry matched,
        never the words.
        """
        if self.risks is None or not isinstance(event, Text):
            return outputs
        found = self.risks.detect(event.text, turn.person.language)
        if found is None:
            return outputs
        answer_id = next((aid for aid in turn.saved.values()), None)
        await m.SafeguardingAlert.create(
            using_db=turn.conn, response_id=turn.response_id, answer_id=answer_id,
            source="answer" if answer_id else "message", category=found.category, severity=found.severity,
            matched=found.matched[:64], language=turn.person.language, age_band=turn.person.age_band,
            words=event.text[:MAX_WORDS])
        if turn.response_id is not None:
            await q.update_response(turn.conn, turn.response_id, {"flagged": True}, turn.now)
        lang = turn.person.language
        texts = signpost(lambda key, **values: self.text(lang, key, **values), self.settings,
                         turn.person.role, turn.person.age_band)
        return [*(Say(text) for text in texts), *outputs]

    async def _pass_on_requests(self, turn: _Turn, event: Event, outputs: list[Output]) -> list[Output]:
        """A request for someone else's answers, or a complaint about data: told to a person.

        "Will you tell anyone?" gets the honest answer (SECURITY.md S8) and raises nothing.

        Nothing is released in the chat (SECURITY.md P3); a complaint starts the one-month clock the
        data protection officer sees in the queue (P8). Like a safeguarding alert, the record keeps
        the words for officers and never puts them in a notification.
        """
        if self.requests is None or not isinstance(event, Text):
            return outputs
        found = self.requests.detect(event.text, turn.person.language)
        if found is None:
            return outputs
        lang = turn.person.language
        if found.category == "secrecy":  # an honest answer; nothing to pass on
            return [Say(self.text(lang, "secrecy")), *outputs]
        await m.SafeguardingAlert.create(
            using_db=turn.conn, response_id=turn.response_id, source="message", category=found.category,
            severity=3, matched=found.matched[:64], language=turn.person.language,
            age_band=turn.person.age_band, words=event.text[:MAX_WORDS])
        key = "request_complaint" if found.category == "complaint" else "request_data"
        return [Say(self.text(lang, key)), Say(self._contact(lang)), *outputs]

    # ---- messages from us: invitations, reminders, news -------------------------------

    async def _outreach_action(self, turn: _Turn, action: Action) -> tuple[State, list[Output]]:
        """A button on a message from us: start a survey, or stop or start messages.

        These buttons sit on broadcast messages, not on a question, so they work whatever the
        person is doing; the conversation they were in is left as it was.
        """
        assert turn.session is not None
        state = loads_state(turn.session.state)
        turn.base = state
        lang = turn.person.language
        if action.name == "survey":
            return await self._start_survey(turn, state, action.arg)
        if action.name == "withdraw":
            return await self._withdraw(turn, state)
        self._set_contact(turn, action.name == "sub")
        key = "messages_started" if action.name == "sub" else "messages_stopped"
        return state, [Say(self.text(lang, key))]

    async def _start_survey(self, turn: _Turn, state: State, campaign: str) -> tuple[State, list[Output]]:
        """"Start the survey" on an invitation: open it, or carry on where the person stopped."""
        valid = campaign.isdigit() and len(campaign) <= 9  # forged data never reaches the query
        found = await m.Campaign.filter(id=int(campaign), kind="survey") \
            .values_list("conversation_id", "conversation_version", "status") if valid else []
        conv_id, version, status = found[0] if found else ("", 0, "")
        if conv_id not in self.conversations or status == "cancelled" or \
                self.conversations[conv_id].version != version or turn.person.consent != "yes":
            return state, [Say(self.text(turn.person.language, "survey_closed"), close_keyboard=True)]
        if state.conversation == conv_id and state.version == version and state.status != "done":
            conv = self._definition(turn, conv_id)
            if state.status == "paused":
                state = replace(state, status="active", seq=state.seq + 1)
                back = Say(self.text(turn.person.language, "welcome_back"))
                return state, [back, *engine.show(conv, state)]
            return engine.step(conv, state, Repeat())
        await self._abandon(turn)
        return await self._begin(turn, conv_id)

    async def _withdraw(self, turn: _Turn, state: State) -> tuple[State, list[Output]]:
        """Consent withdrawn: nothing more is kept or sent; what was sent before stays until /delete.

        The answers of a conversation not yet sent are deleted with it. The next /start asks for
        consent again.
        """
        p, lang = turn.person, turn.person.language
        if p.consent != "yes":
            return state, [Say(self.text(lang, "withdrawn"))]
        if turn.response_id is not None and \
                await q.response_status(turn.conn, turn.response_id) == "in-progress":
            await q.keep_answers(turn.conn, turn.response_id, [])
            await q.update_response(turn.conn, turn.response_id, {"status": "abandoned"}, turn.now)
        p.consent, p.consent_at, p.contact_ok, p.contact_at = "withdrew", turn.now, False, turn.now
        turn.dirty |= {"consent", "consent_at", "contact_ok", "contact_at"}
        state = replace(state, status="done", answers={}, history=(), interrupt="", seq=state.seq + 1)
        turn.base, turn.response_id = state, None
        return state, [Say(self.text(lang, "withdrawn"), close_keyboard=True),
                       Say(self.text(lang, "withdrawn_more"))]

    def _consent_choice(self, turn: _Turn) -> list[Output]:
        p = turn.person
        if p.consent != "yes" or p.consent_at is None:
            return []
        when = p.consent_at if isinstance(p.consent_at, dt.datetime) \
            else dt.datetime.fromisoformat(str(p.consent_at))
        date = format_date(when.date(), "d MMMM y", locale=_babel_locale(p.language))
        return [Say(self.text(p.language, "consent_given", date=date),
                    buttons=(InlineButton(self.text(p.language, "withdraw"), "withdraw"),))]

    async def _news(self, turn: _Turn) -> list[Output]:
        """The latest bulletins in the person's language (English where there is no translation)."""
        lang = turn.person.language
        items = await outreach.news()
        if not items:
            return [Say(self.text(lang, "news_none"))]
        texts = [(i["texts"].get(lang) or i["texts"].get(DEFAULT) or {}).get("text", "") for i in items]
        return [Say(self.text(lang, "news_intro")), Say("\n\n".join(t.strip() for t in texts if t.strip()))]

    def _contact_choice(self, turn: _Turn, offer_start: bool) -> list[Output]:
        lang = turn.person.language
        if turn.person.contact_ok:
            return [Say(self.text(lang, "messages_on"),
                        buttons=(InlineButton(self.text(lang, "stop_messages"), "unsub"),))]
        if offer_start and turn.person.consent == "yes":
            return [Say(self.text(lang, "messages_ask"),
                        buttons=(InlineButton(self.text(lang, "start_messages"), "sub"),))]
        return []

    def outreach_message(self, kind: str, language: str, campaign: m.Campaign,
                         bulletin: m.Bulletin | None = None) -> Say:
        """What a campaign sends one person: an invitation, its reminder, or a bulletin.

        The officers' text in the person's language, else the default text in that language; a
        bulletin falls back to English. Every message carries a button to stop messages.
        """
        stop = InlineButton(self.text(language, "stop_messages"), "unsub")
        if kind == "bulletin":
            texts = bulletin.texts if bulletin is not None else {}
            entry = texts.get(language) or texts.get(DEFAULT) or {}
            return Say(entry.get("text", "").strip() or "…", buttons=(stop,))
        own = (campaign.reminder if kind == "reminder" else campaign.invitation).get(language, "").strip()
        text = own or self.text(language, kind if kind == "reminder" else "invitation",
                                council=self.settings.council_name)
        start = InlineButton(self.text(language, "survey_start"), "survey", str(campaign.id))
        return Say(text, buttons=(start, stop))

    async def _my_data(self, turn: _Turn) -> list[Output]:
        """/mydata: the answers in words, and everything (profile included) as a JSON file."""
        lang = turn.person.language
        data = await q.my_data(turn.conn, turn.person.id)
        answers = [a for r in data["responses"] for a in r["answers"]]
        lines = [f"{a['question']}\n→ {a['text'] or a['label']}" for a in answers]
        body = "\n\n".join(lines) if lines else self.text(lang, "mydata_none")
        blob = json.dumps(data, ensure_ascii=False, indent=2).encode()
        return [Say(self.text(lang, "mydata_intro")), Say(body),
                Document("my-data.json", blob, self.text(lang, "mydata_file"))]

    async def _erase(self, turn: _Turn) -> list[Output]:
        """/delete, confirmed: everything about the person goes, and they are told what stays."""
        await erasures.record(self.settings.erasure_log, turn.key_hash, turn.now)  # first (R20)
        had_alert = await q.erase(turn.conn, turn.person, turn.key_hash, turn.update_id, turn.now)
        turn.erased = True
        lang = turn.person.language
        said: list[Output] = [Say(self.text(lang, "deleted"), close_keyboard=True)]
        return [*said, Say(self.text(lang, "deleted_safety"))] if had_alert else said

    async def _forget(self, turn: _Turn, state: State) -> State:
        """After a "no" to consent keep only that answer (and the language), nothing about them."""
        conv = self.conversations[state.conversation]
        keep = {s.id for s in conv.steps if s.profile in ("consent", "language")}
        state = replace(state, answers={k: v for k, v in state.answers.items() if k in keep},
                        history=tuple(h for h in state.history if h in keep))
        p = turn.person
        p.role = p.answered_by = p.age_band = None
        turn.dirty |= {"role", "answered_by", "age_band"}
        await self._stamp_response(turn, role=None, answered_by=None, age_band=None)
        if turn.response_id is not None:
            await q.keep_answers(turn.conn, turn.response_id, sorted(keep))
        if turn.base is not None:
            turn.base = replace(turn.base, answers={k: v for k, v in turn.base.answers.items() if k in keep})
        return state

    async def _stamp_response(self, turn: _Turn, **values: str | None) -> None:
        if turn.response_id is not None:
            await q.update_response(turn.conn, turn.response_id, values, turn.now)

    async def _submit(self, turn: _Turn, state: State) -> None:
        if turn.response_id is None:
            return
        await self._save_answers(turn, state)
        conv = self._definition(turn, state.conversation)
        await q.keep_answers(turn.conn, turn.response_id, engine.route_answers(conv, state))
        await q.update_response(turn.conn, turn.response_id,
                                {"status": "submitted", "submitted_at": turn.now}, turn.now)
        await outreach.mark_finished(turn.conn, turn.person.id, state.conversation, state.version, turn.now)
        if turn.person.anonymous:  # cut loose: no link from these answers back to the person
            await q.update_response(turn.conn, turn.response_id, {"respondent_id": None}, turn.now)
            turn.response_id = None

    async def _abandon(self, turn: _Turn) -> None:
        if turn.response_id is not None and \
                await q.response_status(turn.conn, turn.response_id) == "in-progress":
            await q.update_response(turn.conn, turn.response_id, {"status": "abandoned"}, turn.now)

    async def _save_answers(self, turn: _Turn, state: State) -> None:
        """Write every answer that differs from the stored state (one row per step)."""
        if turn.response_id is None:
            return
        before = turn.base.answers if turn.base is not None else {}
        conv = self.conversations[state.conversation]
        for step_id, answer in state.answers.items():
            if before.get(step_id) != answer:
                row, codes = _answer_row(conv, answer, turn.person.language)
                answer_id = await q.save_answer(turn.conn, turn.response_id, step_id, row, codes, turn.now,
                                                replaces=step_id in before)
                turn.saved[step_id] = answer_id
                clip = turn.clip
                if clip is not None and answer.voice is not None and answer.voice.file_id == clip.file_id:
                    await q.save_clip(turn.conn, answer_id, clip.mime, clip.data)
        turn.base = state

    async def _save_session(self, turn: _Turn, state: State) -> q.SessionRow:
        conn, session = turn.conn, turn.session
        text = dumps_state(state)
        if session is None:
            return await q.create_session(conn, turn.person.id, state.conversation, state.version,
                                          turn.response_id, text)
        if not await q.update_session(conn, session, state.conversation, state.version, turn.response_id,
                                      text, turn.now):
            raise ConcurrentChange()
        return replace(session, version=session.version + 1, state=text, response_id=turn.response_id)

    # ---- delivery bookkeeping --------------------------------------------------------

    async def delivered(self, session_id: int, version: int, message_id: int | None) -> None:
        """Note that the messages of ``version`` were sent (and the id of the question).

        Kept in memory at once (a reply typed before that question is then seen as stale) and
        written in batches: one transaction for every delivery of the last moment, instead of
        one per message. A crash loses at most that moment's marks, and the cost of that is
        one question sent twice at the next start, never an answer.
        """
        if message_id is not None:
            self._asked[session_id] = message_id
            if len(self._asked) > ASKED_CACHE:
                self._asked.pop(next(iter(self._asked)))
        self._marks[session_id] = (version, message_id)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        wait = DELIVERY_FLUSH_SECONDS
        await asyncio.sleep(wait)
        while not await self.flush_delivered():  # the database is away: keep them and try again
            wait = min(wait * 4, 30.0)
            await asyncio.sleep(wait)

    async def flush_delivered(self) -> bool:
        """Write the delivery marks noted so far (also called when the channel stops).

        Marks noted while a write is under way are written by the next round of the loop, so
        none waits in memory for some later delivery. If the write fails, the marks are kept
        (later marks for the same session win) and False is returned.
        """
        while self._marks:
            marks, self._marks = self._marks, {}
            try:
                async with in_transaction() as conn:
                    await q.mark_delivered(conn, [(sid, v, mid) for sid, (v, mid) in marks.items()])
            except Exception as exc:
                self._marks = {**marks, **self._marks}
                log.warning("could not note %d deliveries (%s); trying again later", len(marks),
                            type(exc).__name__)
                return False
        return True

    async def undelivered(self, channel: str, within: dt.timedelta) -> list[tuple[int, int]]:
        """(session id, chat id) of sessions whose last messages may not have been sent."""
        since = self.clock() - within
        rows = await m.Session.filter(
            delivered_version__lt=F("version"), updated_at__gte=since, respondent__channel=channel,
        ).values_list("id", "respondent__chat_id")
        return [(int(sid), int(chat)) for sid, chat in rows if chat is not None]

    async def resend(self, session_id: int) -> Reply | None:
        """Show the current step again to a session whose last messages were not sent."""
        session = await m.Session.filter(id=session_id).prefetch_related("respondent").first()
        if session is None or session.respondent.chat_id is None:
            return None
        r = session.respondent
        return await self.handle(Incoming(r.channel, "", r.chat_id, Repeat(), key_hash=r.key_hash))


def _asks_about_own_data(inc: Incoming) -> bool:
    """/delete, /mydata or "Stop messages": for someone unknown these need an answer, not a welcome."""
    if inc.open_conversation is not None:
        return False
    return (isinstance(inc.event, Command) and inc.event.name in ("delete", "mydata")) or \
        (isinstance(inc.event, Action) and inc.event.name == "unsub")


def _new_settings(current: str, out: SetProfile) -> str:
    """The settings after a choice in welcome (``settings``) or a tap in /settings (``toggle``)."""
    known = {key for key, _ in engine.SETTINGS}
    if out.key == "settings":
        chosen = set(out.value.split(",")) & known
    else:
        chosen = set(current.split(",")) ^ {out.value}
    return ",".join(sorted(chosen & known))


def _upgrade(conv: Conversation, state: State) -> State:
    """Carry a paused state over to a newer version of its conversation."""
    if state.version == conv.version:
        return state
    current = state.current if conv.has_step(state.current) else conv.first.id
    return replace(state, version=conv.version, current=current, tries=0, picked=())


def _babel_locale(language: str) -> str:
    return {"pa": "pa_Guru"}.get(language, language)
