"""Slack calls a listener makes after its ack: listeners run before the ack is returned, so anything that
talks to Slack (an ephemeral note, opening a form, a stats answer) goes to a small pool instead. A failure
is logged without the request (it holds capability URLs and people's text), never raised."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

log = logging.getLogger(__name__)


class Later:
    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def say(self, respond: Respond, text: str = "", **message: Any) -> None:
        """An ephemeral message to the person who asked, through the request's response_url."""
        self.call("respond", lambda: respond(text=text, response_type="ephemeral", replace_original=False, **message))

    def open(self, client: WebClient, trigger_id: str, view: dict[str, Any]) -> None:
        """Open a modal (the trigger stays valid for 3 seconds: ample after an ack of milliseconds)."""
        self.call("views_open", lambda: client.views_open(trigger_id=trigger_id, view=view))

    def call(self, what: str, call: Callable[[], object]) -> None:
        self.executor.submit(_safely, what, call)


def _safely(what: str, call: Callable[[], object]) -> None:
    try:
        call()
    except Exception as error:
        log.error("step=after_ack_failed call=%s error=%s", what, type(error).__name__)
