"""The campaign sender (bot/broadcast.py) end to end, on SQLite and PostgreSQL: the real channel and
sender over loopback HTTP to the fake Bot API with Telegram's flood limits on.

Recipients are made directly in the database, as people who went through the welcome and said yes
to messages would be. What each of them got is counted at the fake. The kill -9 test runs the real
``voices serve`` (tests/bot/processes.py) and kills it while an invitation is in flight.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
import pytest
from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bot.broadcast import MAX_ATTEMPTS, Broadcaster, backoff, classify
from bot.ratelimit import JITTER, Priority, RateLimiter
from bot.request import AiohttpRequest
from bot.runner import TelegramChannel
from bot.updates import parse
from core.bidi import isolate
from core.languages import BY_CODE
from core.loader import load_conversations
from core.model import State
from core.service import Voices
from core.settings import ROOT, Secret, Settings
from core.storage import campaigns
from core.storage import models as m
from core.storage.db import close_db, init_db
from core.storage.statecodec import dumps_state
from tests.bot.conftest import lexicon, make_settings
from tests.bot.processes import SECRET_KEY, BotProcess, free_port, wait_until
from tests.fakes.botapi import DEFAULT_TOKEN, FakeBotAPI

SECRET = "test-secret-key"  # conftest.make_settings
LANGUAGES = ("en", "pl", "ar", "so")
INVITE = {lang: f"Invitation ({lang}): please tell us how this year went." for lang in LANGUAGES}
REMIND = {lang: f"Reminder ({lang}): there is still time to tell us." for lang in LANGUAGES}
WAIT = 60.0  # a bound on how long anything may take before the test fails (not a speed test)
CONVERSATIONS = load_conversations(ROOT / "conversations")
WELCOME_VERSION = CONVERSATIONS["welcome"].version
FEEDBACK_VERSION = CONVERSATIONS["feedback"].version


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def subscriber(user_id: int, *, secret: str = SECRET, language: str = "en", contact: bool = True,
                     consent: str = "yes", blocked: bool = False, channel: str = "telegram") -> m.Respondent:
    """Someone who went through the welcome (a finished session) with these answers."""
    person = await m.Respondent.create(
        channel=channel, key_hash=m.respondent_key(secret, channel, user_id), chat_id=user_id,
        language=language, language_confirmed=True, role="parent-carer", consent=consent,
        contact_ok=contact, blocked_at=utcnow() if blocked else None)
    state = State("welcome", WELCOME_VERSION, "", status="done")
    await m.Session.create(respondent=person, conversation_id="welcome", conversation_version=WELCOME_VERSION,
                           state=dumps_state(state), version=1, delivered_version=1)
    return person


async def survey(conversation: str = "feedback", version: int = FEEDBACK_VERSION,
                 **values: object) -> m.Campaign:
    return await m.Campaign.create(**{
        "kind": "survey", "name": "Yearly survey", "conversation_id": conversation,
        "conversation_version": version, "audience": {}, "invitation": INVITE, "reminder": REMIND,
        "reminder_days": 7, "status": "scheduled", "scheduled_at": utcnow(), **values})


def shown(text: str, language: str) -> str:
    """A text as the bot sends it in ``language`` (right-to-left ones isolate Latin and digits)."""
    return isolate(text) if BY_CODE[language].rtl else text


def calls_to(fake: FakeBotAPI, chat: int) -> list[dict[str, object]]:
    return [c for c in fake.calls("sendMessage") if c.get("chat_id") == chat]


@dataclass
class Rig:
    fake: FakeBotAPI
    settings: Settings
    service: Voices
    channel: TelegramChannel
    sender: Broadcaster
    extra: list[Broadcaster] = field(default_factory=list)


@pytest.fixture
async def rig(db: str, fake: FakeBotAPI) -> AsyncIterator[Rig]:
    """The channel and the campaign sender, as ``voices serve`` runs them, with Telegram's limits on."""
    fake.rate_limit(overall=30, per_chat=1, chat_window=3)
    settings = make_settings(db, fake)
    service = Voices(settings, load_conversations(settings.conversations_dir), risks=lexicon())
    channel = TelegramChannel(settings, service, poll_timeout=1)
    await channel.start()
    sender = Broadcaster(service, channel.bot, channel.limiter, tick_seconds=0.2, idle_seconds=0.05)
    rig = Rig(fake, settings, service, channel, sender)
    try:
        yield rig
    finally:
        for one in [sender, *rig.extra]:
            await one.stop()
        await channel.stop()


