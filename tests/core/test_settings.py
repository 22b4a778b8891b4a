"""Settings for faults and for webhook mode, read from the environment (core/settings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Secret, SettingsError, load_settings
from voices.cli import main

GOOD_SECRET = "a" * 31 + "-_Z9"


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({}, tmp_path / "key")
    assert (settings.update_source, settings.webhook_url, settings.poll_watchdog) == ("polling", "", 90.0)
    assert settings.disk_alert_percent == 80.0 and settings.erasure_log == Path("voices-erasures.log")
    assert not settings.webhook_secret


def test_webhook_settings(tmp_path: Path) -> None:
    env = {"VOICES_UPDATE_SOURCE": " Webhook ", "VOICES_WEBHOOK_URL": "https://v.example.org/",
           "VOICES_WEBHOOK_SECRET": GOOD_SECRET, "VOICES_POLL_WATCHDOG": "30"}
    settings = load_settings(env, tmp_path / "key")
    assert settings.update_source == "webhook" and settings.webhook_url == "https://v.example.org"
    assert settings.webhook_secret == Secret(GOOD_SECRET) and GOOD_SECRET not in repr(settings)
    assert settings.poll_watchdog == 30.0


@pytest.mark.parametrize(("env", "says"), [
    ({"VOICES_UPDATE_SOURCE": "carrier-pigeon"}, "must be polling or webhook"),
    ({"VOICES_UPDATE_SOURCE": "webhook", "VOICES_WEBHOOK_SECRET": GOOD_SECRET}, "VOICES_WEBHOOK_URL"),
    ({"VOICES_UPDATE_SOURCE": "webhook", "VOICES_WEBHOOK_URL": "http://v.example.org",
      "VOICES_WEBHOOK_SECRET": GOOD_SECRET}, "https://"),
    ({"VOICES_UPDATE_SOURCE": "webhook", "VOICES_WEBHOOK_URL": "https://v.example.org"}, "32 to 256"),
    ({"VOICES_UPDATE_SOURCE": "webhook", "VOICES_WEBHOOK_URL": "https://v.example.org",
      "VOICES_WEBHOOK_SECRET": "short"}, "32 to 256"),
    ({"VOICES_UPDATE_SOURCE": "webhook", "VOICES_WEBHOOK_URL": "https://v.example.org",
      "VOICES_WEBHOOK_SECRET": GOOD_SECRET + " space"}, "32 to 256"),
])
def test_webhook_settings_that_cannot_work(tmp_path: Path, env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        load_settings(env, tmp_path / "key")


def test_plain_http_only_to_this_machine(tmp_path: Path) -> None:
    env = {"VOICES_UPDATE_SOURCE": "webhook", "VOICES_WEBHOOK_SECRET": GOOD_SECRET}
    for url in ("http://127.0.0.1:8081", "http://localhost:8081"):
        assert load_settings({**env, "VOICES_WEBHOOK_URL": url}, tmp_path / "key").webhook_url == url
    with pytest.raises(SettingsError):
        load_settings({**env, "VOICES_WEBHOOK_URL": "http://127.0.0.1.example.org:80"}, tmp_path / "key")


def test_the_command_says_what_is_wrong(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VOICES_UPDATE_SOURCE", "webhook")
    monkeypatch.setenv("VOICES_SECRET_KEY", "k")
    assert main(["check"]) == 2
    assert "VOICES_WEBHOOK_URL must be the https:// address" in capsys.readouterr().err
