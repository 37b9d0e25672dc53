"""Who may start model work now: per-person and per-workspace limits on work in flight, one job per
double-clicked button, and nothing new once the app is draining.

Every model-writing job counts: a run, a synthesis, a new version, a follow-up, a retry. `admit` answers at once,
with a ticket to hand back when the job ends or with the reason in words.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

RESTARTING = "Variations is restarting; try again in a minute."


@dataclass(frozen=True)
class Limits:
    """Jobs being written at once, per person and per workspace: one person cannot use up the model quota."""

    per_user: int = 2
    per_workspace: int = 20


@dataclass(frozen=True)
class Ticket:
    """An admitted job; `release` it when the job is over."""

    admission: Admission
    team_id: str
    user_id: str
    key: Hashable | None

    def release(self) -> None:
        self.admission._release(self)


class Admission:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._cond = threading.Condition()
        self._per_user: Counter[tuple[str, str]] = Counter()
        self._per_team: Counter[str] = Counter()
        self._keys: set[Hashable] = set()
        self._closed = False

    def admit(self, team_id: str, user_id: str, *, key: Hashable | None = None, duplicate: str = "") -> Ticket | str:
        """A ticket for one more job by this person, or why not. `key` names a job that must not run
        twice at once (a double click); `duplicate` is what to say then."""
        user = (team_id, user_id)
        with self._cond:
            if self._closed:
                return RESTARTING
            if key is not None and key in self._keys:
                return duplicate
            if self._per_user[user] >= self.limits.per_user:
                return (
                    f"You already have {self._per_user[user]} runs being written (the limit is "
                    f"{self.limits.per_user}). Try again when one of them is done."
                )
            if self._per_team[team_id] >= self.limits.per_workspace:
                return (
                    f"This workspace already has {self._per_team[team_id]} runs being written (the limit is "
                    f"{self.limits.per_workspace}). Try again in a minute."
                )
            self._per_user[user] += 1
            self._per_team[team_id] += 1
            if key is not None:
                self._keys.add(key)
            return Ticket(self, team_id, user_id, key)

    def close(self) -> None:
        """Admit nothing more (the app is draining)."""
        with self._cond:
            self._closed = True

    def wait_idle(self, timeout: float) -> bool:
        """Block until no admitted job is left, at most `timeout` seconds; True when none is."""
        with self._cond:
            return self._cond.wait_for(lambda: not +self._per_team, timeout)

    def _release(self, ticket: Ticket) -> None:
        with self._cond:
            self._per_user[(ticket.team_id, ticket.user_id)] -= 1
            self._per_team[ticket.team_id] -= 1
            self._keys.discard(ticket.key)
            self._cond.notify_all()


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
