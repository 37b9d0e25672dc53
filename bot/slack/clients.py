"""Slack client pieces slack_sdk does not ship: a rate-limit retry that never sleeps for long, retries
that are counted, and the client that speaks for one workspace."""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

SlackFor = Callable[[str], WebClient]
"""The Web API client holding a workspace's bot token, by team id. The app's own threads (runs, the
outbox, recovery) call Slack through it, since no request hands them a client: with one static token it
is the one client (`one_workspace`); with OAuth each workspace's own (`bot.slack.workspaces.TeamClients`)."""


def one_workspace(client: WebClient) -> SlackFor:
    """Single-token mode: every run is in the one workspace that token belongs to."""
    return lambda team_id: client


class CappedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler sleeps whatever Retry-After says (3600 pins a thread for an hour). This one
    retries only when Slack asks for at most `cap` seconds; otherwise the call fails at once with the 429,
    and the caller decides (the outbox defers that one message)."""

    def __init__(self, max_retry_count: int = 2, cap: float = 10.0) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.cap = cap

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        values = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), ["1"])
        try:
            return float(values[0]) <= self.cap
        except (TypeError, ValueError, IndexError):
            return True  # slack_sdk waits about a second then


class CountedRetryHandler(RetryHandler):
    """Another handler, with every retry it makes counted (the metrics' `slack_retries`)."""

    def __init__(self, inner: RetryHandler, reason: str, on_retry: Callable[[str, str], None]) -> None:
        super().__init__(max_retry_count=inner.max_retry_count, interval_calculator=inner.interval_calculator)
        self.inner, self.reason, self.on_retry = inner, reason, on_retry

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return self.inner.can_retry(state=state, request=request, response=response, error=error)

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        self.on_retry(request.url.rsplit("/", 1)[-1], self.reason)
        self.inner.prepare_for_next_attempt(state=state, request=request, response=response, error=error)
