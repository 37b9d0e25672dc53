"""A run's Slack thread: where a request came from, and the one writer that posts into the thread,
rewrites its messages through the outbox, and logs what Slack refused.

Posting a reply is the only call made in the caller's thread (its ts is needed at once, and callers are
run threads, never request threads); every rewrite goes through `bot.outbox`, which retries finals and
never blocks the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.blocks import Message
from bot.outbox import Build, Kind, Outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Origin:
    """Where a request came from and where its answer goes."""

    team_id: str
    channel_id: str
    user_id: str
    response_url: str | None = None


def tell(origin: Origin, text: str) -> None:
    """An ephemeral note through the request's response_url (works where the bot cannot post)."""
    if origin.response_url is None:
        log.warning("step=untold user=%s", origin.user_id)
        return
    try:
        WebhookClient(origin.response_url, timeout=10).send(text=text, response_type="ephemeral")
    except Exception as error:  # the note is a courtesy; its failure must not end anything else
        log.error("step=untold user=%s error=%s", origin.user_id, type(error).__name__)


@dataclass
class SlackThread:
    """Writes into one run's thread: `ts` is the parent message every reply hangs on."""

    client: WebClient
    outbox: Outbox
    channel: str
    ts: str
    run_id: int

    def reply(self, message: Message) -> str | None:
        """Post a reply now and return its ts; None (logged) when Slack refused it. Callers keep the text
        in the database and deliver it later through `finish`."""
        try:
            response = self.client.chat_postMessage(channel=self.channel, thread_ts=self.ts, **message)
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
        """Rewrite message `ts` soon (see `bot.outbox.Kind`); `build` runs when it is really sent."""
        self.outbox.update(self.channel, ts, build, kind=kind, thread_ts=self.ts)

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
            self.outbox.post(key, self.channel, self.ts, lambda: pages, on_moved=on_moved, on_lost=on_lost)
            return key
        self.outbox.update(
            self.channel, ts, lambda: pages, kind=Kind.FINAL, thread_ts=self.ts, on_moved=on_moved, on_lost=on_lost
        )
        return ts

    def delete(self, ts: str) -> None:
        """Remove a reply (a half-written analysis that is void); best effort, logged when it fails."""
        try:
            self.client.chat_delete(channel=self.channel, ts=ts)
        except (SlackApiError, OSError) as error:
            reason = error.response.get("error") if isinstance(error, SlackApiError) else type(error).__name__
            log.error("run=%d step=delete_failed ts=%s error=%s", self.run_id, ts, reason)
