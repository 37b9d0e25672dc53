"""Runs wait (boundedly) until no request is being answered, so acks go first."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.work.ack_first import AckFirst
from bot.work.later import Later


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


def test_a_gap_between_two_requests_of_a_burst_is_not_quiet() -> None:
    """The server takes a burst's connections in one at a time: between two of them nothing is being
    answered for an instant, and a run starting then would slow the next ack."""
    ack_first = AckFirst(max_wait=30, settle=2.0)
    happened: list[str] = []
    first_done, second_done = threading.Event(), threading.Event()

    def request(release: threading.Event, name: str) -> threading.Thread:
        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            release.wait(timeout=30)
            happened.append(name)
            return [b"ok"]

        thread = threading.Thread(target=ack_first.wsgi(app), args=({}, lambda *a: None))
        thread.start()
        return thread

    first = request(first_done, "first answered")
    waiter = threading.Thread(target=lambda: (ack_first.wait_quiet(), happened.append("quiet")))
    waiter.start()
    time.sleep(0.05)  # let the run block while the first request is answered
    first_done.set()
    first.join(timeout=5)
    time.sleep(0.1)  # the gap before the burst's next connection is taken in, well within `settle`
    second = request(second_done, "second answered")
    threading.Timer(0.2, second_done.set).start()
    second.join(timeout=5)
    waiter.join(timeout=10)
    assert happened == ["first answered", "second answered", "quiet"]


def test_costly_work_after_the_ack_waits_for_the_burst_and_notes_do_not() -> None:
    """A scoreboard costs CPU the acks of a burst need; an ephemeral note is a quick Slack call."""
    happened: list[str] = []
    with ThreadPoolExecutor(1) as pool:
        later = Later(pool, quiet=lambda: happened.append("waited for the acks"))
        later.call("note", lambda: happened.append("note"))
        later.call("stats", lambda: happened.append("stats"), after_acks=True)
    assert happened == ["note", "waited for the acks", "stats"]
