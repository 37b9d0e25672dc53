"""Socket Mode clients against the loopback fake: how long a command waits for its ack when the link changes.

    .venv/bin/python bench/socket_mode.py            # prints the Markdown table for docs/benchmarks.md

Each candidate client serves the real app (`bot.app.build`, as `python -m bot` builds it) in this process, in
turn, against tests/fakes/socket_mode.py. Every sample connects afresh and checks a command is acked, then:

- steady: a command on the open connection;
- `disconnect` (refresh_requested, then warning): Slack's request to reconnect, which it sends every few
  hours per connection; a command is sent right after it (delivered on the next connection);
- close frame: the link closed by Slack with a close frame, then a command;
- TCP drop: the TCP connection closed under the app without a close frame, then a command;
- silent link: the link stops answering (no pongs, no FIN) as when its network path dies, then a command;
- 20 at once: 20 commands from 20 people sent together while Slack answers every Web API call in 0.5 s.

Each case is sampled `--repeats` times (fewer once a sample misses Slack's 3 s) and the worst is shown, with
the process's CPU use meanwhile (% of one core) when it took a second or more.

An ack delay is the time from the moment the fake hands the envelope over (or queues it, while no connection
is open) to the moment the ack arrives. Slack gives an app 3 s. A case that gets no ack within the cap is shown
as "> cap". The websocket-client adapter is measured when that library is installed
(`.venv/bin/pip install websocket-client`; the app itself depends on websockets and aiohttp).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import itertools
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import machine  # noqa: E402
from bot.app import Services, build  # noqa: E402
from bot.config import Settings  # noqa: E402
from tests.fakes.anthropic_api import FakeAnthropicAPI  # noqa: E402
from tests.fakes.socket_mode import FakeSocketModeSlack  # noqa: E402
from tests.helpers import anthropic_client, bot_env  # noqa: E402
from tests.scripted import Script  # noqa: E402

APP_TOKEN = "xapp-1-A0001-bench"
SLOW_SLACK = 0.5  # seconds every Web API call takes in the "20 at once" case
BURST = 20
CAP = 65.0  # seconds a command may wait for its ack before the case is given up


class Client(Protocol):
    def connect(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class Candidate:
    name: str
    make: Callable[[Services], Client]
    available: bool = True


@dataclass
class Row:
    candidate: str
    cells: dict[str, str]


def adapter(module: str, **options: float) -> Callable[[Services], Client]:
    """One of Bolt's thread-based adapters (`slack_bolt.adapter.socket_mode[.module]`) with `options`."""

    def make(services: Services) -> Client:
        handler: type[Any] = importlib.import_module(f"slack_bolt.adapter.socket_mode{module}").SocketModeHandler
        return cast(Client, handler(services.app, APP_TOKEN, **options))

    return make


class InLoop:
    """Bolt's asyncio `websockets` adapter, driven from a thread of its own as a sync app would have to."""

    def __init__(self, services: Services, ping_interval: float | None) -> None:
        from slack_bolt.adapter.socket_mode.websockets import SocketModeHandler
        from slack_sdk.web.async_client import AsyncWebClient

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-asyncio", daemon=True)
        self.thread.start()
        client = services.app.client

        async def make() -> Any:
            web_client = AsyncWebClient(token=client.token, base_url=client.base_url)
            options: dict[str, Any] = {} if ping_interval is None else {"ping_interval": ping_interval}
            return SocketModeHandler(services.app, APP_TOKEN, web_client=web_client, **options)

        self.handler = self._run(make())

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def connect(self) -> None:
        self._run(self.handler.connect_async())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self.handler.close_async())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def websockets(ping_interval: float | None = None) -> Callable[[Services], Client]:
    return lambda services: InLoop(services, ping_interval)


def chosen(services: Services) -> Client:
    from bot.entry.socket_mode import SocketMode

    return SocketMode(services.app, APP_TOKEN, services.app.client.base_url)


def installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in modules)


CANDIDATES = [
    Candidate("slack_sdk built-in (Bolt's default `SocketModeHandler`)", adapter("")),
    Candidate("slack_sdk built-in, `ping_interval=1`", adapter("", ping_interval=1)),
    Candidate("Bolt `websocket_client` adapter", adapter(".websocket_client"), installed("websocket")),
    Candidate(
        "Bolt `websocket_client` adapter, `ping_interval=1`",
        adapter(".websocket_client", ping_interval=1),
        installed("websocket"),
    ),
    Candidate("Bolt `websockets` adapter (asyncio)", websockets(), installed("websockets", "aiohttp")),
    Candidate(
        "chosen: Bolt `websockets` adapter, `ping_interval=1`, envelopes on 16 threads (`bot/entry/socket_mode.py`)",
        chosen,
        installed("websockets", "aiohttp"),
    ),
]

CHANGES = ("refresh_requested", "warning", "close frame", "TCP drop", "silent link")
CASES = ("steady", *CHANGES, f"{BURST} at once")
LIMIT = 3.0  # seconds Slack waits for an ack


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


@dataclass
class Sample:
    delay: float | None  # None: no ack within CAP
    cpu: float  # the process's CPU use from the link change to the ack, as a share of one core


