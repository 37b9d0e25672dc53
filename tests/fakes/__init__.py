"""Loopback HTTP fakes of the Slack Web API and the Anthropic Messages API.

The real clients (slack_sdk, slack_bolt, anthropic) talk to these over real HTTP on 127.0.0.1, so tests
exercise their actual serialisation, retries and streaming instead of mocks that agree with our code.
This module holds the shared server plumbing and `wait_for`; the fakes live in the submodules and are
re-exported at the bottom.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    *,
    interval: float = 0.01,
    context: Callable[[], str] | None = None,
) -> T:
    """Poll `predicate` until it returns something truthy and return that: background threads answer
    Slack events after the HTTP ack, so tests must wait for effects rather than sleep a guessed time.
    `context` is called on timeout and its text appended to the failure message."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            message = f"timed out after {timeout}s waiting for {_describe(predicate)}; last value {result!r}"
            raise AssertionError(f"{message}\n{context()}" if context else message)
        time.sleep(interval)


def free_port() -> int:
    """A loopback port nobody listens on (closed again, so a server started next can bind it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _describe(predicate: Callable[..., Any]) -> str:
    """The predicate's source line when available, since '<lambda>' alone says nothing."""
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return getattr(predicate, "__qualname__", repr(predicate))


class FakeRequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 handler that hands every request to its server's fake, with small response helpers."""

    protocol_version = "HTTP/1.1"
    server: _FakeHTTPServer
    body: bytes
    answered: bool

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        self.answered = False
        try:
            self.server.fake._handle(self)
        except ConnectionError:
            self.close_connection = True  # the client went away mid-answer: nothing left to tell it
        except Exception as error:
            self.server.fake._record_error(error)
            if self.answered:
                self.abort(reset=False)  # too late for a status code: cut the response short
            else:
                self.send_text(500, f"fake server error: {error!r}")

    def end_headers(self) -> None:
        self.answered = True
        super().end_headers()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def send_bytes(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        """A complete response with Content-Length, so keep-alive connections stay usable."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(obj).encode(), "application/json; charset=utf-8", headers)

    def send_text(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, text.encode(), "text/plain; charset=utf-8", headers)

    def abort(self, *, reset: bool) -> None:
        """Drop the connection without finishing the response: RST if `reset`, else a bare FIN."""
        self.close_connection = True
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request logs would drown pytest output."""


class _FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: LoopbackFake) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), FakeRequestHandler)


class LoopbackFake:
    """Base of the fakes: a ThreadingHTTPServer on a random loopback port, served by a daemon thread.

    Subclasses implement `_handle(handler)` and guard their state with `self._lock`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._server: _FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._errors: list[BaseException] = []

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Self:
        with self._lock:
            if self._server is None:
                self._server = _FakeHTTPServer(self)
                self._thread = threading.Thread(
                    target=self._server.serve_forever,
                    kwargs={"poll_interval": 0.02},  # stop() waits up to one poll interval
                    name=type(self).__name__,
                    daemon=True,
                )
                self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open keep-alive connections so no handler thread outlives the fake."""
        with self._lock:
            server, thread, self._server, self._thread = self._server, self._thread, None, None
            connections = list(self._connections)
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT` of the running server."""
        with self._lock:
            if self._server is None:
                raise RuntimeError(f"{type(self).__name__} is not started")
            return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised inside the fake while handling requests (a bug in the fake or the test)."""
        with self._lock:
            return list(self._errors)

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """`wait_for` with this fake's recent traffic in the failure message."""
        return wait_for(predicate, timeout, context=self._summary)

    # -- for subclasses and the handler ------------------------------------------------------------

    def _handle(self, handler: FakeRequestHandler) -> None:
        raise NotImplementedError

    def _summary(self) -> str:
        return ""

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _record_error(self, error: BaseException) -> None:
        with self._lock:
            self._errors.append(error)


from tests.fakes.anthropic_api import FakeAnthropicAPI, FakeReply  # noqa: E402
from tests.fakes.signing import block_actions_body, signed_headers, slash_command_body  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI, SlackCall  # noqa: E402

__all__ = [
    "FakeAnthropicAPI",
    "FakeReply",
    "FakeRequestHandler",
    "FakeSlackAPI",
    "LoopbackFake",
    "SlackCall",
    "block_actions_body",
    "signed_headers",
    "slash_command_body",
    "wait_for",
]
