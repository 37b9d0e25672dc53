"""The pace of live message updates: `chat.update` is rate limited (Tier 3, about 50 a minute per
workspace), while a model emits dozens of text deltas a second.

`UpdateBudget` sets two limits together: each message is updated at most once per `interval`, and all
messages share a token bucket, so many concurrent runs slow their live updates down instead of hitting
429s. The outbox (`bot.slack.outbox`) asks it before each paced update.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

# Past this many messages remembered, those whose window has closed are forgotten (they need no pacing).
PRUNE_AT = 1000


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

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        return now

    def _take(self, key: Hashable, now: float) -> None:
        self._tokens = max(0.0, self._tokens - 1)
        self._last[key] = now
        if len(self._last) > PRUNE_AT:  # the map must not grow with every message ever sent
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval}
