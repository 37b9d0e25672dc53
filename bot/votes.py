"""Keeps a variation's vote buttons in step with the database, without flooding Slack.

Clicks on one variation are serialized, and a refresh that finds another one already waiting leaves the
work to it: the waiting refresh reads the counts after this click was written, so the message always
ends on the true counts, with at most one pending `chat.update` per variation however fast people click.
"""

from __future__ import annotations

import logging
import threading

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import stored_variation_messages
from bot.store import Store

log = logging.getLogger(__name__)


class VoteRefresher:
    def __init__(self, store: Store, client: WebClient) -> None:
        self.store = store
        self.client = client
        self._guard = threading.Lock()
        self._locks: dict[int, threading.Lock] = {}
        self._pending: set[int] = set()

    def refresh(self, variation_id: int) -> None:
        """Rewrite the message holding this variation's buttons with the current counts."""
        with self._guard:
            if variation_id in self._pending:
                return
            self._pending.add(variation_id)
            lock = self._locks.setdefault(variation_id, threading.Lock())
        with lock:
            with self._guard:
                self._pending.discard(variation_id)
            row = self.store.variation(variation_id)
            run = self.store.run(row["run_id"]) if row else None
            if row is None or run is None or not row["message_ts"]:
                return
            tally = self.store.tally(variation_id)
            message = stored_variation_messages(row, tally.up, tally.down)[-1]
            try:
                self.client.chat_update(channel=run["channel_id"], ts=row["message_ts"], **message)
            except SlackApiError as error:
                log.error("variation %s: updating the counts failed: %s", variation_id, error.response.get("error"))
