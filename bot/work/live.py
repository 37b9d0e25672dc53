"""One run while it is being written (bot.work.reporter): its thread, what it showed so far, and the job that can
stop it; and the analysis reply, posted on its first words and rewritten as it streams."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

from bot.render.names import letter
from bot.render.run_messages import Message
from bot.slack.outbox import Kind
from bot.slack.run_thread import Origin, SlackThread
from bot.slack.streams import Stream
from bot.work.stopping import Job
from orchestrator.events import WorkerResult
from orchestrator.parsing import Approach


@dataclass
class LiveRun:
    """A run's state while it is being written."""

    slack: SlackThread
    origin: Origin
    task: str
    context: Mapping[str, str]
    started: float
    job: Job
    analysis_ts: str | None = None
    analysis_raw: str = ""  # the orchestrator's reply so far, while its analysis is written
    analysis_final: bool = False
    remembered: int = 0  # approach types of the team's record in the plan's prompt
    blind: bool = False  # approaches shown as A, B, C… while voting is open
    total: int = 0
    plan_tokens: int = 0
    plan_cost: float | None = 0.0  # in dollars; None: the orchestrator's model has no price
    variation_ids: dict[int, int] = field(default_factory=dict)
    variation_ts: dict[int, str | None] = field(default_factory=dict)
    approaches: dict[int, Approach] = field(default_factory=dict)
    streams: dict[int, Stream] = field(default_factory=dict)  # variations streamed, not rewritten
    results: dict[int, WorkerResult] = field(default_factory=dict)
    deliveries: list[Hashable] = field(default_factory=list)
    remember_analysis: Callable[[str], None] = field(default=lambda ts: None)  # a blind run stores where it is

    @property
    def run_id(self) -> int:
        return self.slack.run_id

    def label(self, index: int) -> str | None:
        """The letter a blind run shows for its approach at `index`; None: shown by name."""
        return letter(index) if self.blind else None

    def show_analysis(self, build: Callable[[], Message], kind: Kind) -> None:
        """Post the analysis reply on its first text (that is the first thing people see), then rewrite
        it within the budget while it streams, and always once it is complete."""
        if self.analysis_ts is None:
            self.analysis_ts = self.slack.reply(build())
            if self.analysis_ts is not None:
                self.remember_analysis(self.analysis_ts)
            elif kind == Kind.FINAL:
                moved = self.remember_analysis
                self.deliveries.append(
                    self.slack.finish(("analysis", self.run_id), None, [build()], on_moved=moved, on_lost=ignore)
                )
        else:
            self.slack.update(self.analysis_ts, lambda: [build()], kind)

    def drop_analysis(self) -> None:
        """Delete the analysis shown so far (an attempt that is being retried or that failed)."""
        ts, self.analysis_ts = self.analysis_ts, None
        if ts is not None:
            outbox = self.slack.outbox
            outbox.wait([ts], timeout=outbox.policy.deadline)  # no late rewrite of a deleted message
            self.slack.delete(ts)


def ignore(*_: object) -> None:
    """For deliveries whose outcome changes nothing stored."""
