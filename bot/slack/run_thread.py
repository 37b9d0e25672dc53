"""A run's Slack thread: where a request came from, and the one writer that posts into the thread,
rewrites its messages through the outbox, and logs what Slack refused.

Posting a reply is the only call made in the caller's thread (its ts is needed at once, and callers are
run threads, never request threads); every rewrite goes through `bot.slack.outbox`, which retries finals and
never blocks the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.render.run_messages import Message
from bot.slack.outbox import Build, Kind, Outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Origin:
    """Where a request came from and where its answer goes."""

    team_id: str
    channel_id: str
    user_id: str
    response_url: str | None = None
    thread_ts: str | None = None  # post the run's parent as a reply in this thread (a mention asked there)
    assistant: bool = False  # `thread_ts` is a thread of the AI app pane, which shows a status line


PLANNING = "is planning approaches…"
"""The AI pane's status line while a run's plan is written (after "Variations …")."""


def show_status(origin: Origin, status: str, client: WebClient) -> None:
    """The AI pane's status line under the person's message ("Variations is planning approaches…"); Slack
    clears it when the app next replies there. A courtesy: a failure is logged, nothing else."""
    if not origin.assistant or origin.thread_ts is None:
        return
    try:
        client.assistant_threads_setStatus(channel_id=origin.channel_id, thread_ts=origin.thread_ts, status=status)
    except Exception as error:
        log.warning("step=status_not_shown user=%s error=%s", origin.user_id, type(error).__name__)


def tell(origin: Origin, text: str, client: WebClient | None = None) -> None:
    """An ephemeral note through the request's response_url (works where the bot cannot post); a request
    without one (a mention) gets it through `client`, in its thread."""
    try:
        if origin.response_url is not None:
            WebhookClient(origin.response_url, timeout=10).send(text=text, response_type="ephemeral")
        elif client is not None:
            client.chat_postEphemeral(
                channel=origin.channel_id, user=origin.user_id, thread_ts=origin.thread_ts, text=text
            )
        else:
            log.warning("step=untold user=%s", origin.user_id)
    except Exception as error:  # the note is a courtesy; its failure must not end anything else
        log.error("step=untold user=%s error=%s", origin.user_id, type(error).__name__)


@dataclass
class SlackThread:
    """Writes into one run's thread: `ts` is the run's parent message; its replies hang on it, or on the
    thread it is itself a reply in (`thread_ts`, a run a mention asked for)."""

    client: WebClient
    outbox: Outbox
    channel: str
    ts: str
    run_id: int
    thread_ts: str | None = None
    team_id: str = ""  # the workspace `client` speaks for, so the outbox speaks for it too

    @property
    def root(self) -> str:
        """The message the thread hangs on (Slack threads are one level deep)."""
        return self.thread_ts or self.ts

    def reply(self, message: Message) -> str | None:
        """Post a reply now and return its ts; None (logged) when Slack refused it. Callers keep the text
        in the database and deliver it later through `finish`."""
        try:
            response = self.client.chat_postMessage(channel=self.channel, thread_ts=self.root, **message)
        except SlackApiError as error:
            reason = str(error.response.get("error"))
            log.error("run=%d step=reply_failed error=%s", self.run_id, reason)
            if self.outbox.metrics is not None:
                self.outbox.metrics.slack_errors.labels("chat.postMessage", reason).inc()
            return None
        except OSError as error:
            log.error("run=%d step=reply_failed error=%s", self.run_id, type(error).__name__)
            return None
        ts = str(response["ts"])
        self.outbox.budget.spend(ts)  # its first live update waits a full interval
        return ts

    def update(self, ts: str, build: Build, kind: Kind) -> None:
        """Rewrite message `ts` soon (see `bot.slack.outbox.Kind`); `build` runs when it is really sent."""
        self.outbox.update(
            self.channel, ts, build, kind=kind, thread_ts=self.root, parent=ts == self.ts, team=self.team_id
        )

    def finish(
        self,
        key: Hashable,
        ts: str | None,
        messages: Sequence[Message],
        *,
        on_moved: Callable[[str], None],
        on_lost: Callable[[], None],
    ) -> Hashable:
        """Deliver a variation's last state: written into `ts` (continued in new replies when long), or
        posted anew when it has no message yet. `on_moved` learns which message holds the end (its
        buttons), `on_lost` that Slack took none of it. Returns the key to `wait` on."""
        pages = list(messages)
        if ts is None:
            self.outbox.post(
                key, self.channel, self.root, lambda: pages, on_moved=on_moved, on_lost=on_lost, team=self.team_id
            )
            return key
        self.outbox.update(
            self.channel,
            ts,
            lambda: pages,
            kind=Kind.FINAL,
            thread_ts=self.root,
            on_moved=on_moved,
            on_lost=on_lost,
            team=self.team_id,
        )
        return ts

    def delete(self, ts: str) -> None:
        """Remove a reply (a half-written analysis that is void); best effort, logged when it fails."""
        try:
            self.client.chat_delete(channel=self.channel, ts=ts)
        except (SlackApiError, OSError) as error:
            reason = error.response.get("error") if isinstance(error, SlackApiError) else type(error).__name__
            log.error("run=%d step=delete_failed ts=%s error=%s", self.run_id, ts, reason)
