"""What Slack's payloads must hold before the app reads them: row ids from outside, the body as Slack
encodes it, and (after the signature is verified) a payload of a kind the app answers that says who sent
it and what they clicked or submitted. Used by the HTTP guard (bot/entry/guard.py) and by Bolt's
middleware (`WellFormed`) in every mode."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)

SQLITE_MAX_ID = 2**63 - 1
"""The largest integer SQLite stores; a bigger one raises OverflowError inside sqlite3."""

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def parse_id(value: object) -> int | None:
    """A row id from outside (a button's value, a form's metadata), or None when it cannot be one.

    Only 1 to 2**63 - 1: `int("9" * 30)` works, but SQLite cannot look it up and raises OverflowError."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= 19):
            return None
        value = int(value)
    if not isinstance(value, int):
        return None
    return value if 0 < value <= SQLITE_MAX_ID else None


class Refused(ValueError):
    """A request the guard answers itself, with a status and a short reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_body(text: str, content_type: str) -> dict[str, Any]:
    """The body as Slack encodes it: JSON for the Events API, else a form whose `payload` field (when
    there is one) holds the interactivity JSON. Bolt's own parser reads any form body that merely contains
    the word "payload" (a slash command's text, say) as an empty request, so the app parses it here."""
    try:
        if content_type == JSON:
            parsed = json.loads(text) if text.strip() else {}
        else:
            fields = dict(parse_qsl(text, keep_blank_values=True))
            parsed = json.loads(fields["payload"]) if "payload" in fields else fields
    except (ValueError, RecursionError):
        raise Refused(400, "The body is not JSON or a form that Slack would send.") from None
    if not isinstance(parsed, dict):
        raise Refused(400, "The payload is not a JSON object.")
    return parsed


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _user_and_team(body: Mapping[str, Any]) -> str | None:
    user = body.get("user")
    if not isinstance(user, dict) or not _text(user.get("id")):
        return "The payload names no user."
    team = body.get("team")
    if not (isinstance(team, dict) and _text(team.get("id"))) and not _text(user.get("team_id")):
        return "The payload names no workspace."
    return None


def _actions(body: Mapping[str, Any]) -> str | None:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        return "The click names no action."
    if not all(isinstance(action, dict) and _text(action.get("action_id")) for action in actions):
        return "An action has no action_id."
    # Every button of this app is on a message, and a click on a message always carries the URL the
    # listeners answer through.
    if not _text(body.get("response_url")):
        return "The click has no response_url."
    return None


def _view(body: Mapping[str, Any]) -> str | None:
    view = body.get("view")
    # Only modals: Bolt reads a view of another type ("workflow_step") as a step it must find in the body.
    if not isinstance(view, dict) or not _text(view.get("callback_id")) or view.get("type") != "modal":
        return "The submission names no form of this app."
    state = view.get("state")
    if not isinstance(state, dict) or not isinstance(state.get("values"), dict):
        return "The submission has no values."
    if not isinstance(view.get("private_metadata", ""), str):
        return "The form's metadata is not text."
    return None


def _command(body: Mapping[str, Any]) -> str | None:
    missing = [key for key in ("command", "user_id", "channel_id", "team_id") if not _text(body.get(key))]
    if missing:
        return "The slash command has no " + ", ".join(missing) + "."
    return None if isinstance(body.get("text", ""), str) else "The slash command's text is not text."


def _event(body: Mapping[str, Any]) -> str | None:
    event = body.get("event")
    if not isinstance(event, dict) or not _text(event.get("type")):
        return "The event has no type."
    if event["type"] == "app_mention" and not event.get("subtype"):  # an edit is acknowledged and ignored
        return _mention(body, event)
    if event["type"] in ("assistant_thread_started", "assistant_thread_context_changed"):
        return _assistant_thread(body, event)
    if event["type"] == "message" and event.get("subtype") in (None, "file_share") and not event.get("bot_id"):
        return _message(body, event)  # a person's message (to the app's DM: the AI pane's threads are there)
    if event["type"] == "agent_session_stopped":
        return _session_stopped(body, event)
    return None


def _session_stopped(body: Mapping[str, Any], event: Mapping[str, Any]) -> str | None:
    """Slack's own stop button of an agent session: taken once per event id, for one thread, by one person."""
    if not _text(body.get("event_id")):
        return "The event has no event_id."
    missing = [key for key in ("user", "channel", "thread_ts") if not _text(event.get(key))]
    if missing:
        return "The stop has no " + ", ".join(missing) + "."
    return None


def _mention(body: Mapping[str, Any], event: Mapping[str, Any]) -> str | None:
    """A mention is taken once per event id, and answered in its channel (and thread) to its author."""
    if not _text(body.get("event_id")):
        return "The event has no event_id."
    missing = [key for key in ("user", "channel", "ts") if not _text(event.get(key))]
    if missing:
        return "The mention has no " + ", ".join(missing) + "."
    if not isinstance(event.get("text"), str):
        return "The mention has no text."
    if "thread_ts" in event and not _text(event["thread_ts"]):
        return "The mention's thread_ts is not text."
    return None


def _assistant_thread(body: Mapping[str, Any], event: Mapping[str, Any]) -> str | None:
    """The AI pane opened (or looking at another channel): answered once per event id, in its thread."""
    if not _text(body.get("event_id")):
        return "The event has no event_id."
    thread = event.get("assistant_thread")
    if not isinstance(thread, dict):
        return "The event has no assistant_thread."
    missing = [key for key in ("user_id", "channel_id", "thread_ts") if not _text(thread.get(key))]
    if missing:
        return "The assistant thread has no " + ", ".join(missing) + "."
    if not isinstance(thread.get("context", {}), dict):
        return "The assistant thread's context is not an object."
    return None


def _message(body: Mapping[str, Any], event: Mapping[str, Any]) -> str | None:
    """A person's message is taken once per event id and answered in its channel and thread."""
    if not _text(body.get("event_id")):
        return "The event has no event_id."
    missing = [key for key in ("user", "channel", "ts") if not _text(event.get(key))]
    if missing:
        return "The message has no " + ", ".join(missing) + "."
    if not isinstance(event.get("text", ""), str):
        return "The message's text is not text."
    if "thread_ts" in event and not _text(event["thread_ts"]):
        return "The message's thread_ts is not text."
    return None


def _message_action(body: Mapping[str, Any]) -> str | None:
    """A message shortcut opens a form (a trigger) for its channel, from the message's text."""
    if not _text(body.get("callback_id")) or not _text(body.get("trigger_id")):
        return "The shortcut names no callback_id or trigger_id."
    channel = body.get("channel")
    if not isinstance(channel, dict) or not _text(channel.get("id")):
        return "The shortcut names no channel."
    if not isinstance(body.get("message", {}), dict):
        return "The shortcut's message is not an object."
    return None


# The kinds of request this app answers, each with what its listeners (and Bolt's matching, which indexes
# into the payload) rely on. A listener for another kind must be added here too.
_KINDS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "block_actions": lambda body: _user_and_team(body) or _actions(body),
    "view_submission": lambda body: _user_and_team(body) or _view(body),
    "message_action": lambda body: _user_and_team(body) or _message_action(body),
    "event_callback": _event,
    "url_verification": lambda body: None,  # Bolt answers it after this check
}


