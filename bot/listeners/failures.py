"""What a person sees when a listener fails (the database cannot be read, say, or a bug): a private note
through the request's response_url and a 200, never a 500 with Slack's generic error or Slack retrying.

Bolt answers a listener's exception with a 500; this error handler, the app's one, answers 200 instead,
logs the failure, and tells the person after the ack that nothing happened."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from slack_bolt import App, Respond
from slack_bolt.response import BoltResponse

from bot.work.later import Later

log = logging.getLogger(__name__)

UNREADABLE = "Variations couldn't read its database just now, so nothing happened. Please try again in a minute."
FAILED = "Something went wrong inside Variations, so nothing happened. Please try again."


def kind_of(body: dict[str, Any]) -> str:
    """What the request was, for the log: a command, an event's type, or an interaction's type."""
    if "command" in body:
        return "command"
    event = body.get("event")
    return str(event.get("type") if isinstance(event, dict) else body.get("type") or "unknown")


def register(app: App, later: Later) -> None:
    def on_error(error: Exception, body: dict[str, Any], respond: Respond | None) -> BoltResponse:
        if isinstance(error, sqlite3.Error):
            log.error("step=listener_failed kind=%s error=%s", kind_of(body), error)
            note = UNREADABLE
        else:  # a bug: its traceback, but never the request (it holds people's text and capability URLs)
            log.error("step=listener_failed kind=%s", kind_of(body), exc_info=error)
            note = FAILED
        if respond is not None and respond.response_url:
            later.say(respond, note)
        return BoltResponse(status=200, body="")

    app.error(on_error)
