"""Test doubles: a fake Telegram Bot API server and scripted users."""

from tests.fakes.botapi import (
    DEFAULT_TOKEN,
    ApiError,
    CallbackAnswer,
    ErrorRecord,
    FakeBotAPI,
    FakeUser,
    SentMessage,
    StoredFile,
)

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "CallbackAnswer",
    "ErrorRecord",
    "FakeBotAPI",
    "FakeUser",
    "SentMessage",
    "StoredFile",
]
