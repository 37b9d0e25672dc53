"""Make user and model text safe for Slack mrkdwn, and fit it to Slack's limits.

Everything here is pure string work, so it can be tested exhaustively without Slack. Model Markdown goes in
`markdown` blocks instead (`bot.render.markdown`); what stays mrkdwn is the rest: a message's notification `text`,
titles, context lines, the request quoted back, and the Home tab and modals.

Safety model: every ``&``, ``<`` and ``>`` that reaches Slack as mrkdwn is escaped (``escape``), which alone
means text can never ping (``<!channel>``, ``<@U…>``), reference a channel or user group, or smuggle in a
link. Plain ``@here`` text only pings when a message is posted with ``link_names=true``, so callers must not
set it. Control characters other than tab and newline are dropped by the same functions (``clean``), so
none reaches Slack.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right

__all__ = ["SECTION_LIMIT", "clean", "escape", "plain_words", "split_text", "truncate_plain"]

SECTION_LIMIT = 3000
"""Slack's maximum length of a section block's text."""

_FENCE = "```"
_REOPEN = _FENCE + "\n"
_CLOSE = "\n" + _FENCE


# C0 and C1 control characters and DEL, except tab and newline.
_CONTROLS = dict.fromkeys([*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)])


def clean(text: str) -> str:
    """The text without control characters other than tab and newline; a CR or CRLF becomes a newline.

    NUL, escape sequences (``\\x1b[31m``) and the like show as nothing or as boxes in Slack, but they travel
    on into notifications, exports and terminals, where an escape sequence acts.
    """
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROLS)


def escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` as Slack requires, and drop control characters (``clean``).

    Slack only parses mentions, channel references and links inside ``<…>``, so this alone makes any text
    inert. Use it for user-typed text as well as model output. Not idempotent: ``&amp;`` becomes
    ``&amp;amp;``, which Slack shows as the literal ``&amp;`` that was typed.
    """
    return clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --------------------------------------------------------------------------------------------------------
# Length limits
# --------------------------------------------------------------------------------------------------------

_ENTITY = re.compile(r"&(?:[A-Za-z]+|#\d+|#[xX][0-9A-Fa-f]+);")
_FENCE_RUN = re.compile(r"`{3,}")
_ANGLE = re.compile(r"<[^<>\n]*>")
_INLINE_CODE = re.compile(r"(?<!`)`[^`\n]+`(?!`)")
_MIN_LIMIT = 16


def _spans(text: str, *patterns: re.Pattern[str]) -> list[tuple[int, int]]:
    """Merged ``(start, end)`` ranges of all matches: cutting strictly inside one would break it."""
    found = sorted((m.start(), m.end()) for p in patterns for m in p.finditer(text) if m.end() - m.start() > 1)
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


class _Cuts:
    """Where a text may be cut: never inside an entity or a ``` run, preferably not inside a link or code."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.hard = _spans(text, _ENTITY, _FENCE_RUN)
        self.soft = _spans(text, _ENTITY, _FENCE_RUN, _ANGLE, _INLINE_CODE)
        self.links = _spans(text, _ENTITY, _FENCE_RUN, _ANGLE)
        self.hard_starts = [s for s, _ in self.hard]
        self.soft_starts = [s for s, _ in self.soft]
        self.link_starts = [s for s, _ in self.links]

    @staticmethod
    def _enclosing(spans: list[tuple[int, int]], starts: list[int], pos: int) -> tuple[int, int] | None:
        k = bisect_right(starts, pos - 1) - 1
        if k >= 0 and spans[k][0] < pos < spans[k][1]:
            return spans[k]
        return None

    def ok(self, pos: int, *, soft: bool = True) -> bool:
        if soft and self._enclosing(self.soft, self.soft_starts, pos):
            return False
        if self._enclosing(self.hard, self.hard_starts, pos):
            return False
        # Keep combining marks, variation selectors and joiners with the character they modify.
        return not (0 < pos < len(self.text) and unicodedata.category(self.text[pos]) in ("Mn", "Me", "Cf"))

    def back_off(self, pos: int, floor: int, *, soft: bool) -> int:
        while pos > floor and not self.ok(pos, soft=soft):
            pos -= 1
        return pos

    def find(self, lo: int, hi: int) -> tuple[int, int]:
        """Best cut ``c`` in ``(lo, hi]`` and where the next chunk starts, skipping the whitespace between."""
        text = self.text
        first = len(text) - len(text[lo:].lstrip())  # cuts before this would leave an empty chunk
        half = lo + (hi - lo) // 2
        for separator, floor in (("\n\n", half), ("\n", half), (" ", first)):
            pos = text.rfind(separator, first + 1, hi + 1)
            while pos > max(first, floor) and not self.ok(pos):
                pos = text.rfind(separator, first + 1, pos)
            if pos > max(first, floor):
                return pos, self.next_start(pos)
        cut = self.back_off(hi, first + 1, soft=True)
        if cut <= first + 1:  # inside a long code span (or what looks like one): keep links whole at least
            cut = hi
            while cut > first + 1 and (
                self._enclosing(self.links, self.link_starts, cut) or not self.ok(cut, soft=False)
            ):
                cut -= 1
        if cut <= first + 1:  # a link longer than a chunk: cutting it is the lesser evil
            cut = self.back_off(hi, first + 1, soft=False)
        if cut <= first:
            cut = hi
        return cut, self.next_start(cut)

    def next_start(self, pos: int) -> int:
        """Skip the whitespace at a break, but keep the indentation of the line that follows it."""
        end = pos
        while end < len(self.text) and self.text[end].isspace():
            end += 1
        newline = self.text.rfind("\n", pos, end)
        return newline + 1 if newline >= 0 else end


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split escaped mrkdwn into chunks of at most ``limit`` characters, e.g. one per section block.

    Breaks go at paragraph breaks, then line breaks, then spaces, and only as a last resort mid-word; never
    inside an entity such as ``&amp;``, and inside a ``<url|text>`` link only if the link alone is longer than
    ``limit``. Whitespace at a break is dropped. A code block cut in two is closed at the end of one chunk
    and reopened at the start of the next, so both still render as code. Empty or whitespace-only text gives
    ``[]`` (there is nothing to post), not ``[""]``.
    """
    if limit < _MIN_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_LIMIT}, got {limit}")
    rest = text.strip()
    chunks: list[str] = []
    prefix = ""
    while rest.strip():
        body = prefix + rest
        if len(body) <= limit:
            chunks.append(body.rstrip())
            break
        cuts = _Cuts(body)
        lo = len(prefix)
        budget = limit
        while True:
            cut, nxt = cuts.find(lo, budget)
            if body.count(_FENCE, 0, cut) % 2 == 0:
                suffix = ""
                break
            opening = body.rfind(_FENCE, 0, cut)
            if not body[opening + len(_FENCE) : cut].strip():
                start = len(body) - len(body[lo:].lstrip())  # the chunk's first visible character
                if opening > start:
                    budget = opening  # don't end a chunk with a fence that opens an empty block
                    continue
                if lo < opening + len(_FENCE):
                    lo = opening + len(_FENCE)  # the block opens the chunk: cut inside its content
                    continue
            if budget > limit - len(_CLOSE):
                budget = limit - len(_CLOSE)
                continue
            suffix = _CLOSE
            break
        chunks.append(body[:cut].rstrip() + suffix)
        rest = body[nxt:]
        prefix = ""
        if suffix:
            if rest.lstrip().startswith(_FENCE):  # the block closed right here anyway
                rest = rest.lstrip()[len(_FENCE) :].lstrip("\n")
            else:
                prefix = _REOPEN
    return chunks


