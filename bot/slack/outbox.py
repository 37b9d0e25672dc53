"""Every rewrite of a posted message goes through the outbox, so that no request thread ever waits on
Slack and no final state is ever lost.

Each message (by its ts, or a key of the caller's for a message not posted yet) has at most one job being
sent and one waiting; a newer state replaces the waiting one, so the latest state always wins and a burst
of updates costs a few calls. A few sender threads work through the jobs, finals first:

- `LIVE`: a streaming state. Paced by `UpdateBudget` (once per interval per message, a shared bucket for
  all), superseded by anything newer, dropped when Slack refuses it.
- `REFRESH`: a state rebuilt from the database after a vote. Paced like a live one, but never dropped
  while Slack can still take it.
- `FINAL`: a message's last state. Sent at once and retried with backoff within a deadline; when the
  message cannot be updated (an error, or the deadline passed) its text is posted as a new reply instead,
  and `msg_too_long` or `msg_blocks_too_long` splits the message and continues it in the next one.

A 429 defers only the message it answered, by its Retry-After (capped), and 5xx or a dropped connection
backs off that message alone: one slow message never holds another's update. Each call is made with
the token of the message's workspace (`team`, see `bot.slack.clients.SlackFor`).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.observe.metrics import Metrics
from bot.render.markdown import halve
from bot.slack.clients import SlackFor
from bot.slack.pacing import UpdateBudget

log = logging.getLogger(__name__)

Message = dict[str, Any]
Build = Callable[[], Sequence[Message] | None]
TOO_LONG = ("msg_too_long", "msg_blocks_too_long")  # the text; all blocks' text (markdown: 12,000)
NEXT = "next"  # the slot of a state waiting behind one being sent


def fixed(*messages: Message) -> Build:
    """A build of messages known already (a final state computed once)."""
    return lambda: list(messages)


class Kind(IntEnum):
    LIVE = 0
    REFRESH = 1
    FINAL = 2


@dataclass(frozen=True)
class Policy:
    """How hard a message's final state is pushed: `deadline` seconds of retrying the rewrite before it is
    posted as a new reply, `post_deadline` more for that post; `retry_after_cap` bounds one wait."""

    deadline: float = 60.0
    post_deadline: float = 600.0
    retry_after_cap: float = 30.0
    backoff: float = 0.5
    max_backoff: float = 15.0


@dataclass
class _Job:
    key: Hashable
    channel: str
    ts: str | None  # the message to rewrite; None: post a new reply in `thread_ts`
    thread_ts: str | None
    build: Build
    kind: Kind
    on_moved: Callable[[str], None] | None
    on_lost: Callable[[], None] | None
    due: float
    started: float
    attempts: int = 0
    pages: list[Message] | None = None  # built on the first attempt; what is still to send
    target: str | None = None  # the message the next page rewrites (None: post it)
    posting: bool = False  # the rewrite was given up: the pages go out as new replies
    last: str | None = None  # the last message sent so far
    abandoned: list[str] = field(default_factory=list)  # messages replaced by new replies, to delete
    parent: bool = False  # `ts` is a run's parent: a repost of its state never deletes it
    team: str = ""  # the workspace whose token sends it ("" with the one token of single-token mode)


class _Transient(Exception):
    """Slack could not take the call now (429, 5xx, no connection); `after` seconds is worth waiting."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after


