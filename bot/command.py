"""What a person typed after `/variations`: the task, its context lines, or a request for help."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A trailing line like "audience: hikers" or "key features: 24h cold" is context, not task.
_CONTEXT_LINE = re.compile(r"^\s*([A-Za-z][\w \-]{0,39}?)\s*:(?!//)\s*(\S.*?)\s*$")
HELP_WORDS = {"help", "-h", "--help", "?"}


@dataclass(frozen=True)
class RunCommand:
    task: str
    context: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HelpCommand:
    """Show usage; `problem` says what was wrong with the input, if anything."""

    problem: str | None = None


def parse_command(text: str, max_task_chars: int) -> RunCommand | HelpCommand:
    """Split the command text into task and context.

    Context is the run of `name: value` lines at the end, after the first line, so the first line is
    always part of the task even when it contains a colon ("Tagline: for our bottle").
    """
    stripped = text.strip()
    if not stripped or stripped.lower() in HELP_WORDS:
        return HelpCommand()
    lines = stripped.splitlines()
    context: dict[str, str] = {}
    while len(lines) > 1:
        match = _CONTEXT_LINE.match(lines[-1])
        if match is None:
            if lines[-1].strip():
                break
            lines.pop()
            continue
        key, value = match.group(1).strip(), match.group(2)
        context.setdefault(key, value)  # read bottom-up, so the last line naming a key wins
        lines.pop()
    task = "\n".join(lines).strip()
    if len(task) > max_task_chars:
        return HelpCommand(
            f"Your request is {len(task):,} characters long; the limit is {max_task_chars:,}. Shorten it and try again."
        )
    return RunCommand(task=task, context=dict(reversed(list(context.items()))))
