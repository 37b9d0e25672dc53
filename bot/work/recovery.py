"""Runs and variations nobody is writing any more: left by a process that is gone (a crash, a deploy),
or by a run of this process that could not finish (a full disk). They are marked `interrupted` and their
messages say so, with a 🔁 Retry button on each unfinished approach.

Each process beats a heartbeat into the database; on start and after every beat it looks for orphans, so
a run never stays "running" once its process is gone, and once a broken disk takes writes again. The
store marks rows atomically, so two processes recovering at once never report the same run twice.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Collection

from bot.render.rebuild import blind_label
from bot.render.variation_messages import interrupted_message, stored_failed_message
from bot.slack.clients import SlackFor
from bot.slack.outbox import Kind, Outbox, fixed
from bot.slack.run_thread import SlackThread
from bot.store.rows import RunRow, VariationRow
from bot.store.store import Store
from bot.work.admission import InFlight
from bot.work.closing import Closer
from bot.work.delivery import Delivery
from bot.work.stopping import Stops

log = logging.getLogger(__name__)

RESTARTED = "Interrupted: the app restarted while this was being written."
STOPPED = "Interrupted: the app's database stopped taking writes while this was being written."


class Recovery:
    def __init__(
        self,
        store: Store,
        slack_for: SlackFor,
        outbox: Outbox,
        delivery: Delivery,
        in_flight: InFlight,
        *,
        beat: float = 10.0,
        stale_after: float = 45.0,
        closer: Closer | None = None,
        stops: Stops | None = None,
    ) -> None:
        """`closer`: also closes, on each beat, the voting of runs past VARIATIONS_VOTING_HOURS; `stops`:
        also stops, on each beat, the runs of this process someone asked another process to stop."""
        self.store = store
        self.slack_for = slack_for
        self.outbox = outbox
        self.delivery = delivery
        self.in_flight = in_flight
        self.beat = beat
        self.stale_after = stale_after
        self.closer = closer
        self.stops = stops
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Beat and recover in the background, at once and then every `beat` seconds."""
        self._thread = threading.Thread(target=self._forever, name="recovery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def recover(self) -> int:
        """Mark every orphan interrupted and tell its thread; returns how many runs were."""
        live = self.in_flight.snapshot()
        if live is None:
            return 0  # a row is being created this instant: look again next round
        runs, variations = self.store.processes.orphans(self.stale_after, *live)
        if not runs and not variations:
            return 0
        mine = self.store.owner

        def ours(row: RunRow | VariationRow | None) -> bool:
            return row is not None and row.owner == mine

        own = (
            [r for r in runs if ours(self.store.find_run(r))],
            [v for v in variations if ours(self.store.find_variation(v))],
        )
        gone = ([r for r in runs if r not in own[0]], [v for v in variations if v not in own[1]])
        return self.interrupt(*own, STOPPED) + self.interrupt(*gone, RESTARTED)

    def interrupt(self, runs: Collection[int], variations: Collection[int], reason: str = RESTARTED) -> int:
        """Mark these rows interrupted (those still being written) and say so in their threads."""
        if not runs and not variations:
            return 0
        runs, variations = self.store.processes.mark_interrupted(list(runs), list(variations), reason)
        for run_id in runs:
            log.warning("run=%d step=interrupted", run_id)
        rows = [row for row in (self.store.find_variation(v) for v in variations) if row is not None]
        for run_id in sorted(set(runs) | {row.run_id for row in rows}):
            run = self.store.find_run(run_id)
            if run is None or run.message_ts is None:
                continue  # its parent message was never posted: nothing to tell
            client = self.slack_for(run.team_id)
            slack = SlackThread(client, self.outbox, run.channel_id, run.message_ts, run_id, run.thread_ts, run.team_id)
            for row in rows:
                if row.run_id == run_id and row.message_ts:
                    failed = stored_failed_message(row, reason, blind_label(self.store, row))
                    slack.update(row.message_ts, fixed(failed), Kind.FINAL)
            if run_id in runs:
                slack.reply(interrupted_message(retryable=bool(self.store.variations(run_id))))
            self.delivery.update_parent(slack, None, Kind.FINAL)
        return len(runs)

    def _forever(self) -> None:
        while True:
            try:
                self.store.processes.beat()
                self.recover()
                self.store.processes.forget_gone(self.stale_after)  # their work was just marked
                self.store.scoreboard.refresh()  # after rows were changed outside the app; never in a request
                if self.closer is not None:
                    self.closer.close_due()
                if self.stops is not None:
                    for run_id, user_id in self.store.stop_requests():
                        self.stops.stop(run_id, user_id)
            except sqlite3.Error as error:  # a full or broken disk: try again at the next beat
                log.error("step=recovery_failed error=%s", error)
            except Exception:
                log.exception("step=recovery_failed")
            if self._stop.wait(self.beat):
                return
