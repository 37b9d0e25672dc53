"""What a person typed after `/variations`: the task, its context lines, a request for help, or one of the
`types` commands."""

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
class TypesCommand:
    """`/variations types` (list), `types merge OLD into NEW`, `types split OLD`; names as typed."""

    action: str  # "list", "merge", "split", or "usage" (a merge or split the words of which did not parse)
    old: str = ""
    new: str = ""


_NAME = r"(?:\"([^\"]+)\"|“([^”]+)”|(.+?))"
_TYPES = re.compile(r"types", re.IGNORECASE)
_MERGE = re.compile(rf"types\s+merge\s+{_NAME}\s+into\s+{_NAME}", re.IGNORECASE | re.DOTALL)
_SPLIT = re.compile(rf"types\s+split\s+{_NAME}", re.IGNORECASE | re.DOTALL)
_TYPES_USAGE = re.compile(r"types\s+(?:merge|split)\b", re.IGNORECASE)


def parse_types(text: str) -> TypesCommand | None:
    """The `types` command in `text`, or None when it is not one (then it is a request: "types of bread for a
    menu" is a task). Names may be quoted, for one that holds the word "into"."""
    stripped = text.strip()
    if _TYPES.fullmatch(stripped):
        return TypesCommand("list")
    if merge := _MERGE.fullmatch(stripped):
        names = [name for name in merge.groups() if name is not None]
        return TypesCommand("merge", names[0].strip(), names[1].strip())
    if split := _SPLIT.fullmatch(stripped):
        return TypesCommand("split", next(name for name in split.groups() if name is not None).strip())
    if _TYPES_USAGE.match(stripped):
        return TypesCommand("usage")
    return None


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
