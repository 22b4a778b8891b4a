"""Safeguarding alerts to officers: a Telegram chat and e-mail, retried until they get through.

The bot raises a :class:`~core.storage.models.SafeguardingAlert` in the same transaction as the
answer (or the request to talk to a person). :class:`AlertSender` runs in the serve process and,
every few seconds:

* claims alerts that are due (``notified_at`` unset and ``next_attempt_at`` unset or past) by a
  conditional update that moves ``next_attempt_at`` a lease ahead, so that two processes never send
  the same alert and one that dies mid-send is retried when the lease runs out;
* sends each to every configured channel. All sent: ``notified_at``. Any failed: ``attempts`` + 1,
  ``last_error`` names the channels that failed and the exception type (never a message, which could
  echo a password or a token), and ``next_attempt_at`` backs off from 30 seconds, doubling, to 30
  minutes. Only the failed channels are tried again, so nothing reaches a channel twice;
* escalates alerts nobody has acknowledged within ``escalate_minutes`` to the escalation contacts,
  once (``escalated_at``).

A message carries only what an officer needs to open the alert: the category in plain words, the
severity, the reference, the time and a link to the admin. Never the words that raised it, never
a name. Without any channel configured every alert counts as not sent, so the admin's banner says
so.

E-mail goes through the standard library's ``smtplib`` in a worker thread: alerts are rare and
small, so a blocking client off the event loop is enough, and it adds no dependency to keep patched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from telegram import Bot, LinkPreviewOptions
from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning
from tortoise.expressions import F, Q

from core.settings import AlertSettings, Settings
from core.storage import models as m

log = logging.getLogger("voices.alerts")

INTERVAL = 5.0  # seconds between looks for due alerts
BATCH = 20
LEASE = timedelta(minutes=5)  # a claimed alert is retried after this if its sender died
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(minutes=30)
SMTP_TIMEOUT = 30.0
NO_CHANNEL = "NoAlertChannelConfigured"

CATEGORY_NAMES = {
    # the categories of core.risk's lexicon
    "danger-now": "In danger now",
    "bullying-violence": "Bullying or violence",
    "abuse": "Abuse or harm",
    "physical-abuse": "Physical abuse",
    "sexual-abuse": "Sexual abuse",
    "emotional-abuse": "Emotional abuse",
    "domestic-abuse": "Domestic abuse",
    "neglect": "Neglect",
    "exploitation": "Exploitation",
    "self-harm": "Self-harm",
    # requests passed to a person (core.risk.REQUEST_CATEGORIES)
    "data-request": "Request for someone's data",
    "complaint": "Complaint about how we use data",
    "suicide": "Suicidal thoughts",
    "overdose": "Overdose or poisoning",
    "bullying": "Bullying",
    "danger": "In danger now",
    "secret": "Told to keep a secret",
    "worried-about-child": "An adult worried about a child",
    "request": "Asked to talk to a person",
    "talk-to-person": "Asked to talk to a person",
}
SEVERITY_NAMES = {1: "High", 2: "Medium", 3: "Low"}


def category_name(code: str) -> str:
    """A category in plain words; an unknown code is shown as its words (``self-harm`` -> Self harm)."""
    return CATEGORY_NAMES.get(code) or (code.replace("-", " ").replace("_", " ").capitalize() or "Not given")


def severity_name(severity: int) -> str:
    return SEVERITY_NAMES.get(severity, str(severity))


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 30 s, 1 min, 2 min ... at most 30 min."""
    step: timedelta = FIRST_RETRY * (2 ** min(max(attempts - 1, 0), 16))
    return min(step, LAST_RETRY)


def utc_now() -> datetime:
    return datetime.now(UTC)


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def message(alert: m.SafeguardingAlert, admin_link: str, escalate_minutes: int | None = None
            ) -> tuple[str, str]:
    """The subject and plain-text body of an alert (or, with ``escalate_minutes``, an escalation)."""
    if escalate_minutes is None:
        subject = f"Safeguarding concern {alert.ref[:8]} needs an officer"
        first = "A new safeguarding concern needs an officer."
    else:
        subject = f"Escalation: safeguarding concern {alert.ref[:8]} not acknowledged"
        first = (f"Escalation: a safeguarding concern has not been acknowledged by an officer within "
                 f"{escalate_minutes} minutes. It needs an officer now.")
    lines = [
        first,
        "",
        f"Category: {category_name(alert.category)}",
        f"Severity: {severity_name(alert.severity)}",
        f"Reference: {alert.ref}",
        f"Received: {when(alert.created_at)}",
        "",
        f"Open it in Voices (sign in first): {admin_link}/safeguarding/{alert.ref}",
    ]
    return subject, "\n".join(lines)


