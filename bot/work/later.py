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
    def __init__(self, executor: Executor, quiet: Callable[[], None] = lambda: None) -> None:
        """`quiet` blocks until the requests arriving now are answered (AckFirst.wait_quiet): work that
        costs CPU, such as a scoreboard, waits for it so a burst's acks go first."""
        self.executor = executor
        self.quiet = quiet

    def say(self, respond: Respond, text: str = "", **message: Any) -> None:
        """An ephemeral message to the person who asked, through the request's response_url."""
        self.call("respond", lambda: respond(text=text, response_type="ephemeral", replace_original=False, **message))

    def whisper(
        self, client: WebClient, channel: str, user: str, thread_ts: str | None, text: str = "", **message: Any
    ) -> None:
        """An ephemeral message to `user` in a channel (or one of its threads), for requests that carry no
        response_url (events)."""
        self.call(
            "chat_postEphemeral",
            lambda: client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=text, **message),
        )

    def open(self, client: WebClient, trigger_id: str, view: dict[str, Any]) -> None:
        """Open a modal (the trigger stays valid for 3 seconds: ample after an ack of milliseconds)."""
        self.call("views_open", lambda: client.views_open(trigger_id=trigger_id, view=view))

    def call(self, what: str, call: Callable[[], object], *, after_acks: bool = False) -> None:
        """Run `call` in the pool; with `after_acks`, once the requests arriving now are answered."""
        self.executor.submit(_safely, what, call, self.quiet if after_acks else None)


def _safely(what: str, call: Callable[[], object], first: Callable[[], None] | None = None) -> None:
    try:
        if first is not None:
            first()
        call()
    except Exception as error:
        log.error("step=after_ack_failed call=%s error=%s", what, type(error).__name__)
