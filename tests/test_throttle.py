"""The live-update budget: bounded calls per message and for all messages together."""

from __future__ import annotations

from bot.slack.pacing import PRUNE_AT, UpdateBudget


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


def test_messages_whose_window_closed_are_forgotten() -> None:
    clock = Clock()
    budget = UpdateBudget(interval=1.0, clock=clock)
    for n in range(PRUNE_AT):
        budget.spend(n)
    clock.now = 5.0
    budget.spend("new")  # one past the mark: the old, closed windows go
    assert len(budget._last) == 1
    assert not budget.allow("new")  # the open window is kept
