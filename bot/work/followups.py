"""Work on a run after it was written: a synthesis of the best-voted variations, a new version of one
approach, one more variation that follows an instruction given in the thread, another try of a failed one.
Each writes one variation into the run's thread, streamed and finished like the run's own, and counts in
the run's tokens. While it is written the run's parent shows ⏹ and its thread is an agent session in
`processing` (where Slack offers them): the person who asked for it, or the run's requester, may stop it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable

from bot.render.names import blind_labels, ranked_variations, shown_name
from bot.render.rebuild import blind_label
from bot.render.variation_messages import failed_variation_message, writing_message
from bot.slack.clients import SlackFor
from bot.slack.outbox import Kind, Outbox, fixed
from bot.slack.run_thread import SlackThread
from bot.slack.sessions import Sessions
from bot.slack.streams import Stream
from bot.store.rows import MissingRow, RunStatus, Tally, VariationRow, VariationStatus
from bot.store.store import Store
from bot.work.admission import InFlight
from bot.work.delivery import PURGED, Delivery
from bot.work.stopping import Job, Stops
from orchestrator.engine import Engine
from orchestrator.events import FOLLOW_UP, SYNTHESIS, Request, WorkerDelta, WorkerResult
from orchestrator.parsing import Approach
from orchestrator.prompts import Candidate, FollowUp, Revision

log = logging.getLogger(__name__)

SYNTHESIS_INPUTS = 3  # the best-voted variations a synthesis combines
Write = Callable[[int, Callable[[str], None]], WorkerResult]


class FollowUps:
    def __init__(
        self,
        engine: Engine,
        store: Store,
        slack_for: SlackFor,
        outbox: Outbox,
        delivery: Delivery,
        in_flight: InFlight,
        stops: Stops,
        sessions: Sessions,
    ) -> None:
        self.engine = engine
        self.store = store
        self.slack_for = slack_for
        self.outbox = outbox
        self.delivery = delivery
        self.in_flight = in_flight
        self.stops = stops
        self.sessions = sessions

    def voting_closed(self, run_id: int | None = None, *, variation_id: int | None = None) -> bool:
        """Whether the run (or the variation's run) has closed its voting: it takes nothing new then."""
        if variation_id is not None:
            row = self.store.find_variation(variation_id)
            run_id = row.run_id if row else None
        run = self.store.find_run(run_id) if run_id is not None else None
        return run is not None and run.voting_closed

    def synthesize(self, run_id: int, asker: str) -> None:
        candidates = self.candidates(run_id)
        liked = any(c.net_votes > 0 for c in candidates)
        names = [c.approach.type for c in candidates]
        listed = " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]
        brief = f"Combines {listed}" + ("" if liked else " (no votes yet)")
        self._add(run_id, asker, Approach(SYNTHESIS, brief), candidates=candidates)

    def regenerate(self, variation_id: int, instruction: str, asker: str) -> None:
        old = self.store.find_variation(variation_id)
        if old is None:
            log.warning("step=regenerate_gone variation=%d", variation_id)
            return
        instruction = instruction.strip()
        self._add(old.run_id, asker, old.approach, regenerated_from=variation_id, instruction=instruction or None)

    def follow_up(self, run_id: int, instruction: str, asker: str) -> None:
        """One more variation that follows `instruction` (given in the run's thread), stored with it."""
        instruction = instruction.strip()
        self._add(run_id, asker, Approach(FOLLOW_UP, instruction), instruction=instruction)

    def retry(self, variation_id: int, asker: str) -> None:
        """Write a failed variation again, into its own row and message."""
        row = self.store.find_variation(variation_id)
        if row is None:
            log.warning("step=retry_gone variation=%d", variation_id)
            return
        run = self.store.run(row.run_id)
        with self.stops.job(run.id, asker, run.user_id) as job:
            slack, request = self._thread_of(row.run_id, job)
            with self.in_flight.creating():
                self.store.update_variation(variation_id, status=VariationStatus.WRITING, error=None)
                self.in_flight.hold(variation=variation_id)
            if row.message_ts is not None:
                label = blind_label(self.store, row)
                placeholder = writing_message(row.shown_position, row.approach, note=row.instruction, label=label)
                slack.update(row.message_ts, lambda: [placeholder], Kind.FINAL)
            self._write_into(slack, row, row.message_ts, self._writer(row, request), job)
        self._settle(row.run_id)

    def candidates(self, run_id: int) -> list[Candidate]:
        """What a synthesis combines: the top of the ranking (`bot.store.ranking`, as the leader and the verdict
        go by) among the written variations that are not syntheses, those liked more than disliked, at most
        SYNTHESIS_INPUTS; all written ones when none is. Each is named as the thread shows it: in an open
        blind run by its letter, so no name reaches the prompt or the header."""
        run = self.store.run(run_id)
        variations = self.store.variations(run_id)
        tallies = self.store.tallies(run_id)
        labels = blind_labels(variations) if run.blind and not run.voting_closed else {}
        ranking = [v for v, _ in ranked_variations(variations, tallies) if v.type != SYNTHESIS]

        def net(row: VariationRow) -> int:
            return tallies.get(row.id, Tally()).net

        liked = [v for v in ranking if net(v) > 0][:SYNTHESIS_INPUTS]
        return [
            Candidate(Approach(shown_name(v, labels.get(v.id)), ""), v.text or "", net(v)) for v in liked or ranking
        ]

    def _writer(self, row: VariationRow, request: Request, candidates: list[Candidate] | None = None) -> Write:
        """A synthesis from `candidates` (recomputed when not given), a follow-up from its instruction and
        the run's analysis and approaches, a new version from the text it replaces, or the planned approach
        itself."""
        if row.type == SYNTHESIS:
            inputs = candidates if candidates is not None else self.candidates(row.run_id)
            return lambda index, on_reply: self.engine.workers.synthesize(request, index, inputs, on_reply)
        if row.type == FOLLOW_UP:
            run, variations = self.store.run(row.run_id), self.store.variations(row.run_id)
            taken = [v.approach for v in variations if v.planned]
            analysis = run.analysis or ""
            if run.blind and not run.voting_closed:  # no name reaches the prompt: the model could repeat it
                labels = blind_labels(variations)
                taken = [Approach(f"Variation {labels[v.id]}", "") for v in variations if v.planned]
                analysis = ""
            follow_up = FollowUp(row.instruction or "", analysis, taken)
            return lambda index, on_reply: self.engine.workers.follow_up(request, index, follow_up, on_reply)
        approach = row.approach
        revision = None
        if row.regenerated_from is not None:
            old = self.store.find_variation(row.regenerated_from)
            revision = Revision((old.text if old else None) or "", row.instruction or "")
        return lambda index, on_reply: self.engine.workers.write(request, index, approach, on_reply, revision)

    def _add(
        self,
        run_id: int,
        asker: str,
        approach: Approach,
        *,
        regenerated_from: int | None = None,
        instruction: str | None = None,
        candidates: list[Candidate] | None = None,
    ) -> None:
        """Write one more variation into a finished run's thread, for `asker`."""
        with self.stops.job(run_id, asker, self.store.run(run_id).user_id) as job:
            self._add_for(job, approach, regenerated_from, instruction, candidates)

    def _add_for(
        self,
        job: Job,
        approach: Approach,
        regenerated_from: int | None,
        instruction: str | None,
        candidates: list[Candidate] | None,
    ) -> None:
        run_id = job.run_id
        slack, request = self._thread_of(run_id, job)
        with self.in_flight.creating():
            variation_id = self.store.add_variation(
                run_id,
                None,
                approach.type,
                approach.description,
                regenerated_from=regenerated_from,
                instruction=instruction,
            )
            self.in_flight.hold(variation=variation_id)
        try:
            row = self.store.variation(variation_id)
            # Streamed for the person who asked for the run (Slack needs someone to stream to in channels).
            recipient = self.store.run(run_id).user_id
            label = blind_label(self.store, row)  # a new version keeps the letter of what it revises
            stream = self.delivery.open_stream(slack, recipient, row.shown_position, approach, instruction, label)
            placeholder = writing_message(None, approach, note=instruction, label=label)
            ts = stream.ts if stream else slack.reply(placeholder)
            self.store.update_variation(variation_id, message_ts=ts)
        except BaseException:
            self.in_flight.drop(variation=variation_id)
            raise
        self._write_into(slack, row, ts, self._writer(row, request, candidates), job, stream)

    def _write_into(
        self,
        slack: SlackThread,
        row: VariationRow,
        ts: str | None,
        write: Write,
        job: Job,
        stream: Stream | None = None,
    ) -> None:
        """Write the variation of `row` (streamed into message `ts`, by `stream` when it is one) and finish
        it like any other; its id is held in flight by the caller and let go here. Meanwhile the parent
        shows ⏹ and the thread's session is `processing`."""
        self.delivery.update_parent(slack, None, Kind.FINAL)
        run = self.store.run(slack.run_id)
        session = self.sessions.begin(slack.team_id, slack.channel, slack.root, run.task, run.user_id)
        try:
            approach, position, note = row.approach, row.shown_position, row.instruction
            label = blind_label(self.store, row)

            def on_reply(raw: str) -> None:
                if stream is not None:
                    stream.write(WorkerDelta(row.position, raw).text)
                elif ts is not None:
                    text = WorkerDelta(row.position, raw).text
                    slack.update(ts, lambda: [writing_message(position, approach, text, note, label)], Kind.LIVE)

            result = write(row.position, on_reply)
            deliveries: list[Hashable] = []
            try:
                self.delivery.finish_variation(slack, row.id, result, ts, deliveries, stream, job.halt)
                if result.stopped and job.halt is not None:
                    by = job.halt.by or "app"
                    log.info("run=%d step=%s variation=%d by=%s", run.id, job.halt.run_status, row.id, by)
                    if job.halt.by is not None:
                        self.store.update_run(run.id, stopped_by=job.halt.by)
                usage = result.usage
                cost = self.delivery.cost(result.model, usage)
                self.store.add_run_tokens(slack.run_id, usage.input_tokens, usage.output_tokens, cost)
            except MissingRow:  # purged with --force meanwhile: its message ends, saying so; no row is touched
                log.warning("run=%d step=purged_while_writing variation=%d", slack.run_id, row.id)
                if stream is not None:
                    stream.finish(None)  # stopped, so that it can be rewritten
                if ts is not None:
                    slack.update(
                        ts, fixed(failed_variation_message(position, approach, PURGED, label=label)), Kind.FINAL
                    )
                return
            self.outbox.wait(deliveries, timeout=self.outbox.policy.deadline)
            self.delivery.update_parent(slack, None, Kind.FINAL)
        finally:
            self.in_flight.drop(variation=row.id)
            self.sessions.end(session)

    def _settle(self, run_id: int) -> None:
        """After a retry, a run whose planned approaches are now all written is done (else partial)."""
        run = self.store.run(run_id)
        planned = [v for v in self.store.variations(run_id) if v.planned]
        if run.status not in (RunStatus.PARTIAL, RunStatus.INTERRUPTED, RunStatus.STOPPED) or not planned:
            return
        written = sum(v.written for v in planned)
        status = RunStatus.DONE if written == len(planned) else RunStatus.PARTIAL if written else run.status
        self.store.update_run(run_id, status=status)
        slack, _ = self._thread_of(run_id)
        self.delivery.update_parent(slack, None, Kind.FINAL)

    def _thread_of(self, run_id: int, job: Job | None = None) -> tuple[SlackThread, Request]:
        """A finished run's thread and request (stopped by `job`'s Cancel), from the database."""
        run = self.store.run(run_id)
        client = self.slack_for(run.team_id)
        ts = run.message_ts or ""
        slack = SlackThread(client, self.outbox, run.channel_id, ts, run_id, run.thread_ts, run.team_id)
        if job is None:
            return slack, Request(task=run.task, context=run.context)
        return slack, Request(task=run.task, context=run.context, cancel=job.cancel)
