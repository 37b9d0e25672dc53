"""A variation's and a run parent's final states: stored first, then delivered, for a live run
(bot.work.reporter) and for the variations added to a finished one (bot.work.followups), and the parent's outcome for
recovery too.

A variation is stored before it is shown, so a Slack failure loses no text; its final messages go through
the outbox (retried, continued when too long, posted anew when they cannot be written in place), or, when
its text was streamed, end with the stream's stop, which attaches the buttons.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Hashable

from bot.observe.metrics import Metrics
from bot.render.rebuild import blind_label, stored_parent
from bot.render.run_messages import Progress
from bot.render.variation_messages import stored_failed_message, stored_halted_message, stored_variation_messages
from bot.slack.outbox import Kind
from bot.slack.run_thread import SlackThread
from bot.slack.streams import Stream, Streams, closing_blocks, heading
from bot.store.pricing import DEFAULT_PRICES, Prices
from bot.store.rows import VariationStatus
from bot.store.store import Store, now
from bot.work.stopping import Halt
from orchestrator.events import SYNTHESIS, Usage, WorkerResult
from orchestrator.parsing import Approach

log = logging.getLogger(__name__)

PURGED = "this run's data was deleted (its workspace's data was purged) while it was being written"
"""Why a run or variation stopped when its rows were purged under it (`purge --force`)."""


class Delivery:
    def __init__(
        self, store: Store, metrics: Metrics, streams: Streams | None = None, prices: Prices = DEFAULT_PRICES
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.streams = streams  # the second delivery path, where it serves (None: rewrites only)
        self.prices = prices  # what the calls stored here cost, and (bot.work.reporter) the runs'

    def open_stream(
        self,
        slack: SlackThread,
        recipient: str,
        position: int | None,
        approach: Approach,
        note: str | None = None,
        label: str | None = None,
    ) -> Stream | None:
        """A stream for a variation's text where streaming serves (`bot.slack.streams`), written for `recipient`
        (`label`: a blind run's); None: the caller posts a placeholder and rewrites it."""
        if self.streams is None or not self.streams.wanted(slack.channel):
            return None
        return self.streams.start(slack, recipient, heading(position, approach, note, label))

    def finish_variation(
        self,
        slack: SlackThread,
        variation_id: int,
        result: WorkerResult,
        placeholder: str | None,
        deliveries: list[Hashable],
        stream: Stream | None = None,
        halt: Halt | None = None,
    ) -> None:
        """Store a written (or failed) variation, then deliver its final messages; the database learns
        which message holds its buttons, or that none could be shown. A streamed one (`stream`, its message
        `placeholder`) ends with its buttons attached by the stream's stop; when that cannot be, its
        final messages go through the outbox like any other's. A stopped one (its work was cut short by
        `halt`) keeps its text so far and says why."""
        role = "synthesis" if result.approach.type == SYNTHESIS else "worker"
        halted = halt if result.stopped else None
        self.count_call(role, "stopped" if halted else result.ok, result.usage)
        status = halted.variation_status if halted else VariationStatus.DONE if result.ok else VariationStatus.FAILED
        self.metrics.variations.labels(status).inc()
        self.store.update_variation(
            variation_id,
            text=result.text,
            status=status,
            error=halted.note if halted else result.error,
            model=result.model,
            seconds=result.seconds,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            cost_usd=self.cost(result.model, result.usage),
            stop_reason=result.stop_reason,
            finished_at=now(),
        )
        row = self.store.variation(variation_id)
        label = blind_label(self.store, row)
        run = self.store.find_run(row.run_id)
        closed = run is not None and run.voting_closed  # closed while it was written: no vote buttons
        if halted:
            messages = [stored_halted_message(row, halted.note, label)]
        elif result.ok:
            messages = stored_variation_messages(row, label=label, closed=closed)
        else:
            messages = [stored_failed_message(row, result.error or "", label)]
        if stream is not None:
            whole = result.text if result.ok and len(messages) == 1 else None  # else rewritten, split or failed
            if stream.finish(whole, closing_blocks(row, closed=closed)):
                return

        def moved(ts: str) -> None:
            self.store.update_variation(variation_id, message_ts=ts)

        def lost() -> None:
            log.error("run=%d step=variation_not_shown variation=%d", slack.run_id, variation_id)
            self.store.update_variation(variation_id, message_ts=None)

        deliveries.append(
            slack.finish(("variation", variation_id), placeholder, messages, on_moved=moved, on_lost=lost)
        )

    def update_parent(self, slack: SlackThread, progress: Progress | None, kind: Kind) -> None:
        """Rewrite the parent: with `progress` while the run goes on, else its stored outcome."""
        build = functools.partial(stored_parent, self.store, slack.run_id, progress)
        slack.update(slack.ts, lambda: [build()], kind)

    def cost(self, model: str | None, usage: Usage) -> float | None:
        """A call's cost in dollars by the price table; None for a model without a price."""
        return self.prices.cost(model, usage.input_tokens, usage.output_tokens)

    def count_call(self, role: str, ok: bool | str, usage: Usage) -> None:
        """One model call by its outcome: ok, error, or (given as a word) stopped."""
        outcome = ok if isinstance(ok, str) else "ok" if ok else "error"
        self.metrics.model_calls.labels(role, outcome).inc()
        self.metrics.model_tokens.labels("input").inc(usage.input_tokens)
        self.metrics.model_tokens.labels("output").inc(usage.output_tokens)
