"""Cancelling work that is under way: one `Cancel` per request, set by whoever may stop it (a person's stop
button, a shutdown), read by the engine and the LLM client. It knows nothing of why or of who: the caller
keeps that.

Setting it runs the callbacks registered with `on_cancel` at once, in the setter's thread, so a model stream
blocked in a read is closed right away rather than left to finish, and a consumer waiting on a queue hears
of it without polling.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Cancel:
    """A one-way switch: once cancelled, it stays so."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next = 0

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> bool:
        """Cancel, running every registered callback; False when it was cancelled already."""
        with self._lock:
            if self._event.is_set():
                return False
            self._event.set()
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one callback's failure must not keep the others from running
                log.exception("cancel callback failed")
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to `timeout` seconds, waking at once on cancel; True when cancelled."""
        return self._event.wait(timeout)

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run `callback` when cancelled (at once when it already is); returns what unregisters it."""
        with self._lock:
            if not self._event.is_set():
                key = self._next
                self._next += 1
                self._callbacks[key] = callback
                return lambda: self._forget(key)
        callback()
        return lambda: None

    def _forget(self, key: int) -> None:
        with self._lock:
            self._callbacks.pop(key, None)