async def open_rows() -> int:
    return await m.Delivery.filter(status__in=campaigns.OPEN).count()


async def settled(campaign: m.Campaign, kind: str, expected: int) -> bool:
    """``expected`` deliveries of ``kind`` are made and none is left to send."""
    made = await m.Delivery.filter(campaign_id=campaign.id, kind=kind).count()
    return made >= expected and await open_rows() == 0


# ---- the whole life of a campaign ------------------------------------------------------------------

N = 120  # about five seconds of sending at 25/s


async def test_a_campaign_reaches_each_subscriber_once_and_reminds_those_who_did_not_finish(rig: Rig) -> None:
    fake, sender = rig.fake, rig.sender
    subscribed = {1000 + n: LANGUAGES[n % len(LANGUAGES)] for n in range(N)}
    for chat, lang in subscribed.items():
        await subscriber(chat, language=lang)
    nobody = [await subscriber(2001, contact=False), await subscriber(2002, consent="no"),
              await subscriber(2003, blocked=True), await subscriber(2004, channel="terminal")]
    refused = [1003, 1050]  # blocked the bot without us hearing: Telegram answers 403
    fake.blocked.update(refused)
    campaign = await survey()
    await rig.sender.start()

    # While it sends: Telegram's flood control once; someone who is not invited starts talking.
    await wait_until(lambda: len(fake.sent()) >= 10, WAIT, "the first invitations")
    fake.fail_next("sendMessage", 429, retry_after=1)
    await wait_until(lambda: fake.count_429 == 1, WAIT, "the 429 to be answered")
    talker = fake.user(3001)
    await talker.send("/start")
    welcome = await talker.reply(timeout=WAIT)
    await eventually(lambda: settled(campaign, "invite", N), "every invitation to be sent")

    # Everyone subscribed got exactly one invitation, in their language, with its buttons.
    delivered = {chat for chat in subscribed if chat not in refused}
    for chat in delivered:
        got = fake.sent(chat)
        assert len(got) == 1, (chat, [g.summary() for g in got])
        lang = subscribed[chat]
        assert got[0].text == shown(INVITE[lang], lang)
        assert [data for _, data in got[0].inline] == [f"0:0:survey:{campaign.id}", "0:0:unsub:"]
    assert fake.sent(1000)[0].inline[0][0] == "Start the survey"
    # Nobody else got anything, and nothing was even tried.
    for person in nobody:
        assert person.chat_id is not None and calls_to(fake, person.chat_id) == []
    # A chat that answered 403: blocked, unsubscribed, and never tried again.
    for chat in refused:
        assert len(calls_to(fake, chat)) == 1
        row = await m.Delivery.get(campaign_id=campaign.id, respondent__chat_id=chat)
        assert (row.status, row.error) == ("blocked", "Forbidden")
        person = await m.Respondent.get(chat_id=chat)
        assert person.contact_ok is False and person.blocked_at is not None
    # The 429 was honoured: that delivery went once, at least retry_after later; broadcasts paused.
    [flood] = [e for e in fake.errors if e.status == 429 and e.injected]
    assert flood.chat_id is not None
    assert len(fake.sent(flood.chat_id)) == 1
    assert fake.sent(flood.chat_id)[0].time - flood.time >= 1.0
    assert (await m.Delivery.get(campaign_id=campaign.id, respondent__chat_id=flood.chat_id)).attempts == 2
    assert rig.channel.limiter.pauses >= 1
    # Replies and broadcasts went through the one limiter, each at its own priority.
    assert rig.sender.limiter is rig.channel.limiter
    assert rig.channel.limiter.sent[Priority.INTERACTIVE] >= 1
    assert rig.channel.limiter.sent[Priority.BROADCAST] >= N
    # Telegram's own limits were kept: no 429 but the one injected.
    assert fake.flood is not None and fake.flood.rejected == 0, fake.flood.rejected
    assert fake.count_429 == 1
    # The reply to someone talking during the broadcast did not wait for it to finish.
    later = [s for s in fake.sent() if s.chat_id in subscribed and s.time > welcome.time]
    assert len(later) >= N // 3, f"the reply came after all but {len(later)} invitations"
    statuses = await m.Delivery.filter(campaign_id=campaign.id).values_list("status", flat=True)
    assert sorted(set(statuses)) == ["blocked", "sent"] and len(statuses) == N

    # "Start the survey" opens the survey; "Stop messages" stops them.
    starter, stopper, finisher = fake.user(1000), fake.user(1004), fake.user(1008)
    await starter.press(f"0:0:survey:{campaign.id}")
    replies = [await starter.reply(timeout=WAIT)] + await starter.settle(quiet=0.3, timeout=WAIT)
    assert (replies[-1].text or "").startswith("Question 1 of"), [r.summary() for r in replies]
    assert any(b.startswith("School or college") for b in replies[-1].buttons), replies[-1].summary()
    assert (await starter.callback_answer()).callback_query_id == starter.last_callback_id
    await stopper.press("0:0:unsub:")
    stopped = await stopper.reply(timeout=WAIT)
    assert stopped.text == rig.service.text("en", "messages_stopped")
    assert (await m.Respondent.get(chat_id=stopper.id)).contact_ok is False
    # Someone who finished the survey since, and someone who blocked the bot (Telegram tells us).
    person = await m.Respondent.get(chat_id=finisher.id)
    await m.Response.create(respondent=person, conversation_id="feedback",
                            conversation_version=FEEDBACK_VERSION, channel="telegram", language="en",
                            status="submitted", submitted_at=utcnow())
    leaver = fake.user(1012)
    await leaver.block_bot()
    await eventually(lambda: m.Respondent.filter(chat_id=leaver.id, blocked_at__isnull=False).exists(),
                     "the block to be recorded")
    await fake.wait_confirmed(timeout=WAIT)
    await eventually(_inbox_empty, "the inbox to be processed")

    # A week later: one reminder each to those who did not finish and still want messages.
    for row in await m.Delivery.filter(campaign_id=campaign.id, kind="invite"):
        assert row.sent_at is not None or row.status == "blocked"
        if row.sent_at is not None:
            row.sent_at -= dt.timedelta(days=8)
            await row.save(update_fields=["sent_at"])
    reminded = delivered - {stopper.id, finisher.id, leaver.id}
    sender.wake()
    await eventually(lambda: settled(campaign, "reminder", len(reminded)), "the reminders to be sent")
    for chat in subscribed:
        texts = [s.text for s in fake.sent(chat) if "Reminder (" in (s.text or "")]
        lang = subscribed[chat]
        assert texts == ([shown(REMIND[lang], lang)] if chat in reminded else []), chat
    assert len(calls_to(fake, leaver.id)) == 1  # the invitation only: nothing tried after the block
    for chat in refused:
        assert len(calls_to(fake, chat)) == 1
    # ... once: another round of the scheduler adds nobody, and the campaign is done.
    before = await m.Delivery.filter(campaign_id=campaign.id).count()
    await campaigns.tick(utcnow())
    assert await m.Delivery.filter(campaign_id=campaign.id).count() == before
    assert (await m.Campaign.get(id=campaign.id)).status == "done"
    assert fake.flood.rejected == 0 and fake.count_429 == 1


