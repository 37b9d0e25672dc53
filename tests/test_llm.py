"""LLM's retry policy: unit tests over a scripted client and a fake clock, then the real SDK against the
fake Anthropic API (retries, broken streams, connection resets, a Retry-After too long to wait)."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import anthropic
import httpx2
import pytest

from orchestrator.llm import LLM, LLMError, make_client
from tests.fakes.anthropic_api import FakeAnthropicAPI, FakeReply

# -- a scripted client and a fake clock ---------------------------------------------------------------------

_REQUEST = httpx2.Request("POST", "https://api.anthropic.test/v1/messages")
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}


def status_error(status: int, headers: dict[str, str] | None = None, error_type: str | None = None) -> Exception:
    response = httpx2.Response(status, headers=headers or {}, request=_REQUEST)
    kind = error_type or _ERROR_TYPES.get(status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": f"{kind} message"}}
    return anthropic.APIStatusError(f"Error code: {status}", response=response, body=body)


def connection_error() -> Exception:
    return anthropic.APIConnectionError(request=_REQUEST)


@dataclass
class Streamed:
    """A streamed reply: these deltas, then `error` raised mid-stream, or the closing events when
    `complete` (without them the stream just ends early)."""

    deltas: list[str]
    error: Exception | None = None
    complete: bool = True

    def events(self) -> Iterator[Any]:
        usage = SimpleNamespace(input_tokens=10, output_tokens=1)
        yield SimpleNamespace(type="message_start", message=SimpleNamespace(model="m-1", usage=usage))
        for text in self.deltas:
            yield SimpleNamespace(type="content_block_delta", delta=SimpleNamespace(type="text_delta", text=text))
        if self.error is not None:
            raise self.error
        if self.complete:
            delta = SimpleNamespace(stop_reason="end_turn")
            yield SimpleNamespace(
                type="message_delta", delta=delta, usage=SimpleNamespace(output_tokens=7, input_tokens=0)
            )

    def __iter__(self) -> Iterator[Any]:
        return self.events()

    def __enter__(self) -> Streamed:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class FakeTime:
    """`clock` and `sleep` for LLM: sleeping only moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class ScriptedClient:
    """Stands in for anthropic.Anthropic: each attempt takes the next step of `script` (an exception to
    raise, a str to answer, or a Streamed reply); each call lasts `call_seconds` on `time`."""

    script: list[Exception | str | Streamed]
    time: FakeTime | None = None
    call_seconds: float = 0.0
    max_retries: int = 0
    timeout: float = 120.0
    options: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    @property
    def messages(self) -> ScriptedClient:
        return self

    def with_options(self, **options: Any) -> ScriptedClient:
        self.options.append(options)
        return self

    def create(self, *, stream: bool = False, extra_headers: dict[str, str], **_: Any) -> Any:
        self.headers.append(extra_headers)
        if self.time is not None:
            self.time.now += self.call_seconds
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        if stream:
            return step if isinstance(step, Streamed) else Streamed([step])
        assert isinstance(step, str)
        usage = SimpleNamespace(input_tokens=10, output_tokens=3)
        content = [SimpleNamespace(type="text", text=step)]
        return SimpleNamespace(content=content, usage=usage, model="m-1", stop_reason="end_turn")

    @property
    def calls(self) -> int:
        return len(self.options)


def make_llm(client: ScriptedClient, clock: FakeTime, **options: Any) -> LLM:
    options.setdefault("rng", lambda: 1.0)  # the top of the jitter range: waits are exactly the bound
    return LLM(client, sleep=clock.sleep, clock=clock.clock, **options)  # type: ignore[arg-type]


def ask(llm: LLM, **options: Any) -> str:
    return llm.complete("Hello", model="m", max_tokens=100, **options).text


# -- the policy ---------------------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap() -> None:
    clock = FakeTime()
    client = ScriptedClient([status_error(529)] * 6 + ["done"])
    assert ask(make_llm(client, clock, max_attempts=7, deadline=1000)) == "done"
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert [h["x-stainless-retry-count"] for h in client.headers] == ["0", "1", "2", "3", "4", "5", "6"]


