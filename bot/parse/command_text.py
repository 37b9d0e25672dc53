"""What a person typed after `/variations`: the task, its context lines, or a request for help."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A trailing line like "audience: hikers" or "key features: 24h cold" is context, not task.
_CONTEXT_LINE = re.compile(r"^\s*([A-Za-z][\w \-]{0,39}?)\s*:(?!//)\s*(\S.*?)\s*$")
HELP_WORDS = {"help", "-h", "--help", "?"}
FRESH = "--fresh"
"""Leading option: fresh ideas only, the team's record (team memory) left out of the plan."""
BLIND = "--blind"
"""Leading option: blind voting, the approaches labelled A, B, C… until voting closes."""
_OPTION = re.compile(r"--[a-z][a-z-]*(?=\s|$)", re.IGNORECASE)
MAX_CONTEXT_LINES = 20
"""Context lines accepted in one request: each reaches every prompt, and a few name what matters."""


@dataclass(frozen=True)
class RunCommand:
    task: str
    context: dict[str, str] = field(default_factory=dict)
    fresh: bool = False  # leave the team's record out of the plan
    blind: bool = False  # label the approaches A, B, C… until voting closes


@dataclass(frozen=True)
class HelpCommand:
    """Show usage; `problem` says what was wrong with the input, if anything."""

    problem: str | None = None


def parse_command(text: str, max_chars: int) -> RunCommand | HelpCommand:
    """Split the command text into options, task and context.

    Options (`--fresh`, `--blind`, in any order) lead the text. Context is the run of `name: value` lines at
    the end, after the first line, so the first line is always part of the task even when it contains a colon
    ("Tagline: for our bottle"). `max_chars` limits the whole request, context included, since all of it goes
    into every prompt.
    """
    stripped = text.strip()
    if not stripped or stripped.lower() in HELP_WORDS:
        return HelpCommand()
    options: set[str] = set()
    while option := _OPTION.match(stripped):
        if option.group().lower() not in (FRESH, BLIND):
            return HelpCommand(f"I don't know the option {option.group()}; the ones I know are {FRESH} and {BLIND}.")
        options.add(option.group().lower())
        stripped = stripped[option.end() :].strip()
    if not stripped:
        return HelpCommand(f"Write what you would like variations of after {' '.join(sorted(options))}.")
    if len(stripped) > max_chars:
        return HelpCommand(
            f"Your request is {len(stripped):,} characters long, context lines included; the limit is "
            f"{max_chars:,}. Shorten it and try again."
        )
    lines = stripped.splitlines()
    context: dict[str, str] = {}
    context_lines = 0
    while len(lines) > 1:
        match = _CONTEXT_LINE.match(lines[-1])
        if match is None:
            if lines[-1].strip():
                break
            lines.pop()
            continue
        key, value = match.group(1).strip(), match.group(2)
        context.setdefault(key, value)  # read bottom-up, so the last line naming a key wins
        context_lines += 1
        lines.pop()
    if context_lines > MAX_CONTEXT_LINES:
        return HelpCommand(
            f"Your request has {context_lines:,} context lines; the limit is {MAX_CONTEXT_LINES}. "
            "Merge some and try again."
        )
    task = "\n".join(lines).strip()
    context = dict(reversed(list(context.items())))
    return RunCommand(task=task, context=context, fresh=FRESH in options, blind=BLIND in options)