async def _inbox_empty() -> bool:
    return not await m.InboxUpdate.filter(processed_at=None).exists()


async def test_two_senders_never_send_one_delivery_twice(rig: Rig) -> None:
    """Two processes' senders on one database (here two in one process, each with its own limiter)."""
    rig.fake.no_rate_limit()
    chats = list(range(4000, 4060))
    for chat in chats:
        await subscriber(chat)
    campaign = await survey()
    other = Broadcaster(rig.service, rig.channel.bot, RateLimiter(broadcast_rate=200, chat_gap=0),
                        tick_seconds=0.05, idle_seconds=0.01, batch_size=10)
    rig.extra.append(other)
    fast = RateLimiter(broadcast_rate=200, chat_gap=0)
    rig.sender.limiter = fast
    await asyncio.gather(rig.sender.start(), other.start())
    await eventually(lambda: settled(campaign, "invite", len(chats)), "every invitation to be sent")
    assert {chat: len(rig.fake.sent(chat)) for chat in chats} == dict.fromkeys(chats, 1)
    assert rig.sender.outcomes["sent"] + other.outcomes["sent"] == len(chats)


async def test_a_bulletin_goes_to_subscribers_in_their_language_or_english(rig: Rig) -> None:
    await subscriber(4101, language="pl")
    await subscriber(4102, language="so")
    await subscriber(4103, contact=False)
    bulletin = await m.Bulletin.create(title="You said, we did", status="published", published_at=utcnow(),
                                       texts={"en": {"text": "We changed the forms."},
                                              "pl": {"text": "Zmieniliśmy formularze."}})
    campaign = await m.Campaign.create(kind="bulletin", name="News", bulletin=bulletin, status="scheduled",
                                       scheduled_at=utcnow(), reminder_days=0)
    await rig.sender.start()
    await eventually(lambda: settled(campaign, "bulletin", 2), "the bulletin to be sent")
    assert [s.text for s in rig.fake.sent(4101)] == ["Zmieniliśmy formularze."]
    assert [s.text for s in rig.fake.sent(4102)] == ["We changed the forms."]
    assert [data for _, data in rig.fake.sent(4101)[0].inline] == ["0:0:unsub:"]
    assert rig.fake.sent(4103) == []
    await campaigns.tick(utcnow())
    assert (await m.Campaign.get(id=campaign.id)).status == "done"


