"""Prometheus metrics for `GET /metrics`: what the bot did (runs, variations, clicks), what it cost (model calls
and tokens), what went wrong (Slack and model errors and retries) and how fast Slack heard back (ack latency).

Each `Metrics` owns its registry instead of using prometheus_client's global one, so several apps in one
process (tests, benchmarks) count separately and never collide on metric names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from wsgiref.types import WSGIApplication

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Slack retries a request that is not acknowledged within 3 s: the buckets span 1 ms to that limit.
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0)
ACK_KINDS = ("command", "action", "view", "event", "other")

# Interactivity payload types, by the ack kind they are counted under.
KIND_KEY = "variations.kind"  # where the guard leaves a request's kind in the WSGI environ
_PAYLOAD_KINDS = {"block_actions": "action", "view_submission": "view", "view_closed": "view"}


class Metrics:
    """The bot's counters and the ack histogram. Labels with a known, small set of values are created up
    front so dashboards see a 0 rather than no series at all."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.runs_started = Counter("variations_runs_started", "Runs started (requests accepted).", registry=r)
        self.runs_finished = Counter("variations_runs_finished", "Runs ended, by final status.", ["status"], registry=r)
        self.variations = Counter(
            "variations_variations_finished", "Variations ended, by status.", ["status"], registry=r
        )
        self.clicks = Counter("variations_clicks", "Vote button clicks recorded, by button.", ["value"], registry=r)
        self.model_calls = Counter(
            "variations_model_calls",
            "Model calls by role (orchestrator, worker, synthesis) and outcome (ok, error), retries excluded.",
            ["role", "outcome"],
            registry=r,
        )
        self.model_tokens = Counter(
            "variations_model_tokens", "Model tokens by direction (input, output).", ["direction"], registry=r
        )
        self.model_retries = Counter("variations_model_retries", "Model call attempts retried.", registry=r)
        self.slack_errors = Counter(
            "variations_slack_errors",
            "Slack Web API calls that failed after retries, by method and Slack's error code.",
            ["method", "error"],
            registry=r,
        )
        self.slack_retries = Counter(
            "variations_slack_retries",
            "Slack Web API calls retried, by method and reason (ratelimited, server_error, connection).",
            ["method", "reason"],
            registry=r,
        )
        self.ack_seconds = Histogram(
            "variations_ack_seconds",
            "Seconds from a Slack request's arrival until its acknowledgement, by kind.",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=r,
        )
        for value in ("up", "down"):
            self.clicks.labels(value)
        for direction in ("input", "output"):
            self.model_tokens.labels(direction)
        for kind in ACK_KINDS:
            self.ack_seconds.labels(kind)

    def render(self) -> tuple[bytes, str]:
        """The exposition body and its content type, for `GET /metrics`."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def timed(self, app: WSGIApplication) -> WSGIApplication:
        """`app` (the Slack request handler), observing each request's time to its response in `ack_seconds`."""

        def timed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            started = time.perf_counter()
            try:
                return app(environ, start_response)
            finally:
                # The guard names the kind once it has parsed a body; a refused request is "other".
                kind = environ.get(KIND_KEY, "other")
                self.ack_seconds.labels(kind).observe(time.perf_counter() - started)

        return timed


def request_kind(body: Mapping[str, Any]) -> str:
    """What a Slack request is (one of ACK_KINDS), from its body as the guard parsed it."""
    if "command" in body:
        return "command"
    kind = str(body.get("type"))
    if kind in ("event_callback", "url_verification"):
        return "event"
    return _PAYLOAD_KINDS.get(kind, "other")
