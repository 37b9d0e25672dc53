"""Slack calls per run in a channel for the two ways a variation's text reaches Slack: rewriting posted
messages (chat.update, through the outbox) and Slack's native streaming (chat.startStream / appendStream /
stopStream, bot/slack/streams.py).

    .venv/bin/python bench/streaming.py            # prints the "Streaming" section for docs/benchmarks.md

The app (`bot.app.build`, as `python -m bot` builds it) runs in this process against the loopback fakes, Slack
answering each call in `LATENCY`. The orchestrator answers in about 1.5 s; each worker writes `WORKER_CHARS`
characters over `WORKER_SECONDS`, as a mid-size model does. Live updates go at the app's default pace (one per
second per message). For a 3- and a 5-approach run, one path at a time and the run alone in the workspace:

- the calls the run made, by method;
- the calls that must reach Slack (a rewrite's live states may be dropped, a stream's appends may wait; the
  messages, the final states and a stream's start and stop may not), and with them how many such runs a
  workspace can start per minute before one of those methods passes its tier;
- how the text appears: how many times each variation's text changed on screen, and how long after the
  worker's first token its first words showed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import machine  # noqa: E402
from tests.fakes.anthropic_api import CHARS_PER_TOKEN, FakeAnthropicAPI, FakeReply  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI, SlackCall  # noqa: E402
from tests.helpers import CHANNEL, Bot, start_bot, texts  # noqa: E402
from tests.scripted import approach_of, is_plan_prompt, plan_reply  # noqa: E402

LATENCY = 0.05  # seconds Slack takes to answer each call
PLAN_SECONDS = 1.5
WORKER_SECONDS = 8.0
WORKER_TTFT = 0.5
WORKER_CHARS = 1300  # about 200 words: a product description, an announcement
# Per workspace and minute (docs.slack.dev, each method's "Rate limits"); chat.postMessage is about one a
# second per channel.
TIERS = {
    "chat.postMessage": ("~1/s per channel", 60),
    "chat.update": ("Tier 3", 50),
    "chat.delete": ("Tier 3", 50),
    "chat.startStream": ("Tier 2", 20),
    "chat.appendStream": ("Tier 4", 100),
    "chat.stopStream": ("Tier 2", 20),
}
LIVE_MARKS = ("Writing", "Thinking", "Planning")  # a rewrite that shows a state still being written
APPROACHES = [
    ("technical", "Lead with specifications"),
    ("lifestyle", "Paint the moments it fits into"),
    ("practical", "Answer everyday questions"),
    ("playful", "Make it fun"),
    ("premium", "Sell the quality"),
]
PARAGRAPH = "A clear, useful sentence about the product and why it matters to the reader. "


@dataclass
class Row:
    path: str
    approaches: int
    seconds: float
    calls: Counter[str]
    must: Counter[str]
    steps: list[int]
    first_words: list[float]

    def per_minute(self) -> tuple[float, str]:
        """Runs a workspace can start per minute before a must-send method passes its tier, and which."""
        limits = [(TIERS[m][1] / n, m) for m, n in self.must.items() if n and m in TIERS]
        return min(limits)


def responder(approaches: int) -> Any:
    plan = plan_reply(APPROACHES[:approaches])
    text = "<response>\n" + (PARAGRAPH * 40)[:WORKER_CHARS] + "\n</response>"

    def respond(request: dict[str, Any]) -> FakeReply:
        if is_plan_prompt(request):
            return FakeReply(plan, ttft=0.3, tokens_per_second=len(plan) / CHARS_PER_TOKEN / (PLAN_SECONDS - 0.3))
        speed = len(text) / CHARS_PER_TOKEN / (WORKER_SECONDS - WORKER_TTFT)
        return FakeReply(text, ttft=WORKER_TTFT, tokens_per_second=speed, chunk_chars=12)

    return respond


def is_live(call: SlackCall) -> bool:
    return call.method == "chat.update" and any(mark in texts(call.params) for mark in LIVE_MARKS)


def measure(path: str, approaches: int) -> Row:
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeSlackAPI() as slack,
        FakeAnthropicAPI(responder(approaches)) as claude,
    ):
        slack.latency = LATENCY
        env = {
            "VARIATIONS_UPDATE_INTERVAL": "1.0",  # the app's defaults, not the tests' quicker pace
            "VARIATIONS_SLACK_DEADLINE": "60",
            "VARIATIONS_STREAM_CHANNELS": "on" if path == "stream" else "off",
        }
        with start_bot(slack, claude, Path(tmp) / "bench.db", env) as bot:
            started = time.monotonic()
            bot.command("Write a product description for our new water bottle")
            seconds = finished(bot) - started
            calls = [c for c in slack.calls() if c.method != "auth.test" and c.time >= started]
            steps, first_words = appearance(bot, claude, calls)
    must = Counter(c.method for c in calls if not is_live(c) and c.method != "chat.appendStream")
    return Row(path, approaches, seconds, Counter(c.method for c in calls), must, steps, first_words)


def finished(bot: Bot) -> float:
    """When the run's last call was made, once its parent says it is done and Slack has been quiet a while."""
    run = bot.wait_run()
    bot.slack.wait_for(lambda: "Done" in texts(bot.slack.message(CHANNEL, run.message_ts or "")), 30)
    while time.monotonic() - bot.slack.calls()[-1].time < 2.0:
        time.sleep(0.1)
    return bot.slack.calls()[-1].time


def appearance(bot: Bot, claude: FakeAnthropicAPI, calls: list[SlackCall]) -> tuple[list[int], list[float]]:
    """Per variation: how many times its text changed on screen, and its first words' delay after the
    worker's first token."""
    began = {approach_of(r): r["_time"] + WORKER_TTFT for r in claude.requests() if not is_plan_prompt(r)}
    steps, first_words = [], []
    for row in bot.store.variations(1):
        shown = [
            c
            for c in calls
            if c.params.get("ts") == row.message_ts
            and (c.method in ("chat.appendStream", "chat.stopStream") or c.method == "chat.update")
        ]
        steps.append(len(shown))
        if shown:
            first_words.append(shown[0].time - began[row.type])
    return steps, first_words


def section(rows: list[Row]) -> str:
    lines = [
        "| path | approaches | run | calls per run | must reach Slack | runs/min per workspace | text changes"
        " per variation | first words after the worker's first token |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        calls = ", ".join(f"{m} {n}" for m, n in sorted(row.calls.items()))
        must = ", ".join(f"{m} {n}" for m, n in sorted(row.must.items()))
        rate, method = row.per_minute()
        lines.append(
            f"| {row.path} | {row.approaches} | {row.seconds:.1f} s | {calls} ({sum(row.calls.values())}) | {must} "
            f"| {rate:.1f} ({method}, {TIERS[method][0]}) | median {statistics.median(row.steps):.0f} "
            f"| median {statistics.median(row.first_words):.2f} s |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    rows = []
    for approaches in (3, 5):
        for path in ("rewrite", "stream"):
            rows.append(measure(path, approaches))
            print(section(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.\n")
    print(section(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
