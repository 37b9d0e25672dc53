"""Benchmark: how soon a stopped run has ended, for the person who clicked ⏹ (issue 18: within 2 s).

    .venv/bin/python bench/stopping.py     # prints a markdown table, exits 1 when a target is missed

The app runs in-process in HTTP mode against the loopback fakes, with Slack answering every call after
`SLACK_LATENCY` seconds and workers that would write for about a minute. Each round starts a run, waits until
its three variations are being written, then clicks ⏹ (signed as Slack signs it) and times: the click's
ack; the run's row saying `stopped`; the request message saying so (every variation's final state was
delivered before it, by the reporter's rule); and the fake Anthropic API seeing every worker's connection
closed by the app (it notices at its next chunk, up to 0.2 s later).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.render.run_messages import STOP  # noqa: E402
from tests.fakes.anthropic_api import FakeAnthropicAPI, FakeReply  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI  # noqa: E402
from tests.helpers import CHANNEL, Bot, press, start_bot, texts  # noqa: E402
from tests.scripted import Script, is_plan_prompt  # noqa: E402

ROUNDS = 5
SLACK_LATENCY = 0.05  # seconds Slack takes to answer each Web API call
TARGET = 2.0  # seconds from the click until the thread shows the run stopped
LONG = "A sentence the worker writes slowly, one word after another. " * 40


def main() -> int:
    ack, row, shown, closed = [], [], [], []
    worker = Script(worker=lambda kind: FakeReply(f"<response>{LONG}</response>", tokens_per_second=10))
    with FakeSlackAPI() as slack, FakeAnthropicAPI(worker) as claude, tempfile.TemporaryDirectory() as tmp:
        slack.latency = SLACK_LATENCY
        with start_bot(slack, claude, Path(tmp) / "v.db") as bot:
            for n in range(1, ROUNDS + 1):
                bot.command(f"Write tagline {n}", user_id=f"U{n:04d}")
                slack.wait_for(lambda n=n: _writing(bot, n), timeout=30)
                clicked = time.monotonic()
                press(bot, STOP, str(n), user=f"U{n:04d}")
                ack.append(time.monotonic() - clicked)
                slack.wait_for(lambda n=n: bot.store.run(n).status == "stopped", timeout=30)
                row.append(time.monotonic() - clicked)
                ts = str(bot.store.run(n).message_ts)
                slack.wait_for(lambda ts=ts: "Stopped" in texts(slack.message(CHANNEL, ts)), timeout=30)
                shown.append(time.monotonic() - clicked)
                slack.wait_for(lambda n=n: _all_aborted(claude, n), timeout=30)
                closed.append(time.monotonic() - clicked)
    rows = [
        ("the click acknowledged", ack),
        ("the run's row says `stopped`", row),
        ("the request message says stopped", shown),
        ("every model stream closed", closed),
    ]
    print(f"Stopping a run ({ROUNDS} rounds, Slack answering in {SLACK_LATENCY * 1000:.0f} ms, workers mid-reply)\n")
    print("| from the ⏹ click until | median | worst |\n|---|---|---|")
    for name, times in rows:
        print(f"| {name} | {statistics.median(times):.2f} s | {max(times):.2f} s |")
    missed = max(shown) > TARGET
    print(f"\ntarget: the thread shows the run stopped within {TARGET:.0f} s: {'MISSED' if missed else 'met'}")
    return 1 if missed else 0


def _writing(bot: Bot, run_id: int) -> bool:
    variations = bot.store.variations(run_id)
    return len(variations) == 3 and all(v.message_ts and v.status == "writing" for v in variations)


def _all_aborted(claude: FakeAnthropicAPI, run: int) -> bool:
    """The fake saw the connection of each of the run's three workers go (at its next chunk, 0.2 s apart)."""
    ours = [r for r in claude.requests() if not is_plan_prompt(r) and f"tagline {run}" in str(r)]
    return len(ours) == 3 and all(r.get("_aborted") for r in ours)


if __name__ == "__main__":
    sys.exit(main())
