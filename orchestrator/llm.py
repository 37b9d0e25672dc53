"""The one place that talks to the anthropic SDK: calls, streaming, usage, errors in plain words."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import anthropic
import httpx2

DEFAULT_MAX_RETRIES = 3
DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Usage:
    """Token counts of one call or, added up, of a run."""

    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class Completion:
    """A finished model call: its text and what it cost."""

    text: str
    model: str
    usage: Usage
    stop_reason: str | None
    seconds: float


class LLMError(RuntimeError):
    """A model call failed after the SDK's own retries; the message is meant for people."""


def make_client(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    timeout: float = DEFAULT_TIMEOUT,
) -> anthropic.Anthropic:
    """An Anthropic client with retries and a timeout set on purpose (the SDK's defaults wait unbounded
    on Retry-After). `base_url=None` lets the SDK read `ANTHROPIC_BASE_URL`."""
    return anthropic.Anthropic(api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout)


class LLM:
    """Single-turn text completions over an injected client, optionally streamed."""

    def __init__(self, client: anthropic.Anthropic) -> None:
        self.client = client

    def complete(
        self,
        prompt: str,
        *,
        model: str,
        max_tokens: int,
        on_text: Callable[[str], None] | None = None,
    ) -> Completion:
        """Run one call. With `on_text`, the reply is streamed and each text delta is passed on as it
        arrives; the returned Completion holds the whole text either way."""
        messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": prompt}]
        started = time.monotonic()
        try:
            if on_text is None:
                message = self.client.messages.create(model=model, max_tokens=max_tokens, messages=messages)
                text = "".join(block.text for block in message.content if block.type == "text")
                usage = Usage(message.usage.input_tokens, message.usage.output_tokens)
                reply_model, stop_reason = message.model, message.stop_reason
            else:
                text, usage, reply_model, stop_reason = self._stream(model, max_tokens, messages, on_text)
        except anthropic.APIError as error:
            raise LLMError(describe_error(error, model)) from error
        except httpx2.TransportError as error:
            # A stream that breaks after it started is not retried by the SDK and surfaces as this.
            raise LLMError("The connection to the Anthropic API broke off mid-reply.") from error
        except TypeError as error:
            # The SDK raises TypeError at call time when it found no credentials at all.
            if "authentication" not in str(error):
                raise
            raise LLMError("No Anthropic API key: set ANTHROPIC_API_KEY.") from error
        return Completion(
            text=text,
            model=reply_model or model,
            usage=usage,
            stop_reason=stop_reason,
            seconds=time.monotonic() - started,
        )

    def _stream(
        self,
        model: str,
        max_tokens: int,
        messages: list[anthropic.types.MessageParam],
        on_text: Callable[[str], None],
    ) -> tuple[str, Usage, str, str | None]:
        """Stream with the SDK's raw events. Its `messages.stream()` helper rebuilds a snapshot of the
        whole message on every event, which costs about twice the CPU with many runs streaming at once;
        text, usage and stop reason are all we need."""
        parts: list[str] = []
        input_tokens = output_tokens = 0
        reply_model, stop_reason = model, None
        stream = self.client.messages.create(model=model, max_tokens=max_tokens, messages=messages, stream=True)
        with stream:
            for event in stream:
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
        if stop_reason is None:
            # The stream ended without its closing events: the reply is incomplete.
            raise httpx2.RemoteProtocolError("stream ended before message_stop")
        return "".join(parts), Usage(input_tokens, output_tokens), reply_model, stop_reason


def describe_error(error: anthropic.APIError, model: str) -> str:
    """One sentence a Slack user or a terminal user can act on."""
    if isinstance(error, anthropic.APITimeoutError):
        return "The Anthropic API did not answer in time."
    if isinstance(error, anthropic.APIConnectionError):
        return "Could not reach the Anthropic API (connection failed)."
    if isinstance(error, anthropic.APIStatusError):
        status = error.status_code
        known = {
            401: "The Anthropic API rejected the API key (401): check ANTHROPIC_API_KEY.",
            403: "The Anthropic API key may not use this model (403).",
            404: f"The model {model!r} was not found (404): check the model settings.",
            413: "The request is too large for the model (413).",
            429: "The Anthropic API is rate limiting us (429), still after retries: try again in a minute.",
            529: "The Anthropic API is overloaded (529), still after retries: try again in a minute.",
        }
        if status in known:
            return known[status]
        if status >= 500:
            return f"The Anthropic API had an internal error ({status}), still after retries."
        return f"The Anthropic API refused the request ({status}): {_error_message(error)}"
    return f"The Anthropic API call failed: {error}"


def _error_message(error: anthropic.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
    return error.message
