"""HTTP mode: the Bolt app behind waitress, a production WSGI server (Bolt's `App.start()` is a development
server). Every Slack request arrives at `POST /slack/events`, through the checks in `bot.entry.guard`;
`GET /healthz` reports the database and the thread pools (503 when the database does not take a new row);
`GET /metrics` serves the Prometheus metrics. With OAuth on, `GET /slack/install` (its button POSTs back to
it) and `GET /slack/oauth_redirect` are the install pages a browser visits (see `bot.entry.install_pages`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from waitress import create_server
from waitress.server import BaseWSGIServer

from bot.entry.guard import MAX_BODY_BYTES, SlackEvents, plain
from bot.entry.install_pages import oauth_pages
from bot.observe.metrics import Metrics
from bot.work.ack_first import AckFirst

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"


class HttpServer:
    """A waitress server for the app that can also run in a background thread (tests, benchmarks)."""

    def __init__(
        self,
        app: App,
        ack_first: AckFirst,
        health: Callable[[], dict[str, Any]],
        *,
        host: str = "0.0.0.0",
        port: int = 3000,
        threads: int = 16,
        metrics: Metrics | None = None,
    ) -> None:
        slack = ack_first.wsgi(SlackEvents(app.dispatch))
        if metrics is not None:
            slack = metrics.timed(slack)
        flow = app.oauth_flow
        pages = {flow.install_path, flow.redirect_uri_path} if flow is not None else set()
        install = oauth_pages(flow) if flow is not None else None

        def handler(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") == "GET":
                report = health()
                status = "200 OK" if report["ok"] else "503 Service Unavailable"
                start_response(status, [("Content-Type", "application/json")])
                return [json.dumps(report).encode()]
            if (
                metrics is not None
                and environ.get("PATH_INFO") == METRICS_PATH
                and environ.get("REQUEST_METHOD") == "GET"
            ):
                body, content_type = metrics.render()
                start_response("200 OK", [("Content-Type", content_type)])
                return [body]
            if environ.get("PATH_INFO") == EVENTS_PATH:
                return slack(environ, start_response)
            if install is not None and environ.get("PATH_INFO") in pages:
                return install(environ, start_response)
            return plain(start_response, 404, "Not Found")

        # Waitress refuses a larger body (413) from its Content-Length, before receiving it, and stops
        # receiving a chunked one at the limit; its own default limit is 1 GiB. (It refuses a body of
        # exactly its limit, hence the + 1.)
        self._server: BaseWSGIServer = create_server(
            handler, host=host, port=port, threads=threads, max_request_body_size=MAX_BODY_BYTES + 1
        )
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        """The events URL as a client on this machine reaches it."""
        return f"{self.origin}{EVENTS_PATH}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.effective_port}"

    def serve_forever(self) -> None:
        try:
            self._server.run()
        except OSError:
            # stop() closes the listening socket under the loop's select(); anything else is real.
            if not self._stopping:
                raise

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        if self._thread is None:
            self._server.close()
        else:
            try:
                # Closed by the serving loop itself, woken at once: closed from here, the loop would only
                # notice at its next poll, up to a second later.
                self._server.trigger.pull_trigger(self._server.close)
            except OSError:  # the loop already closed its trigger (and its socket with it)
                self._server.close()
        self._server.task_dispatcher.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
