"""Stopping work under way: the model work this process is writing now, by run, who may stop it, and why it
was stopped.

One path ends work early, whoever asks: a person's ⏹ (or Slack's own stop button of an agent session)
stops a run's work with `stop`, a shutdown stops all of it with `stop_all`. Either sets each job's `Halt`
(why, and what its rows become) and then its `Cancel`, which the engine obeys: no model call starts, the
streams in flight are closed, and the job ends its run itself, saying why (bot.work.reporter, bot.work.followups).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum

from bot.store.rows import RunStatus, VariationStatus
from orchestrator.cancel import Cancel


@dataclass(frozen=True)
class Halt:
    """Why work was cut short: what its run and its unfinished variations become, and what they say."""

    run_status: RunStatus
    variation_status: VariationStatus
    note: str  # said on each unfinished variation, in mrkdwn
    by: str | None = None  # the person who stopped it; None: the app itself (a shutdown)


def stopped_by(user_id: str) -> Halt:
    return Halt(RunStatus.STOPPED, VariationStatus.STOPPED, f"⏹ Stopped by <@{user_id}>", user_id)


SHUT_DOWN = "Interrupted: the app was shut down while this was being written."
DRAINED = Halt(RunStatus.INTERRUPTED, VariationStatus.INTERRUPTED, f"⚠️ {SHUT_DOWN}")


class Outcome(Enum):
    STOPPED = "stopped"
    NOT_ALLOWED = "not_allowed"  # work is under way, but not this person's to stop
    NOTHING = "nothing"  # nothing of that run is being written here


@dataclass
class Job:
    """One piece of model work of a run (the run itself, or one more variation in its thread)."""

    run_id: int
    asker: str  # who asked for this work
    requester: str  # who asked for the run: may stop anything in it
    cancel: Cancel = field(default_factory=Cancel)
    halt: Halt | None = None  # set once, before `cancel`

    def may_stop(self, user_id: str) -> bool:
        return user_id in (self.asker, self.requester)


class Stops:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: list[Job] = []

    @contextmanager
    def job(self, run_id: int, asker: str, requester: str) -> Iterator[Job]:
        """Hold a job while its work is written, so it can be stopped."""
        job = Job(run_id, asker, requester)
        with self._lock:
            self._jobs.append(job)
        try:
            yield job
        finally:
            with self._lock:
                self._jobs.remove(job)

    def stop(self, run_id: int, user_id: str) -> Outcome:
        """Stop the work of this run that `user_id` may stop (all of it for its requester)."""
        with self._lock:
            jobs = [job for job in self._jobs if job.run_id == run_id]
            allowed = [job for job in jobs if job.may_stop(user_id)]
            if not jobs:
                return Outcome.NOTHING
            if not allowed:
                return Outcome.NOT_ALLOWED
            halt = stopped_by(user_id)
            for job in allowed:
                job.halt = job.halt or halt
        for job in allowed:
            job.cancel.cancel()
        return Outcome.STOPPED

    def stop_all(self, halt: Halt) -> int:
        """Stop every job (the app is shutting down); returns how many there were."""
        with self._lock:
            jobs = list(self._jobs)
            for job in jobs:
                job.halt = job.halt or halt
        for job in jobs:
            job.cancel.cancel()
        return len(jobs)
