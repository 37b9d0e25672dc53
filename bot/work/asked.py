"""What a person asked for when they start a run, as one value: from the slash command, the form, a mention,
the message shortcut's form or the AI pane, through the runner, to the live run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.slack.run_thread import Origin


@dataclass(frozen=True)
class Asked:
    origin: Origin  # who asked, and where the run is posted
    task: str
    context: Mapping[str, str] = field(default_factory=dict)  # audience, key points, tone…
    approaches: int | None = None  # exactly this many; None lets the orchestrator choose within 2-5
    fresh: bool = False  # the team's record of earlier votes left out of the plan
    blind: bool = False  # the approaches labelled A, B, C… until voting closes