class Notifier(Protocol):
    name: str

    async def send(self, subject: str, body: str) -> None: ...


class TelegramNotifier:
    """Plain text (no parse mode, nothing to escape) to one chat, without a link preview."""

    def __init__(self, bot: Bot, chat_id: str, name: str = "telegram") -> None:
        self.bot = bot
        self.chat_id: int | str = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        self.name = name

    async def send(self, subject: str, body: str) -> None:
        await self.bot.send_message(chat_id=self.chat_id, text=body,
                                    link_preview_options=LinkPreviewOptions(is_disabled=True))


class EmailNotifier:
    """One message to all ``recipients`` by SMTP (STARTTLS and a login when configured)."""

    def __init__(self, config: AlertSettings, recipients: Sequence[str], name: str = "e-mail") -> None:
        self.config = config
        self.recipients = tuple(recipients)
        self.name = name

    async def send(self, subject: str, body: str) -> None:
        await asyncio.to_thread(self._send, self._message(subject, body))

    def _message(self, subject: str, body: str) -> EmailMessage:
        sender = self.config.smtp_from
        mail = EmailMessage()
        mail["Subject"] = subject
        mail["From"] = sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "voices.invalid")
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(body)
        return mail

    def _send(self, mail: EmailMessage) -> None:
        c = self.config
        with smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
            if c.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if c.smtp_user:
                smtp.login(c.smtp_user, c.smtp_password.get())
            smtp.send_message(mail, from_addr=c.smtp_from, to_addrs=list(self.recipients))


def notifiers(settings: Settings, bot: Bot | None, escalation: bool = False) -> list[Notifier]:
    """The channels configured for first alerts, or (``escalation``) for escalations."""
    c = settings.alerts
    chat, emails = (c.escalation_chat_id, c.escalation_emails) if escalation else (c.chat_id, c.emails)
    found: list[Notifier] = []
    if chat and bot is not None:
        found.append(TelegramNotifier(bot, chat))
    elif chat:
        log.warning("an alert chat is set but the Telegram bot is off, so alerts cannot go to the chat")
    if emails and c.smtp_host and c.smtp_from:
        found.append(EmailNotifier(c, emails))
    elif emails:
        log.warning("alert e-mail addresses are set but VOICES_SMTP_HOST or VOICES_SMTP_FROM is not")
    return found


def failed_channels(last_error: str | None) -> set[str]:
    """The channel names in a ``last_error`` such as ``"e-mail: ConnectionRefusedError"``."""
    return {part.split(":", 1)[0].strip() for part in (last_error or "").split(";") if ":" in part}


def _retry_after(exc: RetryAfter) -> timedelta:
    with warnings.catch_warnings(action="ignore", category=PTBDeprecationWarning):  # int until PTB 23
        value = exc.retry_after
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


