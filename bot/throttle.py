"""Live message updates within Slack's limits: `chat.update` is rate limited (Tier 3, about 50 a minute
per workspace), while a model emits dozens of text deltas a second.

`UpdateBudget` sets two limits together: each message is updated at most once per `interval`, and all
messages share a token bucket, so many concurrent runs slow their live updates down instead of hitting
429s. `LiveUpdates` coalesces: of the updates offered for a message within a window only the latest is
sent, when the window opens; a message's final update is sent at once and supersedes anything pending, so
coalescing costs freshness, never content.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

log = logging.getLogger(__name__)


class UpdateBudget:
    def __init__(
        self,
        *,
        interval: float = 1.0,
        per_minute: float = 50.0,
        burst: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.rate = per_minute / 60.0
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._refilled = clock()
        self._last: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def allow(self, key: Hashable) -> bool:
        """May this message get an intermediate update now? If yes, it is counted as sent."""
        with self._lock:
            now = self._refill()
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                return False
            if self._tokens < 1:
                return False
            self._take(key, now)
            return True

    def spend(self, key: Hashable) -> None:
        """Count a must-send update (a message's final text), even when over budget."""
        with self._lock:
            self._take(key, self._refill())

    def forget(self, key: Hashable) -> None:
        """The message is final: drop its timing so the map does not grow with every message ever sent."""
        with self._lock:
            self._last.pop(key, None)

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        return now

    def _take(self, key: Hashable, now: float) -> None:
        self._tokens = max(0.0, self._tokens - 1)
        self._last[key] = now


@dataclass(frozen=True)
class _Pending:
    seq: int
    send: Callable[[], None]


class LiveUpdates:
    """Per-message coalescing of live updates, with a background thread sending deferred ones."""

    def __init__(self, budget: UpdateBudget, *, poll: float = 0.05) -> None:
        self.budget = budget
        self._poll = poll
        self._guard = threading.Lock()
        self._seq: dict[Hashable, int] = {}
        self._pending: dict[Hashable, _Pending] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush_forever, name="live-updates", daemon=True)
        self._thread.start()

    def offer(self, key: Hashable, send: Callable[[], None]) -> None:
        """An intermediate state of message `key`: sent now if its window is open, else when it opens,
        unless a newer offer or the final update replaces it first."""
        with self._guard:
            seq = self._seq[key] = self._seq.get(key, 0) + 1
            self._pending[key] = _Pending(seq, send)
            self._locks.setdefault(key, threading.Lock())
        self._flush(key)
        self._wake.set()

    def final(self, key: Hashable, send: Callable[[], None]) -> None:
        """The last state of message `key`: sent now, in the caller's thread; nothing older is sent after."""
        with self._guard:
            self._seq[key] = self._seq.get(key, 0) + 1
            self._pending.pop(key, None)
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            self.budget.spend(key)
            send()

    def forget(self, key: Hashable) -> None:
        """The message will change no more: drop its bookkeeping (and anything still pending)."""
        with self._guard:
            self._seq.pop(key, None)
            self._pending.pop(key, None)
            self._locks.pop(key, None)
        self.budget.forget(key)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _flush(self, key: Hashable) -> None:
        with self._guard:
            entry = self._pending.get(key)
            if entry is None or not self.budget.allow(key):
                return
            del self._pending[key]
            lock = self._locks[key]
        with lock:
            with self._guard:
                if self._seq.get(key) != entry.seq:
                    return  # superseded by a newer offer, the final update, or forget()
            try:
                entry.send()
            except Exception:
                log.exception("live update of %s failed", key)

    def _flush_forever(self) -> None:
        while not self._stop.is_set():
            with self._guard:
                keys = list(self._pending)
            if not keys:
                self._wake.wait()
                self._wake.clear()
                continue
            for key in keys:
                self._flush(key)
            self._stop.wait(self._poll)
