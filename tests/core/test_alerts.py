"""Safeguarding alerts to officers (issue 5 part 3; SECURITY.md S1, S6, T3, G3).

A real SMTP server on 127.0.0.1 (aiosmtpd) and the fake Bot API stand in for the officers' mailbox
and Telegram chat. The sender's clock is injected, so backoff and escalation need no waiting.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from telegram import Bot

from core.alerts import AlertSender, backoff, message
from core.settings import AlertSettings, Secret, Settings, load_settings
from core.storage import models as m
from tests.admin.conftest import Admin, admin, make_user, sign_in  # noqa: F401 (fixture)
from tests.fakes.botapi import FakeBotAPI
from voices.logs import QUIET

# PTB itself reads RetryAfter.retry_after when it builds a 429's error (core/alerts.py does not warn).
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")
CANARY = "CANARY-my-stepdad-hits-me-7f3a"
PASSWORD = "smtp-PASSWORD-canary-91c2"
CHAT = -100123
ESCALATION_CHAT = -100456


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == PASSWORD.encode()
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)


class Mailbox:
    """An SMTP server that can be started late, on a port fixed in advance (the 'down' case)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                     authenticator=self.inbox.authenticate, auth_require_tls=False)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    yield box
    box.stop()


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as api:
        yield api


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url) as b:
        yield b


def settings_for(mailbox: Mailbox, **alerts: Any) -> Settings:
    config = AlertSettings(chat_id=str(CHAT), emails=("officers@example.org", "lead@example.org"),
                           smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_from="voices@example.org",
                           smtp_user="voices", smtp_password=Secret(PASSWORD))
    return Settings(admin_url="https://voices.example.org/", alerts=replace(config, **alerts))


async def raise_alert(text: str = CANARY, **fields: Any) -> m.SafeguardingAlert:
    """An answer with the planted words and the alert it raised, as the bot would store them."""
    response = await m.Response.create(conversation_id="feedback", conversation_version=1,
                                       channel="telegram", language="pl", age_band="13-15")
    answer = await m.Answer.create(response=response, step_id="worries", kind="text", question="Q",
                                   text=text, language="pl")
    values = {"response_id": response.id, "answer_id": answer.id, "source": "answer",
              "category": "physical-abuse", "severity": 1, "matched": "pl.abuse.hit-03",
              "language": "pl", "age_band": "13-15", **fields}
    return await m.SafeguardingAlert.create(**values)


def sender_for(settings: Settings, bot: Bot | None, clock: Clock) -> AlertSender:
    return AlertSender(settings, bot, clock=clock, interval=0.05)


def app_logging(caplog: pytest.LogCaptureFixture) -> None:
    """Everything at DEBUG under the app's own policy (voices/logs.py); the test's SMTP server is quiet."""
    for name in (*QUIET, "mail.log"):
        caplog.set_level(logging.WARNING, logger=name)
    caplog.set_level(logging.DEBUG)  # last: it also sets the capturing handler's level


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def chat_texts(fake: FakeBotAPI, chat: int = CHAT) -> list[str]:
    return [s.text or "" for s in fake.sent(chat)]