class AlertSender:
    """Sends due alerts and escalations every ``interval`` seconds (see the module docstring)."""

    def __init__(self, settings: Settings, bot: Bot | None = None, *,
                 clock: Callable[[], datetime] = utc_now, interval: float = INTERVAL,
                 notify: list[Notifier] | None = None, escalate: list[Notifier] | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.interval = interval
        self.notify = notifiers(settings, bot) if notify is None else notify
        self.escalate = notifiers(settings, bot, escalation=True) if escalate is None else escalate
        self.escalate_after = timedelta(minutes=settings.alerts.escalate_minutes)
        self._escalated: dict[int, set[str]] = {}  # escalation channels already reached, per alert
        self._escalation_retry: dict[int, tuple[int, datetime]] = {}  # failures, next try
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if not self.notify:
            log.warning("no safeguarding alert channel is configured: alerts wait in the admin's queue")
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="voices-alert-sender")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:  # the database may be away for a moment; try again next time
                log.error("safeguarding alert sender: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    async def run_once(self) -> None:
        """One pass: send what is due, then escalate what has waited too long."""
        await self.send_due()
        await self.escalate_due()

    # ------------------------------------------------------------------------------ first alerts

    async def send_due(self) -> int:
        """Send every due alert; returns how many were claimed."""
        now = self.clock()
        due = await m.SafeguardingAlert.filter(notified_at=None).filter(
            Q(next_attempt_at=None) | Q(next_attempt_at__lte=now)
        ).order_by("severity", "created_at").limit(BATCH)
        claimed = 0
        for alert in due:
            if await self._claim(alert, now):
                claimed += 1
                await self._deliver(alert)
        return claimed

    async def _claim(self, alert: m.SafeguardingAlert, now: datetime) -> bool:
        updated = await m.SafeguardingAlert.filter(id=alert.id, notified_at=None).filter(
            Q(next_attempt_at=None) | Q(next_attempt_at__lte=now)
        ).update(next_attempt_at=now + LEASE)
        return bool(updated)

    async def _deliver(self, alert: m.SafeguardingAlert) -> None:
        targets = self.notify
        retry = failed_channels(alert.last_error) if alert.attempts else set()
        if retry and any(n.name in retry for n in targets):
            targets = [n for n in targets if n.name in retry]
        subject, body = message(alert, self.settings.admin_link)
        errors, wait = await self._send_all(alert, targets, subject, body)
        if not targets:
            errors = [f"all: {NO_CHANNEL}"]
        now = self.clock()
        if not errors:
            await m.SafeguardingAlert.filter(id=alert.id).update(
                notified_at=now, next_attempt_at=None, last_error=None)
            log.info("safeguarding alert %s sent", alert.ref)
            return
        attempts = alert.attempts + 1
        delay = max(backoff(attempts), wait)
        await m.SafeguardingAlert.filter(id=alert.id).update(
            attempts=F("attempts") + 1, last_error="; ".join(errors)[:100], next_attempt_at=now + delay)
        log.warning("safeguarding alert %s not sent (%s), attempt %d, next try in %d s",
                    alert.ref, "; ".join(errors), attempts, int(delay.total_seconds()))

    async def _send_all(self, alert: m.SafeguardingAlert, targets: Sequence[Notifier], subject: str,
                        body: str) -> tuple[list[str], timedelta]:
        """Send to each target; the failures as ``"channel: ExceptionType"`` and any wait asked for."""
        errors: list[str] = []
        wait = timedelta(0)
        for target in targets:
            try:
                await target.send(subject, body)
            except Exception as exc:  # every channel fault is kept and retried, never raised
                errors.append(f"{target.name}: {type(exc).__name__}")
                if isinstance(exc, RetryAfter):
                    wait = max(wait, _retry_after(exc))
        return errors, wait

    # ------------------------------------------------------------------------------- escalation

    async def escalate_due(self) -> int:
        """Escalate alerts unacknowledged for ``escalate_minutes``; returns how many were escalated."""
        if not self.escalate:
            return 0
        now = self.clock()
        waiting = await m.SafeguardingAlert.filter(
            acknowledged_at=None, escalated_at=None, created_at__lte=now - self.escalate_after
        ).order_by("severity", "created_at").limit(BATCH)
        done = 0
        for alert in waiting:
            failures, next_try = self._escalation_retry.get(alert.id, (0, now))
            if next_try <= now and await self._escalate(alert, failures):
                done += 1
        return done

    async def _escalate(self, alert: m.SafeguardingAlert, failures: int) -> bool:
        reached = self._escalated.setdefault(alert.id, set())
        targets = [n for n in self.escalate if n.name not in reached]
        minutes = int(self.escalate_after.total_seconds() // 60)
        subject, body = message(alert, self.settings.admin_link, escalate_minutes=minutes)
        errors: list[str] = []
        for target in targets:
            single, _ = await self._send_all(alert, [target], subject, body)
            errors += single
            if not single:
                reached.add(target.name)
        now = self.clock()
        if errors:
            self._escalation_retry[alert.id] = (failures + 1, now + backoff(failures + 1))
            log.warning("safeguarding alert %s: escalation not sent (%s)", alert.ref, "; ".join(errors))
            return False
        await m.SafeguardingAlert.filter(id=alert.id, escalated_at=None).update(escalated_at=now)
        self._escalated.pop(alert.id, None)
        self._escalation_retry.pop(alert.id, None)
        log.info("safeguarding alert %s escalated", alert.ref)
        return True