class Bench:
    def __init__(self, slack: FakeSocketModeSlack, services: Services, repeats: int) -> None:
        self.slack = slack
        self.services = services
        self.repeats = repeats
        self.users = iter(range(1, 1_000_000))

    def command(self) -> str:
        user = next(self.users)
        return self.slack.command(f"Write a tagline, take {user}", user_id=f"U{user:06d}")

    def delay(self, envelope_id: str) -> float | None:
        try:
            return self.slack.ack(envelope_id, timeout=CAP).latency
        except AssertionError:
            return None

    def quiet(self) -> None:
        """Until every run started so far has ended, so their work is not measured as the client's."""
        store = self.services.store
        self.slack.wait_for(lambda: not store.query("select id from runs where finished_at is null"), 120)

    def measure(self, candidate: Candidate, cases: Collection[str]) -> dict[str, str]:
        """`cases`, each on a fresh connection; a link change up to `repeats` times, fewer once one sample
        has missed Slack's 3 s (more would not change the verdict)."""
        cells = {}
        if "steady" in cases:
            cells["steady"] = seconds(max(self.run(candidate, self.steady) for _ in range(self.repeats)))
        for change in (change for change in CHANGES if change in cases):
            samples: list[Sample] = []
            while len(samples) < self.repeats and all(s.delay is not None and s.delay < LIMIT for s in samples):
                samples.append(self.run(candidate, lambda change=change: self.after(change)))
            cells[change] = worst(samples)
        if f"{BURST} at once" in cases:
            bursts = [self.run(candidate, self.burst) for _ in range(self.repeats)]
            cells[f"{BURST} at once"] = max(bursts)[1]
        return cells

    def run(self, candidate: Candidate, case: Callable[[], Any]) -> Any:
        before = self.slack.connections()
        client = candidate.make(self.services)
        try:
            client.connect()
            self.slack.wait_connected(before + 1, timeout=30)
            if self.delay(self.command()) is None:
                raise RuntimeError(f"{candidate.name}: a command on a fresh connection was not acked")
            self.quiet()
            return case()
        finally:
            self.slack.latency = 0
            closing = threading.Thread(target=client.close, daemon=True)  # some clients take their time
            closing.start()
            closing.join(timeout=30)
            self.quiet()

    def steady(self) -> float:
        delay = self.delay(self.command())
        return CAP if delay is None else delay

    def after(self, change: str) -> Sample:
        cpu, wall = time.process_time(), time.monotonic()
        if change in ("refresh_requested", "warning"):
            self.slack.disconnect(change)
        elif change == "close frame":
            self.slack.close()
        elif change == "TCP drop":
            self.slack.drop()
        else:
            self.slack.silence()
        delay = self.delay(self.command())
        return Sample(delay, (time.process_time() - cpu) / (time.monotonic() - wall))

    def burst(self) -> tuple[float, str]:
        """(the slowest ack, how the acks went)."""
        self.slack.latency = SLOW_SLACK
        sent = [self.command() for _ in range(BURST)]
        delays = [self.delay(envelope_id) for envelope_id in sent]
        self.slack.latency = 0
        acked = sorted(d for d in delays if d is not None)
        if len(acked) < BURST:
            return CAP, f"> {CAP:.0f} s for {BURST - len(acked)} of {BURST}"
        waves = 1 + sum(1 for a, b in itertools.pairwise(acked) if b - a > SLOW_SLACK * 0.8)
        return acked[-1], f"max {seconds(acked[-1])}, p50 {seconds(statistics.median(acked))}; {waves} wave(s)"


def worst(samples: list[Sample]) -> str:
    """The slowest sample, with the CPU use while it lasted when that was a second or more."""
    missed = [s for s in samples if s.delay is None]
    if missed:
        return f"> {CAP:.0f} s at {missed[0].cpu:.0%} of a core"
    slowest = max(samples, key=lambda s: s.delay or 0)
    assert slowest.delay is not None
    text = seconds(slowest.delay)
    if slowest.delay >= 1:
        text += f" at {slowest.cpu:.0%} of a core"
    return f"{text} (worst of {len(samples)})" if len(samples) > 1 else text


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in ("slack_bolt", "slack_sdk", "websocket-client", "websockets", "aiohttp"):
        with contextlib.suppress(PackageNotFoundError):
            found.append(f"{package} {version(package)}")
    return ", ".join(found)


def table(rows: list[Row]) -> str:
    head = "| client | " + " | ".join(CASES) + " |"
    rule = "|---" * (len(CASES) + 1) + "|"
    lines = [head, rule]
    for row in rows:
        lines.append(f"| {row.candidate} | " + " | ".join(row.cells.get(case, "—") for case in CASES) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="measure only candidates whose name contains this")
    parser.add_argument("--repeats", type=int, default=3, help="samples per case (the worst is shown)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of: {', '.join(CASES)}")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the clients' own reconnection logs would drown the table
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeSocketModeSlack() as slack,
        FakeAnthropicAPI(Script()) as claude,
    ):
        env = {
            **bot_env(slack, claude, Path(tmp) / "bench.db"),
            "SLACK_APP_TOKEN": APP_TOKEN,
            "VARIATIONS_MAX_RUNS_PER_WORKSPACE": "1000",
        }
        services = build(Settings.from_env(env), anthropic_client=anthropic_client(claude))
        bench = Bench(slack, services, args.repeats)
        try:
            for candidate in CANDIDATES:
                if args.only and args.only not in candidate.name:
                    continue
                if not candidate.available:
                    rows.append(Row(candidate.name, dict.fromkeys(CASES, "not installed")))
                    continue
                rows.append(Row(candidate.name, bench.measure(candidate, args.cases.split(","))))
                print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
        finally:
            services.close()
    print(f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; {versions()}.\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
