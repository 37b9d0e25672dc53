"""A loopback fake of the Anthropic Messages API for the real `anthropic` SDK.

Replies are scripted per request by `responder`; timing (time to first token, tokens per second),
API errors, broken streams and connection resets are reproduced on the wire, so the SDK's own retry,
SSE parsing and stream accumulation run exactly as in production.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import FakeRequestHandler, LoopbackFake

CHARS_PER_TOKEN = 4
DEFAULT_REPLY = "<response>ok</response>"

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {429: "Number of requests has exceeded your rate limit", 529: "Overloaded"}


@dataclass
class FakeReply:
    """How the fake answers one request. Errors (status != 200) use the API's error body shape; with
    `error_type` None it is derived from the status (529 overloaded_error, 429 rate_limit_error, ...)."""

    text: str = ""
    status: int = 200
    error_type: str | None = None
    error_message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    ttft: float = 0.0  # seconds before the first byte (and, streaming, before message_start)
    tokens_per_second: float | None = None  # None: all text at once; else paced at ~4 chars per token
    stop_reason: str = "end_turn"
    break_after_chars: int | None = None  # streaming: drop the connection after this much text
    input_tokens: int | None = None  # None: ~len(prompt)/4
    output_tokens: int | None = None  # None: ~len(text)/4
    chunk_chars: int = 8  # characters per content_block_delta


Responder = Callable[[dict[str, Any]], "FakeReply | str"]


def _tokens(text: str) -> int:
    return max(1, round(len(text) / CHARS_PER_TOKEN))


def _text_of(content: Any) -> str:
    """Text of a message `content` (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def prompt_text(request: dict[str, Any]) -> str:
    """Text of the last user message of a Messages request."""
    users = [m for m in request.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"]
    return _text_of(users[-1].get("content")) if users else ""


def _input_text(request: dict[str, Any]) -> str:
    system = request.get("system")
    parts = [_text_of(system) if system else ""]
    parts += [_text_of(m.get("content")) for m in request.get("messages", []) if isinstance(m, dict)]
    return "".join(parts)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


@dataclass
class _Fault:
    status: int
    headers: dict[str, str]
    reset_connection: bool
    remaining: int


class FakeAnthropicAPI(LoopbackFake):
    """Fake Anthropic: `anthropic.Anthropic(api_key="test", base_url=fake.url, max_retries=...)`."""

    def __init__(self, responder: Responder | None = None) -> None:
        super().__init__()
        self.responder: Responder = responder or (lambda request: DEFAULT_REPLY)
        self._requests: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self._ids = 0
        self._in_flight = 0
        self._max_in_flight = 0

    @property
    def url(self) -> str:
        return self.origin

    # -- test-facing ------------------------------------------------------------------------------

    def requests(self) -> list[dict[str, Any]]:
        """Every /v1/messages request body in arrival order (retries included), headers under `_headers`
        (lower-case names, e.g. `x-stainless-retry-count`) and arrival `time.monotonic()` under `_time`;
        `_aborted` is True on one whose client closed the connection before the answer was complete."""
        with self._lock:
            return copy.deepcopy(self._requests)

    def prompts(self) -> list[str]:
        """The last user message's text of each request."""
        with self._lock:
            return [prompt_text(r) for r in self._requests]

    @property
    def max_concurrency(self) -> int:
        """Peak number of requests being answered at the same time: shows whether calls ran in parallel."""
        with self._lock:
            return self._max_in_flight

    def fail_next(
        self,
        status: int = 529,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        reset_connection: bool = False,
    ) -> None:
        """The next `times` requests fail with `status` (or a connection reset), whatever the responder."""
        with self._lock:
            self._faults.append(_Fault(status, dict(headers or {}), reset_connection, times))

    # -- HTTP -------------------------------------------------------------------------------------

    def _summary(self) -> str:
        with self._lock:
            return f"FakeAnthropicAPI: {len(self._requests)} requests, prompts: {self.prompts()[-5:]!r}"

    def _handle(self, handler: FakeRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        if handler.command != "POST" or path not in ("/v1/messages", "/v1/messages/count_tokens"):
            self._send_error(handler, 404, "not_found_error", f"Not found: {handler.command} {path}")
            return
        try:
            request = json.loads(handler.body or b"{}")
        except ValueError as error:
            self._send_error(handler, 400, "invalid_request_error", f"invalid JSON body: {error}")
            return
        if path.endswith("count_tokens"):
            handler.send_json(200, {"input_tokens": _tokens(_input_text(request))})
            return
        request["_headers"] = {k.lower(): v for k, v in handler.headers.items()}
        request["_time"] = time.monotonic()
        with self._lock:
            self._requests.append(request)
            fault = self._take_fault()
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            self._answer(handler, request, fault)
        except ConnectionError:
            with self._lock:
                request["_aborted"] = True
            raise
        finally:
            with self._lock:
                self._in_flight -= 1

    def _take_fault(self) -> _Fault | None:
        if not self._faults:
            return None
        fault = self._faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            self._faults.pop(0)
        return fault

    def _answer(self, handler: FakeRequestHandler, request: dict[str, Any], fault: _Fault | None) -> None:
        if fault is not None:
            if fault.reset_connection:
                handler.abort(reset=True)
            else:
                self._send_error(handler, fault.status, None, None, fault.headers)
            return
        reply = self.responder(copy.deepcopy(request))
        if isinstance(reply, str):
            reply = FakeReply(text=reply)
        if reply.ttft > 0:
            time.sleep(reply.ttft)
        if reply.status != 200:
            self._send_error(handler, reply.status, reply.error_type, reply.error_message, reply.headers)
        elif request.get("stream"):
            self._stream(handler, request, reply)
        else:
            if reply.tokens_per_second:
                time.sleep(len(reply.text) / CHARS_PER_TOKEN / reply.tokens_per_second)
            message = self._message(request, reply)
            message["content"] = [{"type": "text", "text": reply.text}]
            message["stop_reason"] = reply.stop_reason
            message["usage"]["output_tokens"] = self._output_tokens(reply)
            handler.send_json(200, message, {**self._id_headers(), **reply.headers})

    def _send_error(
        self,
        handler: FakeRequestHandler,
        status: int,
        error_type: str | None,
        message: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        fallback = "api_error" if status >= 500 else "invalid_request_error"
        error_type = error_type or ERROR_TYPES.get(status, fallback)
        ids = self._id_headers()
        body = {
            "type": "error",
            "error": {"type": error_type, "message": message or ERROR_MESSAGES.get(status, error_type)},
            "request_id": ids["request-id"],
        }
        handler.send_json(status, body, {**ids, **(headers or {})})

    def _id_headers(self) -> dict[str, str]:
        with self._lock:
            self._ids += 1
            return {"request-id": f"req_fake{self._ids:012d}"}

    def _message(self, request: dict[str, Any], reply: FakeReply) -> dict[str, Any]:
        with self._lock:
            self._ids += 1
            message_id = f"msg_fake{self._ids:012d}"
        input_tokens = reply.input_tokens if reply.input_tokens is not None else _tokens(_input_text(request))
        return {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": request.get("model", "claude-fake"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        }

    @staticmethod
    def _output_tokens(reply: FakeReply) -> int:
        return reply.output_tokens if reply.output_tokens is not None else _tokens(reply.text)

    def _stream(self, handler: FakeRequestHandler, request: dict[str, Any], reply: FakeReply) -> None:
        """SSE in the API's event order, chunked-encoded so a clean end and a broken one are distinct."""
        handler.send_response(200)
        for name, value in {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "Transfer-Encoding": "chunked",
            **self._id_headers(),
            **reply.headers,
        }.items():
            handler.send_header(name, value)
        handler.end_headers()

        def send(event: str, data: dict[str, Any]) -> None:
            payload = _sse(event, data)
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
            handler.wfile.flush()

        send("message_start", {"type": "message_start", "message": self._message(request, reply)})
        block = {"type": "text", "text": ""}
        send("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
        send("ping", {"type": "ping"})
        text, size = reply.text, max(1, reply.chunk_chars)
        limit = len(text) if reply.break_after_chars is None else min(len(text), reply.break_after_chars)
        started = time.monotonic()
        for start in range(0, limit, size):
            chunk = text[start : min(start + size, limit)]
            if reply.tokens_per_second:
                due = started + (start + len(chunk)) / CHARS_PER_TOKEN / reply.tokens_per_second
                time.sleep(max(0.0, due - time.monotonic()))
            delta = {"type": "text_delta", "text": chunk}
            send("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        if reply.break_after_chars is not None:
            handler.abort(reset=False)  # no terminating chunk: the client sees an incomplete body
            return
        send("content_block_stop", {"type": "content_block_stop", "index": 0})
        stop = {"stop_reason": reply.stop_reason, "stop_sequence": None}
        usage = {"output_tokens": self._output_tokens(reply)}
        send("message_delta", {"type": "message_delta", "delta": stop, "usage": usage})
        send("message_stop", {"type": "message_stop"})
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