async def test_alert_reaches_chat_and_email_with_link_and_not_the_words(
        db: str, mailbox: Mailbox, fake: FakeBotAPI, bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    app_logging(caplog)
    mailbox.start()
    alert = await raise_alert()
    clock = Clock((await m.SafeguardingAlert.get(id=alert.id)).created_at)
    sender = sender_for(settings_for(mailbox), bot, clock)
    await sender.run_once()
    link = f"https://voices.example.org/safeguarding/{alert.ref}"
    [text] = chat_texts(fake)
    assert alert.ref in text and link in text and "A new safeguarding concern needs an officer" in text
    assert "Physical abuse" in text and "Severity: High" in text
    assert "parse_mode" not in fake.sent(CHAT)[0].params
    [(rcpts, mail)] = mailbox.inbox.messages
    assert rcpts == ["officers@example.org", "lead@example.org"]
    body = mail.get_payload(decode=True).decode()
    assert link in body and alert.ref in body and mailbox.inbox.logins == ["voices"]
    for sent in (text, body, str(mail)):
        assert CANARY not in sent and "stepdad" not in sent
    stored = await m.SafeguardingAlert.get(id=alert.id)
    assert stored.notified_at is not None and stored.attempts == 0 and stored.last_error is None
    await sender.run_once()
    clock.advance(hours=2)
    await sender.run_once()
    assert len(fake.sent(CHAT)) == 1 and len(mailbox.inbox.messages) == 1  # nothing sent twice
    text = logged(caplog)
    assert "voices.alerts" in {r.name for r in caplog.records}
    assert CANARY not in text and PASSWORD not in text and fake.token not in text


async def test_smtp_down_keeps_the_alert_and_retries_with_backoff(
        db: str, mailbox: Mailbox, fake: FakeBotAPI, bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    app_logging(caplog)
    alert = await raise_alert()
    start = (await m.SafeguardingAlert.get(id=alert.id)).created_at
    clock = Clock(start)
    sender = sender_for(settings_for(mailbox), bot, clock)
    await sender.run_once()
    stored = await m.SafeguardingAlert.get(id=alert.id)
    assert stored.notified_at is None and stored.attempts == 1
    assert stored.last_error == "e-mail: ConnectionRefusedError"
    assert stored.next_attempt_at == start + timedelta(seconds=30)
    clock.advance(seconds=29)
    await sender.run_once()
    assert (await m.SafeguardingAlert.get(id=alert.id)).attempts == 1  # not due yet
    clock.advance(seconds=2)
    await sender.run_once()
    stored = await m.SafeguardingAlert.get(id=alert.id)
    assert stored.attempts == 2 and stored.next_attempt_at == clock.now + timedelta(minutes=1)
    mailbox.start()
    clock.advance(minutes=1)
    await sender.run_once()
    stored = await m.SafeguardingAlert.get(id=alert.id)
    assert stored.notified_at == clock.now and stored.last_error is None and stored.attempts == 2
    assert len(mailbox.inbox.messages) == 1
    assert len(fake.sent(CHAT)) == 1  # the chat had it the first time and was not sent it again
    assert PASSWORD not in logged(caplog) and CANARY not in logged(caplog)


async def test_undelivered_alert_shows_a_banner_in_the_admin(db: str, admin: Admin, mailbox: Mailbox) -> None:  # noqa: F811
    await raise_alert()
    await AlertSender(settings_for(mailbox, chat_id=""), None, clock=admin.clock).run_once()
    user = await make_user("officer@example.org", "officer")
    await sign_in(admin, user)
    page = await (await admin.client.get("/")).text()
    assert "1 safeguarding alert has not been sent." in page and "Check the alert settings." in page
    assert 'href="/safeguarding"' in page and "1 safeguarding concern needs an officer." in page


@pytest.mark.parametrize("status", [429, 500])
async def test_telegram_errors_are_retried(db: str, mailbox: Mailbox, fake: FakeBotAPI, bot: Bot,
                                           status: int) -> None:
    mailbox.start()
    alert = await raise_alert()
    clock = Clock((await m.SafeguardingAlert.get(id=alert.id)).created_at)
    sender = sender_for(settings_for(mailbox), bot, clock)
    fake.fail_next("sendMessage", status, retry_after=1 if status == 429 else None, count=2)
    await sender.run_once()
    stored = await m.SafeguardingAlert.get(id=alert.id)
    assert stored.attempts == 1 and stored.last_error is not None
    assert stored.last_error.startswith("telegram: ") and stored.notified_at is None
    clock.advance(seconds=31)
    await sender.run_once()
    assert (await m.SafeguardingAlert.get(id=alert.id)).attempts == 2
    clock.advance(seconds=61)
    await sender.run_once()
    stored = await m.SafeguardingAlert.get(id=alert.id)
    assert stored.notified_at is not None and len(chat_texts(fake)) == 1
    assert len(mailbox.inbox.messages) == 1  # e-mail went through on the first try, once


async def test_escalates_once_after_the_configured_minutes(db: str, mailbox: Mailbox, fake: FakeBotAPI,
                                                           bot: Bot) -> None:
    mailbox.start()
    settings = settings_for(mailbox, escalate_minutes=45, escalation_chat_id=str(ESCALATION_CHAT),
                            escalation_emails=("duty@example.org",))
    alert = await raise_alert()
    seen = await raise_alert(acknowledged_by="o@example.org")
    await m.SafeguardingAlert.filter(id=seen.id).update(acknowledged_at=seen.created_at)
    clock = Clock((await m.SafeguardingAlert.get(id=alert.id)).created_at)
    sender = sender_for(settings, bot, clock)
    await sender.run_once()
    clock.advance(minutes=44)
    await sender.run_once()
    assert fake.sent(ESCALATION_CHAT) == []
    assert (await m.SafeguardingAlert.get(id=alert.id)).escalated_at is None
    clock.advance(minutes=2)
    await sender.run_once()
    [text] = chat_texts(fake, ESCALATION_CHAT)
    assert "Escalation" in text and "45 minutes" in text and alert.ref in text and CANARY not in text
    duty = [mail for rcpts, mail in mailbox.inbox.messages if rcpts == ["duty@example.org"]]
    assert len(duty) == 1 and alert.ref in duty[0].get_payload(decode=True).decode()
    assert (await m.SafeguardingAlert.get(id=alert.id)).escalated_at == clock.now
    assert (await m.SafeguardingAlert.get(id=seen.id)).escalated_at is None  # acknowledged in time
    clock.advance(hours=3)
    await sender.run_once()
    assert len(fake.sent(ESCALATION_CHAT)) == 1 and len(mailbox.inbox.messages) == 3  # 2 alerts + 1


async def test_escalation_retried_when_its_channel_is_down(db: str, mailbox: Mailbox, fake: FakeBotAPI,
                                                           bot: Bot) -> None:
    settings = settings_for(mailbox, chat_id="", emails=(), escalate_minutes=10,
                            escalation_chat_id=str(ESCALATION_CHAT), escalation_emails=("duty@example.org",))
    alert = await raise_alert()
    clock = Clock((await m.SafeguardingAlert.get(id=alert.id)).created_at + timedelta(minutes=11))
    sender = sender_for(settings, bot, clock)
    await sender.run_once()  # e-mail down, chat fine
    assert len(fake.sent(ESCALATION_CHAT)) == 1
    assert (await m.SafeguardingAlert.get(id=alert.id)).escalated_at is None
    mailbox.start()
    clock.advance(seconds=31)
    await sender.run_once()
    assert (await m.SafeguardingAlert.get(id=alert.id)).escalated_at == clock.now
    assert len(fake.sent(ESCALATION_CHAT)) == 1 and len(mailbox.inbox.messages) == 1


async def test_no_channel_counts_as_not_sent(db: str) -> None:
    alert = await raise_alert()
    clock = Clock((await m.SafeguardingAlert.get(id=alert.id)).created_at)
    await AlertSender(Settings(), None, clock=clock).run_once()
    stored = await m.SafeguardingAlert.get(id=alert.id)
    assert stored.notified_at is None and stored.attempts == 1
    assert stored.last_error == "all: NoAlertChannelConfigured"


async def test_two_senders_never_send_the_same_alert_twice(db: str, mailbox: Mailbox, fake: FakeBotAPI,
                                                           bot: Bot) -> None:
    mailbox.start()
    alerts = [await raise_alert() for _ in range(5)]
    clock = Clock((await m.SafeguardingAlert.get(id=alerts[-1].id)).created_at)
    settings = settings_for(mailbox, emails=())
    one, two = sender_for(settings, bot, clock), sender_for(settings, bot, clock)
    claimed = await asyncio.gather(one.send_due(), two.send_due())
    assert sum(claimed) == 5
    texts = chat_texts(fake)
    assert len(texts) == 5 and all(sum(a.ref in t for t in texts) == 1 for a in alerts)


async def test_runs_in_the_background_until_stopped(db: str, mailbox: Mailbox, fake: FakeBotAPI,
                                                    bot: Bot) -> None:
    sender = AlertSender(settings_for(mailbox, emails=()), bot, interval=0.05)
    await sender.start()
    try:
        alert = await raise_alert()
        await fake.wait_for(lambda: len(fake.sent(CHAT)) == 1, timeout=10)
    finally:
        await sender.stop()
    assert alert.ref in chat_texts(fake)[0]


def test_message_has_no_words_and_backoff_is_capped() -> None:
    alert = m.SafeguardingAlert(ref="0d3c4b8e-1111-2222-3333-444455556666", category="self-harm",
                                severity=2, created_at=datetime(2026, 3, 6, 23, 5).astimezone())
    subject, body = message(alert, "https://admin.example.org")
    assert "0d3c4b8e" in subject and "Self-harm" in body and "Medium" in body
    assert "https://admin.example.org/safeguarding/0d3c4b8e-1111-2222-3333-444455556666" in body
    _, escalation = message(alert, "https://admin.example.org", escalate_minutes=60)
    assert escalation.startswith("Escalation") and "60 minutes" in escalation
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 7, 50)] == [30, 60, 120, 1800, 1800]


def test_alert_settings_from_the_environment(tmp_path: Path) -> None:
    env = {"VOICES_SECRET_KEY": "k", "VOICES_ALERT_CHAT_ID": "-1001", "VOICES_SMTP_HOST": "mail.example.org",
           "VOICES_SMTP_FROM": "voices@example.org", "VOICES_ALERT_EMAIL": "a@example.org, b@example.org",
           "VOICES_SMTP_PASSWORD": PASSWORD, "VOICES_SMTP_STARTTLS": "true",
           "VOICES_ALERT_ESCALATE_MINUTES": "30", "VOICES_ESCALATION_EMAIL": "duty@example.org",
           "VOICES_PORT": "9000"}
    settings = load_settings(env, tmp_path / "key")
    a = settings.alerts
    assert (a.chat_id, a.emails, a.smtp_port, a.smtp_starttls, a.escalate_minutes) == \
        ("-1001", ("a@example.org", "b@example.org"), 25, True, 30)
    assert a.escalation_emails == ("duty@example.org",) and PASSWORD not in repr(settings)
    assert settings.admin_link == "http://127.0.0.1:9000"
    assert load_settings({**env, "VOICES_ADMIN_URL": "https://x.example/"}, tmp_path / "key").admin_link \
        == "https://x.example"
