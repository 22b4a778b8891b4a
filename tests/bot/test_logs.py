"""Nothing personal in logs (SECURITY.md T3, finding 4): no bot token, no answer text, no names.

All logging is turned up to DEBUG; a known token and a known answer are planted; a conversation
runs over the fake Bot API, including a failure; then every line logged is searched.
"""

from __future__ import annotations

import asyncio
import io
import re

from tests.bot.conftest import Harness, say
from tests.bot.test_conversation import through_welcome

CANARY = "canary-words-4f1d: my stepdad hits me"
TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")


async def test_no_token_answer_or_name_in_any_log(harness: Harness, everything_logged: io.StringIO) -> None:
    user = harness.fake.user(8001, first_name="Zebedee-Canary")
    await through_welcome(user)
    await say(user, "School or college")
    await say(user, "Not going well")
    await say(user, CANARY)  # a disclosure: signposts and an alert too
    harness.fake.fail_next("sendMessage", status=500, description="Internal Server Error", count=2)
    await user.send("/skip")
    for _ in range(50):  # the failure is logged after a retry
        if "send failed" in everything_logged.getvalue():
            break
        await asyncio.sleep(0.1)
    logged = everything_logged.getvalue()
    assert "voices.bot DEBUG update" in logged and "send failed" in logged  # logging was on
    assert harness.fake.token not in logged and not TOKEN.search(logged)
    assert "canary-words-4f1d" not in logged and "stepdad" not in logged
    assert "Zebedee" not in logged and "8001" not in logged.replace("update 8001", "")
