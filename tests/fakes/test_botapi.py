"""Tests of the fake Bot API, driven by python-telegram-bot's real ``telegram.Bot``."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakes.botapi import DEFAULT_TOKEN, FakeBotAPI

CHAT = 1001


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


def make_bot(fake: FakeBotAPI, token: str = DEFAULT_TOKEN) -> Bot:
    return Bot(token, base_url=fake.base_url, base_file_url=fake.base_file_url)


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with make_bot(fake) as b:
        yield b


async def test_get_me(fake: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot is True
    assert me.username == "voices_test_bot"
    assert bot.username == "voices_test_bot"
    assert fake.port > 0
    assert fake.base_url == f"http://127.0.0.1:{fake.port}/bot"
    assert [m for m, _ in fake.requests] == ["getMe", "getMe"]  # initialize() + get_me()


async def test_wrong_token_and_unknown_method(fake: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken):
        async with make_bot(fake, token="999:WRONG"):
            pass
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{fake.base_url}999:WRONG/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with session.post(f"{fake.base_url}{DEFAULT_TOKEN}/fooBar") as resp:
            assert resp.status == 404
            assert await resp.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        # Method names are case-insensitive; JSON bodies work too.
        async with session.post(
            f"{fake.base_url}{DEFAULT_TOKEN}/SENDMESSAGE", json={"chat_id": CHAT, "text": "hi"}
        ) as resp:
            body = await resp.json()
            assert resp.status == 200
            assert body["result"]["text"] == "hi"
            assert body["result"]["chat"] == {"id": CHAT, "type": "private", "first_name": "User"}
    assert fake.sent(CHAT)[0].method == "sendMessage"


async def test_body_encodings(fake: FakeBotAPI) -> None:
    """JSON with typed values, JSON with every value a string, and url-encoded forms all decode alike."""
    markup = {"inline_keyboard": [[{"text": "Yes", "callback_data": "1"}]]}
    url = f"{fake.base_url}{DEFAULT_TOKEN}/sendMessage"
    async with aiohttp.ClientSession() as session:
        bodies: list[dict[str, object]] = [
            {"json": {"chat_id": CHAT, "text": "7", "reply_markup": markup}},
            {"json": {"chat_id": str(CHAT), "text": "7", "reply_markup": json.dumps(markup)}},
            {"data": {"chat_id": str(CHAT), "text": "7", "reply_markup": json.dumps(markup)}},
        ]
        for kwargs in bodies:
            async with session.post(url, **kwargs) as resp:  # type: ignore[arg-type]
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["result"]["reply_markup"] == markup
    assert [(m.chat_id, m.text, m.inline) for m in fake.sent(CHAT)] == [(CHAT, "7", [("Yes", "1")])] * 3
    assert [m.message_id for m in fake.sent(CHAT)] == [1, 2, 3]


async def test_send_message_with_reply_keyboard_is_recorded(fake: FakeBotAPI, bot: Bot) -> None:
    user = fake.user(CHAT, first_name="Sam")
    keyboard = ReplyKeyboardMarkup([["English", "Cymraeg"], ["Help"]], resize_keyboard=True)
    msg = await bot.send_message(CHAT, "Pick a language", reply_markup=keyboard)
    assert msg.message_id == 1
    assert msg.chat.first_name == "Sam"
    assert msg.from_user is not None and msg.from_user.id == fake.bot_id

    [sent] = fake.sent(CHAT)
    assert sent.text == "Pick a language"
    assert sent.buttons == ["English", "Cymraeg", "Help"]
    assert sent.reply_markup is not None and sent.reply_markup["resize_keyboard"] is True
    assert sent.inline == []
    assert user.last_keyboard() == ["English", "Cymraeg", "Help"]

    # An inline keyboard does not replace the reply keyboard; remove_keyboard does.
    inline = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="c:yes")]])
    await bot.send_message(CHAT, "Sure?", reply_markup=inline)
    assert user.last_keyboard() == ["English", "Cymraeg", "Help"]
    assert user.last_inline() == [("Yes", "c:yes")]
    await bot.send_message(CHAT, "Bye", reply_markup=ReplyKeyboardRemove())
    assert fake.sent(CHAT)[-1].removes_keyboard is True
    assert user.last_keyboard() == []

    # PTB sends str values raw in form bodies: texts that look like JSON must stay strings.
    for text in ("42", "true", "null", "[1]"):
        echoed = await bot.send_message(CHAT, text)
        assert echoed.text == text
        assert fake.sent(CHAT)[-1].text == text
    assert fake.calls("sendmessage")[0]["chat_id"] == CHAT


async def test_long_poll_delivers_text_and_callback_and_offset_confirms(fake: FakeBotAPI, bot: Bot) -> None:
    user = fake.user(CHAT, first_name="Sam", language_code="cy")
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for(lambda: fake.polling, message="the long poll to start")
    sent_update = await user.send("/start hello")
    updates = await asyncio.wait_for(poll, 2)
    assert [u.update_id for u in updates] == [sent_update["update_id"]]
    message = updates[0].message
    assert message is not None
    assert message.text == "/start hello"
    assert message.chat.id == CHAT
    assert message.from_user is not None and message.from_user.language_code == "cy"
    assert message.entities[0].type == "bot_command" and message.entities[0].length == len("/start")

    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Cymraeg", callback_data="lang:cy")]])
    prompt = await bot.send_message(CHAT, "Language?", reply_markup=markup)
    pressed = await user.press("lang:cy")
    updates = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1)
    assert [u.update_id for u in updates] == [pressed["update_id"]]
    query = updates[0].callback_query
    assert query is not None
    assert query.data == "lang:cy"
    assert query.message is not None and query.message.message_id == prompt.message_id

    assert await bot.answer_callback_query(query.id, text="Diolch") is True
    answer = await user.callback_answer()
    assert (answer.text, answer.show_alert) == ("Diolch", False)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)

    # Unconfirmed updates are redelivered; confirming drops them.
    again = await bot.get_updates(offset=updates[-1].update_id, timeout=0)
    assert [u.update_id for u in again] == [pressed["update_id"]]
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    assert fake.pending_updates == []


async def test_redelivery_of_injected_duplicate(fake: FakeBotAPI, bot: Bot) -> None:
    user = fake.user(CHAT)
    first = await user.send("one")
    updates = await bot.get_updates(timeout=0)
    await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    await fake.inject(first)  # same update_id again, as after a restart
    redelivered = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert [(u.update_id, u.message.text if u.message else None) for u in redelivered] == [
        (first["update_id"], "one")
    ]
    later = await user.send("two")
    assert later["update_id"] == first["update_id"] + 1


async def test_concurrent_get_updates_conflict(fake: FakeBotAPI) -> None:
    async with make_bot(fake) as first, make_bot(fake) as second:
        poll = asyncio.create_task(first.get_updates(timeout=3))
        await fake.wait_for(lambda: fake.polling, message="the first long poll")
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
            await second.get_updates(timeout=0)
        await fake.user(CHAT).send("still here")
        updates = await asyncio.wait_for(poll, 2)
        assert [u.message.text for u in updates if u.message] == ["still here"]
    assert any(e.status == 409 and e.method == "getUpdates" for e in fake.errors)


async def test_cancelled_poll_does_not_conflict(fake: FakeBotAPI, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await fake.wait_for(lambda: fake.polling, message="the long poll")
    poll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poll
    await fake.wait_for(lambda: not fake.polling, timeout=1, message="the cancelled poll to end")
    async with make_bot(fake) as restarted:
        assert await restarted.get_updates(timeout=0) == ()
    assert [e for e in fake.errors if e.status == 409] == []


async def test_parse_entities_errors(fake: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(CHAT, "<b>bold", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r'(?i)Unsupported start tag "br"'):
        await bot.send_message(CHAT, "line<br>line", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(CHAT, "Tom & Jerry", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)Character '.' is reserved"):
        await bot.send_message(CHAT, "Thanks.", parse_mode="MarkdownV2")
    assert fake.sent(CHAT) == []
    assert [e.status for e in fake.errors] == [400, 400, 400, 400]

    ok = await bot.send_message(CHAT, "<b>Thanks</b> &amp; <i>bye</i>", parse_mode="HTML")
    assert ok.text == "Thanks & bye"
    ok = await bot.send_message(CHAT, "*Thanks*\\. [link](https://example\\.org)", parse_mode="MarkdownV2")
    assert ok.text == "Thanks. link"
    assert fake.sent(CHAT)[0].text == "<b>Thanks</b> &amp; <i>bye</i>"

    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(CHAT, "   ")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "x" * 4097)


async def test_injected_429_raises_retry_after(fake: FakeBotAPI, bot: Bot) -> None:
    fake.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(CHAT, "hello")
    assert str(info.value) == "Flood control exceeded. Retry in 7 seconds"
    assert fake.errors[-1].injected is True
    assert fake.sent(CHAT) == []
    msg = await bot.send_message(CHAT, "hello")
    assert msg.message_id == 1
    assert [m for m, _ in fake.requests if m == "sendMessage"] == ["sendMessage", "sendMessage"]


async def test_blocked_user_raises_forbidden(fake: FakeBotAPI, bot: Bot) -> None:
    fake.block(CHAT)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(CHAT, "hello")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(CHAT, "typing")
    fake.unblock(CHAT)
    await bot.send_chat_action(CHAT, "typing")
    assert fake.chat_actions == [(CHAT, "typing")]


async def test_voice_get_file_and_download(fake: FakeBotAPI, bot: Bot) -> None:
    user = fake.user(CHAT)
    audio = b"OggS\x00\x02" + bytes(range(256)) * 4
    await user.send_voice(audio, duration=5)
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.voice is not None
    voice = update.message.voice
    assert voice.to_dict()["duration"] == 5
    tg_file = await bot.get_file(voice.file_id)
    assert tg_file.file_path is not None and tg_file.file_path.startswith(fake.base_file_url)
    assert bytes(await tg_file.download_as_bytearray()) == audio

    # The bot can upload a voice note (multipart) and re-send a known file_id.
    reply = await bot.send_voice(CHAT, voice=b"OggS-bot-voice", caption="42", duration=2)
    sent = fake.sent(CHAT)[-1]
    assert (sent.method, sent.caption, sent.voice) == ("sendVoice", "42", b"OggS-bot-voice")
    assert reply.voice is not None
    downloaded = await (await bot.get_file(reply.voice.file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"OggS-bot-voice"
    await bot.send_voice(CHAT, voice=voice.file_id)
    assert fake.sent(CHAT)[-1].file_id == voice.file_id
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_voice(CHAT, voice="no-such-file")


async def test_message_ids_shared_between_user_and_bot(fake: FakeBotAPI, bot: Bot) -> None:
    user = fake.user(CHAT)
    other = fake.user(CHAT + 1)
    first = await user.send("hi")
    reply1 = await bot.send_message(CHAT, "hello")
    second = await user.send("again")
    reply2 = await bot.send_message(CHAT, "hello again")
    elsewhere = await other.send("separate chat")
    assert [
        first["message"]["message_id"],
        reply1.message_id,
        second["message"]["message_id"],
        reply2.message_id,
    ] == [1, 2, 3, 4]
    assert elsewhere["message"]["message_id"] == 1
    assert [m.message_id for m in fake.sent(CHAT)] == [2, 4]


async def test_replies_settle_and_timeouts(fake: FakeBotAPI, bot: Bot) -> None:
    user = fake.user(CHAT)
    await user.send("hi")

    async def chatter() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(CHAT, "one")
        await asyncio.sleep(0.05)
        await bot.send_message(CHAT, "two")
        await bot.send_message(CHAT, "three")

    task = asyncio.create_task(chatter())
    first = await user.reply()
    assert first.text == "one"
    rest = await user.settle(quiet=0.2)
    assert [m.text for m in rest] == ["two", "three"]
    await task

    await user.send("anything else?")
    with pytest.raises(AssertionError, match=r"new bot messages: \['\(none\)'\]"):
        await user.replies(1, timeout=0.2)
    assert await user.settle(quiet=0.1) == []


async def test_edits_and_stale_buttons(fake: FakeBotAPI, bot: Bot) -> None:
    user = fake.user(CHAT)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    msg = await bot.send_message(CHAT, "Choose", reply_markup=markup)
    edited = await bot.edit_message_text("Chosen", chat_id=CHAT, message_id=msg.message_id)
    assert isinstance(edited, type(msg)) and edited.text == "Chosen"
    sent = fake.message(CHAT, msg.message_id)
    assert sent is not None and sent.text == "Chosen" and sent.inline == []  # no markup = removed
    assert user.last_inline() == []
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Chosen", chat_id=CHAT, message_id=msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_reply_markup(chat_id=CHAT, message_id=99, reply_markup=markup)
    # The user can still press the button they saw earlier.
    pressed = await user.press("a")
    assert pressed["callback_query"]["message"]["message_id"] == msg.message_id


async def test_commands_and_descriptions(fake: FakeBotAPI, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
    await bot.set_my_commands([BotCommand("start", "Dechrau")], language_code="cy")
    await bot.set_my_commands([BotCommand("stats", "Stats")], scope=BotCommandScopeChat(CHAT))
    assert fake.command_names() == ["start", "help"]
    assert fake.commands[("default", "cy")] == [{"command": "start", "description": "Dechrau"}]
    assert fake.command_names(f"chat:{CHAT}") == ["stats"]
    assert [c.command for c in await bot.get_my_commands(language_code="cy")] == ["start"]
    await bot.delete_my_commands(language_code="cy")
    assert ("default", "cy") not in fake.commands
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Command", "x")])

    await bot.set_my_description("Tell us what you think", language_code="en")
    await bot.set_my_short_description("Feedback bot")
    assert fake.descriptions == {"en": "Tell us what you think"}
    assert fake.short_descriptions == {"": "Feedback bot"}
    assert (await bot.get_my_description(language_code="en")).description == "Tell us what you think"
    assert (await bot.get_my_short_description()).short_description == "Feedback bot"


async def test_fault_delay_and_500(fake: FakeBotAPI, bot: Bot) -> None:
    fake.delay("sendChatAction", 0.2)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await bot.send_chat_action(CHAT, "typing")
    assert loop.time() - start >= 0.2
    fake.fail_next("sendmessage", 500, count=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match=r"(?i)Internal Server Error"):
            await bot.send_message(CHAT, "x")
    assert (await bot.send_message(CHAT, "x")).message_id == 1


async def test_group_updates(fake: FakeBotAPI, bot: Bot) -> None:
    added = await fake.bot_added_to_group(-100123, title="Staff")
    said = await fake.group_message(-100123, 5, "/report@voices_test_bot")
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [added["update_id"], said["update_id"]]
    member = updates[0].my_chat_member
    assert member is not None and member.new_chat_member.status == "member"
    assert member.chat.type == "supergroup" and member.chat.title == "Staff"
    message = updates[1].message
    assert message is not None and message.chat.id == -100123 and message.message_id == 1


async def test_ptb_application_polling_end_to_end(fake: FakeBotAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
        await context.bot.send_message(update.effective_chat.id, "Welcome", reply_markup=keyboard)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("ok")
        await query.edit_message_text(f"You pressed {query.data}")

    app = (
        Application.builder()
        .token(DEFAULT_TOKEN)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    user = fake.user(CHAT)
    assert app.updater is not None
    async with app:
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=2))
        await app.start()
        await user.send("/start")
        welcome = await user.reply()
        assert (welcome.text, welcome.inline) == ("Welcome", [("Go", "go")])
        await user.press("go")
        assert (await user.callback_answer()).text == "ok"
        await fake.wait_for(lambda: welcome.text == "You pressed go", message="the edit")
        assert welcome.inline == []
        await app.updater.stop()
        await app.stop()
    await fake.wait_confirmed(timeout=1)
    assert [e for e in fake.errors if not e.injected] == []


# ---- Telegram's flood limits, chats that blocked the bot, answers held in flight -------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_flood_control_limits_all_messages_and_each_chat(fake: FakeBotAPI, bot: Bot) -> None:
    clock = Clock()
    flood = fake.rate_limit(overall=3, per_chat=1, window=1.0, chat_window=2.0, clock=clock)
    assert (flood.overall_limit, flood.chat_limit) == (3, 2)
    await bot.send_message(1, "a")
    clock.now += 0.5
    await bot.send_message(1, "b")
    with pytest.raises(RetryAfter) as info:  # a third in 2 s to one chat
        await bot.send_message(1, "c")
    assert info.value._retry_after == dtm.timedelta(seconds=2)  # ceil(100 + 2 - 100.5)
    await bot.send_message(2, "d")  # another chat may; now 3 in the last second
    with pytest.raises(RetryAfter):  # a fourth in 1 s to anyone
        await bot.send_message(3, "e")
    await bot.get_me()  # not a message: never limited
    assert (fake.count_429, flood.rejected, flood.rejected_chat) == (2, 2, 1)
    assert fake.message_calls == 5
    clock.now += 0.5  # "a" (at 100.0) has left the 1 s window
    await bot.send_message(3, "e")
    with pytest.raises(RetryAfter):  # chat 1 still has 2 in its 2 s
        await bot.send_message(1, "c")
    clock.now = 102.0
    await bot.send_message(1, "c")
    assert [m.text for m in fake.sent(1)] == ["a", "b", "c"]  # refused ones never arrived
    assert [(e.status, e.chat_id, e.injected) for e in fake.errors] == [(429, 1, False), (429, 3, False),
                                                                         (429, 1, False)]
    # the answer is Telegram's: 429 with parameters.retry_after in whole seconds
    async with aiohttp.ClientSession() as session:
        for chat in (4, 5, 6):  # the overall limit: wait for "c" (at 102) to leave the window
            async with session.post(f"{fake.base_url}{DEFAULT_TOKEN}/sendMessage",
                                    json={"chat_id": chat, "text": "f"}) as resp:
                body = await resp.json()
        assert resp.status == 429
        assert body == {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                        "parameters": {"retry_after": 1}}
    fake.no_rate_limit()
    for _ in range(5):
        await bot.send_message(1, "free")


async def test_chats_in_the_blocked_set_answer_403(fake: FakeBotAPI, bot: Bot) -> None:
    fake.blocked.update({7, 8})
    for chat in (7, 8):
        with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
            await bot.send_message(chat, "hello")
    await bot.send_message(9, "hello")
    refused = "Forbidden: bot was blocked by the user"
    assert [(e.status, e.chat_id, e.description) for e in fake.errors] == [(403, c, refused) for c in (7, 8)]
    fake.blocked.discard(7)
    await bot.send_message(7, "hello")


async def test_hold_keeps_the_answer_to_the_nth_call_until_released(fake: FakeBotAPI, bot: Bot) -> None:
    hold = fake.hold("sendMessage", 2)
    await bot.send_message(CHAT, "first")
    assert not hold.arrived.is_set()
    second = asyncio.create_task(bot.send_message(CHAT, "second"))
    params = await hold.wait(timeout=5)
    assert params["text"] == "second"
    assert [m.text for m in fake.sent(CHAT)] == ["first", "second"]  # carried out: it has arrived
    done, _ = await asyncio.wait({second}, timeout=0.2)
    assert not done  # ... but the bot has not heard
    hold.release()
    assert (await second).message_id == 2
    assert (await bot.send_message(CHAT, "third")).message_id == 3  # one call only is held


async def test_a_held_call_whose_client_goes_away_leaves_the_fake_working(fake: FakeBotAPI, bot: Bot) -> None:
    hold = fake.hold("sendMessage")
    call = asyncio.create_task(bot.send_message(CHAT, "in flight"))
    await hold.wait(timeout=5)
    call.cancel()  # as when the bot is killed
    with pytest.raises(asyncio.CancelledError):
        await call
    assert [m.text for m in fake.sent(CHAT)] == ["in flight"]
    assert (await bot.send_message(CHAT, "after")).text == "after"


async def test_stopping_the_fake_releases_a_held_answer() -> None:
    fake = FakeBotAPI()
    await fake.start()
    async with make_bot(fake) as bot:
        hold = fake.hold("sendMessage")
        call = asyncio.create_task(bot.send_message(CHAT, "in flight"))
        await hold.wait(timeout=5)
        await fake.stop()
        assert hold.released.is_set()
        await asyncio.gather(call, return_exceptions=True)  # answered or cut off: either way, not hung
