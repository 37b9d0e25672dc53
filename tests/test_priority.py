"""Runs wait (boundedly) until no request is being answered, so acks go first."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from bot.priority import AckFirst


def test_wait_quiet_returns_once_requests_are_answered() -> None:
    ack_first = AckFirst(max_wait=30)
    answering = threading.Event()
    release = threading.Event()

    def slow_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answering.set()
        release.wait(timeout=30)
        return [b"ok"]

    request = threading.Thread(target=ack_first.wsgi(slow_app), args=({}, lambda *a: None))
    request.start()
    answering.wait(timeout=5)
    waited: list[float] = []
    waiter = threading.Thread(target=lambda: (t := time.monotonic(), ack_first.wait_quiet(), waited.append(t)))
    waiter.start()
    waiter.join(timeout=0.2)
    assert waiter.is_alive() and not waited  # still answering: the run waits
    release.set()
    waiter.join(timeout=5)
    request.join(timeout=5)
    assert waited and not waiter.is_alive()


def test_wait_quiet_gives_up_after_max_wait() -> None:
    ack_first = AckFirst(max_wait=0.05)
    release = threading.Event()
    app = ack_first.wsgi(lambda environ, start_response: release.wait(timeout=30) and [b"ok"])
    request = threading.Thread(target=app, args=({}, lambda *a: None))
    request.start()
    try:
        ack_first.wait_quiet()
        assert request.is_alive()  # it returned although the request is still being answered
    finally:
        release.set()
        request.join(timeout=5)