def test_backoff_is_fully_jittered_within_its_bounds() -> None:
    clock = FakeTime()
    client = ScriptedClient([connection_error()] * 6 + ["done"])
    assert ask(make_llm(client, clock, max_attempts=7, deadline=1000, rng=random.Random(3).random)) == "done"
    pairs = list(zip(clock.sleeps, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0], strict=True))
    assert all(0 <= sleep <= bound for sleep, bound in pairs)
    assert len(set(clock.sleeps)) == 6 and any(sleep < 0.9 * bound for sleep, bound in pairs)


def test_retry_after_is_honoured_instead_of_the_backoff() -> None:
    clock = FakeTime()
    in_30_s = email.utils.formatdate(time.time() + 30, usegmt=True)
    client = ScriptedClient(
        [
            status_error(429, {"retry-after": "2"}),
            status_error(529, {"retry-after-ms": "1500", "retry-after": "9"}),
            status_error(503, {"retry-after": in_30_s}),
            "done",
        ]
    )
    assert ask(make_llm(client, clock)) == "done"
    assert clock.sleeps[:2] == [2.0, 1.5]
    assert 27 < clock.sleeps[2] <= 30


def test_retry_after_beyond_the_deadline_fails_at_once_in_plain_words() -> None:
    clock = FakeTime()
    client = ScriptedClient([status_error(429, {"retry-after": "3600"}), "never asked"])
    with pytest.raises(LLMError) as error:
        ask(make_llm(client, clock))
    assert str(error.value) == "The Anthropic API is rate limiting us (429) and asked us to wait 3600 s; gave up."
    assert clock.sleeps == [] and client.calls == 1


def test_retry_after_counts_against_the_time_left() -> None:
    clock = FakeTime()
    client = ScriptedClient([status_error(529, {"retry-after": "20"})] * 2 + ["never asked"], clock, 15.0)
    with pytest.raises(LLMError, match=r"overloaded \(529\) and asked us to wait 20 s; gave up"):
        ask(make_llm(client, clock, deadline=60))
    assert clock.sleeps == [20.0] and client.calls == 2  # 15 + 20 + 15 s gone: 10 s left, not 20


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_client_errors_are_never_retried(status: int) -> None:
    clock = FakeTime()
    client = ScriptedClient([status_error(status), "never asked"])
    with pytest.raises(LLMError) as error:
        ask(make_llm(client, clock))
    assert client.calls == 1 and clock.sleeps == []
    if status == 401:
        assert str(error.value) == "The Anthropic API rejected the API key (401): check ANTHROPIC_API_KEY."
    assert "attempts" not in str(error.value)


def test_the_server_can_say_not_to_retry() -> None:
    client = ScriptedClient([status_error(529, {"x-should-retry": "false"}), "never asked"])
    with pytest.raises(LLMError, match=r"overloaded \(529\): try again"):
        ask(make_llm(client, FakeTime()))
    assert client.calls == 1


def test_attempts_are_capped_and_the_message_says_so() -> None:
    clock = FakeTime()
    client = ScriptedClient([status_error(529)] * 5)
    with pytest.raises(LLMError) as error:
        ask(make_llm(client, clock, max_attempts=3))
    assert client.calls == 3 and len(clock.sleeps) == 2
    assert str(error.value) == "The Anthropic API is overloaded (529), still after 3 attempts: try again in a minute."


def test_every_attempt_runs_without_sdk_retries_within_the_deadline() -> None:
    clock = FakeTime()
    timeout = anthropic.APITimeoutError(request=_REQUEST)
    client = ScriptedClient([timeout] * 9 + ["never asked"], clock, call_seconds=3.0)
    with pytest.raises(LLMError) as error:
        ask(make_llm(client, clock, max_attempts=10, deadline=10, attempt_timeout=6))
    # 0-3 s: attempt 1, 3.5-6.5 s: attempt 2, 7.5-10.5 s: attempt 3 (2.5 s left); then no time for a wait.
    assert [o["max_retries"] for o in client.options] == [0, 0, 0]
    assert [o["timeout"].read for o in client.options] == [6.0, 6.0, 2.5]
    assert clock.sleeps == [0.5, 1.0]
    assert str(error.value) == "The Anthropic API did not answer in time, still after 3 attempts."


