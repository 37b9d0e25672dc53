"""Slack's native streaming (`chat.startStream` / `appendStream` / `stopStream`): the second way a variation's
text reaches Slack, next to rewriting a posted message through the outbox (`bot.slack.outbox`).

A stream grows its message in place, as Slack renders Markdown, with Slack's own "writing" look, and
`stopStream(blocks=…)` hangs the vote buttons under it. It is used in DMs (the AI app pane's threads are in
the app's DM) and, with VARIATIONS_STREAM_CHANNELS=on, in channels, where the default rewrite path was
chosen by measurement (docs/benchmarks.md, "Streaming"). The rewrite path's promises hold here too:

- Only the start (its ts is stored at once, like a posted reply's) and the stop (the final state) are called
  in the run's thread. Appends go to a small pool, one call at a time per message, paced by an
  `UpdateBudget` (chat.appendStream is Tier 4, about 100 a minute per workspace); text that arrives while
  one is under way goes with the next, so a slow Slack costs fewer calls, not a backlog. Streams are opened
  at most `STARTS_PER_MINUTE` a minute per workspace (start and stop are Tier 2).
- A 429 holds back that one stream for its Retry-After (capped); no thread sleeps through it. A 5xx or a
  dropped connection holds it back a second. The calls use the outbox's clients, which never retry.
- Every stream ends visibly. Slack refusing to open one (or the pace): the caller posts a placeholder and
  rewrites it, as before. An append Slack refused (or a stream Slack ended by itself,
  `message_not_in_streaming_state`), a rendering that no longer grows what was shown, one past
  `STREAM_LIMIT`, or a failed stop: `finish` says False and the caller hands the final state to the outbox,
  which rewrites the message (or, while Slack still holds it as a stream, posts it anew and deletes the
  stream), buttons included.
- Model text goes through `bot.render.markdown.render`, as in a `markdown` block: it cannot ping anyone or hide a
  link. Only what is `settled` is rendered and appended, and only while its rendering grows what Slack
  already has; the finished message is exactly the rendering of the whole text.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.observe.metrics import Metrics
from bot.render.growing import settled
from bot.render.kit import Block, context_block
from bot.render.markdown import MARKDOWN_LIMIT, render
from bot.render.mrkdwn import clean, escape
from bot.render.variation_messages import CLOSED_COUNTS, footnote, vote_buttons
from bot.slack.clients import SlackFor
from bot.slack.pacing import UpdateBudget
from bot.slack.run_thread import SlackThread
from bot.store.rows import VariationRow
from orchestrator.events import FOLLOW_UP, SYNTHESIS
from orchestrator.parsing import Approach

log = logging.getLogger(__name__)

STREAM_LIMIT = MARKDOWN_LIMIT
"""Characters of Markdown one stream carries here (heading and text): what Slack takes in one call and in
one message's markdown. A longer variation is finished by the outbox, split over messages."""
TRANSIENT_WAIT = 1.0  # seconds a stream rests after a 5xx or a dropped connection
STARTS_PER_MINUTE = 20.0
"""Streams opened per workspace and minute at most: chat.startStream and chat.stopStream are Tier 2 (about
20 a minute each), and every stream opened is stopped once, so keeping the starts within it keeps the stops
within it too. A variation past it takes the rewrite path: a placeholder, rewritten."""
START_BURST = 10.0  # streams opened at once before the pace applies: two five-approach runs
ENDED = {"message_not_in_streaming_state", "stopped_by_user"}  # Slack (or the person) ended the stream

_MARKDOWN = re.compile(r"([\\`*_\[\]<>#~|])")


def literal(text: str) -> str:
    """A name or brief shown as typed inside Markdown: one line, its Markdown characters escaped."""
    return _MARKDOWN.sub(r"\\\1", " ".join(clean(text).split()))


