"""Who may start model work now: per-person and per-workspace limits on work in flight, one job per
double-clicked button, and nothing new once the app is draining.

Every model-writing job counts: a run, a synthesis, a new version, a follow-up, a retry. `admit` answers at once,
with a ticket to hand back when the job ends or with the reason in words. The counts are the database's
(`bot.store.tickets`), so they hold across every process sharing it; draining is this process's own.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bot.store.tickets import Full, Tickets

log = logging.getLogger(__name__)

RESTARTING = "Variations is restarting; try again in a minute."
NOT_RECORDED = "Variations couldn't record this request (its database is not writable). Please try again later."


@dataclass(frozen=True)
class Limits:
    """Jobs being written at once, per person and per workspace: one person cannot use up the model quota."""

    per_user: int = 2
    per_workspace: int = 20


@dataclass(frozen=True)
class Refused:
    """Why a job was not admitted, in words for the person who asked."""

    reason: str


@dataclass(frozen=True)
class Ticket:
    """An admitted job; `release` it when the job is over."""

    admission: Admission
    id: int

    def release(self) -> None:
        self.admission._release(self)


class Admission:
    def __init__(self, limits: Limits, tickets: Tickets) -> None:
        self.limits = limits
        self.tickets = tickets
        self._cond = threading.Condition()
        self._open = 0  # this process's tickets not yet released
        self._closed = False

    def admit(
        self, team_id: str, user_id: str, *, key: Hashable | None = None, duplicate: str = ""
    ) -> Ticket | Refused:
        """A ticket for one more job by this person, or why not. `key` names a job that must not run
        twice at once (a double click, on any process); `duplicate` is what to say then."""
        with self._cond:  # held across the write, so a drain that starts now waits for this ticket
            if self._closed:
                return Refused(RESTARTING)
            try:
                ticket_id = self.tickets.take(
                    team_id,
                    user_id,
                    key=_text(key),
                    per_user=self.limits.per_user,
                    per_workspace=self.limits.per_workspace,
                )
            except Full as full:
                return Refused(_refusal(full, self.limits, duplicate))
            except sqlite3.Error as error:
                log.error("step=not_admitted team=%s user=%s error=%s", team_id, user_id, error)
                return Refused(NOT_RECORDED)
            self._open += 1
            return Ticket(self, ticket_id)

    def close(self) -> None:
        """Admit nothing more (the app is draining)."""
        with self._cond:
            self._closed = True

    def wait_idle(self, timeout: float) -> bool:
        """Block until no admitted job is left, at most `timeout` seconds; True when none is."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._open, timeout)

    def _release(self, ticket: Ticket) -> None:
        try:
            self.tickets.give_back(ticket.id)
        except sqlite3.Error as error:  # dropped once this process is found gone; until then it counts
            log.error("step=ticket_not_released ticket=%d error=%s", ticket.id, error)
        with self._cond:
            self._open -= 1
            self._cond.notify_all()


def _text(key: Hashable | None) -> str | None:
    """A job's key as stored: ("retry", 12) is "retry:12"."""
    if key is None:
        return None
    return ":".join(map(str, key)) if isinstance(key, tuple) else str(key)


def _refusal(full: Full, limits: Limits, duplicate: str) -> str:
    if full.scope == "duplicate":
        return duplicate
    if full.scope == "user":
        return (
            f"You already have {full.count} runs being written (the limit is "
            f"{limits.per_user}). Try again when one of them is done."
        )
    return (
        f"This workspace already has {full.count} runs being written (the limit is "
        f"{limits.per_workspace}). Try again in a minute."
    )


class InFlight:
    """The runs and variations this process is writing now: recovery never takes them for orphans.

    A row is written before its id can be held, so `creating()` wraps that gap: while any row is being
    created, `snapshot()` answers None and recovery waits for its next round."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: Counter[int] = Counter()
        self._variations: Counter[int] = Counter()
        self._creating = 0

    @contextmanager
    def creating(self) -> Iterator[None]:
        with self._lock:
            self._creating += 1
        try:
            yield
        finally:
            with self._lock:
                self._creating -= 1

    def hold(self, *, run: int | None = None, variation: int | None = None) -> None:
        with self._lock:
            if run is not None:
                self._runs[run] += 1
            if variation is not None:
                self._variations[variation] += 1

    def drop(self, *, run: int | None = None, variation: int | None = None) -> None:
        with self._lock:
            if run is not None:
                self._runs[run] -= 1
                self._runs += Counter()  # forget those at zero
            if variation is not None:
                self._variations[variation] -= 1
                self._variations += Counter()

    def held(self) -> tuple[frozenset[int], frozenset[int]]:
        """(runs, variations) being written right now."""
        with self._lock:
            return self.held_unlocked()

    def snapshot(self) -> tuple[frozenset[int], frozenset[int]] | None:
        """`held()`, or None while a row is being created (its id not held yet)."""
        with self._lock:
            return None if self._creating else self.held_unlocked()

    def held_unlocked(self) -> tuple[frozenset[int], frozenset[int]]:
        return frozenset(self._runs), frozenset(self._variations)
