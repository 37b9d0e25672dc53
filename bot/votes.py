"""Keeps a variation's vote buttons in step with the database, without flooding Slack.

A click offers a rewrite of the message holding the buttons to `LiveUpdates`, which sends at most one per
interval per message; the message is built from the database when it is sent, so whichever rewrite goes
last shows the counts after every click before it, and a burst of 30 clicks costs a few `chat.update`s.
Listener threads never wait on Slack here.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import stored_variation_messages
from bot.render import FINISHED, stored_parent
from bot.store import Store
from bot.throttle import LiveUpdates

log = logging.getLogger(__name__)


class VoteRefresher:
    def __init__(self, store: Store, client: WebClient, live: LiveUpdates) -> None:
        self.store = store
        self.client = client
        self.live = live

    def refresh(self, variation_id: int, run_id: int, channel_id: str, message_ts: str | None) -> None:
        """Rewrite the message holding this variation's buttons with the current counts, and the run's
        leader on its parent, soon."""

        def send() -> None:
            row = self.store.variation(variation_id)
            if row is None:
                return
            tally = self.store.tally(variation_id)
            message = stored_variation_messages(row, tally.up, tally.down)[-1]
            try:
                self.client.chat_update(channel=channel_id, ts=message_ts, **message)
            except SlackApiError as error:
                reason = error.response.get("error")
                log.error("variation %s: updating the counts failed: %s", variation_id, reason)

        if message_ts:
            self.live.offer(message_ts, send)
        run = self.store.run(run_id)
        if run is not None and run["status"] in FINISHED and run["message_ts"]:
            # The leader on the parent moves with the votes (while a run is written, its own updates do).
            parent_ts = run["message_ts"]
            self.live.offer(parent_ts, lambda: self._send_parent(run_id, channel_id, parent_ts))

    def _send_parent(self, run_id: int, channel_id: str, ts: str) -> None:
        try:
            self.client.chat_update(channel=channel_id, ts=ts, **stored_parent(self.store, run_id))
        except SlackApiError as error:
            log.error("run %s: updating the leader failed: %s", run_id, error.response.get("error"))
