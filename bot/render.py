"""Messages rebuilt from the database: the pure builders of `blocks`, fed with stored rows, so whoever
rewrites a message (the run itself, a vote, a synthesis) shows the same, current state."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks import Message, Progress, leader_line, numbered, parent_message
from bot.store import Store

FINISHED = ("done", "partial")


def stored_progress(run: Mapping[str, Any], variations: Sequence[Mapping[str, Any]]) -> Progress:
    """The status line of a run that is no longer being written, from its rows."""
    planned = [v for v in variations if numbered(v) is not None]
    tokens = (run["input_tokens"] or 0) + (run["output_tokens"] or 0)
    return Progress(
        run["status"],
        total=len(planned),
        finished=len(planned),
        failed=sum(v["status"] != "done" for v in planned),
        seconds=run["seconds"],
        tokens=tokens,
        error="no approaches could be planned" if run["status"] == "failed" and not planned else None,
        unshown=sum(v["status"] == "done" and not v["message_ts"] for v in planned),
    )


def stored_parent(store: Store, run_id: int, progress: Progress | None = None) -> Message:
    """A run's parent message: live `progress` while it runs, else its stored outcome; the leader, and the
    synthesize button once at least two variations were written."""
    run = store.run(run_id)
    assert run is not None, f"no run {run_id}"
    variations = store.variations(run_id)
    written = sum(v["status"] == "done" for v in variations)
    can_synthesize = run["status"] in FINISHED and written >= 2
    return parent_message(
        run["user_id"],
        run["task"],
        json.loads(run["context"] or "{}"),
        progress or stored_progress(run, variations),
        leader=leader_line(variations, store.tallies(run_id)),
        synthesize_run=run_id if can_synthesize else None,
    )
