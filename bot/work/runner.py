"""The runner: admits model work, hands it to a bounded pool, and drains it on shutdown.

Nothing here runs in a request thread beyond `admit` and `submit`, so acks never wait. What a job does
lives elsewhere: a live run in `bot.work.reporter`, follow-ups in `bot.work.followups`, orphans in `bot.work.recovery`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from bot.work.ack_first import AckFirst
from bot.work.admission import Admission, Refused, Ticket
from bot.work.asked import Asked
from bot.work.followups import FollowUps
from bot.work.recovery import Recovery
from bot.work.reporter import Reporter
from bot.work.stopping import DRAINED, SHUT_DOWN, Outcome, Stops

log = logging.getLogger(__name__)

ALREADY_RETRYING = "That approach is already being written again."
ALREADY_SYNTHESIZING = "A synthesis of this run is already being written: it will appear in the thread."
VOTING_CLOSED = (
    "Voting on this run has closed, so it takes no new versions, variations or syntheses. "
    "Start a new run with `/variations` to keep going."
)
HALT_GRACE = 10.0  # seconds stopped work has to end itself on shutdown before it is marked by force


class Runner:
    def __init__(
        self,
        reporter: Reporter,
        followups: FollowUps,
        recovery: Recovery,
        admission: Admission,
        executor: Executor,
        ack_first: AckFirst,
        stops: Stops,
    ) -> None:
        self.reporter = reporter
        self.followups = followups
        self.recovery = recovery
        self.admission = admission
        self.executor = executor
        self.ack_first = ack_first
        self.stops = stops

    def start(self, asked: Asked) -> str | None:
        """Queue a run and return at once; why it was refused, else None."""
        ticket = self.admission.admit(asked.origin.team_id, asked.origin.user_id)
        return self._submit(ticket, "run", self.reporter.run, asked)

    def synthesize(self, run_id: int, team_id: str, user_id: str) -> str | None:
        """Queue a synthesis of the run's best-ranked variations; refused on a double click, a limit, or once
        its voting has closed."""
        if self.followups.voting_closed(run_id):
            return VOTING_CLOSED
        ticket = self.admission.admit(team_id, user_id, key=("synthesis", run_id), duplicate=ALREADY_SYNTHESIZING)
        return self._submit(ticket, "synthesis", self.followups.synthesize, run_id, user_id)

    def retry(self, variation_id: int, team_id: str, user_id: str) -> str | None:
        """Queue another try of a failed approach, in place; refused while one is under way or over a limit."""
        ticket = self.admission.admit(team_id, user_id, key=("retry", variation_id), duplicate=ALREADY_RETRYING)
        return self._submit(ticket, "retry", self.followups.retry, variation_id, user_id)

    def regenerate(self, variation_id: int, instruction: str, team_id: str, user_id: str) -> str | None:
        """Queue a new version of one approach, following `instruction` (may be empty); refused once its
        run's voting has closed (nothing new arrives to be voted on)."""
        if self.followups.voting_closed(variation_id=variation_id):
            return VOTING_CLOSED
        ticket = self.admission.admit(team_id, user_id)
        return self._submit(ticket, "new_version", self.followups.regenerate, variation_id, instruction, user_id)

    def follow_up(self, run_id: int, instruction: str, team_id: str, user_id: str) -> str | None:
        """Queue one more variation of a run, following an instruction given in its thread; refused once
        its voting has closed."""
        if self.followups.voting_closed(run_id):
            return VOTING_CLOSED
        ticket = self.admission.admit(team_id, user_id)
        return self._submit(ticket, "follow_up", self.followups.follow_up, run_id, instruction, user_id)

    def stop(self, run_id: int, user_id: str) -> Outcome:
        """Stop what of this run is being written that `user_id` may stop; never waits (a listener's call)."""
        return self.stops.stop(run_id, user_id)

    def drain(self, seconds: float) -> int:
        """Admit nothing more, let the work in flight finish for up to `seconds`, then stop what is left
        the way a person's ⏹ does, as interrupted: each job ends its own work and says why. Work that does
        not end within HALT_GRACE is marked interrupted by force. Returns how many jobs were cut short."""
        self.admission.close()
        if self.admission.wait_idle(seconds):
            return 0
        halted = self.stops.stop_all(DRAINED)
        if self.admission.wait_idle(HALT_GRACE):
            return halted
        runs, variations = self.reporter.in_flight.held()
        return max(halted, self.recovery.interrupt(runs, variations, SHUT_DOWN))

    def _submit(self, ticket: Ticket | Refused, name: str, job: Callable[..., None], *args: Any) -> str | None:
        if isinstance(ticket, Refused):
            return ticket.reason

        def safely() -> None:
            self.ack_first.wait_quiet()
            try:
                job(*args)
            except Exception:  # logged without its arguments: they hold request text and capability URLs
                log.exception("step=crashed job=%s", name)
            finally:
                ticket.release()

        self.executor.submit(safely)
        return None
