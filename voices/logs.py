"""Logging that never carries children's words, names or the bot token.

python-telegram-bot logs every Bot API call with its parameters (message text included)
at DEBUG, and the API URL (with the token) when a bot starts; httpx logs URLs at INFO.
Those loggers are held at WARNING whatever level is asked for, and a filter on the
handler masks anything shaped like a bot token that still gets through.
"""

from __future__ import annotations

import logging
import re

TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
QUIET = ("telegram", "httpx", "httpcore", "aiosqlite", "tortoise", "asyncio", "aiohttp.access")


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if TOKEN.search(message):
            record.msg, record.args = TOKEN.sub("<token>", message), None
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
