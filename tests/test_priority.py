"""Runs wait (boundedly) until no request is being answered, so acks go first."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from bot.priority import AckFirst


def test_wait_quiet_returns_once_requests_are_answered_not_before() -> None:
    ack_first = AckFirst(max_wait=30)
    answering = threading.Event()
    release = threading.Event()
    happened: list[str] = []

    def slow_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answering.set()
        release.wait(timeout=30)
        happened.append("answered")
        return [b"ok"]

    request = threading.Thread(target=ack_first.wsgi(slow_app), args=({}, lambda *a: None))
    request.start()
    assert answering.wait(timeout=5)
    # The answer is held a moment after wait_quiet starts: a wait_quiet that does not wait for it
    # returns first.
    releaser = threading.Timer(0.3, release.set)
    releaser.start()
    try:
        ack_first.wait_quiet()
        happened.append("quiet")
    finally:
        release.set()
        releaser.cancel()
        request.join(timeout=5)
    assert happened == ["answered", "quiet"]


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
