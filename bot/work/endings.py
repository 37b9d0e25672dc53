"""How a live run ends when it cannot finish as planned: its plan failed, a person or a shutdown stopped it,
or the database stopped taking its writes (or its rows were purged). Each way leaves the thread showing how
the run ended, whatever Slack answers: unfinished approaches say why, the parent gets its final state."""

from __future__ import annotations

import logging
import time

from bot.observe.metrics import Metrics
from bot.render.run_messages import Progress, analysis_message, parent_message, plan_failed_message
from bot.render.variation_messages import failed_variation_message
from bot.slack.outbox import Kind, Outbox, fixed
from bot.slack.run_thread import show_status
from bot.store.rows import RunStatus
from bot.store.store import Store, now
from bot.work.delivery import Delivery
from bot.work.live import LiveRun, ignore
from bot.work.stopping import Halt
from orchestrator.events import AnalysisDelta, PlanError

log = logging.getLogger(__name__)


class Endings:
    def __init__(self, store: Store, outbox: Outbox, delivery: Delivery, metrics: Metrics) -> None:
        self.store = store
        self.outbox = outbox
        self.delivery = delivery
        self.metrics = metrics

    def plan_failed(self, live: LiveRun, error: PlanError) -> None:
        self.metrics.model_calls.labels("orchestrator", "error").inc()
        seconds = time.monotonic() - live.started
        log.warning("run=%d step=plan_failed seconds=%.2f error=%r", live.run_id, seconds, str(error))
        self.store.update_run(
            live.run_id, status=RunStatus.FAILED, error=str(error), finished_at=now(), seconds=seconds
        )
        if live.variation_ids:  # approaches were already being written: their text stays
            self.finish_unfinished(live, str(error))
        else:
            live.drop_analysis()  # a plan that failed leaves no half-written analysis behind
        live.deliveries.append(
            live.slack.finish(
                ("plan_failed", live.run_id), None, [plan_failed_message(str(error))], on_moved=ignore, on_lost=ignore
            )
        )
        self.end(live)

    def halted_before_plan(self, live: LiveRun, halt: Halt) -> None:
        """Stopped before any approach was planned: the analysis so far stays, the parent says why, and the AI
        pane's "is planning approaches…" goes (no reply came to clear it)."""
        self.note_halt(live, halt)
        if live.analysis_ts is None:
            show_status(live.origin, "", live.slack.client)
        seconds = time.monotonic() - live.started
        log.info("run=%d step=finished status=%s seconds=%.2f", live.run_id, halt.run_status, seconds)
        self.store.update_run(live.run_id, status=halt.run_status, finished_at=now(), seconds=seconds)
        self.end(live)

    def note_halt(self, live: LiveRun, halt: Halt) -> None:
        """A run whose work was cut short (⏹, Slack's stop, a shutdown): logged, who stopped it stored, and
        an analysis still being written shown as far as it got."""
        log.info("run=%d step=%s by=%s", live.run_id, halt.run_status, halt.by or "app")
        if halt.by is not None:
            self.store.update_run(live.run_id, stopped_by=halt.by)
        if live.analysis_ts is not None and not live.analysis_final:
            final = analysis_message(AnalysisDelta(live.analysis_raw).text, blind=live.blind)
            live.show_analysis(lambda: final, Kind.FINAL)

    def lost(self, live: LiveRun, reason: str) -> None:
        """Nothing more can be stored for this run (the database stopped taking writes, or its rows were
        purged): Slack still shows how the run ended, from what this thread knows, without reading the
        database. Recovery marks the rows, if any, once the database takes writes again."""
        self.finish_unfinished(live, reason)
        progress = Progress(RunStatus.FAILED, error=reason, seconds=time.monotonic() - live.started)
        parent = parent_message(live.origin.user_id, live.task, live.context, progress)
        self.outbox.wait(live.deliveries, timeout=self.outbox.policy.deadline)
        live.slack.update(live.slack.ts, lambda: [parent], Kind.FINAL)

    def finish_unfinished(self, live: LiveRun, reason: str) -> None:
        """Approaches that were still being written end as failed, in Slack (the text so far is void)."""
        for index, ts in live.variation_ts.items():
            if index in live.results or ts is None:
                continue
            if index in live.streams:
                live.streams[index].finish(None)  # stopped, so that it can be rewritten
            failed = failed_variation_message(index, live.approaches[index], reason, label=live.label(index))
            live.slack.update(ts, fixed(failed), Kind.FINAL)
            live.deliveries.append(ts)

    def end(self, live: LiveRun) -> None:
        """The parent's final state, once every variation's final state is delivered."""
        self.outbox.wait(live.deliveries, timeout=self.outbox.policy.deadline)
        self.delivery.update_parent(live.slack, None, Kind.FINAL)