@pytest.mark.skipif("annual-parent" not in CONVERSATIONS, reason="the annual survey is not written yet")
async def test_start_the_survey_opens_the_annual_survey(rig: Rig) -> None:
    conv = CONVERSATIONS["annual-parent"]
    await subscriber(4201)
    campaign = await survey("annual-parent", conv.version)
    await rig.sender.start()
    await eventually(lambda: settled(campaign, "invite", 1), "the invitation")
    user = rig.fake.user(4201)
    await user.press(f"0:0:survey:{campaign.id}")
    await user.reply(timeout=WAIT)
    await user.settle(quiet=0.3, timeout=WAIT)
    session = await m.Session.get(respondent__chat_id=4201)
    assert (session.conversation_id, session.conversation_version) == ("annual-parent", conv.version)
    response = await m.Response.get(id=session.response_id)  # type: ignore[arg-type]
    assert (response.conversation_id, response.status) == ("annual-parent", "in-progress")


def test_the_channel_limits_every_send_by_the_settings(fake_settings: Settings) -> None:
    service = Voices(fake_settings, CONVERSATIONS)
    budget = TelegramChannel(replace(fake_settings, broadcast_rate=5, chat_gap=2), service).limiter.budget
    assert (budget.cap, budget.window, budget.spacing, budget.chat_gap) == (30, 1 + JITTER, 0.2, 2)


@pytest.fixture
def fake_settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite://{tmp_path / 'x.db'}", secret_key=Secret(SECRET),
                    telegram_token=Secret("1:x"), telegram_base_url="http://127.0.0.1:9/bot")


# ---- the bot blocked: Telegram's my_chat_member update -------------------------------------------

