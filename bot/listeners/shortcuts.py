"""The message shortcut "Get variations" (a message's ⋮ menu): opens the request form prefilled with that
message's text, after the ack; the form's submission runs as any other (bot/listeners/forms.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.parse.references import typed_text
from bot.render.forms import request_form
from bot.work.later import Later

FROM_MESSAGE = "variations_from_message"


def register(app: App, later: Later, max_task_chars: int) -> None:
    @app.message_shortcut(FROM_MESSAGE)
    def on_from_message(ack: Ack, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        message = shortcut.get("message") or {}
        task = typed_text(str(message.get("text") or ""))
        form = request_form(shortcut["channel"]["id"], shortcut.get("response_url"), max_task_chars, task)
        later.open(client, shortcut["trigger_id"], form)
