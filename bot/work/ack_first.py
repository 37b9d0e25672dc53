"""Acknowledge first, work second.

A run's start-up (its database row, the parent message, building the orchestrator request) costs a few
milliseconds of CPU, and a Python process has about one core for all its threads. When a burst of
slash commands arrives, runs starting while the later commands still wait for their ack slow those acks
down. Runs therefore wait, briefly and boundedly, until no request has been answered for a moment: the
server takes a burst's connections in one at a time, so "none being answered right now" happens between
two of them and is not yet the end of the burst.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.types import WSGIApplication


class AckFirst:
    def __init__(self, max_wait: float = 0.25, settle: float = 0.02) -> None:
        self.max_wait = max_wait
        self.settle = settle
        self._answering = 0
        self._last_answered = 0.0  # time.monotonic() when the count last fell to zero
        self._quiet = threading.Condition()

    def wait_quiet(self) -> None:
        """Block until no request has been answered for `settle` seconds and none is being answered, or
        `max_wait` seconds, whichever comes first."""
        deadline = time.monotonic() + self.max_wait
        with self._quiet:
            while (now := time.monotonic()) < deadline:
                if self._answering:
                    self._quiet.wait(deadline - now)
                    continue
                quiet_for = now - self._last_answered
                if quiet_for >= self.settle:
                    return
                self._quiet.wait(min(self.settle - quiet_for, deadline - now))

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Count a request as being answered while inside (an HTTP request, a Socket Mode envelope)."""
        with self._quiet:
            self._answering += 1
        try:
            yield
        finally:
            with self._quiet:
                self._answering -= 1
                if self._answering == 0:
                    self._last_answered = time.monotonic()
                    self._quiet.notify_all()

    def wsgi(self, app: WSGIApplication) -> WSGIApplication:
        """`app`, counting the requests it is answering."""

        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            with self.answering():
                return app(environ, start_response)

        return counted
