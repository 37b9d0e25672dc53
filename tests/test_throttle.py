"""The live-update budget and coalescer: bounded calls, latest state wins, final always last."""

from __future__ import annotations

import threading
import time

from bot.throttle import LiveUpdates, UpdateBudget
from tests.fakes import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_budget_limits_each_message_and_all_together() -> None:
    clock = Clock()
    budget = UpdateBudget(interval=1.0, per_minute=60, burst=3, clock=clock)
    assert budget.allow("a") and not budget.allow("a")  # one per interval per message
    assert budget.allow("b") and budget.allow("c")
    assert not budget.allow("d")  # the bucket of 3 is empty
    clock.now = 1.0  # one token back (60 a minute), and a's interval is over
    assert budget.allow("a") and not budget.allow("d")
    clock.now = 10.0
    assert budget.allow("d")


def test_final_updates_always_count() -> None:
    clock = Clock()
    budget = UpdateBudget(interval=1.0, per_minute=60, burst=1, clock=clock)
    budget.spend("a")  # over budget or not, a final update goes, and starts a's interval
    assert not budget.allow("a") and not budget.allow("b")


def test_offers_coalesce_to_the_latest_state() -> None:
    live = LiveUpdates(UpdateBudget(interval=0.1, per_minute=6000, burst=100), poll=0.01)
    sent: list[int] = []
    try:
        for value in range(50):
            live.offer("m", lambda value=value: sent.append(value))
        wait_for(lambda: sent and sent[-1] == 49, timeout=5)
        assert sent[0] == 0 and len(sent) <= 3  # the first at once, then only the latest
    finally:
        live.close()


def test_nothing_older_is_sent_after_the_final_update() -> None:
    live = LiveUpdates(UpdateBudget(interval=0.05, per_minute=6000, burst=100), poll=0.01)
    sent: list[str] = []
    lock = threading.Lock()

    def record(value: str) -> None:
        with lock:
            sent.append(value)

    try:
        live.offer("m", lambda: record("first"))
        live.offer("m", lambda: record("stale"))  # pending: inside the interval
        live.final("m", lambda: record("final"))
        time.sleep(0.2)  # give the flusher every chance to send the stale one
        assert sent == ["first", "final"]
    finally:
        live.close()
