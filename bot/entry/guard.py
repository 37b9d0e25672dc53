"""What may reach the app over HTTP, checked in the order that keeps rejection cheap.

Bolt verifies Slack's signature, but only after reading and parsing the whole body, and it answers a 500
(with a traceback in the log) when a header or the body is not what it expects. So, in order:

1. Before a byte of the body is read: the declared length (413), Slack's signature headers (401) and the
   content type (415). Waitress enforces the same size limit while receiving, chunked bodies included.
2. The body, at most `MAX_BODY_BYTES`, must be UTF-8 and parse the way Slack encodes it (400). Parsing is
   cheap next to reading, so a 400 may go to a request that is not verified yet.
3. Bolt verifies the signature (401) and answers `ssl_check` and `url_verification` itself.
4. `WellFormed` (bot/parse/payloads.py), right after verification: the payload is of a kind the app answers
   (else 404) and says who sent it and what they clicked or submitted (else 400), so neither Bolt's
   matching nor a listener meets a payload without a user, a team or an action.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.context import BoltContext
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context
from slack_bolt.response import BoltResponse

from bot.observe.metrics import KIND_KEY, request_kind
from bot.parse.payloads import FORM, JSON, Refused, parse_body

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
"""The largest body accepted. Slack's biggest payloads are clicks, which carry the clicked message: ours
hold at most ten 3,000-character sections, about 480 KB form-encoded even if every character is an emoji
(16 bytes each once JSON- and URL-escaped). 1 MiB leaves room to spare and keeps a hostile body cheap."""

TOO_LARGE = f"The body is larger than {MAX_BODY_BYTES:,} bytes."

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
