"""What may reach the app over HTTP, checked in the order that keeps rejection cheap.

Bolt verifies Slack's signature, but only after reading and parsing the whole body, and it answers a 500
(with a traceback in the log) when a header or the body is not what it expects. So, in order:

1. Before a byte of the body is read: the declared length (413), Slack's signature headers (401) and the
   content type (415). Waitress enforces the same size limit while receiving, chunked bodies included.
2. The body, at most `MAX_BODY_BYTES`, must be UTF-8 and parse the way Slack encodes it (400). Parsing is
   cheap next to reading, so a 400 may go to a request that is not verified yet.
3. Bolt verifies the signature (401) and answers `ssl_check` and `url_verification` itself.
4. `WellFormed`, right after verification: the payload is of a kind the app answers (else 404) and says
   who sent it and what they clicked or submitted (else 400), so neither Bolt's matching nor a listener
   meets a payload without a user, a team or an action.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.context import BoltContext
from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context
from slack_bolt.response import BoltResponse

from bot.metrics import KIND_KEY, request_kind

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
"""The largest body accepted. Slack's biggest payloads are clicks, which carry the clicked message: ours
hold at most ten 3,000-character sections, about 480 KB form-encoded even if every character is an emoji
(16 bytes each once JSON- and URL-escaped). 1 MiB leaves room to spare and keeps a hostile body cheap."""

SQLITE_MAX_ID = 2**63 - 1
"""The largest integer SQLite stores; a bigger one raises OverflowError inside sqlite3."""

TOO_LARGE = f"The body is larger than {MAX_BODY_BYTES:,} bytes."

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # Bolt's verifier calls int() on it; ASCII digits only
_BOLT_HEADERS = "x-slack-bolt-"  # Bolt's own internal headers (lazy listeners); never from outside

Dispatch = Callable[[BoltRequest], BoltResponse]


def answer(start_response: Callable[..., Any], response: BoltResponse) -> Iterable[bytes]:
    """Send a Bolt response through WSGI (status line, headers with Content-Length, body)."""
    wsgi = WsgiHttpResponse(response.status, response.headers, response.body)
    start_response(wsgi.status, wsgi.get_headers())
    return wsgi.get_body()


def plain(start_response: Callable[..., Any], status: int, text: str, **headers: str) -> Iterable[bytes]:
    """A short plain-text answer, as the guard gives every request it refuses."""
    fields: dict[str, str | Sequence[str]] = {"content-type": "text/plain; charset=utf-8", **headers}
    return answer(start_response, BoltResponse(status=status, body=text + "\n", headers=fields))


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


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """Request headers by lower-case name, as Bolt reads them, without Bolt's internal ones."""
    headers = {"content-type": str(environ.get("CONTENT_TYPE") or "")}
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = str(environ["CONTENT_LENGTH"])
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].lower().replace("_", "-")
            if not name.startswith(_BOLT_HEADERS):
                headers[name] = str(value)
    return headers


def _declared_length(environ: Mapping[str, Any]) -> int | None:
    """Content-Length, refused when over the limit: checked before any of the body is read."""
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not declared:
        return None
    if not declared.isascii() or not declared.isdigit():
        raise Refused(400, "Content-Length is not a number.")
    if int(declared) > MAX_BODY_BYTES:
        raise Refused(413, TOO_LARGE)
    return int(declared)


def _read(environ: Mapping[str, Any], length: int | None) -> bytes:
    """The body. Without a declared length (a chunked body under a server that passes it on as is),
    reading stops one byte past the limit."""
    stream = environ.get("wsgi.input")
    if stream is None or length == 0:
        return b""
    body: bytes = stream.read(MAX_BODY_BYTES + 1 if length is None else length)
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, TOO_LARGE)
    return body


def _check_signature_headers(headers: Mapping[str, str]) -> None:
    if not _TIMESTAMP.fullmatch(headers.get("x-slack-request-timestamp", "")):
        raise Refused(401, "invalid request: X-Slack-Request-Timestamp is missing or not a number")
    if not headers.get("x-slack-signature", "").strip():
        raise Refused(401, "invalid request: X-Slack-Signature is missing")


class SlackEvents:
    """The WSGI app for `POST /slack/events`: the guard's checks, then one Bolt request per HTTP request.

    It replaces Bolt's WSGI adapter so the body is read once, within the limit, and parsed once."""

    def __init__(self, dispatch: Dispatch) -> None:
        self.dispatch = dispatch

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return plain(start_response, 405, "Only POST is accepted here.", allow="POST")
        try:
            request = self.request(environ)
        except Refused as refused:
            log.info("refused a request: %d %s", refused.status, refused.reason)
            return plain(start_response, refused.status, refused.reason)
        environ[KIND_KEY] = request_kind(request.body)
        return answer(start_response, self.dispatch(request))

    def request(self, environ: Mapping[str, Any]) -> BoltRequest:
        """The Bolt request, or `Refused` for anything that must not reach Bolt."""
        headers = _headers(environ)
        content_type = headers["content-type"].split(";")[0].strip().lower()
        length = _declared_length(environ)
        _check_signature_headers(headers)
        if content_type not in (FORM, JSON):
            raise Refused(415, f"Slack sends {FORM} or {JSON} only.")
        try:
            text = _read(environ, length).decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "The body is not UTF-8.") from None
        body = parse_body(text, content_type)
        try:
            context = build_context(BoltContext({}), body)
        except (AttributeError, KeyError, IndexError, TypeError, ValueError):
            raise Refused(400, "The payload's ids are not where Slack puts them.") from None
        bolt_headers: dict[str, str | Sequence[str]] = {**headers}
        request = BoltRequest(body="", query=str(environ.get("QUERY_STRING") or ""), headers=bolt_headers)
        request.raw_body, request.body, request.context = text, body, context
        return request


# --------------------------------------------------------------------------------------------------------
# After verification
# --------------------------------------------------------------------------------------------------------


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
        """`then`: another check for requests that pass this one (see bot.installations.NotInstalled)."""
        self.then = then

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        found = problem(req.body)
        if found is None:
            return next() if self.then is None else self.then.process(req=req, resp=resp, next=next)
        status, reason = found
        log.warning("refused a verified request: %d %s", status, reason)
        return BoltResponse(status=status, body=reason)