def truncate_plain(text: str, limit: int) -> str:
    """Shorten a one-line summary to at most ``limit`` characters, ending with ``…`` when cut.

    For notification fallbacks and button labels, which must be short and single-line, so runs of
    whitespace (newlines included) become one space and control characters go (``clean``). Text is not
    escaped here; a cut never lands inside an entity (or a ``<…>`` link, when avoidable) and prefers a word
    boundary near the end.
    """
    text = " ".join(clean(text).split())
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[: max(limit, 0)]
    cuts = _Cuts(text)
    end = limit - 1
    cut = cuts.back_off(end, 0, soft=True)
    if cut == 0:
        cut = cuts.back_off(end, 0, soft=False)
    space = text.rfind(" ", 0, cut + 1)
    if space > limit * 0.6 and cuts.ok(space):
        cut = space
    return text[:cut].rstrip() + "…"


_FENCE_LINE = re.compile(r"^\s*(?:`{3,}|~{3,})")
_DELIMITER_ROW = re.compile(r"^\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?$")
_RULE = re.compile(r"^([-*_])(?:\s*\1){2,}$")
_LINE_MARKUP = re.compile(r"^(?:#{1,6}\s+|>\s?)+")
_LINK_MARKUP = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_INLINE_MARKUP = re.compile(r"\*{2,3}|_{2,3}|~~|`+|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)|(?<=\S)_(?!\w)")


def plain_words(markdown: str) -> str:
    """Model Markdown as the plain words a notification shows: no heading marks, emphasis, code ticks or
    fences, rules or table pipes (a table's rows become its cells joined by ` · `), links by their text.
    For a message's `text`; its blocks carry the formatting."""
    lines = []
    for raw in clean(markdown).split("\n"):
        line = raw.strip()
        if _FENCE_LINE.match(line) or _RULE.match(line) or ("|" in line and _DELIMITER_ROW.match(line)):
            continue
        if line.startswith("|") or line.count("|") >= 2:
            line = " · ".join(cell.strip() for cell in line.strip("|").split("|") if cell.strip())
        lines.append(_LINE_MARKUP.sub("", line))
    text = _LINK_MARKUP.sub(r"\1", " ".join(line for line in lines if line))
    return " ".join(_INLINE_MARKUP.sub("", text).split())
