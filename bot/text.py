"""Turn model Markdown and user text into Slack mrkdwn that is safe to post and fits Slack's limits.

Everything here is pure string work, so it can be tested exhaustively without Slack.

Safety model: every ``&``, ``<`` and ``>`` that reaches Slack is escaped, except the ``<url|text>`` links this
module builds itself (only for ``http(s)://`` and ``mailto:`` targets) and the ``>`` quote marker at the start
of a line. That alone means model or user text can never ping (``<!channel>``, ``<@U…>``), reference a
channel or user group, or smuggle in a link. Plain ``@here`` text only pings when a message is posted with
``link_names=true``, so callers must not set it. Control characters other than tab and newline are dropped
by the same functions (``clean``), so none reaches Slack.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from bisect import bisect_right
from urllib.parse import urlsplit

__all__ = ["RULE", "SECTION_LIMIT", "clean", "escape", "markdown_to_mrkdwn", "split_text", "truncate_plain"]

SECTION_LIMIT = 3000
"""Slack's maximum length of a section block's text."""

# Private-use characters mark protected spans and produced formatting while a line is converted, so later
# passes cannot mistake them for Markdown. Any that arrive in the input are replaced first.
_SLOT_OPEN = "\ue000"
_SLOT_CLOSE = "\ue001"
_BOLD = "\ue002"
_ITALIC = "\ue003"
_STRIKE = "\ue004"
_SENTINELS = re.compile("[\ue000-\ue004]")
_SLOT = re.compile(_SLOT_OPEN + r"(\d+)" + _SLOT_CLOSE)

RULE = "———"
"""What a Markdown horizontal rule becomes: Slack has no rule, a line of em dashes reads as one."""

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
# Inline Markdown
# --------------------------------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(?<![`\\])(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_LINK = re.compile(
    r"(?<!\\)(!?)\[((?:[^\[\]\\]|\\.|\[(?:[^\[\]\\]|\\.)*\])*)\]"
    r"\(\s*(<[^<>\n]*>|(?!<)(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)"
)
_IMAGE_IN_TEXT = re.compile(r"!\[((?:[^\[\]\\]|\\.)*)\]\([^()]*\)")
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^\s<>]+)>", re.IGNORECASE)
_EMAIL_AUTOLINK = re.compile(r"<([^\s<>@]+@[^\s<>@]+\.[A-Za-z]{2,})>")
_BARE_URL = re.compile(r"(?<![\w@.])(?:https?://|mailto:|www\.)[^\s<>\ue000\ue001]+", re.IGNORECASE)
_BACKSLASH = re.compile(r"\\([!-/:-@\[-`{-~])")
_URL_TRAILING = ".,;:!?*_~'\""

_B, _I, _S = _BOLD, _ITALIC, _STRIKE
# Order matters: the longest delimiters first, so ``***x***`` is not read as ``*`` + ``**x**`` + ``*``.
# Every delimiter must sit at a word boundary, which keeps ``snake_case_name`` and ``2*3*4`` literal (a
# deliberate, safer deviation from CommonMark, which allows intraword ``*``). Spans are capped at 1,000
# characters so a long line full of unmatched markers costs linear, not quadratic, time.
_EMPHASIS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"(?<![\w*])\*\*\*(?=[^\s*])(.{1,1000}?)(?<=[^\s*])\*\*\*(?![\w*])"), _B + _I, _I + _B),
    (re.compile(r"(?<![\w_])___(?=[^\s_])(.{1,1000}?)(?<=[^\s_])___(?![\w_])"), _B + _I, _I + _B),
    (re.compile(r"(?<![\w*])\*\*(?=[^\s*])(.{1,1000}?)(?<=[^\s*])\*\*(?![\w*])"), _B, _B),
    # Code-like ``__init__()``, ``obj.__dict__``, ``__main__.py`` stay literal (a lone ``__init__`` is bold,
    # as in CommonMark).
    (re.compile(r"(?<![\w_.])__(?=[^\s_])(.{1,1000}?)(?<=[^\s_])__(?![\w_(]|\.\w)"), _B, _B),
    (re.compile(r"(?<!~)~~(?=[^\s~])(.{1,1000}?)(?<=[^\s~])~~(?!~)"), _S, _S),
    (re.compile(r"(?<![\w*])\*(?=[^\s*])(.{1,1000}?)(?<=[^\s*])\*(?![\w*])"), _I, _I),
    (re.compile(r"(?<![\w_.])_(?=[^\s_])(.{1,1000}?)(?<=[^\s_])_(?![\w_(]|\.\w)"), _I, _I),
]
_MARKERS = str.maketrans({_BOLD: "*", _ITALIC: "_", _STRIKE: "~"})
_NO_MARKERS = str.maketrans({_BOLD: None, _ITALIC: None, _STRIKE: None})

# Link text that reads like an address: a domain (optionally with scheme, user, port, path) or an email.
_ADDRESS = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*:(?://)?)?(?:[^\s/@]+@)?"
    r"((?:[\w-]+\.)+[^\W\d_]{2,}|\d{1,3}(?:\.\d{1,3}){3}|localhost)\.?"
    r"(?::\d+)?(?:[/?#]\S*)?$",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"^(?:mailto:)?([^\s@/:]+@[^\s@/]+)$", re.IGNORECASE)
_SAFE_URL = re.compile(r"^(?:https?://[^\s/?#]|mailto:\S)", re.IGNORECASE)


def _wrap(opener: str, closer: str, match: re.Match[str]) -> str:
    return opener + match.group(1) + closer


def _emphasize(text: str) -> str:
    for pattern, opener, closer in _EMPHASIS:
        text = pattern.sub(functools.partial(_wrap, opener, closer), text)
    return text


def _trim_url(url: str) -> str:
    """Drop trailing punctuation that ends the sentence rather than the URL, as Slack's auto-linker does."""
    while url:
        last = url[-1]
        if last in _URL_TRAILING or (last == ")" and url.count("(") < url.count(")")):
            url = url[:-1]
        else:
            break
    return url


