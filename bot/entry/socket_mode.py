"""Socket Mode: Slack's envelopes over a WebSocket, answered by the Bolt app.

The client is slack_sdk's `websockets` one, through Bolt's adapter, pinging every second: measured against
the loopback fake (bench/socket_mode.py, docs/benchmarks.md "Socket Mode"), it acks a command sent right after
Slack's `disconnect` in milliseconds and one sent after a close frame or a dropped TCP link in under a second.
slack_sdk's built-in client (Bolt's default) acks those after 3 s, 10 s and 60 s, and the websocket-client
one after 0.5 s, now and then 10 s. The adapter is asyncio; the app is not, so its event loop runs in a thread
of its own and each envelope is answered on a pool thread (Bolt's adapter would run a sync app on the loop
itself, one envelope at a time, with the pings waiting behind a listener that waits for SQLite).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import websockets
from slack_bolt import App
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_bolt.adapter.socket_mode.websockets import SocketModeHandler
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.work.ack_first import AckFirst

log = logging.getLogger(__name__)

# Envelopes answered at once, as the HTTP server's 16 request threads: a listener holds one for
# milliseconds (it makes no Slack call before its ack) unless SQLite's write lock makes a click wait.
CONCURRENCY = 16
# Seconds between pings; also how often the client checks that its link is still open, so at most this
# long passes between a closed link and the next connection.
PING_INTERVAL = 1.0
# Longest wait for apps.connections.open plus the WebSocket handshake, at start.
CONNECT_TIMEOUT = 60.0

T = TypeVar("T")


class LinkError(Exception):
    """Why the Socket Mode connection could not be opened, in one line."""


class _Handler(SocketModeHandler):
    """Bolt's `websockets` adapter, answering each envelope on a pool thread instead of on the event loop."""

    def __init__(
        self, app: App, app_token: str, web_client: AsyncWebClient, pool: ThreadPoolExecutor, ack_first: AckFirst
    ) -> None:
        super().__init__(app, app_token, web_client=web_client, ping_interval=PING_INTERVAL)
        self.pool = pool
        self.ack_first = ack_first

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        start = time.time()
        with self.ack_first.answering():  # runs wait for the acks of a burst here too, as over HTTP
            response = await asyncio.get_running_loop().run_in_executor(self.pool, run_bolt_app, self.app, req)
            if response.status == 200:
                await send_async_response(client, req, response, start)
            else:
                # Bolt's adapter acks a 200 only, and Slack re-sends an envelope it never saw acked: the guard's
                # refusal (a malformed payload, 400; a kind the app does not answer, 404) is acked empty and logged.
                log.warning(
                    "refused an envelope: type=%s status=%d reason=%s",
                    req.type,
                    response.status,
                    str(response.body or "").strip()[:200],
                )
                await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))


class SocketMode:
    """The app's Socket Mode connection. `connect()` opens it or raises why not (SlackApiError when Slack
    refuses the app token, LinkError when Slack cannot be reached); `close()` ends it."""

    def __init__(
        self,
        app: App,
        app_token: str,
        api_url: str,
        *,
        ack_first: AckFirst | None = None,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.api_url = api_url
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="socket-mode")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="socket-mode-loop", daemon=True)
        self._thread.start()

        async def make() -> _Handler:  # the client starts its tasks as it is built: on the loop
            client = AsyncWebClient(base_url=api_url, timeout=30)
            return _Handler(app, app_token, client, self._pool, ack_first or AckFirst())

        self._handler = self._run(make())

    def connect(self) -> None:
        try:
            self._run(self._handler.connect_async(), timeout=CONNECT_TIMEOUT)
        except (aiohttp.ClientError, TimeoutError) as error:  # apps.connections.open
            raise LinkError(f"cannot reach Slack at {self.api_url}: {str(error) or type(error).__name__}") from error
        except (websockets.WebSocketException, OSError) as error:  # the WebSocket at the URL it returned
            host = urlsplit(self._handler.client.wss_uri or "").hostname
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise LinkError(f"cannot open the Socket Mode connection to {host}: {reason}") from error

    def close(self) -> None:
        """Disconnect, let envelopes being answered finish, and stop the loop and its thread."""

        async def shut() -> None:
            client = self._handler.client
            # Read no more envelopes and open no new connection (closing first would have the reader
            # log the close as an error); the answers under way go out on the link, then it is closed.
            for reading in (client.message_receiver, client.current_session_monitor):
                if reading is not None:
                    reading.cancel()
            await asyncio.to_thread(self._pool.shutdown)
            await self._handler.close_async()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self._run(shut())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)
