"""What of a growing Markdown text (a reply still being written) can be shown now: the part whose
rendering what follows will not change. Both live paths use it, the DM stream (`bot.slack.streams`, which
can only append) and the rewritten preview in channels (`bot.render.variation_messages`), so neither shows
markup the model has not finished, such as `**b` before its closing `**`. Pure string work."""

from __future__ import annotations

import re

from bot.render.mrkdwn import clean

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_MAY_BE_RULE = re.compile(r"[\s*_-]*")  # a line so far that may still become a horizontal rule
_UNSETTLED = re.compile(r"[\[\]<&|`\\]")  # characters whose rendering depends on what follows
# Emphasis that may be opened (`**b`, `_b`, `~~b`), and emphasis closed within the line.
_OPENER = re.compile(r"(?<![\w*\\])\*{1,3}(?=[^\s*])|(?<![\w_\\])_{1,3}(?=[^\s_])|~~(?=\S)|[*_~]+$")
_CLOSED = [
    re.compile(r"(?<![\w*])(\*{1,3})(?=[^\s*])(.+?)(?<=[^\s*])\1(?![\w*])"),
    re.compile(r"(?<![\w_])(_{1,3})(?=[^\s_])(.+?)(?<=[^\s_])\1(?![\w_])"),
    re.compile(r"(~~)(?=\S)(.+?)(?<=\S)\1"),
]


def settled(text: str) -> str:
    """The start of a growing Markdown text whose rendering (`bot.render.markdown.render`, which makes it inert)
    what follows will not change, as far as can be told: its whole lines, less an open code fence (the
    rendering closes it) and a table that may go on (its columns are aligned over all rows), then the line
    being written up to its first character whose rendering depends on what follows it (a link, code, an
    entity, a cell) or its first emphasis not yet closed (`**b`), unless it may still become a rule. A
    rendering that changes anyway is caught by `Stream`: it appends only what grows what Slack has."""
    text = clean(text)
    complete, newline, partial = text.rpartition("\n")
    lines = complete.split("\n") if newline else []
    cut, fence, opened = len(lines), "", 0
    for number, line in enumerate(lines):
        if not fence:
            match = _FENCE.match(line)
            fence, opened = (match.group(1), number) if match else ("", 0)
        elif len(line.strip()) >= len(fence) and set(line.strip()) == {fence[0]}:
            fence = ""
    if fence:
        cut = opened
    while cut > 0 and "|" in lines[cut - 1] and lines[cut - 1].strip():
        cut -= 1
    if cut < len(lines):
        return "\n".join(lines[:cut])
    unsettled = _UNSETTLED.search(partial)
    partial = partial[: unsettled.start()] if unsettled else partial
    partial = partial[: _open_emphasis(partial)]
    if _MAY_BE_RULE.fullmatch(partial) or partial.lstrip().startswith("~"):
        return complete
    return complete + newline + partial


def without_open_emphasis(text: str) -> str:
    """A growing text less its last line's emphasis not yet closed (`Hello **b` → `Hello `), for a preview
    that is rewritten whole, so shows everything else as it is (an open code block is closed by the
    rendering); inside an open code block nothing is emphasis, and nothing is held back."""
    complete, newline, partial = text.rpartition("\n")
    fence = ""
    for line in complete.split("\n") if newline else []:
        if not fence:
            match = _FENCE.match(line)
            fence = match.group(1) if match else ""
        elif len(line.strip()) >= len(fence) and set(line.strip()) == {fence[0]}:
            fence = ""
    if fence or _FENCE.match(partial):
        return text
    return complete + newline + partial[: _open_emphasis(partial)]


def _open_emphasis(line: str) -> int | None:
    """Where the first emphasis marker of `line` that nothing closes yet starts; None when there is none."""
    closed = [match.span() for pattern in _CLOSED for match in pattern.finditer(line)]
    for opener in _OPENER.finditer(line):
        if not any(start <= opener.start() < end for start, end in closed):
            return opener.start()
    return None
