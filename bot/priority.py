"""Acknowledge first, work second.

A run's start-up (its database row, the parent message, building the orchestrator request) costs a few
milliseconds of CPU, and a Python process has about one core for all its threads. When a burst of
slash commands arrives, runs starting while the later commands still wait for their ack slow those acks
down. Runs therefore wait, briefly and boundedly, until no request is being answered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class AckFirst:
    def __init__(self, max_wait: float = 0.25) -> None:
        self.max_wait = max_wait
        self._answering = 0
        self._quiet = threading.Condition()

    def wait_quiet(self) -> None:
        """Block until no request is being answered, or `max_wait` seconds, whichever comes first."""
        with self._quiet:
            self._quiet.wait_for(lambda: self._answering == 0, timeout=self.max_wait)

    def wsgi(self, app: WSGIApp) -> WSGIApp:
        """`app`, counting the requests it is answering."""

        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            with self._quiet:
                self._answering += 1
            try:
                return app(environ, start_response)
            finally:
                with self._quiet:
                    self._answering -= 1
                    if self._answering == 0:
                        self._quiet.notify_all()

        return counted