def test_an_error_event_inside_a_stream_counts_as_its_status() -> None:
    clock = FakeTime()
    overloaded = status_error(200, error_type="overloaded_error")
    client = ScriptedClient([Streamed([], error=overloaded), Streamed(["fine"])])
    assert ask(make_llm(client, clock), on_text=lambda _: None) == "fine"
    assert client.calls == 2


def test_no_api_key_is_not_retried() -> None:
    client = ScriptedClient([TypeError('"Could not resolve authentication method. Expected one of api_key"')])
    with pytest.raises(LLMError, match="No Anthropic API key: set ANTHROPIC_API_KEY"):
        ask(make_llm(client, FakeTime()))
    assert client.calls == 1


def test_default_attempts() -> None:
    assert LLM(make_client(api_key="k")).max_attempts == 4
    assert make_client(api_key="k").max_retries == 0
    # A client built for N retries of its own keeps N retries, now run by LLM.
    assert LLM(anthropic.Anthropic(api_key="k", max_retries=2)).max_attempts == 3
    assert LLM(make_client(api_key="k"), max_attempts=2).max_attempts == 2


# -- streams that break -------------------------------------------------------------------------------------


class Consumer:
    """Collects streamed text the way the engine does, starting over on a restart."""

    def __init__(self, accept: bool = True) -> None:
        self.text = ""
        self.restarts = 0
        self.accept = accept

    def on_text(self, delta: str) -> None:
        self.text += delta

    def on_restart(self) -> bool:
        self.restarts += 1
        self.text = ""
        return self.accept


def test_a_stream_broken_after_text_restarts_and_tells_the_consumer() -> None:
    clock = FakeTime()
    broken = Streamed(["Hel", "lo"], error=httpx2.RemoteProtocolError("peer closed connection"))
    client = ScriptedClient([broken, Streamed(["Hello", ", world"])])
    consumer = Consumer()
    text = ask(make_llm(client, clock), on_text=consumer.on_text, on_restart=consumer.on_restart)
    assert text == consumer.text == "Hello, world"
    assert consumer.restarts == 1 and clock.sleeps == [0.5]


def test_a_stream_that_ends_without_message_stop_is_retried() -> None:
    client = ScriptedClient([Streamed(["Hel"], complete=False), Streamed(["Hello"])])
    consumer = Consumer()
    assert ask(make_llm(client, FakeTime()), on_text=consumer.on_text, on_restart=consumer.on_restart) == "Hello"
    assert consumer.restarts == 1


def test_a_stream_broken_before_any_text_is_retried_without_a_restart() -> None:
    client = ScriptedClient([Streamed([], error=httpx2.ReadTimeout("timed out")), Streamed(["Hello"])])
    consumer = Consumer()
    assert ask(make_llm(client, FakeTime()), on_text=consumer.on_text, on_restart=consumer.on_restart) == "Hello"
    assert consumer.restarts == 0


@pytest.mark.parametrize("accept", [False, None])
def test_a_consumer_that_cannot_restart_gets_the_broken_stream(accept: bool | None) -> None:
    """on_restart returning False, or missing: the call gives up rather than repeat text."""
    broken = Streamed(["Hel"], error=httpx2.RemoteProtocolError("peer closed connection"))
    client = ScriptedClient([broken, Streamed(["Hello"])])
    consumer = Consumer(accept=bool(accept))
    on_restart = consumer.on_restart if accept is not None else None
    with pytest.raises(LLMError) as error:
        ask(make_llm(client, FakeTime()), on_text=consumer.on_text, on_restart=on_restart)
    assert str(error.value) == "The connection to the Anthropic API broke off mid-reply."
    assert client.calls == 1


def test_streams_that_keep_breaking_run_out_of_attempts() -> None:
    client = ScriptedClient([Streamed(["x"], complete=False)] * 4)
    consumer = Consumer()
    with pytest.raises(LLMError) as error:
        ask(make_llm(client, FakeTime()), on_text=consumer.on_text, on_restart=consumer.on_restart)
    assert str(error.value) == "The connection to the Anthropic API broke off mid-reply, still after 4 attempts."
    assert consumer.restarts == 3


# -- the real SDK against the fake API ----------------------------------------------------------------------