def _is_safe_url(url: str) -> bool:
    return bool(_SAFE_URL.match(url))


def _slack_url(url: str) -> str:
    """Make a URL fit inside ``<url|text>``: characters that would end the link are percent-encoded."""
    url = "".join(ch for ch in url if ch.isprintable())
    url = url.replace(" ", "%20").replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
    return escape(url)


def _norm_host(host: str) -> str:
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _target_host(url: str) -> str:
    if url.lower().startswith("mailto:"):
        return _norm_host(url[7:].split("?", 1)[0].rpartition("@")[2])
    try:
        return _norm_host(urlsplit(url).hostname or "")
    except ValueError:
        return ""


def _is_disguised(text: str, url: str) -> bool:
    """Whether link text names an address other than where the link goes (a classic phishing trick).

    A target on a subdomain of the shown domain is fine: only the shown domain's owner can create those.
    """
    shown = text.strip().strip("<>")
    email = _EMAIL.match(shown)
    if email and url.lower().startswith("mailto:"):
        return email.group(1).lower() != url[7:].split("?", 1)[0].lower()
    match = _ADDRESS.match(shown)
    if not match:
        return False
    shown_host = _norm_host(match.group(1))
    target = _target_host(url)
    return not (target == shown_host or target.endswith("." + shown_host))


