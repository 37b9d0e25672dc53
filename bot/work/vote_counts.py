"""Keeps a variation's vote buttons in step with the database, without flooding Slack.

A click hands a rewrite of the message holding the buttons to the outbox, which sends at most one per
interval per message and never drops it; the message is built from the database when it is sent, so
whichever rewrite goes last shows the counts after every click before it, and a burst of 30 clicks costs a
few `chat.update`s. Nothing here calls Slack: the click's request thread only queues.
"""

from __future__ import annotations

from bot.render.rebuild import stored_counts, stored_parent
from bot.slack.outbox import Kind, Outbox
from bot.store.rows import RunRow, VariationRow
from bot.store.store import Store


class VoteRefresher:
    def __init__(self, store: Store, outbox: Outbox) -> None:
        self.store = store
        self.outbox = outbox

    def refresh(self, variation: VariationRow, run: RunRow) -> None:
        """Rewrite the message holding this variation's buttons with the current counts, and the run's
        leader on its parent, soon."""
        if variation.message_ts:
            self.outbox.update(
                run.channel_id,
                variation.message_ts,
                lambda: stored_counts(self.store, variation.id),
                kind=Kind.REFRESH,
                team=run.team_id,
            )
        if run.status.finished and run.message_ts:
            # The leader on the parent moves with the votes (while a run is written, its own updates do).
            self.outbox.update(
                run.channel_id,
                run.message_ts,
                lambda: [stored_parent(self.store, run.id)],
                kind=Kind.REFRESH,
                team=run.team_id,
            )
