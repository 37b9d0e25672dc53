"""What the engine reports: the request it is given and the events `Engine.run` yields, as frozen
dataclasses, so a Slack layer or a terminal can read them without knowing how the engine works."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from orchestrator.cancel import Cancel
from orchestrator.parsing import Approach, Plan, preview_analysis, preview_response
from orchestrator.types import Catalogue

MIN_APPROACHES = 2
MAX_APPROACHES = 5
SYNTHESIS = "synthesis"  # the approach type of a synthesis, stored and voted on like any variation
FOLLOW_UP = "follow-up"  # the approach type of a variation asked for by an instruction in the thread


@dataclass(frozen=True)
class Usage:
    """Token counts of one call or, added up, of a run."""

    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class Completion:
    """A finished model call: its text and what it cost."""

    text: str
    model: str
    usage: Usage
    stop_reason: str | None
    seconds: float


@dataclass(frozen=True)
class TypeVotes:
    """One approach type and how many people voted its variations up and down (each person once per type:
    by the sign of their own 👍 minus 👎 on it)."""

    type: str
    up: int
    down: int

    @property
    def votes(self) -> int:
        return self.up + self.down


@dataclass(frozen=True)
class TeamRecord:
    """How the team voted on earlier approach types (see orchestrator/memory.py): each canonical type once,
    in the order the prompt lists them; empty when there is none or memory is off."""

    types: tuple[TypeVotes, ...] = ()

    @property
    def names(self) -> frozenset[str]:
        return frozenset(row.type for row in self.types)

    def __bool__(self) -> bool:
        return bool(self.types)


@dataclass(frozen=True)
class Request:
    """What a person asked for, the context (audience, key features, …) that must reach the prompts, and
    the team's record that reaches the orchestrator's. `catalogue`: the workspace's approach types, which the
    plan's names are mapped to (see orchestrator/types.py); `cancel` stops the work done for it."""

    task: str
    context: Mapping[str, str] = field(default_factory=dict)
    min_approaches: int = MIN_APPROACHES
    max_approaches: int = MAX_APPROACHES
    record: TeamRecord = field(default_factory=TeamRecord)
    catalogue: Catalogue = field(default_factory=Catalogue)
    cancel: Cancel = field(default_factory=Cancel, compare=False, repr=False)


@dataclass(frozen=True)
class WorkerResult:
    """One approach's outcome: its text, or the reason it failed, and what it cost. A `stopped` one was
    cancelled while (or before) it was written: `text` is what was written so far."""

    index: int
    approach: Approach
    text: str
    error: str | None
    model: str
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    stop_reason: str | None = None
    stopped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class AnalysisDelta:
    """The orchestrator's reply so far, while it is still writing its analysis.

    `text` (the analysis so far) is worked out only when asked for: a consumer that shows one update a
    second out of hundreds of deltas pays for one."""

    raw: str

    @property
    def text(self) -> str:
        return preview_analysis(self.raw) or ""


@dataclass(frozen=True)
class AnalysisReady:
    """The orchestrator's analysis is complete (its `</analysis>` closed)."""

    analysis: str


@dataclass(frozen=True)
class WorkerStarted:
    """A pool thread picked up this approach (it may have queued behind other runs first)."""

    index: int
    approach: Approach


@dataclass(frozen=True)
class WorkerDelta:
    """A worker's reply so far; `text` is its response so far, worked out only when asked for."""

    index: int
    raw: str

    @property
    def text(self) -> str:
        return preview_response(self.raw) or ""


@dataclass(frozen=True)
class WorkerFinished:
    """A worker is done, successfully or not (see `result.ok`)."""

    result: WorkerResult


@dataclass(frozen=True)
class PlanRetrying:
    """The orchestrator is being asked again: whatever the consumer showed of its reply so far (a
    half-streamed analysis) is void, and the AnalysisDelta events that follow start from scratch.

    It comes when the reply held no usable task (the second call has a stricter prompt), or when its
    stream broke off before any approach was launched (the same call is retried). `reason` says why in
    plain words."""

    reason: str


@dataclass(frozen=True)
class Planned:
    """The orchestrator's whole reply is in: the final plan and what the call cost."""

    plan: Plan
    completion: Completion


@dataclass(frozen=True)
class RunResult:
    request: Request
    plan: Plan
    plan_completion: Completion
    results: tuple[WorkerResult, ...]
    seconds: float
    stopped: bool = False  # its request was cancelled: some approach (or the plan) was cut short

    @property
    def usage(self) -> Usage:
        total = self.plan_completion.usage
        for result in self.results:
            total = total + result.usage
        return total

    @property
    def status(self) -> str:
        """`done` when every approach succeeded, `partial` when some did, `failed` when none did."""
        succeeded = sum(result.ok for result in self.results)
        if succeeded == len(self.results):
            return "done"
        return "partial" if succeeded else "failed"


@dataclass(frozen=True)
class RunFinished:
    result: RunResult


Event = (
    AnalysisDelta | AnalysisReady | PlanRetrying | WorkerStarted | WorkerDelta | WorkerFinished | Planned | RunFinished
)


class PlanError(RuntimeError):
    """The orchestrator gave no usable plan; the message says why in plain words."""