class _Line:
    """Converts one line of inline Markdown, holding finished pieces aside so later passes leave them be."""

    def __init__(self, show_urls: bool = False) -> None:
        self.rendered: list[str] = []
        self.plain: list[str] = []
        self.show_urls = show_urls

    def hold(self, rendered: str, plain: str) -> str:
        self.rendered.append(rendered)
        self.plain.append(plain)
        return f"{_SLOT_OPEN}{len(self.rendered) - 1}{_SLOT_CLOSE}"

    def code_span(self, match: re.Match[str]) -> str:
        content = match.group(2)
        if len(content) > 1 and content[0] == content[-1] == " " and content.strip():
            content = content[1:-1]
        return self.hold(f"`{escape(content)}`", content)

    def plain_text(self, text: str) -> str:
        """Markdown to unformatted, unescaped text: for link labels, where Slack shows no formatting."""
        text = _IMAGE_IN_TEXT.sub(r"\1", text)
        text = _BACKSLASH.sub(lambda m: self.hold(m.group(1), m.group(1)), text)
        text = _emphasize(text).translate(_NO_MARKERS)
        return _SLOT.sub(lambda m: self.plain[int(m.group(1))], text).strip()

    def literal(self, match: re.Match[str]) -> str:
        """A backslash-escaped character. Slack has no escapes, so a zero-width space after a formatting
        character keeps it from pairing with another one while looking the same."""
        char = match.group(1)
        return self.hold(escape(char) + ("\u200b" if char in "*_~`" else ""), char)

    def link(self, match: re.Match[str]) -> str:
        label, url = match.group(2), match.group(3)
        if url.startswith("<") and url.endswith(">"):
            url = url[1:-1]
        url = _BACKSLASH.sub(r"\1", url).strip()
        text = self.plain_text(label)
        if not url:
            return self.hold(escape(text), text)
        if not _is_safe_url(url):
            shown = f"{text} ({url})" if text else url
            return self.hold(escape(shown), shown)
        plain = f"{text} ({url})" if text else url
        if self.show_urls:
            return self.hold(escape(plain), plain)
        if not text:
            return self.hold(f"<{_slack_url(url)}>", plain)
        if _is_disguised(text, url):
            return self.hold(f"{escape(text)} (<{_slack_url(url)}>)", plain)
        return self.hold(f"<{_slack_url(url)}|{escape(text)}>", plain)

    def autolink(self, match: re.Match[str]) -> str:
        url = match.group(1)
        if self.show_urls:
            return self.hold(escape(url), url)
        return self.hold(f"<{_slack_url(url)}>", url)

    def email(self, match: re.Match[str]) -> str:
        address = match.group(1)
        if self.show_urls:
            return self.hold(escape(address), address)
        return self.hold(f"<{_slack_url('mailto:' + address)}|{escape(address)}>", address)

    def bare_url(self, match: re.Match[str]) -> str:
        url = _trim_url(match.group(0))
        rest = match.group(0)[len(url) :]
        return (self.hold(escape(url), url) if url else "") + rest

    def convert(self, text: str, *, drop_bold: bool = False, plain: bool = False) -> str:
        text = _CODE_SPAN.sub(self.code_span, text)
        text = _LINK.sub(self.link, text)
        text = _AUTOLINK.sub(self.autolink, text)
        text = _EMAIL_AUTOLINK.sub(self.email, text)
        text = _BARE_URL.sub(self.bare_url, text)
        if plain:
            return self.plain_text(text)
        text = _BACKSLASH.sub(self.literal, text)
        text = _emphasize(escape(text))
        if drop_bold:
            text = text.replace(_BOLD, "")
        text = _SLOT.sub(lambda m: self.rendered[int(m.group(1))], text)
        return text.translate(_MARKERS)


def _inline(text: str, *, drop_bold: bool = False) -> str:
    return _Line().convert(text, drop_bold=drop_bold)


# --------------------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])[ \t]*(?:\1[ \t]*){2,}$")
_QUOTE = re.compile(r"^ {0,3}>[ \t]?(.*)$")
_BULLET = re.compile(r"^(\s*)[-*+][ \t]+(.*)$")
_TASK = re.compile(r"^\[([ xX])\][ \t]+")
_ORDERED = re.compile(r"^(\s*)(\d{1,9})([.)])[ \t]+(.*)$")
_TABLE_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _code_block(lines: list[str]) -> str:
    """Slack code blocks ignore languages; the content is escaped but otherwise shown exactly as written."""
    body = "\n".join(escape(line) for line in lines)
    # A literal ``` inside would end Slack's block early; a zero-width space keeps it visible but inert.
    body = body.replace(_FENCE, "``\u200b`")
    return f"{_FENCE}\n{body}\n{_FENCE}"


def _is_pipe_row(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith("|") and stripped.count("|") >= 2


def _table_starts(lines: list[str], i: int) -> bool:
    if i + 1 >= len(lines):
        return False
    line, following = lines[i], lines[i + 1]
    if "|" in following and _TABLE_DELIMITER.match(following):
        return "|" in line and not _TABLE_DELIMITER.match(line)
    return _is_pipe_row(line) and _is_pipe_row(following)


def _cells(row: str) -> list[str]:
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(row)]


