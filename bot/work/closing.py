"""Closing a run's voting: by its requester's 🔒 button, or by itself `VARIATIONS_VOTING_HOURS` after the
run finished (checked on the recovery heartbeat).

The store closes a run with one atomic update, so of several processes sharing the database exactly one
closes it and tells the thread. Everything Slack sees goes through the outbox (nothing here calls Slack, so
a click's listener can close before its ack): the verdict as a reply, each variation's buttons replaced by
its final counts, and the parent with the winner (or too close to call) and without its buttons; a blind
run's failed variations get their names back too, and its analysis shows the plan. Clicks after it are
refused by the store.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime, timedelta

from bot.render.rebuild import stored_counts, stored_parent
from bot.render.run_messages import analysis_message, verdict_message
from bot.render.variation_messages import stored_failed_message, stored_halted_message
from bot.slack.outbox import Kind, Outbox, fixed
from bot.slack.sessions import Sessions
from bot.store.rows import VariationStatus
from bot.store.store import Store

log = logging.getLogger(__name__)


class Closer:
    def __init__(
        self, store: Store, outbox: Outbox, voting_hours: float | None = None, sessions: Sessions | None = None
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.voting_hours = voting_hours  # None: only the requester closes
        self.sessions = sessions  # the thread's agent session is closed too, from a pool (where Slack has them)

    def close(self, run_id: int) -> bool:
        """Close the run's voting and show it; False when it was closed already (by anyone)."""
        if not self.store.close_voting(run_id):
            return False
        log.info("run=%d step=voting_closed", run_id)
        run = self.store.run(run_id)
        if run.message_ts is None:
            return True  # its parent was never posted: nothing to show
        root = run.thread_ts or run.message_ts
        if self.sessions is not None:
            self.sessions.close(run.team_id, run.channel_id, root)
        variations = self.store.variations(run_id)
        self.outbox.post(
            ("verdict", run_id),
            run.channel_id,
            root,
            lambda: [verdict_message(self.store.variations(run_id), self.store.tallies(run_id), blind=run.blind)],
            team=run.team_id,
        )
        for row in variations:
            if row.written and row.message_ts:
                self.outbox.update(
                    run.channel_id,
                    row.message_ts,
                    functools.partial(stored_counts, self.store, row.id),
                    kind=Kind.FINAL,
                    thread_ts=root,
                    team=run.team_id,
                )
            elif run.blind and row.status.retryable and row.message_ts:
                # named now: the run is closed (a stopped one keeps its text and who stopped it)
                stopped = row.status == VariationStatus.STOPPED
                failed = (
                    stored_halted_message(row, row.error or "")
                    if stopped
                    else stored_failed_message(row, row.error or "")
                )
                self.outbox.update(
                    run.channel_id,
                    row.message_ts,
                    fixed(failed),
                    kind=Kind.FINAL,
                    thread_ts=root,
                    team=run.team_id,
                )
        if run.blind and run.analysis_ts:  # the plan, hidden while the vote was open
            planned = [v.approach for v in variations if v.planned]
            self.outbox.update(
                run.channel_id,
                run.analysis_ts,
                fixed(analysis_message(run.analysis or "", planned)),
                kind=Kind.FINAL,
                thread_ts=root,
                team=run.team_id,
            )
        self.outbox.update(
            run.channel_id,
            run.message_ts,
            lambda: [stored_parent(self.store, run_id)],
            kind=Kind.FINAL,
            thread_ts=root,
            parent=True,
            team=run.team_id,
        )
        return True

    def close_due(self, at: datetime | None = None) -> int:
        """Close every run finished more than `voting_hours` before `at` (now); returns how many this
        process closed."""
        if self.voting_hours is None:
            return 0
        cutoff = (at or datetime.now(UTC)) - timedelta(hours=self.voting_hours)
        due = self.store.voting_due(cutoff.isoformat(timespec="milliseconds"))
        return sum(self.close(run_id) for run_id in due)