class Sleeps(list[float]):
    """A `sleep` that records and waits only when the wait is tiny (retry-after-ms: 1)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if seconds < 0.05:
            time.sleep(seconds)


def real_llm(claude: FakeAnthropicAPI, sleep: Sleeps | None = None, **options: Any) -> LLM:
    # The SDK client asks for 5 retries of its own: LLM must turn those off, or the counts below would differ.
    client = anthropic.Anthropic(api_key="test-key", base_url=claude.url, max_retries=5, timeout=10)
    return LLM(client, max_attempts=4, sleep=sleep if sleep is not None else Sleeps(), **options)


def test_sdk_overloaded_twice_then_success(claude: FakeAnthropicAPI) -> None:
    claude.responder = lambda request: "Hello from the fake"
    claude.fail_next(529, times=2, headers={"retry-after-ms": "1"})
    sleeps = Sleeps()
    completion = real_llm(claude, sleeps).complete("Hi", model="m", max_tokens=50)
    assert completion.text == "Hello from the fake"
    assert len(claude.requests()) == 3 and sleeps == [0.001, 0.001]  # our retries, with our waits


def test_sdk_attempts_are_ours_not_the_sdks(claude: FakeAnthropicAPI) -> None:
    claude.fail_next(500, times=9, headers={"retry-after-ms": "1"})
    with pytest.raises(LLMError, match=r"internal error \(500\), still after 4 attempts"):
        real_llm(claude).complete("Hi", model="m", max_tokens=50, on_text=lambda _: None)
    assert len(claude.requests()) == 4


def test_sdk_stream_broken_mid_way_restarts_with_the_whole_text(claude: FakeAnthropicAPI) -> None:
    text = "A reply long enough to break in the middle of it. " * 4
    replies = [FakeReply(text, break_after_chars=30, chunk_chars=5), FakeReply(text, chunk_chars=5)]
    claude.responder = lambda request: replies.pop(0)
    consumer = Consumer()
    seen: list[str] = []

    def on_text(delta: str) -> None:
        consumer.on_text(delta)
        seen.append(consumer.text)

    completion = real_llm(claude).complete(
        "Hi", model="m", max_tokens=500, on_text=on_text, on_restart=consumer.on_restart
    )
    assert completion.text == consumer.text == text
    assert completion.stop_reason == "end_turn" and completion.usage.output_tokens > 0
    assert consumer.restarts == 1 and len(claude.requests()) == 2
    assert text[:30] in seen  # the first attempt's text did reach the consumer before the break


def test_sdk_connection_reset_then_success(claude: FakeAnthropicAPI) -> None:
    claude.responder = lambda request: "After the reset"
    claude.fail_next(reset_connection=True)
    sleeps = Sleeps()
    llm = real_llm(claude, sleeps)
    assert llm.complete("Hi", model="m", max_tokens=50, on_text=lambda _: None).text == "After the reset"
    assert len(claude.requests()) == 2 and len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5


def test_sdk_long_retry_after_fails_fast(claude: FakeAnthropicAPI) -> None:
    claude.fail_next(429, headers={"retry-after": "3600"})
    started = time.monotonic()
    with pytest.raises(LLMError) as error:
        real_llm(claude).complete("Hi", model="m", max_tokens=50)
    assert str(error.value) == "The Anthropic API is rate limiting us (429) and asked us to wait 3600 s; gave up."
    assert time.monotonic() - started < 5 and len(claude.requests()) == 1


def test_each_retry_is_reported_with_its_model(claude: FakeAnthropicAPI) -> None:
    claude.responder = lambda request: "Fine now"
    claude.fail_next(529, times=2, headers={"retry-after-ms": "1"})
    retried: list[str] = []
    assert real_llm(claude, on_retry=retried.append).complete("Hi", model="m-7", max_tokens=50).text == "Fine now"
    assert retried == ["m-7", "m-7"]


def test_a_call_that_is_not_retried_reports_no_retry() -> None:
    clock = FakeTime()
    retried: list[str] = []
    with pytest.raises(LLMError):
        ask(make_llm(ScriptedClient([status_error(400)]), clock, on_retry=retried.append))
    assert retried == []