def heading(position: int | None, approach: Approach, note: str | None = None, label: str | None = None) -> str:
    """A streamed variation's first line, in Markdown, as `blocks.approach_title` names it (a planned
    approach by its number, a synthesis, a new version with its instruction, a follow-up), then its brief;
    in a blind run, by its `label` and without its brief."""
    name = f"Variation {label}" if label else literal(approach.type[:1].upper() + approach.type[1:])
    if approach.type == SYNTHESIS:
        title = "🧩 **Synthesis**"
    elif approach.type == FOLLOW_UP:
        title = "💬 **Follow-up**"
    elif position is None:
        title = f"♻️ **{name}**, new version" + (f" ({literal(note)})" if note else "")
    else:
        title = f"**{name}**" if label else f"**{position + 1}. {name}**"
    brief = "" if label else literal(approach.description)
    return render(f"{title}: _{brief}_" if brief else title) + "\n\n"


def closing_blocks(row: VariationRow, *, closed: bool = False) -> list[Block]:
    """What `stopStream` hangs under a written variation, as `blocks.variation_messages` ends one: its vote
    buttons (no votes yet), or once its run's voting has `closed` a line saying so, and its small print."""
    blocks = [context_block(CLOSED_COUNTS.format(up=0, down=0)) if closed else vote_buttons(row.id, 0, 0)]
    small_print = footnote(row)
    if small_print:
        blocks.append(context_block(escape(small_print)))
    return blocks


@dataclass(frozen=True)
class Failure:
    """A stream call Slack did not take: `after` seconds to wait before the next one, or None when the
    stream takes no more (`ended`: Slack no longer holds it as a stream)."""

    reason: str
    after: float | None = None
    ended: bool = False