def _width(text: str) -> int:
    """Columns a string takes in a monospace font: wide East Asian characters take two, marks none."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, align: str) -> str:
    gap = width - _width(text)
    if align == "right":
        return " " * gap + text
    if align == "center":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def _table(rows: list[str]) -> str:
    """Slack has no tables; a code block with padded columns is the closest thing that lines up."""
    aligns: list[str] = []
    cells: list[list[str]] = []
    header_rows = 0
    for row in rows:
        if "|" in row and _TABLE_DELIMITER.match(row):
            if not aligns:
                header_rows = len(cells)
                for spec in _cells(row):
                    spec = spec.strip()
                    right, left = spec.endswith(":"), spec.startswith(":")
                    aligns.append("center" if left and right else "right" if right else "left")
            continue
        cells.append([_Line(show_urls=True).convert(cell, plain=True) for cell in _cells(row)])
    if not cells:
        return ""
    columns = max(len(cell_row) for cell_row in cells)
    for cell_row in cells:
        cell_row.extend([""] * (columns - len(cell_row)))
    aligns.extend(["left"] * (columns - len(aligns)))
    widths = [max(_width(row[c]) for row in cells) for c in range(columns)]
    lines = [" | ".join(_pad(row[c], widths[c], aligns[c]) for c in range(columns)).rstrip() for row in cells]
    if header_rows:
        lines.insert(header_rows, "-|-".join("-" * w for w in widths))
    return _code_block(lines)


def _convert_line(line: str) -> str:
    line = line.rstrip()
    if not line.strip():
        return ""
    quote = _QUOTE.match(line)
    if quote:
        inner = quote.group(1)
        while nested := _QUOTE.match(inner):  # Slack has a single quote level.
            inner = nested.group(1)
        converted = _convert_line(inner)
        return f"> {converted}" if converted else ">"
    if _RULE.match(line):
        return RULE
    heading = _HEADING.match(line)
    if heading:
        title = _inline((heading.group(2) or "").strip(), drop_bold=True).strip()
        return f"*{title}*" if title else ""
    bullet = _BULLET.match(line)
    if bullet:
        indent, item = bullet.groups()
        task = _TASK.match(item)
        if task:
            item = ("☐ " if task.group(1) == " " else "☑ ") + item[task.end() :]
        return f"{indent}• {_inline(item)}"
    ordered = _ORDERED.match(line)
    if ordered:
        indent, number, delimiter, item = ordered.groups()
        return f"{indent}{number}{delimiter} {_inline(item)}"
    return _inline(line)


def markdown_to_mrkdwn(markdown: str) -> str:
    """Convert CommonMark-ish model output to Slack mrkdwn, escaping everything that is not formatting.

    Slack's mrkdwn differs from Markdown (``*bold*``, ``_italic_``, ``<url|text>``, no headings, lists or
    tables), so model output posted as-is looks broken and could contain live mentions or links. The only
    ``<…>`` in the result are links built here to ``http(s)``/``mailto`` targets.
    """
    text = _SENTINELS.sub("\ufffd", clean(markdown))
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE_OPEN.match(line)
        if fence and not (fence.group(2)[0] == "`" and "`" in fence.group(3)):
            indent, marker = len(fence.group(1)), fence.group(2)
            closer = re.compile(rf"^\s*{re.escape(marker[0])}{{{len(marker)},}}\s*$")
            body: list[str] = []
            i += 1
            while i < len(lines) and not closer.match(lines[i]):
                body_line = lines[i]
                strip = min(indent, len(body_line) - len(body_line.lstrip(" ")))
                body.append(body_line[strip:])
                i += 1
            i += 1  # the closing fence (or the end of an unclosed block)
            if body:
                out.append(_code_block(body))
            continue
        if _table_starts(lines, i):
            rows = []
            while i < len(lines) and lines[i].strip() and "|" in lines[i] and not _FENCE_OPEN.match(lines[i]):
                rows.append(lines[i])
                i += 1
            out.append(_table(rows))
            continue
        out.append(_convert_line(line))
        i += 1
    # One blank line is a paragraph break; more are noise in a chat message.
    tidy: list[str] = []
    for part in out:
        if part or (tidy and tidy[-1]):
            tidy.append(part)
    while tidy and not tidy[-1]:
        tidy.pop()
    return "\n".join(tidy)


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
    """Split converted mrkdwn into chunks of at most ``limit`` characters, e.g. one per section block.

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