@pytest.mark.parametrize(("chat_type", "status", "kind"), [
    ("private", "kicked", "blocked"),
    ("private", "member", "ignore"),  # unblocked: they come back by writing to the bot
    ("group", "kicked", "ignore"),
    ("supergroup", "member", "group"),
])
def test_my_chat_member_updates(chat_type: str, status: str, kind: str) -> None:
    update = {"update_id": 1, "my_chat_member": {
        "chat": {"id": 77, "type": chat_type}, "from": {"id": 77},
        "old_chat_member": {"status": "member"}, "new_chat_member": {"status": status}}}
    parsed = parse(update)
    assert (parsed.kind, parsed.chat_id) == (kind, 77)


# ---- what an error means for a delivery -----------------------------------------------------------

def _caused(exc: Exception, cause: BaseException | None) -> Exception:
    exc.__cause__ = cause
    return exc


_CONN_KEY = aiohttp.client_reqrep.ConnectionKey("api.telegram.org", 443, True, True, None, None, None)
NOT_CONNECTED = aiohttp.ClientConnectorError(_CONN_KEY, OSError(111, "Connection refused"))

ERRORS: list[tuple[str, Exception, str, float]] = [
    ("flood control", RetryAfter(7), "later", 7.0),
    ("blocked by the user", Forbidden("Forbidden: bot was blocked by the user"), "blocked", 0.0),
    ("account deleted", Forbidden("Forbidden: user is deactivated"), "blocked", 0.0),
    ("chat not found", BadRequest("Bad Request: chat not found"), "blocked", 0.0),
    ("other bad request", BadRequest("Bad Request: message text is empty"), "failed", 0.0),
    ("group became a supergroup", ChatMigrated(-1001), "failed", 0.0),
    ("read time-out: it may have arrived", _caused(TimedOut(), TimeoutError()), "unknown", 0.0),
    ("no connection", _caused(NetworkError("aiohttp.ClientConnectorError"), NOT_CONNECTED), "later", 0.0),
    ("connect time-out", _caused(TimedOut(), aiohttp.ConnectionTimeoutError()), "later", 0.0),
    ("server went away mid-request", _caused(NetworkError("x"), aiohttp.ServerDisconnectedError()),
     "unknown", 0.0),
    ("Telegram answered 502", NetworkError("Bad Gateway"), "later", 0.0),
    ("token refused", InvalidToken(), "later", 0.0),
    ("something else", ValueError("?"), "unknown", 0.0),
]


@pytest.mark.parametrize(("exc", "outcome", "wait"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_classify(exc: Exception, outcome: str, wait: float) -> None:
    assert classify(exc) == (outcome, wait)


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (9, 300.0)])
def test_backoff(attempts: int, seconds: float) -> None:
    assert backoff(attempts) == seconds


def _bot(base_url: str, read_timeout: float = 15.0) -> tuple[Bot, AiohttpRequest]:
    request = AiohttpRequest(read_timeout=read_timeout, connect_timeout=2.0)
    bot = Bot(DEFAULT_TOKEN, base_url=base_url, request=request, get_updates_request=AiohttpRequest())
    return bot, request