class Streams:
    def __init__(
        self,
        slack_for: SlackFor,
        budget: UpdateBudget,
        *,
        channels: bool = False,
        senders: int = 4,
        retry_after_cap: float = 30.0,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slack_for = slack_for  # clients without retries (the outbox's): a 429 comes back at once
        self.budget = budget
        self.channels = channels
        self.retry_after_cap = retry_after_cap
        self.metrics = metrics
        self.clock = clock
        self.pool = ThreadPoolExecutor(senders, thread_name_prefix="stream")
        self._starts: dict[str, UpdateBudget] = {}  # by workspace
        self._lock = threading.Lock()

    def wanted(self, channel_id: str) -> bool:
        """Stream into this conversation? In a DM always (`D…`, the AI pane's threads included); in a
        channel as configured."""
        return channel_id.startswith("D") or self.channels

    def start(self, slack: SlackThread, recipient: str, opening: str) -> Stream | None:
        """A stream as a new reply in the run's thread, showing `opening` (its heading) at once; None
        (logged) when Slack would not open one: the caller posts a placeholder instead. `recipient` is
        the person it is written for, which Slack needs outside DMs. None too past `STARTS_PER_MINUTE`."""
        if not self._may_start(slack.team_id):
            log.info("run=%d step=stream_not_started reason=pace", slack.run_id)
            return None
        client = self.slack_for(slack.team_id)
        try:
            answer = client.chat_startStream(
                channel=slack.channel,
                thread_ts=slack.root,
                markdown_text=opening,
                recipient_team_id=slack.team_id or None,
                recipient_user_id=recipient or None,
            )
        except (SlackApiError, OSError) as error:
            self._failed("chat.startStream", slack.run_id, _failure(error, self.retry_after_cap).reason)
            return None
        return Stream(self, client, slack.channel, str(answer["ts"]), STREAM_LIMIT - len(opening))

    def call(self, client: WebClient, method: str, **params: Any) -> Failure | None:
        """One stream call; what went wrong, if anything (logged and counted)."""
        try:
            getattr(client, method.replace(".", "_"))(**params)
        except (SlackApiError, OSError) as error:
            failure = _failure(error, self.retry_after_cap)
            self._failed(method, params.get("ts"), failure.reason)
            return failure
        return None

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def _may_start(self, team_id: str) -> bool:
        with self._lock:
            starts = self._starts.get(team_id)
            if starts is None:
                starts = UpdateBudget(interval=0.0, per_minute=STARTS_PER_MINUTE, burst=START_BURST, clock=self.clock)
                self._starts[team_id] = starts
        return starts.allow(team_id)

    def _failed(self, method: str, where: object, reason: str) -> None:
        log.warning("slack step=stream_failed method=%s at=%s reason=%s", method, where, reason)
        if self.metrics is not None:
            self.metrics.slack_errors.labels(method, reason).inc()


class Stream:
    """One streaming message: `ts`, and the rendered text Slack has of it after its heading."""

    def __init__(self, streams: Streams, client: WebClient, channel: str, ts: str, room: int) -> None:
        self.streams = streams
        self.client = client
        self.channel = channel
        self.ts = ts
        self.room = room  # characters of text the stream may still carry after its heading
        self._cond = threading.Condition()
        self._sent = ""  # the rendered text Slack has
        self._busy = False  # a call is under way (or the stream is being finished)
        self._broken: str | None = None  # why nothing more is appended: the outbox finishes the message
        self._open = True  # Slack still holds it as a stream
        self._not_before = 0.0  # no append before then: a 429's Retry-After, a rest, the pace

    def write(self, text: str) -> None:
        """The variation's text so far (Markdown): Slack gets what is new soon, from the pool."""
        if not self._ready():
            return
        shown = render(settled(text))
        with self._cond:
            if not self._ready():
                return
            if not shown.startswith(self._sent):
                return  # what is shown cannot be taken back: wait for text that grows it (else see finish)
            if len(shown) > self.room:
                self._broken = "too_long"
                return
            chunk = shown[len(self._sent) :]
            if not chunk or not self.streams.budget.allow(self.ts):
                return
            self._busy = True
            self._not_before = self.streams.clock() + self.streams.budget.interval
        try:
            self.streams.pool.submit(self._append, shown, chunk)
        except RuntimeError:  # the pool was shut down: the app is closing, the finish still comes
            with self._cond:
                self._busy = False

    def finish(self, text: str | None, closing: list[Block] | None = None) -> bool:
        """End the stream. Given the variation's whole `text` and its `closing` blocks: what Slack lacks of
        its rendering, then the blocks, in one stopStream; True once Slack took them. Otherwise, or when
        that cannot be (a refused append, a rendering that changed, one too long, a stop that failed), the
        stream is stopped as it is, best effort, and False says the final state must go through the outbox."""
        whole = render(text) if text is not None else None
        with self._cond:
            if not self._cond.wait_for(lambda: not self._busy, timeout=self.client.timeout + 5):
                log.warning("slack step=stream_stuck ts=%s", self.ts)
                return False
            self._busy = True  # nothing more is appended
            was_open, self._open = self._open, False
            fits = whole is not None and not self._broken and whole.startswith(self._sent) and len(whole) <= self.room
            rest = whole[len(self._sent) :] if whole is not None and fits else None
        if not was_open:
            return False
        stop = functools.partial(self.streams.call, self.client, "chat.stopStream", channel=self.channel, ts=self.ts)
        if rest is None:
            stop()
            return False
        return stop(markdown_text=rest or None, blocks=closing) is None

    def _ready(self) -> bool:
        return not (self._busy or self._broken or not self._open or self.streams.clock() < self._not_before)

    def _append(self, shown: str, chunk: str) -> None:
        failure = self.streams.call(
            self.client, "chat.appendStream", channel=self.channel, ts=self.ts, markdown_text=chunk
        )
        with self._cond:
            self._busy = False
            if failure is None:
                self._sent = shown
            elif failure.after is not None:
                self._not_before = self.streams.clock() + failure.after
            else:
                self._broken = failure.reason
                self._open = not failure.ended
            self._cond.notify_all()


def _failure(error: Exception, cap: float) -> Failure:
    """What a failed stream call means for the stream."""
    if isinstance(error, SlackApiError):
        status = error.response.status_code
        if status == 429:
            return Failure("ratelimited", min(_retry_after(error.response.headers), cap))
        if status >= 500:
            return Failure(f"http_{status}", TRANSIENT_WAIT)
        reason = str(error.response.get("error", "unknown_error"))
        return Failure(reason, ended=reason in ENDED)
    return Failure("connection", TRANSIENT_WAIT)


def _retry_after(headers: Any) -> float:
    """Retry-After in seconds; 1 when missing or unreadable, as slack_sdk assumes."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            try:
                seconds = float(value[0] if isinstance(value, list) else value)
            except (TypeError, ValueError):
                return 1.0
            return seconds if 0 <= seconds < float("inf") else 1.0
    return 1.0
