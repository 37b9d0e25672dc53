"""What the listeners work with, handed to every handler in Bolt's context by one middleware, so that each
handler is a plain module-level function, as in Slack's bolt-python templates: a test imports it and calls it
with a context of its own, and the app factory registers it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import BoltContext

from bot.observe.metrics import Metrics
from bot.store.store import Store
from bot.work.closing import Closer
from bot.work.later import Later
from bot.work.runner import Runner
from bot.work.vote_counts import VoteRefresher

KEY = "variations_tools"


@dataclass(frozen=True)
class Tools:
    runner: Runner
    store: Store
    later: Later
    refresher: VoteRefresher
    metrics: Metrics
    closer: Closer
    max_task_chars: int  # the longest request accepted: the task and its context together


def tools(context: BoltContext) -> Tools:
    """The Tools of the app answering this request."""
    found: Tools = context[KEY]
    return found


def handing(given: Tools) -> Callable[[BoltContext, Callable[[], None]], None]:
    """The global middleware that puts `given` in every request's context."""

    def hand(context: BoltContext, next: Callable[[], None]) -> None:  # Bolt passes arguments by name
        context[KEY] = given
        next()

    return hand
