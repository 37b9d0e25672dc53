"""Slack's agent sessions (`agents.sessions.setStatus`): a run's thread is a session, `processing` while
something in it is written (titled with the request, started by the requester, with Slack's own stop button,
whose click arrives as the `agent_session_stopped` event: bot/listeners/stops.py), `active` when that work
ends, `closed` when its voting closes.

Sessions need the app declared as an agent and the event subscribed (manifest.yml). Where Slack refuses them
(an `ok: false` error) or warns (`missing_agent_session_stopped_event_subscription`: Slack would show a
loading indicator nobody can stop), they are turned off for that workspace, once, logged once: no call per
run after that. A session this process has already set `processing` is still set `active` when its work
ends, so no thread is left showing work. A 429, a 5xx or a dropped connection is only that call's loss.

The calls go out from one thread of their own, in the order asked: a run never waits on them, and a thread's
`active` never overtakes its `processing`.

The AI pane's status line (`assistant.threads.setStatus`, bot.slack.run_thread.show_status) stays: it belongs to the
pane (assistant_view), which Slack keeps until apps move to agent_view; sessions replace it there.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.observe.metrics import Metrics
from bot.render.mrkdwn import clean, truncate_plain
from bot.slack.clients import SlackFor

log = logging.getLogger(__name__)

PROCESSING = "processing"
ACTIVE = "active"
CLOSED = "closed"
TITLE_CHARS = 200  # Slack's limit on a session's title
TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "request_timeout", "service_unavailable"}


@dataclass
class Session:
    """A thread whose work began: `end` it when the work is over. `open` once Slack took its `processing`."""

    team_id: str
    channel: str
    root: str
    open: bool = False


class Sessions:
    def __init__(self, slack_for: SlackFor, metrics: Metrics | None = None) -> None:
        self.slack_for = slack_for  # the retrying clients of run threads: they ride out a 5xx, a short 429
        self.metrics = metrics
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="session")
        self._off: set[str] = set()  # workspaces where Slack refused or warned
        self._lock = threading.Lock()

    def begin(self, team_id: str, channel: str, root: str, title: str, initiator: str) -> Session | None:
        """Set the thread `processing` soon (creating its session, titled `title`); None where sessions are
        off."""
        if self._is_off(team_id):
            return None
        session = Session(team_id, channel, root)
        shown = truncate_plain(" ".join(clean(title).split()), TITLE_CHARS)
        self.pool.submit(self._begin, session, shown, initiator)
        return session

    def end(self, session: Session | None) -> None:
        """The work in its thread is over: `active` (even where sessions were turned off meanwhile)."""
        if session is not None:
            self.pool.submit(self._end, session)

    def close(self, team_id: str, channel: str, root: str) -> None:
        """The thread's voting closed: `closed`, soon (never in a listener before its ack)."""
        if not self._is_off(team_id):
            self.pool.submit(self._set, team_id, channel, root, CLOSED)

    def shutdown(self) -> None:
        """Send what was asked, then stop (the app is closing)."""
        self.pool.shutdown(wait=True)

    def _begin(self, session: Session, title: str, initiator: str) -> None:
        if not self._is_off(session.team_id):  # turned off since it was asked for
            extra = {"title": title, "initiator_user_id": initiator or None}
            session.open = self._set(session.team_id, session.channel, session.root, PROCESSING, **extra)

    def _end(self, session: Session) -> None:
        if session.open:
            self._set(session.team_id, session.channel, session.root, ACTIVE)

    def _is_off(self, team_id: str) -> bool:
        with self._lock:
            return team_id in self._off

    def _set(self, team_id: str, channel: str, root: str, status: str, **extra: str | None) -> bool:
        """One setStatus; True when Slack took it (a warning turns sessions off for new work all the same)."""
        try:
            answer = self.slack_for(team_id).agents_sessions_setStatus(
                channel_id=channel, thread_ts=root, status=status, **extra
            )
        except SlackApiError as error:
            reason = str(error.response.get("error") or f"http_{error.response.status_code}")
            self._count(reason)
            if error.response.status_code == 200 and reason not in TRANSIENT:
                self._turn_off(team_id, reason)
            else:
                log.warning("step=session_status_failed team=%s status=%s error=%s", team_id, status, reason)
            return False
        except OSError as error:
            log.warning("step=session_status_failed team=%s status=%s error=%s", team_id, status, type(error).__name__)
            return False
        warnings = warnings_of(answer)
        if warnings:
            self._turn_off(team_id, ",".join(warnings))
        return True

    def _turn_off(self, team_id: str, why: str) -> None:
        with self._lock:
            if team_id in self._off:
                return
            self._off.add(team_id)
        log.warning("step=sessions_off team=%s reason=%s (runs go on without Slack's agent sessions)", team_id, why)

    def _count(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.slack_errors.labels("agents.sessions.setStatus", reason).inc()


def warnings_of(answer: SlackResponse) -> list[str]:
    """Slack's warnings on an ok answer: `response_metadata.warnings`, or the older top-level `warning`."""
    metadata = answer.get("response_metadata") or {}
    found = [str(w) for w in metadata.get("warnings") or []] if isinstance(metadata, dict) else []
    single = answer.get("warning")
    if single and str(single) not in found:
        found += [w for w in str(single).split(",") if w]
    return found
