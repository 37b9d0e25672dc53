"""How often a streaming message may be rewritten: Slack's `chat.update` is rate limited (Tier 3, about
50 a minute per workspace), while a model emits dozens of text deltas a second.

Two limits together: each message is updated at most once per `interval`, and all messages share a
token bucket, so many concurrent runs slow their live updates down instead of hitting 429s. Only
intermediate updates ask for permission; the final text of a message is always sent (and still spends a
token), so skipping an update costs freshness, never content.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable


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
