"""``voices webhook set|delete|info``: the deploy step that moves the bot between polling and a webhook.

Workers never set or delete the webhook themselves (SCALE.md section 5): this command does, once
per deploy. Neither direction drops updates (SECURITY.md T6): Telegram keeps what it has not
delivered, and hands it to whichever way is set next.

From polling to a webhook: stop the polling process, start the webhook processes
(VOICES_UPDATE_SOURCE=webhook), then ``voices webhook set``. Back: ``voices webhook delete``,
stop the webhook processes, start one polling process.
"""

from __future__ import annotations

import argparse
from typing import Any

from telegram import Bot
from telegram.error import TelegramError

from core.settings import Settings

MAX_CONNECTIONS = 40  # Telegram's default; each is one update in flight


def add_parsers(sub: Any) -> None:
    hook = sub.add_parser("webhook", help="tell Telegram to send updates to this server, or to stop")
    hook.add_argument("action", choices=["set", "delete", "info"],
                      help="set: send updates to VOICES_WEBHOOK_URL; delete: back to polling; info: status")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runner import ALLOWED_UPDATES
    from bot.webhook import webhook_path

    if not settings.bot_enabled:
        print("TELEGRAM_BOT_TOKEN is not set.")
        return 2
    bot = Bot(settings.telegram_token.get(), base_url=settings.telegram_base_url)
    try:
        async with bot:
            if args.action == "set":
                if settings.update_source != "webhook":  # which also checks the address and secret
                    print("Set VOICES_UPDATE_SOURCE=webhook, VOICES_WEBHOOK_URL and VOICES_WEBHOOK_SECRET.")
                    return 2
                url = settings.webhook_url + webhook_path(settings.webhook_secret)
                # drop_pending_updates stays False: what Telegram holds is delivered to the webhook.
                await bot.set_webhook(url, secret_token=settings.webhook_secret.get(),
                                      allowed_updates=ALLOWED_UPDATES, max_connections=MAX_CONNECTIONS,
                                      drop_pending_updates=False)
                print(f"Telegram now sends updates to {settings.webhook_url}/telegram/… (the path is "
                      "made from the secret). Processes must run with VOICES_UPDATE_SOURCE=webhook.")
            elif args.action == "delete":
                await bot.delete_webhook(drop_pending_updates=False)
                print("The webhook is removed. Telegram keeps updates until a polling process asks for them.")
            await _info(bot)
    except TelegramError as exc:
        print(f"Telegram refused: {type(exc).__name__}")  # the message may quote the URL
        return 1
    return 0


async def _info(bot: Bot) -> None:
    info = await bot.get_webhook_info()
    where = "a webhook" if info.url else "polling (no webhook)"
    print(f"Updates go to: {where}. Waiting at Telegram: {info.pending_update_count}.")
    if info.last_error_message:
        print(f"Telegram's last error delivering to the webhook: {info.last_error_message}")
