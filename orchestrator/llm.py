"""The one place that talks to the anthropic SDK: calls, streaming, retries, usage, errors in plain words.

`LLM` owns the retry policy instead of the SDK: the SDK obeys any Retry-After however long (a 429 asking
for an hour hangs a run for an hour) and never retries a stream that breaks after it started. Here every
attempt runs with the SDK's retries off and a timeout bounded by what is left of the call's deadline;
failed attempts are retried with exponential backoff and full jitter, or after the server's Retry-After
when that still fits the deadline.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import anthropic
import httpx2

from orchestrator.cancel import Cancel
from orchestrator.events import Completion, Usage

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_DEADLINE = 180.0  # seconds for one call, retries and waits included
DEFAULT_TIMEOUT = 120.0  # seconds for one attempt (the SDK's read timeout: between bytes of a stream)
CONNECT_TIMEOUT = 10.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
MIN_ATTEMPT_TIMEOUT = 0.1

# Statuses worth another try: request timeout, lock conflict, rate limit, and every 5xx (529 overloaded).
_RETRYABLE_STATUSES = frozenset({408, 409, 429})
# The status an error event inside a 200 stream stands for, from its `error.type`.
_ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class LLMError(RuntimeError):
    """A model call failed, after retries when the failure was worth retrying; the message is meant for people."""


class Cancelled(LLMError):
    """The call was cancelled (`Cancel`): no attempt starts after that, and a stream in flight is closed.
    `usage` is what the API had reported of a closed stream (its input tokens), so far."""

    def __init__(self, usage: Usage | None = None) -> None:
        super().__init__("Stopped.")
        self.usage = usage or Usage()


def make_client(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    max_retries: int = 0,
    timeout: float = DEFAULT_TIMEOUT,
) -> anthropic.Anthropic:
    """An Anthropic client for `LLM`, which runs the retries itself (each attempt with the SDK's turned
    off), so `max_retries` no longer matters. `timeout` bounds one attempt. `base_url=None` lets the SDK
    read `ANTHROPIC_BASE_URL`."""
    return anthropic.Anthropic(api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout)


class _IncompleteStream(Exception):
    """The stream ended cleanly on the wire but without its closing events: the reply is incomplete."""


@dataclass(frozen=True)
class _Failure:
    retryable: bool
    retry_after: float | None = None  # seconds the server asked us to wait, when it did
    status: int | None = None


class _Relay:
    """Passes text deltas on and remembers whether any was passed in this attempt."""

    def __init__(self, on_text: Callable[[str], None]) -> None:
        self.on_text = on_text
        self.used = False

    def __call__(self, delta: str) -> None:
        self.used = True
        self.on_text(delta)


class LLM:
    """Single-turn text completions over an injected client, optionally streamed, with retries.

    A call makes at most `max_attempts` attempts within `deadline` seconds. Connection failures,
    timeouts, 408/409/429/5xx/529 and streams that break mid-way are retried; 400/401/403/404/413 never
    are. Between attempts it sleeps the server's `retry-after-ms`/`retry-after` when given (failing at
    once when that is longer than the time left), else an exponential backoff with full jitter
    (`BACKOFF_BASE` doubling, at most `BACKOFF_CAP`). `sleep`, `clock` and `rng` (uniform in [0, 1))
    are injectable for tests. `on_retry(model)` is called before each retry, so an application can count
    them without this package knowing how.

    Defaults taken from the client, so a client built for N retries keeps N retries (now run here):
    `max_attempts=None` is the client's `max_retries + 1` when it set any, else `DEFAULT_MAX_ATTEMPTS`;
    `attempt_timeout=None` is the client's own timeout (its read timeout), else `DEFAULT_TIMEOUT`.
    """

    def __init__(
        self,
        client: anthropic.Anthropic,
        *,
        max_attempts: int | None = None,
        deadline: float = DEFAULT_DEADLINE,
        attempt_timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        if max_attempts is None:
            retries = getattr(client, "max_retries", 0)
            max_attempts = retries + 1 if isinstance(retries, int) and retries > 0 else DEFAULT_MAX_ATTEMPTS
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if deadline <= 0:
            raise ValueError(f"deadline must be positive, got {deadline}")
        self.max_attempts = max_attempts
        self.deadline = deadline
        self.attempt_timeout = attempt_timeout if attempt_timeout is not None else _client_timeout(client)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._on_retry = on_retry

    def complete(
        self,
        prompt: str,
        *,
        model: str,
        max_tokens: int,
        on_text: Callable[[str], None] | None = None,
        on_restart: Callable[[], bool] | None = None,
        cancel: Cancel | None = None,
    ) -> Completion:
        """Run one call. With `on_text`, the reply is streamed and each text delta is passed on as it
        arrives; the returned Completion holds the whole text either way. Once `cancel` is set no attempt
        starts, a wait between attempts ends, and a stream in flight is closed: Cancelled is raised.

        When a streamed attempt had already passed text to `on_text` and is to be retried, `on_restart()`
        is called first: the text starts over with the next delta. It returns False to give up instead,
        and so does a missing `on_restart` (the consumer could not tell the text restarted): the call
        then raises LLMError about the broken reply. Raises LLMError, in plain words, for any failure."""
        messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": prompt}]
        started = self._clock()
        ends = started + self.deadline
        attempt = 0
        while True:
            attempt += 1
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            relay = None if on_text is None else _Relay(on_text)
            timeout = max(MIN_ATTEMPT_TIMEOUT, min(ends - self._clock(), self.attempt_timeout))
            try:
                text, usage, reply_model, stop_reason = self._attempt(
                    model, max_tokens, messages, timeout, attempt, relay, cancel
                )
            except (anthropic.APIError, httpx2.TransportError, _IncompleteStream, TypeError) as error:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled() from error  # cancelled while the request was being answered
                failure = _classify(error)
                if failure is None:
                    raise
                delay = self._retry_delay(error, failure, model, attempt, ends)
                if relay is not None and relay.used and (on_restart is None or not on_restart()):
                    raise LLMError(_explain(error, model, attempt)) from error
                # INFO, like the SDK's own retries: a retry that works is no news (the CLI prints warnings).
                log.info(
                    "model call attempt %d/%d failed (%s); retrying in %.2f s", attempt, self.max_attempts, error, delay
                )
                if self._on_retry is not None:
                    self._on_retry(model)
                if cancel is None:
                    self._sleep(delay)
                elif cancel.wait(delay):
                    raise Cancelled() from error
                continue
            return Completion(
                text=text,
                model=reply_model or model,
                usage=usage,
                stop_reason=stop_reason,
                seconds=self._clock() - started,
            )

    def _retry_delay(self, error: Exception, failure: _Failure, model: str, attempt: int, ends: float) -> float:
        """Seconds to wait before the next attempt; raises LLMError when there is to be none."""
        if not failure.retryable or attempt >= self.max_attempts:
            raise LLMError(_explain(error, model, attempt)) from error
        remaining = ends - self._clock()
        if failure.retry_after is not None:
            if failure.retry_after >= remaining:
                what = _status_phrase(failure.status) or "The Anthropic API"
                wait = f"{failure.retry_after:.0f}" if failure.retry_after >= 10 else f"{failure.retry_after:.1f}"
                raise LLMError(f"{what} and asked us to wait {wait} s; gave up.") from error
            return failure.retry_after
        delay = self._rng() * min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
        if delay >= remaining:
            raise LLMError(_explain(error, model, attempt)) from error
        return delay

    def _attempt(
        self,
        model: str,
        max_tokens: int,
        messages: list[anthropic.types.MessageParam],
        timeout: float,
        attempt: int,
        on_text: Callable[[str], None] | None,
        cancel: Cancel | None = None,
    ) -> tuple[str, Usage, str, str | None]:
        """One request with the SDK's own retries off; `x-stainless-retry-count` still tells the API
        (and the logs) which attempt this is."""
        client = self.client.with_options(
            max_retries=0, timeout=httpx2.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        )
        headers = {"x-stainless-retry-count": str(attempt - 1)}
        if on_text is None:
            message = client.messages.create(
                model=model, max_tokens=max_tokens, messages=messages, extra_headers=headers
            )
            text = "".join(block.text for block in message.content if block.type == "text")
            usage = Usage(message.usage.input_tokens, message.usage.output_tokens)
            return text, usage, message.model, message.stop_reason
        return self._stream(client, model, max_tokens, messages, headers, on_text, cancel)

    @staticmethod
    def _stream(
        client: anthropic.Anthropic,
        model: str,
        max_tokens: int,
        messages: list[anthropic.types.MessageParam],
        headers: dict[str, str],
        on_text: Callable[[str], None],
        cancel: Cancel | None = None,
    ) -> tuple[str, Usage, str, str | None]:
        """Stream with the SDK's raw events. Its `messages.stream()` helper rebuilds a snapshot of the
        whole message on every event, which costs about twice the CPU with many runs streaming at once;
        text, usage and stop reason are all we need. A `cancel` closes the stream (from the canceller's
        thread), which ends the read under way."""
        parts: list[str] = []
        input_tokens = output_tokens = 0
        reply_model, stop_reason = model, None
        stream = client.messages.create(
            model=model, max_tokens=max_tokens, messages=messages, stream=True, extra_headers=headers
        )
        forget = (lambda: None) if cancel is None else cancel.on_cancel(stream.close)
        try:
            with stream:
                for event in stream:
                    if cancel is not None and cancel.cancelled:
                        raise Cancelled()
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        parts.append(event.delta.text)
                        on_text(event.delta.text)
                    elif event.type == "message_start":
                        reply_model = event.message.model
                        input_tokens = event.message.usage.input_tokens
                        output_tokens = event.message.usage.output_tokens
                    elif event.type == "message_delta":
                        stop_reason = event.delta.stop_reason
                        output_tokens = event.usage.output_tokens
                        input_tokens = event.usage.input_tokens or input_tokens
        except Exception as error:
            if cancel is not None and cancel.cancelled:
                raise Cancelled(Usage(input_tokens, output_tokens)) from error
            raise
        finally:
            forget()
        if cancel is not None and cancel.cancelled:
            raise Cancelled(Usage(input_tokens, output_tokens))
        if stop_reason is None:
            raise _IncompleteStream("stream ended before message_stop")
        return "".join(parts), Usage(input_tokens, output_tokens), reply_model, stop_reason


def _client_timeout(client: object) -> float:
    timeout = getattr(client, "timeout", None)
    if isinstance(timeout, httpx2.Timeout):
        timeout = timeout.read
    if isinstance(timeout, int | float) and timeout > 0:
        return float(timeout)
    return DEFAULT_TIMEOUT


def _classify(error: Exception) -> _Failure | None:
    """Whether a failed attempt is worth another; None for an exception that is not a call failure."""
    if isinstance(error, TypeError):
        # The SDK raises TypeError at call time when it found no credentials at all.
        return _Failure(retryable=False) if "authentication" in str(error) else None
    if isinstance(error, httpx2.TransportError | _IncompleteStream | anthropic.APIConnectionError):
        # A stream that breaks after it started: anthropic 2.17 raises APIConnectionError, earlier releases in
        # pyproject's range let the bare httpx2 error through (a read timeout included).
        return _Failure(retryable=True)
    if isinstance(error, anthropic.APIStatusError):
        status = _status_of(error)
        if error.response.headers.get("x-should-retry") == "false":
            return _Failure(retryable=False, status=status)
        retryable = status in _RETRYABLE_STATUSES or status >= 500
        return _Failure(retryable, _retry_after(error.response.headers) if retryable else None, status)
    return _Failure(retryable=False)


def _retry_after(headers: httpx2.Headers) -> float | None:
    """Seconds from `retry-after-ms`, else `retry-after` (seconds or an HTTP date); None when absent."""
    try:
        return max(0.0, float(headers["retry-after-ms"]) / 1000)
    except (KeyError, TypeError, ValueError):
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def _status_of(error: anthropic.APIStatusError) -> int:
    """The HTTP status, or for an error event inside a streamed 200, the status its error type stands for."""
    status = error.status_code
    if status < 400 and isinstance(error.body, dict):
        inner = error.body.get("error")
        if isinstance(inner, dict):
            status = _ERROR_TYPE_STATUS.get(str(inner.get("type")), status)
    return status


def _explain(error: Exception, model: str, attempts: int) -> str:
    if isinstance(error, anthropic.APIError):
        return describe_error(error, model, attempts=attempts)
    if isinstance(error, TypeError):
        return "No Anthropic API key: set ANTHROPIC_API_KEY."
    return f"The connection to the Anthropic API broke off mid-reply{_still(attempts)}."


def _still(attempts: int) -> str:
    return f", still after {attempts} attempts" if attempts > 1 else ""


def _status_phrase(status: int | None) -> str | None:
    """What a retryable status means, as the start of a sentence."""
    if status == 429:
        return "The Anthropic API is rate limiting us (429)"
    if status == 529:
        return "The Anthropic API is overloaded (529)"
    if status == 408:
        return "The Anthropic API timed out waiting for the request (408)"
    if status == 409:
        return "The Anthropic API reported a conflict (409)"
    if status is not None and status >= 500:
        return f"The Anthropic API had an internal error ({status})"
    return None


def describe_error(error: anthropic.APIError, model: str, *, attempts: int = 1) -> str:
    """One sentence a Slack user or a terminal user can act on; `attempts` > 1 says retries ran out."""
    if isinstance(error, anthropic.APITimeoutError):
        return f"The Anthropic API did not answer in time{_still(attempts)}."
    if isinstance(error, anthropic.APIConnectionError):
        return "Could not reach the Anthropic API (connection failed)."
    if isinstance(error, anthropic.APIStatusError):
        status = _status_of(error)
        known = {
            401: "The Anthropic API rejected the API key (401): check ANTHROPIC_API_KEY.",
            403: "The Anthropic API key may not use this model (403).",
            404: f"The model {model!r} was not found (404): check the model settings.",
            413: "The request is too large for the model (413).",
        }
        if status in known:
            return known[status]
        phrase = _status_phrase(status)
        if status in (429, 529):
            return f"{phrase}{_still(attempts)}: try again in a minute."
        if phrase is not None:
            return f"{phrase}{_still(attempts)}."
        return f"The Anthropic API refused the request ({status}): {_error_message(error)}"
    return f"The Anthropic API call failed: {error}"


def _error_message(error: anthropic.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
    return error.message
