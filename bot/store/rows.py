"""The database's rows as the rest of the app sees them: typed, with the statuses as one enum each, so a
status is spelled in one place and every surface can show every status in words.

The store returns these; builders take them. Nothing here touches the database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Self

from orchestrator.events import FOLLOW_UP, SYNTHESIS
from orchestrator.parsing import Approach


class RunStatus(StrEnum):
    PLANNING = "planning"
    RUNNING = "running"
    DONE = "done"
    PARTIAL = "partial"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    STOPPED = "stopped"  # a person stopped it while it was being written (⏹, or Slack's own stop)

    @property
    def working(self) -> bool:
        """Still being written by some process."""
        return self in (RunStatus.PLANNING, RunStatus.RUNNING)

    @property
    def finished(self) -> bool:
        """Written, at least in part: its variations can be voted on and combined."""
        return self in (RunStatus.DONE, RunStatus.PARTIAL, RunStatus.STOPPED)


class VariationStatus(StrEnum):
    WRITING = "writing"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    STOPPED = "stopped"  # stopped while it was being written: its text so far is kept

    @property
    def retryable(self) -> bool:
        return self in (VariationStatus.FAILED, VariationStatus.INTERRUPTED, VariationStatus.STOPPED)


class MissingRow(LookupError):
    """A run or variation that is not (or no longer) in the database."""


class VotingClosed(Exception):
    """A click on a variation of a run whose voting has closed: it is not recorded."""


@dataclass(frozen=True)
class Tally:
    """A variation's current votes."""

    up: int = 0
    down: int = 0

    @property
    def net(self) -> int:
        """What ranks variations: 👍 minus 👎."""
        return self.up - self.down

    @property
    def votes(self) -> int:
        return self.up + self.down


class _Row:
    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Self:
        """From a row of its table (columns this version does not know are ignored)."""
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{name: value for name, value in row.items() if name in known})


@dataclass(frozen=True)
class RunRow(_Row):
    id: int
    team_id: str
    channel_id: str
    user_id: str
    task: str
    status: RunStatus
    created_at: str
    context_json: str | None = None
    analysis: str | None = None
    orchestrator_model: str | None = None
    worker_model: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None  # the thread its parent is a reply in (a run asked for by a mention)
    finished_at: str | None = None
    plan_seconds: float | None = None
    seconds: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None  # in US dollars, of every call the tokens count; None: a model without a price
    error: str | None = None
    owner: str | None = None
    voting_closed_at: str | None = None  # when its voting closed (the requester, or VARIATIONS_VOTING_HOURS)
    blind: bool = False  # its approaches labelled A, B, C… until voting closes
    stopped_by: str | None = None  # who last stopped work in it (⏹ or Slack's stop), a user id
    analysis_ts: str | None = None  # a blind run's analysis message, where closing reveals the plan

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Self:
        values = dict(row)
        values["context_json"] = values.pop("context", None)
        values["status"] = RunStatus(values["status"])
        values["blind"] = bool(values.get("blind"))
        return super().of(values)

    @property
    def context(self) -> dict[str, str]:
        """The request's context (audience, key points, …) as it was asked."""
        return dict(json.loads(self.context_json or "{}"))

    @property
    def tokens(self) -> int:
        return (self.input_tokens or 0) + (self.output_tokens or 0)

    @property
    def voting_closed(self) -> bool:
        return self.voting_closed_at is not None


@dataclass(frozen=True)
class VariationRow(_Row):
    id: int
    run_id: int
    position: int
    type: str
    status: VariationStatus
    created_at: str
    description: str | None = None
    text: str | None = None
    message_ts: str | None = None
    model: str | None = None
    finished_at: str | None = None
    seconds: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None  # in US dollars; None: a model without a price
    stop_reason: str | None = None
    error: str | None = None
    regenerated_from: int | None = None
    instruction: str | None = None
    owner: str | None = None
    written_type: str | None = None  # the name the model wrote, when it counts under another (`type`)

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Self:
        return super().of({**row, "status": VariationStatus(row["status"])})

    @property
    def approach(self) -> Approach:
        return Approach(self.type, self.description or "")

    @property
    def planned(self) -> bool:
        """One of the approaches the orchestrator planned (not a synthesis, a new version or a follow-up)."""
        return self.regenerated_from is None and self.type not in (SYNTHESIS, FOLLOW_UP)

    @property
    def shown_position(self) -> int | None:
        """The position a planned approach is numbered by in the thread; None for the others."""
        return self.position if self.planned else None

    @property
    def written(self) -> bool:
        return self.status == VariationStatus.DONE

    @property
    def tokens(self) -> int:
        return (self.input_tokens or 0) + (self.output_tokens or 0)
