"""Listener handlers are module-level functions, as in Slack's bolt-python templates: a test imports one and
calls it with a context holding the Tools it works with (here a form too long to run, refused in the modal
before the runner is asked, and a request the runner takes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slack_bolt import BoltContext

from bot.listeners.forms import on_request
from bot.render.modals import request_form
from bot.store.store import Store
from bot.work.asked import Asked
from bot.work.tools import KEY, Tools
from tests.helpers import CHANNEL, TEAM, USER, text_value


class Runner:
    """What `on_request` needs of the runner: `start`, which here only remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[Asked] = []

    def start(self, asked: Asked) -> str | None:
        self.asked.append(asked)
        return None


def submit(runner: Runner, store: Store, task: str) -> list[dict[str, Any]]:
    tools = Tools(runner, store, None, None, None, None, max_task_chars=40)  # type: ignore[arg-type]
    view = {**request_form(CHANNEL, None, 40), "state": {"values": {"task": text_value(task)}}}
    acks: list[dict[str, Any]] = []
    body = {"team": {"id": TEAM}, "user": {"id": USER}}
    on_request(ack=lambda **answer: acks.append(answer), body=body, view=view, context=BoltContext({KEY: tools}))
    return acks


def test_a_handler_is_a_function_a_test_calls_with_its_own_tools(tmp_path: Path) -> None:
    runner, store = Runner(), Store(str(tmp_path / "v.db"))
    too_long = submit(runner, store, "x" * 41)
    assert too_long == [{"response_action": "errors", "errors": {"task": too_long[0]["errors"]["task"]}}]
    assert "the limit is 40" in too_long[0]["errors"]["task"] and runner.asked == []
    assert submit(runner, store, "Write a tagline") == [{}]
    (asked,) = runner.asked
    assert (asked.task, asked.origin.channel_id, asked.origin.user_id) == ("Write a tagline", CHANNEL, USER)
    store.close()
