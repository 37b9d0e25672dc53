"""Reports one live run into its Slack thread: engine events in, database rows and messages out.

Everything the engine produces is written to the database before it is shown, so a Slack failure loses
no text; every message's last state goes through the outbox, which retries it, continues it when it is
too long and posts it anew when it cannot be written in place. The parent's final status is sent only
once every variation's final state has been delivered, so "Done" means the thread is complete.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time

from slack_sdk.errors import SlackApiError

from bot.observe.metrics import Metrics
from bot.render.run_messages import Progress, analysis_message, parent_message
from bot.render.variation_messages import writing_message
from bot.slack.clients import SlackFor
from bot.slack.outbox import Kind, Outbox
from bot.slack.run_thread import PLANNING, SlackThread, show_status, tell
from bot.slack.sessions import Sessions
from bot.store.pricing import total
from bot.store.rows import MissingRow, RunStatus
from bot.store.store import Store, now
from bot.store.team_record import TeamMemory
from bot.work.admission import InFlight
from bot.work.asked import Asked
from bot.work.delivery import PURGED, Delivery
from bot.work.endings import Endings
from bot.work.live import LiveRun
from bot.work.stopping import Job, Stops
from orchestrator.engine import Engine
from orchestrator.events import (
    MAX_APPROACHES,
    MIN_APPROACHES,
    AnalysisDelta,
    AnalysisReady,
    Event,
    PlanError,
    Planned,
    PlanRetrying,
    Request,
    RunFinished,
    WorkerDelta,
    WorkerFinished,
    WorkerResult,
    WorkerStarted,
)
from orchestrator.parsing import Approach

log = logging.getLogger(__name__)

CANNOT_POST = {
    "channel_not_found": "I can't see this channel. If it's private, invite me first with `/invite @Variations`.",
    "not_in_channel": "I'm not in this channel. Invite me with `/invite @Variations` and try again.",
    "is_archived": "This channel is archived, so I can't post the variations here.",
}
NOT_RECORDED = (
    "I couldn't record this request (the app's database is not writable), so nothing was started. "
    "Please tell whoever runs Variations."
)
STORAGE_FAILED = "the app's database could not be written; nothing more can be saved for this run"


class Reporter:
    def __init__(
        self,
        engine: Engine,
        store: Store,
        slack_for: SlackFor,
        outbox: Outbox,
        in_flight: InFlight,
        metrics: Metrics,
        delivery: Delivery,
        memory: TeamMemory,
        stops: Stops,
        sessions: Sessions,
    ) -> None:
        self.engine = engine
        self.store = store
        self.slack_for = slack_for
        self.outbox = outbox
        self.in_flight = in_flight
        self.metrics = metrics
        self.delivery = delivery
        self.memory = memory
        self.stops = stops
        self.sessions = sessions
        self.ends = Endings(store, outbox, delivery, metrics)

    def run(self, asked: Asked) -> None:
        """The whole run, in the calling thread (a run pool thread, never a request thread)."""
        origin = asked.origin
        try:
            with self.in_flight.creating():
                run_id = self.store.create_run(
                    team_id=origin.team_id,
                    channel_id=origin.channel_id,
                    user_id=origin.user_id,
                    task=asked.task,
                    context=asked.context,
                    orchestrator_model=self.engine.orchestrator_model,
                    worker_model=self.engine.worker_model,
                    thread_ts=origin.thread_ts,
                    blind=asked.blind,
                )
                self.in_flight.hold(run=run_id)
        except sqlite3.Error as error:
            log.error("step=not_recorded user=%s error=%s", origin.user_id, error)
            tell(origin, NOT_RECORDED, self.slack_for(origin.team_id))
            return
        self.metrics.runs_started.inc()
        try:
            with self.stops.job(run_id, origin.user_id, origin.user_id) as job:
                self._run(run_id, asked, job)
        finally:
            self.in_flight.drop(run=run_id)
            self.metrics.runs_finished.labels(self._status(run_id)).inc()

    def _run(self, run_id: int, asked: Asked, job: Job) -> None:
        started = time.monotonic()
        origin, task, context, blind = asked.origin, asked.task, asked.context, asked.blind
        client = self.slack_for(origin.team_id)
        try:
            posted = client.chat_postMessage(
                channel=origin.channel_id,
                thread_ts=origin.thread_ts,
                **parent_message(origin.user_id, task, context, Progress(RunStatus.PLANNING), stop_run=run_id),
            )
        except (SlackApiError, OSError) as error:
            reason = str(error.response.get("error")) if isinstance(error, SlackApiError) else "no_connection"
            self.store.update_run(run_id, status=RunStatus.FAILED, error=f"slack: {reason}", finished_at=now())
            log.warning("run=%d step=not_posted error=%s", run_id, reason)
            tell(origin, CANNOT_POST.get(reason, f"I couldn't post in this channel ({reason})."), client)
            return
        ts = str(posted["ts"])
        show_status(origin, PLANNING, client)  # in the AI pane, until the plan's first words are posted
        live = LiveRun(
            SlackThread(client, self.outbox, origin.channel_id, ts, run_id, origin.thread_ts, origin.team_id),
            origin,
            task,
            context,
            started,
            job,
            blind=blind,
        )
        if blind:  # where its analysis is shown, so that closing its voting can reveal the plan there
            live.remember_analysis = functools.partial(self._remember_analysis, run_id)
        log.info(
            "run=%d step=started team=%s channel=%s user=%s task_chars=%d context_keys=%d",
            run_id,
            origin.team_id,
            origin.channel_id,
            origin.user_id,
            len(task),
            len(context),
        )
        session = self.sessions.begin(origin.team_id, origin.channel_id, live.slack.root, task, origin.user_id)
        try:
            self.store.update_run(run_id, message_ts=live.slack.ts, status=RunStatus.RUNNING)
            low, high = (asked.approaches,) * 2 if asked.approaches else (MIN_APPROACHES, MAX_APPROACHES)
            record = self.memory.record(origin.team_id, origin.channel_id, fresh=asked.fresh)
            live.remembered = len(record.types)
            request = Request(
                task=task,
                context=context,
                min_approaches=low,
                max_approaches=high,
                record=record,
                catalogue=self.memory.catalogue(origin.team_id),
                cancel=job.cancel,
            )
            for event in self.engine.run(request):
                self._on_event(live, event)
        except PlanError as error:
            if job.halt is not None:
                self.ends.halted_before_plan(live, job.halt)
            else:
                self.ends.plan_failed(live, error)
        except sqlite3.Error as error:
            log.error("run=%d step=storage_failed error=%s", live.run_id, error)
            self.ends.lost(live, STORAGE_FAILED)
        except MissingRow:  # purged with --force: ids are never reused, so nothing else was touched
            log.warning("run=%d step=purged_while_running", live.run_id)
            self.ends.lost(live, PURGED)
        finally:
            for variation_id in live.variation_ids.values():
                self.in_flight.drop(variation=variation_id)
            self.sessions.end(session)

    # events

    def _on_event(self, live: LiveRun, event: Event) -> None:
        if isinstance(event, AnalysisDelta):
            live.analysis_raw = event.raw
            # nothing to show before its first words, nor ever in a blind run (it names the approaches)
            if not live.blind and (live.analysis_ts is not None or event.text):
                live.show_analysis(lambda: analysis_message(event.text, writing=True), Kind.LIVE)
        elif isinstance(event, PlanRetrying):
            log.info("run=%d step=plan_retry reason=%r", live.run_id, event.reason)
            live.drop_analysis()
        elif isinstance(event, AnalysisReady):
            live.analysis_final = True
            self.store.update_run(live.run_id, analysis=event.analysis)
            final = analysis_message(event.analysis, remembered=live.remembered, blind=live.blind)
            live.show_analysis(lambda: final, Kind.FINAL)
        elif isinstance(event, WorkerStarted):
            self._on_worker_started(live, event.index, event.approach)
        elif isinstance(event, WorkerDelta):
            ts = live.variation_ts.get(event.index)
            if event.index in live.streams:
                live.streams[event.index].write(event.text)
            elif ts is not None:
                approach = live.approaches[event.index]
                label = live.label(event.index)
                live.slack.update(
                    ts, lambda: [writing_message(event.index, approach, event.text, label=label)], Kind.LIVE
                )
        elif isinstance(event, WorkerFinished):
            self._on_worker_finished(live, event.result)
        elif isinstance(event, Planned):
            self._on_planned(live, event)
        elif isinstance(event, RunFinished):
            self._on_run_finished(live, event)

    def _on_planned(self, live: LiveRun, planned: Planned) -> None:
        plan, completion = planned.plan, planned.completion
        log.info(
            "run=%d step=planned approaches=%d seconds=%.2f input_tokens=%d output_tokens=%d",
            live.run_id,
            len(plan.approaches),
            completion.seconds,
            completion.usage.input_tokens,
            completion.usage.output_tokens,
        )
        live.total = len(plan.approaches)
        live.analysis_final = True
        live.plan_tokens = completion.usage.total
        live.plan_cost = self.delivery.cost(completion.model, completion.usage)
        self.delivery.count_call("orchestrator", True, completion.usage)
        self.store.update_run(
            live.run_id,
            analysis=plan.analysis,
            plan_seconds=completion.seconds,
            input_tokens=completion.usage.input_tokens,
            output_tokens=completion.usage.output_tokens,
            cost_usd=live.plan_cost,
        )
        final = analysis_message(
            plan.analysis, plan.approaches, cut_short=plan.cut_short, remembered=live.remembered, blind=live.blind
        )
        live.show_analysis(lambda: final, Kind.FINAL)
        self.delivery.update_parent(live.slack, self._progress(live), Kind.LIVE)

    def _on_worker_started(self, live: LiveRun, index: int, approach: Approach) -> None:
        variation_id = self._variation_id(live, index, approach)
        label = live.label(index)
        stream = self.delivery.open_stream(live.slack, live.origin.user_id, index, approach, label=label)
        if stream is not None:
            live.streams[index] = stream
        placeholder = writing_message(index, approach, label=label)
        ts = live.variation_ts[index] = stream.ts if stream else live.slack.reply(placeholder)
        # Known at once, so that after a crash the restart can tell this message it was interrupted.
        self.store.update_variation(variation_id, message_ts=ts)

    def _on_worker_finished(self, live: LiveRun, result: WorkerResult) -> None:
        variation_id = self._variation_id(live, result.index, result.approach)
        log.info(
            "run=%d step=variation position=%d type=%s status=%s seconds=%.2f input_tokens=%d output_tokens=%d%s",
            live.run_id,
            result.index,
            result.approach.type,
            "done" if result.ok else "failed",
            result.seconds,
            result.usage.input_tokens,
            result.usage.output_tokens,
            f" error={result.error!r}" if result.error else "",
        )
        placeholder, stream = live.variation_ts.get(result.index), live.streams.get(result.index)
        halt = live.job.halt
        self.delivery.finish_variation(live.slack, variation_id, result, placeholder, live.deliveries, stream, halt)
        live.results[result.index] = result  # only once stored: until then it counts as unfinished
        if live.total:
            self.delivery.update_parent(live.slack, self._progress(live), Kind.LIVE)

    def _remember_analysis(self, run_id: int, ts: str) -> None:
        self.store.update_run(run_id, analysis_ts=ts)

    def _on_run_finished(self, live: LiveRun, finished: RunFinished) -> None:
        result = finished.result
        halt = live.job.halt if result.stopped else None
        status = result.status if halt is None else halt.run_status
        if halt is not None:
            self.ends.note_halt(live, halt)
        log.info(
            "run=%d step=finished status=%s seconds=%.2f input_tokens=%d output_tokens=%d",
            live.run_id,
            status,
            result.seconds,
            result.usage.input_tokens,
            result.usage.output_tokens,
        )
        self.store.update_run(
            live.run_id,
            status=status,
            finished_at=now(),
            seconds=result.seconds,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            cost_usd=total(
                [self.delivery.cost(result.plan_completion.model, result.plan_completion.usage)]
                + [self.delivery.cost(r.model, r.usage) for r in result.results]
            ),
        )
        self.ends.end(live)

    # helpers

    def _status(self, run_id: int) -> str:
        try:
            run = self.store.find_run(run_id)
        except sqlite3.Error:
            return "unknown"
        return run.status if run else "unknown"

    def _variation_id(self, live: LiveRun, index: int, approach: Approach) -> int:
        if index not in live.variation_ids:
            live.approaches[index] = approach
            with self.in_flight.creating():
                variation_id = self.store.add_variation(
                    live.run_id, index, approach.type, approach.description, written_type=approach.written or None
                )
                self.in_flight.hold(variation=variation_id)
            live.variation_ids[index] = variation_id
        return live.variation_ids[index]

    def _progress(self, live: LiveRun) -> Progress:
        return Progress(
            RunStatus.RUNNING,
            total=live.total,
            finished=len(live.results),
            failed=sum(not r.ok for r in live.results.values()),
            seconds=time.monotonic() - live.started,
            tokens=live.plan_tokens + sum(r.usage.total for r in live.results.values()),
            cost=total([live.plan_cost] + [self.delivery.cost(r.model, r.usage) for r in live.results.values()]),
        )
