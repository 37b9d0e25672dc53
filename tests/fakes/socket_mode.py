"""A loopback fake of Slack's Socket Mode: `apps.connections.open` on the fake Web API, and the WebSocket
server its URL points at, written on the standard library (RFC 6455, text frames, ping/pong, close).

Like Slack, the server greets each connection with `hello`, delivers envelopes (slash_commands, interactive,
events_api) with an `envelope_id` and waits for the app to send that id back; every ack is recorded with its
payload and arrival time. It can also ask the app to reconnect (`disconnect`), close the link with a close
frame, or drop the TCP connection without one. An envelope sent while no connection is open waits for the
next one, as Slack holds deliveries while an app reconnects.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from tests.fakes import free_port
from tests.fakes.signing import slash_command
from tests.fakes.slack_api import TEAM_ID, Answer, FakeSlackAPI, Params

APP_ID = "A0001"
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA


@dataclass
class Envelope:
    """One delivery: `sent` is `time.monotonic()` when the test handed it over (the person's click), so a
    delay while the app reconnects counts in the ack's latency."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    sent: float


@dataclass
class Ack:
    """The app's answer to an envelope; `time` is `time.monotonic()` at arrival."""

    envelope_id: str
    payload: dict[str, Any] | None
    time: float
    latency: float


@dataclass
class _Link:
    """One WebSocket connection; `retiring` once Slack asked the app to replace it, `silent` once it answers
    nothing (not even pings) and delivers nothing, as a link whose network path died."""

    sock: socket.socket
    number: int = 0  # 1 for the first connection the app opened
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    greeted: bool = False  # hello sent: envelopes may follow
    retiring: bool = False
    silent: bool = False
    open: bool = True

    def send(self, opcode: int, data: bytes) -> None:
        with self.send_lock:
            self.sock.sendall(_frame(opcode, data))


class FakeSocketModeSlack(FakeSlackAPI):
    """The fake Slack Web API plus Socket Mode: `apps.connections.open` with an app-level token (xapp-…)
    returns `ws://127.0.0.1:PORT/link/?ticket=N`, a URL good for one connection to `self`'s WebSocket server."""

    def __init__(self) -> None:
        super().__init__()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._links: list[_Link] = []
        self._tickets: set[str] = set()
        self._next = itertools.count(1)
        self._envelopes: dict[str, Envelope] = {}
        self._acks: list[Ack] = []
        self._extra: dict[str, dict[str, Any]] = {}  # envelope fields besides id, type and payload
        self._pending: list[str] = []  # envelope ids waiting for a connection
        self.unreachable = False  # URLs point at a port nobody listens on (a firewall blocks WebSockets)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Self:
        super().start()
        with self._lock:
            if self._listener is None:
                self._listener = socket.create_server(("127.0.0.1", 0))
                self._accepting = threading.Thread(target=self._accept, name="FakeSocketMode", daemon=True)
                self._accepting.start()
        return self

    def stop(self) -> None:
        with self._lock:
            listener, accepting, self._listener, self._accepting = self._listener, self._accepting, None, None
            links = list(self._links)
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for link in links:
            self._cut(link)
        if accepting is not None:
            accepting.join(timeout=5)
        super().stop()

    # -- test-facing -------------------------------------------------------------------------------

    def send(self, envelope_type: str, payload: dict[str, Any], **fields: Any) -> str:
        """Deliver `payload` as an envelope of `envelope_type` on the newest open connection (or on the next
        one to open); returns its envelope_id. `fields` are added to the envelope (e.g. retry_attempt)."""
        with self._lock:
            envelope_id = f"env-{next(self._next):06d}"
            self._envelopes[envelope_id] = Envelope(envelope_id, envelope_type, payload, time.monotonic())
            self._pending.append(envelope_id)
            self._extra[envelope_id] = fields
        self._flush()
        return envelope_id

    def command(self, text: str, **fields: Any) -> str:
        """A `/variations` slash command envelope, with the fields Slack sends (override any)."""
        payload = slash_command(
            text=text, team_id=TEAM_ID, api_app_id=APP_ID, response_url=self.response_url("command"), **fields
        )
        return self.send("slash_commands", payload, accepts_response_payload=True)

    def interactive(self, payload: dict[str, Any]) -> str:
        return self.send("interactive", payload, accepts_response_payload=payload.get("type") == "view_submission")

    def event(self, event: dict[str, Any], **fields: Any) -> str:
        """An Events API envelope wrapping `event` in its event_callback."""
        callback = {
            "token": "verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(self._next):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}],
            **fields,
        }
        return self.send("events_api", callback, accepts_response_payload=False, retry_attempt=0, retry_reason="")

    def acks(self) -> list[Ack]:
        with self._lock:
            return list(self._acks)

    def ack(self, envelope_id: str, timeout: float = 10.0) -> Ack:
        """Wait for the app's ack of `envelope_id` and return it."""
        return self.wait_for(lambda: next((a for a in self.acks() if a.envelope_id == envelope_id), None), timeout)

    def connections(self) -> int:
        """How many WebSocket connections have been opened so far."""
        with self._lock:
            return len(self._links)

    def wait_connected(self, count: int = 1, timeout: float = 10.0) -> None:
        """Until `count` connections have been opened (and greeted) and one of them is open and current."""
        self.wait_for(lambda: self.connections() >= count and self._current() is not None, timeout)

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's `disconnect` message on the current connection (refresh_requested, link_disabled, warning);
        nothing more is delivered on it, and the app is expected to open a new one."""
        link = self._current_or_fail()
        with self._lock:
            link.retiring = True
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        self._send_text(link, json.dumps(message))

    def close(self, code: int = 1001, reason: str = "going away") -> None:
        """A close frame on the current connection, then the TCP connection closed."""
        link = self._current_or_fail()
        with self._lock:
            link.open = False
        with contextlib.suppress(OSError):
            link.send(_CLOSE, struct.pack("!H", code) + reason.encode())
        self._cut(link)

    def drop(self) -> None:
        """The TCP connection closed under the app without a close frame (a FIN, as after a network fault)."""
        self._cut(self._current_or_fail())

    def silence(self) -> None:
        """The current connection goes quiet without closing: no FIN, no pongs, no deliveries (a network path
        that died, a proxy that hangs). Only the app's own checks can tell; it is cut when the fake stops."""
        link = self._current_or_fail()
        with self._lock:
            link.retiring = link.silent = True

    # -- Web API -----------------------------------------------------------------------------------

    def _api_apps_connections_open(self, params: Params) -> Answer:
        token = str(params.get("token") or "")
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        assert self._listener is not None
        ticket = f"t{next(self._next)}"
        self._tickets.add(ticket)
        port = free_port() if self.unreachable else self._listener.getsockname()[1]
        return {"ok": True, "url": f"ws://127.0.0.1:{port}/link/?ticket={ticket}&app_id={APP_ID}"}

    def _handle_api(self, handler: Any, method: str, params: Params) -> None:
        if method == "apps.connections.open" and "token" not in params:
            auth = handler.headers.get("Authorization", "")
            params = {**params, "token": auth.removeprefix("Bearer ").strip()}
        super()._handle_api(handler, method, params)

    # -- WebSocket server --------------------------------------------------------------------------

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return  # stopped
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each frame goes out at once, as Slack's
            threading.Thread(target=self._serve, args=(sock,), name="FakeSocketModeLink", daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        link: _Link | None = None
        try:
            link = self._handshake(sock)
            if link is None:
                return
            with self._lock:
                self._links.append(link)
                link.number = len(self._links)
                opened = sum(1 for other in self._links if other.open)
            self._send_text(link, json.dumps(_hello(opened)))
            with self._lock:
                link.greeted = True
            self._flush()
            self._read_frames(link)
        except (OSError, ConnectionError):
            pass  # the app or the test closed the connection
        except Exception as error:
            self._record_error(error)
        finally:
            if link is not None:
                self._cut(link)
            else:
                with contextlib.suppress(OSError):
                    sock.close()

    def _handshake(self, sock: socket.socket) -> _Link | None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            request += chunk
        lines = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        target = lines[0].split(" ")[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        ticket = (parse_qs(urlsplit(target).query).get("ticket") or [""])[0]
        with self._lock:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)  # one connection per ticket, as Slack's
        if not valid or headers.get("upgrade", "").lower() != "websocket":
            sock.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return None
        accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + _GUID).digest()).decode()
        sock.sendall(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
        )
        return _Link(sock)

    def _read_frames(self, link: _Link) -> None:
        message = b""
        while True:
            fin, opcode, data = _read_frame(link.sock)
            if link.silent:
                continue
            if opcode == _PING:
                link.send(_PONG, data)
            elif opcode == _CLOSE:
                with contextlib.suppress(OSError):
                    link.send(_CLOSE, data[:2])
                return
            elif opcode in (_TEXT, 0x0):
                message += data
                if fin:
                    self._received(message.decode())
                    message = b""

    def _received(self, text: str) -> None:
        answer = json.loads(text)
        envelope_id = answer.get("envelope_id")
        now = time.monotonic()
        with self._lock:
            envelope = self._envelopes.get(envelope_id)
            if envelope is None:
                raise AssertionError(f"the app answered an envelope never sent: {text}")
            self._acks.append(Ack(envelope_id, answer.get("payload"), now, now - envelope.sent))

    def _flush(self) -> None:
        """Deliver what waits, if a connection is open; else it waits for the next hello."""
        with self._lock:
            link = self._current()
            if link is None:
                return
            waiting, self._pending = self._pending, []
            messages = [self._message(envelope_id) for envelope_id in waiting]
        for text in messages:
            self._send_text(link, text)

    def _message(self, envelope_id: str) -> str:
        envelope = self._envelopes[envelope_id]
        return json.dumps(
            {
                "envelope_id": envelope_id,
                "type": envelope.type,
                "payload": envelope.payload,
                **self._extra.pop(envelope_id, {}),
            }
        )

    def _send_text(self, link: _Link, text: str) -> None:
        try:
            link.send(_TEXT, text.encode())
        except OSError:
            self._cut(link)

    def _current(self) -> _Link | None:
        with self._lock:
            live = (link for link in reversed(self._links) if link.greeted and link.open and not link.retiring)
            return next(live, None)

    def _current_or_fail(self) -> _Link:
        link = self._current()
        if link is None:
            raise AssertionError("no Socket Mode connection is open")
        return link

    def _cut(self, link: _Link) -> None:
        with self._lock:
            link.open = False
        with contextlib.suppress(OSError):
            link.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            link.sock.close()

    def _summary(self) -> str:
        with self._lock:
            acked = {a.envelope_id for a in self._acks}
            unacked = [e for e in self._envelopes if e not in acked]
            links = [(link.number, "open" if link.open else "closed") for link in self._links]
        return f"{super()._summary()}\nSocket Mode: connections {links}; not acked: {unacked}"


def _hello(opened: int) -> dict[str, Any]:
    return {
        "type": "hello",
        "num_connections": opened,
        "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
        "connection_info": {"app_id": APP_ID},
    }


def _frame(opcode: int, data: bytes) -> bytes:
    """A final, unmasked frame (servers never mask)."""
    head = bytes([0x80 | opcode])
    if len(data) < 126:
        head += bytes([len(data)])
    elif len(data) < 1 << 16:
        head += bytes([126]) + struct.pack("!H", len(data))
    else:
        head += bytes([127]) + struct.pack("!Q", len(data))
    return head + data


def _read_frame(sock: socket.socket) -> tuple[bool, int, bytes]:
    """(fin, opcode, unmasked payload) of the next frame; ConnectionError at end of stream."""
    first, second = _read_exactly(sock, 2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", _read_exactly(sock, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", _read_exactly(sock, 8))
    mask = _read_exactly(sock, 4) if second & 0x80 else b"\0\0\0\0"
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(_read_exactly(sock, length)))
    return bool(first & 0x80), first & 0x0F, data


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("end of stream")
        data += chunk
    return data
