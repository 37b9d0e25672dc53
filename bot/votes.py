"""Keeps a variation's vote buttons in step with the database, without flooding Slack.

A click hands a rewrite of the message holding the buttons to the outbox, which sends at most one per
interval per message and never drops it; the message is built from the database when it is sent, so
whichever rewrite goes last shows the counts after every click before it, and a burst of 30 clicks costs a
few `chat.update`s. Nothing here calls Slack: the click's request thread only queues.
"""

from __future__ import annotations

from bot.blocks import Message, stored_variation_messages
from bot.outbox import Kind, Outbox
from bot.render import FINISHED, stored_parent
from bot.store import Store


class VoteRefresher:
    def __init__(self, store: Store, outbox: Outbox) -> None:
        self.store = store
        self.outbox = outbox

    def refresh(self, variation_id: int, run_id: int, channel_id: str, message_ts: str | None) -> None:
        """Rewrite the message holding this variation's buttons with the current counts, and the run's
        leader on its parent, soon."""

        def counts() -> list[Message] | None:
            row = self.store.variation(variation_id)
            if row is None or row["status"] != "done":
                return None  # being written again (a retry): its own final state brings the buttons
            tally = self.store.tally(variation_id)
            return [stored_variation_messages(row, tally.up, tally.down)[-1]]

        if message_ts:
            self.outbox.update(channel_id, message_ts, counts, kind=Kind.REFRESH)
        run = self.store.run(run_id)
        if run is not None and run["status"] in FINISHED and run["message_ts"]:
            # The leader on the parent moves with the votes (while a run is written, its own updates do).
            self.outbox.update(
                channel_id, run["message_ts"], lambda: [stored_parent(self.store, run_id)], kind=Kind.REFRESH
            )