def problem(body: Mapping[str, Any]) -> tuple[int, str] | None:
    """Why a verified payload must not reach the listeners (status, reason), or None when it may."""
    kind = body.get("type")
    for key in ("event", "view"):  # Bolt reads these, when present, as objects whatever the request
        if not isinstance(body.get(key, {}), dict):
            return 400, f"The payload's {key} is not an object."
    if "command" in body:  # how Bolt recognises a slash command
        found = _command(body)
    elif isinstance(kind, str) and kind in _KINDS:
        found = _KINDS[kind](body)
    else:
        return 404, "Nothing here handles this kind of request."
    return None if found is None else (400, found)


class WellFormed(Middleware):
    """Bolt middleware for right after signature verification (`App(before_authorize=WellFormed())`): a
    payload lacking what the listeners need gets a 400 rather than a 500 from deep inside Bolt or a
    listener, and one of a kind nothing handles a 404 without Bolt's matching ever indexing into it."""

    def __init__(self, then: Middleware | None = None) -> None:
        """`then`: another check for requests that pass this one (see bot.slack.workspaces.NotInstalled)."""
        self.then = then

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        found = problem(req.body)
        if found is None:
            return next() if self.then is None else self.then.process(req=req, resp=resp, next=next)
        status, reason = found
        log.warning("refused a verified request: %d %s", status, reason)
        return BoltResponse(status=status, body=reason)
