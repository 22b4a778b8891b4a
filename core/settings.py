"""Settings read once from the environment into one frozen object.

Secrets are wrapped in :class:`Secret` so that they never show in ``repr`` or logs.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "sqlite://voices.db"
# Plain http only to this machine: a local Bot API server (or a test's fake) may call it.
LOCAL_HTTP = ("http://127.0.0.1:", "http://localhost:")
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{32,256}")  # Telegram allows 1-256 of these; short is weak


class SettingsError(ValueError):
    """A setting in the environment that cannot work; the message says which and why."""


class Secret:
    """A string that hides itself from ``repr``, ``str`` and f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class AlertSettings:
    """Where safeguarding alerts go (core/alerts.py). Nothing set: alerts wait in the admin's queue."""

    chat_id: str = ""  # VOICES_ALERT_CHAT_ID: a Telegram chat of officers
    emails: tuple[str, ...] = ()  # VOICES_ALERT_EMAIL, comma-separated
    escalation_chat_id: str = ""  # VOICES_ESCALATION_CHAT_ID
    escalation_emails: tuple[str, ...] = ()  # VOICES_ESCALATION_EMAIL, comma-separated
    escalate_minutes: int = 60  # VOICES_ALERT_ESCALATE_MINUTES
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = ""
    smtp_user: str = ""
    smtp_password: Secret = field(default_factory=lambda: Secret(""))
    smtp_starttls: bool = False


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    telegram_token: Secret = field(default_factory=lambda: Secret(""))
    telegram_base_url: str = "https://api.telegram.org/bot"
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: Secret = field(default_factory=lambda: Secret(""))
    conversations_dir: Path = ROOT / "conversations"
    locales_dir: Path = ROOT / "locales"
    recordings_dir: Path = ROOT / "recordings"  # human recordings of prompts: <lang>/<key>.ogg
    lexicon_dir: Path = ROOT / "safeguarding" / "lexicon"  # words that suggest someone may be at risk
    requests_dir: Path = ROOT / "safeguarding" / "requests"  # data requests and complaints (P3, P8)
    retention_days: int = 730  # answers are anonymised after this many days
    cache_dir: Path = Path("voices-cache")  # voice notes made by espeak-ng
    council_name: str = "Leicestershire County Council"
    help_team: str = "the Voices team"
    help_phone: str = ""
    help_email: str = ""
    help_hours: str = "Monday to Friday, 9am to 5pm"
    privacy_url: str = ""
    # Safeguarding signposts (SECURITY.md 1.4): re-check the numbers before launch and every year.
    emergency_number: str = "999"
    childline_number: str = "0800 1111"
    nspcc_number: str = "0808 800 5000"
    samaritans_number: str = "116 123"
    shout_number: str = "85258"
    children_social_care: str = ""  # the council's children's front door
    adult_social_care: str = ""
    out_of_hours_number: str = ""  # the emergency duty team
    first_conversation: str = "welcome"
    feedback_conversation: str = "feedback"
    admin_url: str = ""  # VOICES_ADMIN_URL, for links in alerts; empty: http://{host}:{port}
    alerts: AlertSettings = field(default_factory=AlertSettings)
    # Campaigns (SCALE.md section 3): Telegram allows a bot about 30 messages/s in all and about 1/s
    # per chat; broadcasts take at most broadcast_rate of that, interactive replies go first.
    broadcast_rate: float = 25.0  # VOICES_BROADCAST_RATE, messages per second, all chats together
    chat_gap: float = 1.0  # VOICES_CHAT_GAP, seconds between broadcast messages to one chat
    # Faults (SECURITY.md R8, R12, R20)
    poll_watchdog: float = 90.0  # VOICES_POLL_WATCHDOG: seconds without a good getUpdates before alerting
    disk_alert_percent: float = 80.0  # VOICES_DISK_ALERT_PERCENT: the database's disk this full warns
    erasure_log: Path = Path("voices-erasures.log")  # VOICES_ERASURE_LOG: kept outside the database
    # How updates arrive (SCALE.md section 5): "polling" (one process) or "webhook" (any number,
    # behind a load balancer; VOICES_WEBHOOK_URL is the public address, and ``voices webhook set``
    # tells Telegram). Telegram sends VOICES_WEBHOOK_SECRET with every update.
    update_source: str = "polling"
    webhook_url: str = ""
    webhook_secret: Secret = field(default_factory=lambda: Secret(""))

    @property
    def bot_enabled(self) -> bool:
        return bool(self.telegram_token)

    @property
    def admin_link(self) -> str:
        """The admin's address as officers reach it, without a trailing slash."""
        return (self.admin_url or f"http://{self.host}:{self.port}").rstrip("/")


def _secret_key(env: Mapping[str, str], key_file: Path) -> Secret:
    """Use VOICES_SECRET_KEY, else a key kept in ``key_file`` (made on first run, mode 0600)."""
    if env.get("VOICES_SECRET_KEY"):
        return Secret(env["VOICES_SECRET_KEY"])
    if key_file.exists():
        return Secret(key_file.read_text(encoding="ascii").strip())
    value = secrets.token_urlsafe(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value + "\n")
    return Secret(value)