class Outbox:
    def __init__(
        self,
        slack_for: SlackFor,
        budget: UpdateBudget,
        *,
        policy: Policy | None = None,
        senders: int = 4,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slack_for = slack_for  # each job's workspace's client
        self.budget = budget
        self.policy = policy or Policy()
        self.metrics = metrics
        self._clock = clock
        self._cond = threading.Condition()
        self._waiting: dict[Hashable, _Job] = {}
        self._sending: dict[Hashable, _Job] = {}
        self._stop = False
        self._closing = False  # close() is sending what is left: no pacing, no live states
        self._threads = [
            threading.Thread(target=self._send_forever, name=f"outbox-{n}", daemon=True) for n in range(senders)
        ]
        for thread in self._threads:
            thread.start()

    # what callers use

    def update(
        self,
        channel: str,
        ts: str,
        build: Build,
        *,
        kind: Kind,
        thread_ts: str | None = None,
        on_moved: Callable[[str], None] | None = None,
        on_lost: Callable[[], None] | None = None,
        parent: bool = False,
        team: str = "",
    ) -> None:
        """Rewrite message `ts` with the messages `build` returns (built when sent; None sends nothing):
        the first replaces `ts`, any more follow it in `thread_ts`. `on_moved(ts)` learns where the last
        one ended up, `on_lost()` that a final state could not be shown at all. `parent`: `ts` is a run's
        parent message, kept even when its state has to be posted anew (needed where it is itself a reply
        in `thread_ts`; the thread's root is never deleted anyway). `team`: the workspace it is in."""
        job = _Job(ts, channel, ts, thread_ts, build, kind, on_moved, on_lost, 0.0, 0.0, parent=parent, team=team)
        self._offer(job)

    def post(
        self,
        key: Hashable,
        channel: str,
        thread_ts: str,
        build: Build,
        *,
        on_moved: Callable[[str], None] | None = None,
        on_lost: Callable[[], None] | None = None,
        team: str = "",
    ) -> None:
        """Post a final state as new replies (a message whose first post failed), with the same care."""
        self._offer(_Job(key, channel, None, thread_ts, build, Kind.FINAL, on_moved, on_lost, 0.0, 0.0, team=team))

    def wait(self, keys: Sequence[Hashable] | None = None, timeout: float | None = None) -> bool:
        """Block until nothing is left to send for `keys` (all messages when None); False on timeout."""

        def settled() -> bool:
            if keys is None:
                return not self._waiting and not self._sending
            return not any(key in self._waiting or key in self._sending for key in keys)

        with self._cond:
            return self._cond.wait_for(settled, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Send what can still go out within `timeout`, then stop the senders. A stopping process owes Slack
        every message's last known state, not its pacing: waiting vote counts go at once like finals, live
        states are dropped (their final follows, or recovery marks the run at the next start), and a message
        deferred past `timeout` (a long Retry-After) is not waited for, since it could not be sent anyway."""
        ends = self._clock() + timeout

        def settled() -> bool:
            return not self._sending and all(job.due > ends for job in self._waiting.values())

        with self._cond:
            self._closing = True
            for slot in [slot for slot, job in self._waiting.items() if job.kind == Kind.LIVE]:
                del self._waiting[slot]
            self._cond.notify_all()
            self._cond.wait_for(settled, timeout)
            self._stop = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    # scheduling

    def _offer(self, job: _Job) -> None:
        now = self._clock()
        job.due = job.started = now
        with self._cond:
            base = self._waiting.get(job.key)
            busy = job.key in self._sending or (base is not None and _in_progress(base))
            # While a state is being sent (or half sent), the newer one waits behind it; else it replaces
            # the waiting one.
            slot: Hashable = (job.key, NEXT) if busy else job.key
            older = self._waiting.get(slot)
            if older is not None:
                _inherit(job, older)
            self._waiting[slot] = job
            self._cond.notify_all()

    def _next_job(self) -> _Job | None:
        """The most urgent job that may be sent now, moved to `_sending`; None when none (waits a little)."""
        with self._cond:
            if self._stop:
                return None
            now = self._clock()
            ready = [j for k, j in self._waiting.items() if k == j.key and j.due <= now and k not in self._sending]
            ready.sort(key=lambda j: (-j.kind, j.due))
            for job in ready:
                if job.kind == Kind.FINAL or _in_progress(job) or self._closing:
                    self.budget.spend(job.key)
                elif not self.budget.allow(job.key):
                    continue
                del self._waiting[job.key]
                self._sending[job.key] = job
                return job
            later = [j.due - now for j in self._waiting.values() if j.due > now]
            self._cond.wait(min([0.05, *later]))
            return None

    def _done(self, job: _Job, retry: bool) -> None:
        """`job` was sent (or given up); with `retry` it goes again later, unless a newer state that
        replaces it is waiting."""
        with self._cond:
            del self._sending[job.key]
            newer = self._waiting.pop((job.key, NEXT), None)
            if retry and newer is not None and not _in_progress(job):
                _inherit(newer, job, keep_timing=False)
                retry = False
            if retry:
                self._waiting[job.key] = job
                if newer is not None:
                    self._waiting[(job.key, NEXT)] = newer
            elif newer is not None:
                self._waiting[job.key] = newer
            self._cond.notify_all()

    def _send_forever(self) -> None:
        while True:
            with self._cond:
                if self._stop:
                    return
            job = self._next_job()
            if job is not None:
                self._done(job, retry=self._attempt(job))

    # sending

    def _attempt(self, job: _Job) -> bool:
        """Send what is left of `job`; True when it must be tried again later."""
        try:
            if job.pages is None:
                built = job.build()
                if not built:
                    return False
                job.pages, job.target = list(built), job.ts
            self._send_pages(job)
        except _Transient as problem:
            return self._reschedule(job, problem)
        except SlackApiError as error:
            return self._refused(job, _error_of(error))
        except Exception:
            log.exception("slack step=failed key=%s kind=%s", job.key, job.kind.name)
            return self._lose(job)
        if job.on_moved is not None and job.last is not None:
            _tell(job, job.on_moved, job.last)
        for ts in job.abandoned:
            self._delete(job, ts)
        return False

    def _send_pages(self, job: _Job) -> None:
        assert job.pages is not None
        while job.pages:
            page = job.pages[0]
            try:
                if job.target is not None:
                    self._call(job, "chat.update", channel=job.channel, ts=job.target, **page)
                    sent = job.target
                else:
                    response = self._call(job, "chat.postMessage", channel=job.channel, thread_ts=job.thread_ts, **page)
                    sent = str(response["ts"])
                    self.budget.spend(sent)  # its first live update, if any, waits a full interval
            except SlackApiError as error:
                if _error_of(error) not in TOO_LONG:
                    raise
                halves = split_message(page)
                if halves is None:
                    raise
                job.pages[:1] = halves
                continue
            job.pages.pop(0)
            job.last, job.target = sent, None

    def _call(self, job: _Job, method: str, **params: Any) -> Any:
        """One Web API call; 429, 5xx and connection failures become `_Transient`."""
        try:
            return getattr(self.slack_for(job.team), method.replace(".", "_"))(**params)
        except SlackApiError as error:
            status = error.response.status_code
            if status == 429:
                after = _retry_after(error.response.headers)
                self._observe_retry(method, "ratelimited")
                raise _Transient("ratelimited", after) from None
            if status >= 500:
                self._observe_retry(method, "server_error")
                raise _Transient(f"http_{status}") from None
            if self.metrics is not None:
                self.metrics.slack_errors.labels(method, _error_of(error)).inc()
            raise
        except OSError as error:  # URLError, timeouts, refused connections
            self._observe_retry(method, "connection")
            raise _Transient(f"connection: {error}") from None

    def _reschedule(self, job: _Job, problem: _Transient) -> bool:
        now = self._clock()
        job.attempts += 1
        if job.kind != Kind.FINAL and not _in_progress(job):
            job.pages = None  # rebuilt when it goes again, with whatever is newest by then
        deadline = self.policy.deadline + (self.policy.post_deadline if job.posting else 0.0)
        if now - job.started >= deadline:
            if job.kind == Kind.FINAL and not job.posting and job.thread_ts is not None:
                return self._repost(job, problem.reason)
            log.error("slack step=gave_up key=%s kind=%s reason=%s", job.key, job.kind.name, problem.reason)
            return self._lose(job)
        backoff = min(self.policy.max_backoff, self.policy.backoff * 2 ** (job.attempts - 1))
        wait = backoff * (0.5 + random.random() / 2)
        if problem.after is not None:
            wait = max(wait, min(problem.after, self.policy.retry_after_cap))
        if job.kind == Kind.FINAL and not job.posting:
            wait = min(wait, max(0.0, job.started + deadline - now))  # the repost must not wait past it
        job.due = now + wait
        log.info("slack step=retry key=%s reason=%s in=%.2fs", job.key, problem.reason, wait)
        return True

    def _refused(self, job: _Job, error: str) -> bool:
        """Slack answered `ok: false`: a final state that cannot be written into its message is posted as
        a new reply; anything else is logged and dropped."""
        log.error("slack step=refused key=%s kind=%s error=%s", job.key, job.kind.name, error)
        if job.kind == Kind.FINAL and not job.posting and job.target is not None and job.thread_ts is not None:
            return self._repost(job, error)
        return self._lose(job)

    def _repost(self, job: _Job, reason: str) -> bool:
        log.warning("slack step=repost key=%s reason=%s", job.key, reason)
        if job.target is not None and job.target == job.ts and job.ts != job.thread_ts and not job.parent:
            job.abandoned.append(job.target)  # a reply replaced by its new copy (never the thread's parent)
        job.posting, job.target, job.due = True, None, self._clock()
        job.started = job.due - self.policy.deadline  # the post gets `post_deadline` from now
        return True

    def _lose(self, job: _Job) -> bool:
        if job.kind == Kind.FINAL and job.on_lost is not None:
            _tell(job, job.on_lost)
        return False

    def _delete(self, job: _Job, ts: str) -> None:
        """Remove a message whose content was posted anew (best effort: it may be gone or undeletable)."""
        try:
            self._call(job, "chat.delete", channel=job.channel, ts=ts)
        except (SlackApiError, _Transient) as error:
            log.warning("slack step=delete_failed ts=%s reason=%s", ts, error)

    def _observe_retry(self, method: str, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.slack_retries.labels(method, reason).inc()


def _in_progress(job: _Job) -> bool:
    """Part of it is already in Slack (a long message, a repost): it must finish before anything newer."""
    return job.last is not None or job.posting


def _inherit(job: _Job, older: _Job, *, keep_timing: bool = True) -> None:
    """`job` replaces `older`: a must-deliver kind is never downgraded, callbacks carry over, and (with
    `keep_timing`) a paced message keeps its place: its window or a Retry-After still applies."""
    job.kind = max(job.kind, older.kind)
    job.on_moved = job.on_moved or older.on_moved
    job.on_lost = job.on_lost or older.on_lost
    if keep_timing:
        job.due, job.started, job.attempts = older.due, older.started, older.attempts


def _error_of(error: SlackApiError) -> str:
    return str(error.response.get("error", "unknown_error"))


def _retry_after(headers: Any) -> float:
    """Retry-After in seconds; 1 when missing or unreadable, as slack_sdk assumes."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                seconds = float(raw)
            except (TypeError, ValueError):
                return 1.0
            return seconds if math.isfinite(seconds) and seconds >= 0 else 1.0
    return 1.0


def split_message(message: Message) -> list[Message] | None:
    """A message Slack found too long, as two that together hold all of it, or None when it cannot be
    halved. Its closing buttons and small print stay with the second half, after the text they belong to."""
    blocks = list(message.get("blocks") or [])
    end = len(blocks)
    while end > 0 and blocks[end - 1].get("type") in ("actions", "context"):
        end -= 1
    content, closing = blocks[:end], blocks[end:]
    if len(content) >= 2:
        middle = len(content) // 2
        first, second = content[:middle], content[middle:] + closing
    elif content and content[0].get("type") == "markdown" and (halves := halve(content[0]["text"])):
        first = [{**content[0], "text": halves[0]}]
        second = [{**content[0], "text": halves[1]}, *closing]
    elif content and content[0].get("type") == "section" and len(content[0]["text"]["text"]) > 1:
        section, text = content[0], content[0]["text"]["text"]
        cut = text.rfind("\n", 0, len(text) // 2 + 1)
        cut = cut if cut > 0 else len(text) // 2
        first = [{**section, "text": {**section["text"], "text": text[:cut]}}]
        second = [{**section, "text": {**section["text"], "text": text[cut:].lstrip("\n") or "…"}}, *closing]
    else:
        return None
    return [{**message, "blocks": first}, {**message, "blocks": second}]


def _tell(job: _Job, callback: Callable[..., None], *args: str) -> None:
    """Call a job's callback (it records where its message is); a failure there, such as a database that
    stopped taking writes, is logged and must not stop the outbox's thread, which every message needs."""
    try:
        callback(*args)
    except Exception:
        log.exception("slack step=callback_failed key=%s kind=%s", job.key, job.kind.name)
