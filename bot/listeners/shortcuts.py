"""The message shortcut "Get variations" (a message's ⋮ menu): opens the request form prefilled with that
message's text, after the ack; the form's submission runs as any other (bot/listeners/forms.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.parse.references import typed_text
from bot.render.modals import request_form
from bot.work.tools import tools

FROM_MESSAGE = "variations_from_message"


def on_from_message(ack: Ack, shortcut: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    t = tools(context)
    ack()
    message = shortcut.get("message") or {}
    task = typed_text(str(message.get("text") or ""))
    form = request_form(shortcut["channel"]["id"], shortcut.get("response_url"), t.max_task_chars, task)
    t.later.open(client, shortcut["trigger_id"], form)


def register(app: App) -> None:
    app.message_shortcut(FROM_MESSAGE)(on_from_message)