def _emails(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _alert_settings(env: Mapping[str, str]) -> AlertSettings:
    return AlertSettings(
        chat_id=env.get("VOICES_ALERT_CHAT_ID", "").strip(),
        emails=_emails(env.get("VOICES_ALERT_EMAIL")),
        escalation_chat_id=env.get("VOICES_ESCALATION_CHAT_ID", "").strip(),
        escalation_emails=_emails(env.get("VOICES_ESCALATION_EMAIL")),
        escalate_minutes=int(env.get("VOICES_ALERT_ESCALATE_MINUTES") or 60),
        smtp_host=env.get("VOICES_SMTP_HOST", "").strip(),
        smtp_port=int(env.get("VOICES_SMTP_PORT") or 25),
        smtp_from=env.get("VOICES_SMTP_FROM", "").strip(),
        smtp_user=env.get("VOICES_SMTP_USER", ""),
        smtp_password=Secret(env.get("VOICES_SMTP_PASSWORD", "")),
        smtp_starttls=env.get("VOICES_SMTP_STARTTLS", "").strip().lower() in ("1", "true", "yes"),
    )


def load_settings(env: Mapping[str, str] | None = None, key_file: Path | None = None) -> Settings:
    """Read the environment once. Unset values take the defaults in DESIGN.md."""
    env = dict(os.environ) if env is None else env
    key_path = key_file or Path(env.get("VOICES_SECRET_FILE", "voices-secret.key"))
    base = env.get("TELEGRAM_API_BASE_URL") or Settings.telegram_base_url
    return Settings(
        database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        telegram_token=Secret(env.get("TELEGRAM_BOT_TOKEN", "")),
        telegram_base_url=base,
        host=env.get("VOICES_HOST") or "127.0.0.1",
        port=int(env.get("VOICES_PORT") or 8080),
        secret_key=_secret_key(env, key_path),
        conversations_dir=Path(env.get("VOICES_CONVERSATIONS_DIR") or ROOT / "conversations"),
        locales_dir=Path(env.get("VOICES_LOCALES_DIR") or ROOT / "locales"),
        recordings_dir=Path(env.get("VOICES_RECORDINGS_DIR") or ROOT / "recordings"),
        cache_dir=Path(env.get("VOICES_CACHE_DIR") or "voices-cache"),
        council_name=env.get("VOICES_COUNCIL_NAME") or Settings.council_name,
        help_team=env.get("VOICES_HELP_TEAM") or Settings.help_team,
        help_phone=env.get("VOICES_HELP_PHONE", ""),
        help_email=env.get("VOICES_HELP_EMAIL", ""),
        help_hours=env.get("VOICES_HELP_HOURS") or Settings.help_hours,
        privacy_url=env.get("VOICES_PRIVACY_URL", ""),
        admin_url=env.get("VOICES_ADMIN_URL", "").strip(),
        alerts=_alert_settings(env),
        emergency_number=env.get("VOICES_EMERGENCY_NUMBER") or Settings.emergency_number,
        childline_number=env.get("VOICES_CHILDLINE_NUMBER") or Settings.childline_number,
        nspcc_number=env.get("VOICES_NSPCC_NUMBER") or Settings.nspcc_number,
        samaritans_number=env.get("VOICES_SAMARITANS_NUMBER") or Settings.samaritans_number,
        shout_number=env.get("VOICES_SHOUT_NUMBER") or Settings.shout_number,
        retention_days=int(env.get("VOICES_RETENTION_DAYS") or Settings.retention_days),
        children_social_care=env.get("VOICES_CHILDREN_SOCIAL_CARE", ""),
        adult_social_care=env.get("VOICES_ADULT_SOCIAL_CARE", ""),
        out_of_hours_number=env.get("VOICES_OUT_OF_HOURS_NUMBER", ""),
        broadcast_rate=float(env.get("VOICES_BROADCAST_RATE") or Settings.broadcast_rate),
        chat_gap=float(env.get("VOICES_CHAT_GAP") or Settings.chat_gap),
        poll_watchdog=float(env.get("VOICES_POLL_WATCHDOG") or Settings.poll_watchdog),
        disk_alert_percent=float(env.get("VOICES_DISK_ALERT_PERCENT") or Settings.disk_alert_percent),
        erasure_log=Path(env.get("VOICES_ERASURE_LOG") or Settings.erasure_log),
        **_update_source(env),
    )


def _update_source(env: Mapping[str, str]) -> dict[str, Any]:
    """VOICES_UPDATE_SOURCE and, for a webhook, its address and secret, checked now rather than later."""
    source = (env.get("VOICES_UPDATE_SOURCE") or "polling").strip().lower()
    if source not in ("polling", "webhook"):
        raise SettingsError(f"VOICES_UPDATE_SOURCE must be polling or webhook, not {source!r}")
    url = env.get("VOICES_WEBHOOK_URL", "").strip().rstrip("/")
    secret = env.get("VOICES_WEBHOOK_SECRET", "")
    if source == "webhook":
        if not url.startswith(("https://", *LOCAL_HTTP)):
            raise SettingsError("VOICES_WEBHOOK_URL must be the https:// address Telegram can reach")
        if not WEBHOOK_SECRET.fullmatch(secret):
            raise SettingsError("VOICES_WEBHOOK_SECRET must be 32 to 256 letters, digits, _ or - (make "
                                "one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')")
    return {"update_source": source, "webhook_url": url, "webhook_secret": Secret(secret)}
