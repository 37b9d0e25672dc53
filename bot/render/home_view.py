"""Pure Block Kit builders for the scoreboard: the `/variations stats` answer and the App Home tab.

Type names come from the model and tasks from users, so both are escaped (`bot.render.mrkdwn.escape`) and kept
short; the only `<…>` in the output are thread links to https permalinks Slack gave us, channel
references and dates, none of which can ping anyone. Everything stays within Slack's limits (≤ 50 blocks,
section text ≤ 3000 characters, header text ≤ 150).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.render.kit import MAX_BLOCKS, Block, Message, context_block, header, section
from bot.render.mrkdwn import escape, truncate_plain
from bot.store.pricing import money
from bot.store.ranking import WINNER_CHANCE
from bot.store.rows import RunStatus
from bot.store.stats import RecentRun, Stats, TypeStats

TOP_TYPES = 5  # types listed per scope
MAX_RUNS = 10  # recent runs listed on the Home tab (2 blocks each)
TYPE_CHARS = 60
TASK_CHARS = 150
NO_VOTES = "No votes yet: run `/variations` and vote with 👍/👎"
RANKING_NOTE = (
    "Types rank by how likely each is to be the best, from its 👍 and 👎 (few votes say little, so a type "
    f"leads once it is more than {WINNER_CHANCE:.0%} likely the best)."
)
NO_RUNS = "You haven't started any runs yet. Try `/variations Write a tagline for our water bottle` in a channel."
STATUS = {
    RunStatus.PLANNING: "⏳ planning",
    RunStatus.RUNNING: "✍️ writing",
    RunStatus.DONE: "✅ done",
    RunStatus.PARTIAL: "⚠️ partly done",
    RunStatus.FAILED: "⚠️ failed",
    RunStatus.INTERRUPTED: "⚠️ interrupted",
    RunStatus.STOPPED: "⏹ stopped",
}
_SAFE_LINK = re.compile(r"^https://[^\s<>|]+$")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def type_line(rank: int, t: TypeStats) -> str:
    """`1. *Technical*: 3 👍 0 👎, 93% likely the best · first place 67%`."""
    name = truncate_plain(escape(t.type[:1].upper() + t.type[1:]), TYPE_CHARS)
    return f"{rank}. *{name}*: {t.ranked.describe()} · first place {t.first_share:.0%}"


def usage_line(s: Stats) -> str:
    """`3 runs this week · 12,345 tokens this week · 45,678 all time`, then (when runs were priced)
    ` · $1.23 this week · $45.67 in all`."""
    runs = _plural(s.runs_this_week, "run")
    line = f"{runs} this week · {s.tokens_this_week:,} tokens this week · {s.tokens_all_time:,} all time"
    if s.cost_all_time is not None:
        line += f" · {money(s.cost_this_week or 0.0)} this week · {money(s.cost_all_time)} in all"
    return line


RECOUNTING = " · ⏳ being recounted (rows were changed outside the app): ask again in a minute"


def stats_blocks(s: Stats, *, top: int = TOP_TYPES) -> list[Block]:
    """One scope: its label, its top types by the ranking rule (or a nudge to vote), then runs and tokens."""
    voted = [t for t in s.types if t.votes][:top]
    lines = [type_line(rank, t) for rank, t in enumerate(voted, start=1)]
    body = "\n".join(lines or [NO_VOTES])  # at most `top` lines of ~150 characters: far below 3000
    usage = usage_line(s) + (RECOUNTING if s.recounting else "")
    return [section(f"*{escape(s.scope_label)}*\n{body}"), context_block(usage)]


def stats_message(channel: Stats, workspace: Stats) -> Message:
    """The ephemeral answer to `/variations stats`: this channel, then this workspace."""
    blocks = [
        header("📊 Which approaches win"),
        *stats_blocks(channel),
        {"type": "divider"},
        *stats_blocks(workspace),
        context_block(RANKING_NOTE),
    ]
    leader = next((t for t in workspace.types if t.ranked.winner), None)
    voted = any(t.votes for t in workspace.types)
    text = f"{leader.type} leads" if leader else "too close to call" if voted else "no votes yet"
    text = f"Variations stats: {text}"
    return {"text": truncate_plain(escape(text), 150), "blocks": blocks}


def _when(created_at: str) -> str:
    """A Slack date token (shown in the reader's time zone), falling back to the stored text."""
    try:
        moment = datetime.fromisoformat(created_at)
    except ValueError:
        return escape(created_at)
    if moment.tzinfo is None:  # stored times are UTC
        moment = moment.replace(tzinfo=UTC)
    stamp = int(moment.timestamp())
    return f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|{escape(created_at[:16].replace('T', ' '))} UTC>"


def run_blocks(run: RecentRun, permalink: str | None) -> list[Block]:
    """A run: its task (a link to its thread when we have one), then status, channel and time."""
    task = truncate_plain(escape(run.task), TASK_CHARS) or "(no task)"
    title = f"<{permalink}|{task}>" if permalink and _SAFE_LINK.match(permalink) else task
    status = STATUS[run.status]
    channel = f"<#{run.channel_id}>" if re.fullmatch(r"[A-Z0-9]+", run.channel_id or "") else ""
    details = " · ".join(part for part in (status, channel, _when(run.created_at)) if part)
    return [section(title), context_block(details)]


def home_view(workspace: Stats, runs: Sequence[tuple[RecentRun, str | None]]) -> dict[str, Any]:
    """The App Home tab: the workspace's scoreboard and the user's recent runs, each linking to its thread."""
    blocks: list[Block] = [
        header("📊 Which approaches win"),
        *stats_blocks(workspace),
        context_block(f"{RANKING_NOTE} Type `/variations stats` in a channel to see that channel's numbers too."),
        {"type": "divider"},
        header("🕘 Your recent runs"),
    ]
    room = (MAX_BLOCKS - len(blocks)) // 2
    for run, permalink in list(runs)[: min(MAX_RUNS, room)]:
        blocks += run_blocks(run, permalink)
    if not runs:
        blocks.append(section(NO_RUNS))
    return {"type": "home", "blocks": blocks}