async def test_no_connection_is_tried_again_then_given_up_and_a_time_out_never(rig: Rig) -> None:
    """Telegram cannot be reached: nothing went, so the delivery waits and is tried again, five times in
    all. A request that timed out may have arrived: it is never sent again."""
    await subscriber(4301)
    await subscriber(4302)
    campaign = await survey()
    await campaigns.launch(campaign.id, utcnow())
    first, second = await campaigns.next_batch(utcnow())

    dead, request = _bot(f"http://127.0.0.1:{free_port()}/bot")  # nobody listens there
    await request.initialize()
    try:
        sender = Broadcaster(rig.service, dead, RateLimiter())
        for attempt in range(1, MAX_ATTEMPTS + 1):
            await sender._deliver(first, campaign, None)  # takes the row, sends, writes the outcome
            row = await m.Delivery.get(id=first.delivery_id)
            assert (row.attempts, row.error) == (attempt, "NetworkError")
            if attempt < MAX_ATTEMPTS:
                assert row.status == "pending"
                assert row.not_before is not None
                assert row.not_before >= utcnow() + dt.timedelta(seconds=backoff(attempt) - 1)
                assert sender.limiter.paused_for > 0  # the next one would most likely fail too
                await m.Delivery.filter(id=row.id).update(not_before=None)
            else:
                assert row.status == "failed"
    finally:
        await request.shutdown()

    slow, request = _bot(rig.fake.base_url, read_timeout=0.2)
    await request.initialize()
    rig.fake.delay("sendMessage", 2.0)
    try:
        sender = Broadcaster(rig.service, slow, RateLimiter())
        await sender._deliver(second, campaign, None)
    finally:
        rig.fake.delay("sendMessage", 0)
        await request.shutdown()
    row = await m.Delivery.get(id=second.delivery_id)
    assert (row.status, row.error, row.attempts) == ("unknown", "TimedOut", 1)
    await rig.sender.start()
    await campaigns.tick(utcnow())
    assert await campaigns.next_batch(utcnow()) == []
    assert len(calls_to(rig.fake, 4302)) == 1 and calls_to(rig.fake, 4301) == []


# ---- kill -9 while an invitation is in flight -----------------------------------------------------

class CampaignBot(BotProcess):
    """``voices serve`` sending slowly, so that nothing else starts in the moment of the kill."""

    def env(self) -> dict[str, str]:
        return {**super().env(), "VOICES_BROADCAST_RATE": "5"}


KILL_N = 24
IN_FLIGHT = 7  # the invitation whose answer never reaches the bot


@pytest.mark.slow
async def test_a_kill_mid_broadcast_invites_everyone_exactly_once(
        db_url: str, fake: FakeBotAPI, tmp_path: Path) -> None:
    fake.rate_limit(overall=30, per_chat=1, chat_window=3)
    chats = [5000 + n for n in range(KILL_N)]
    await init_db(db_url)
    try:
        for n, chat in enumerate(chats):
            await subscriber(chat, secret=SECRET_KEY, language=LANGUAGES[n % len(LANGUAGES)])
        campaign = await survey()
    finally:
        await close_db()
    held = fake.hold("sendMessage", IN_FLIGHT)
    workdir = tmp_path / "run"
    workdir.mkdir()
    bot = CampaignBot(fake, db_url, workdir)
    try:
        await bot.start()
        params = await held.wait(timeout=WAIT)
        await bot.kill()  # Telegram has the message; the bot never heard back
        held.release()
        in_flight = params["chat_id"]
        assert isinstance(in_flight, int) and len(fake.sent(in_flight)) == 1

        await bot.start()
        await init_db(db_url)
        try:
            await eventually(lambda: _none_pending(campaign), "the rest to be sent")
        finally:
            await close_db()
        assert await bot.stop() == 0, bot.log_tail()
    finally:
        await bot.kill()
    logs = bot.logs()
    assert "Traceback" not in logs and " ERROR " not in logs, bot.log_tail()
    assert {chat: len(fake.sent(chat)) for chat in chats} == dict.fromkeys(chats, 1)
    assert [len(calls_to(fake, chat)) for chat in chats] == [1] * len(chats)  # nothing was tried twice

    await init_db(db_url)
    try:
        rows = {r.respondent.chat_id: r for r in await m.Delivery.filter(campaign_id=campaign.id)
                .prefetch_related("respondent")}
        assert len(rows) == KILL_N
        assert rows[in_flight].status == "sending"
        assert {r.status for chat, r in rows.items() if chat != in_flight} == {"sent"}
        # after the lease it counts as "unknown" (the admin shows it so), and is still never sent again
        later = utcnow() + campaigns.LEASE + dt.timedelta(seconds=1)
        await campaigns.tick(later)
        assert (await m.Delivery.get(id=rows[in_flight].id)).status == "unknown"
        assert await campaigns.next_batch(later) == []
    finally:
        await close_db()


async def _none_pending(campaign: m.Campaign) -> bool:
    return not await m.Delivery.filter(campaign_id=campaign.id, status="pending").exists()
