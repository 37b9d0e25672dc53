"""Model Markdown for Slack's `markdown` block: made inert, tidied where the block falls short, and split
to the block's limits. Pure string work, tested without Slack.

Slack renders standard Markdown in a `markdown` block itself (headings, bold and italic, lists, quotes,
code, links, any script), so model text goes there nearly as written. `bot.render.mrkdwn` keeps the mrkdwn side:
a message's notification `text`, titles and context lines, and the Home tab and modals, where the block
is not available (it is for messages).

Why the text is changed at all
------------------------------
Nothing a model writes may ping anyone or hide where a link goes. How Slack's translation of the block
treats Slack's own `<…>` syntax (`<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^…>`, `<@U…>`,
`<#C…>`, `<url|label>`) cannot be checked here: it may parse it as in mrkdwn, show it as text, or decode
HTML entities first and parse what comes out. So these rules hold whichever it does:

- Every `<` is followed by a zero-width space (U+200B). Each of Slack's tokens starts with `<` directly
  followed by `!`, `@`, `#` or a link target; with an invisible character in between there is no token
  to parse, however the text is read, and people still see the same characters. Escaping `<` as `&lt;`
  would not do: a translation that decodes entities and then parses brings the token back, and inside
  code Markdown shows `&lt;` literally.
- An entity that decodes to `<`, `>` or `@` (`&lt;`, `&#60;`, `&#x3C;`, `&commat;`, also behind `&amp;`)
  gets the same zero-width space after its `&`, so no decoding step can make a token of it either.
- An `@` that does not follow a letter or digit (`@here`, `@channel`, `@everyone`, `@name`, `*@here*`)
  gets a zero-width space after it, in case Slack links such words as it does in messages posted with
  `link_names`. E-mail addresses and URLs keep theirs.
- A link whose text reads as another address than its target (`[bank.com](https://evil.example)`) shows
  its target next to the text, and a link to anything but http(s) or mailto becomes text. Markdown
  autolinks (`<https://…>`) become bare URLs, which Slack links itself. Any other `](` or `]:` gets a
  zero-width space: a link this module did not check (nested too deep for it, or a reference to a
  definition) cannot form.
- Control characters go (`bot.render.mrkdwn.clean`).

The zero-width spaces are invisible but travel with a copy: code with `<` or `@` copied out of Slack
carries them. Safety wins over that; this app writes prose.

What the block does not render (Slack's reference lists tables, horizontal rules and task lists as
unsupported) is rewritten: a table becomes a code block with aligned columns, a rule a line of em dashes,
a task item a ☐/☑ item.

Limits: the markdown blocks of one message hold at most 12,000 characters together (`MARKDOWN_LIMIT`).
`split_markdown` splits longer text at paragraph, then line, then word boundaries, and never inside a
fenced code block unless that block alone is too long: then it is closed at the end of one chunk and
reopened at the start of the next. A fence left open (a reply still being written) is closed, so every
chunk renders on its own.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.render.mrkdwn import clean

__all__ = ["MARKDOWN_LIMIT", "RULE", "ZWSP", "halve", "render", "split_markdown"]

MARKDOWN_LIMIT = 12_000
"""Slack's limit on the characters of all markdown blocks in one message together."""

ZWSP = "\u200b"
RULE = "———"
"""What a Markdown horizontal rule becomes: the block shows none, a line of em dashes reads as one."""

_MIN_LIMIT = 64
_MAX_FENCE = 16  # longer fence markers are shortened, so closing and reopening one always fits a chunk
_MAX_INFO = 32  # a fence's info string (its language) is kept to this
_INFO = re.compile(r"[^\w+#.-]")
_BLANK_LINES = re.compile(r"^(?:[ \t]*\n)+")

# ---------------------------------------------------------------------------------------------- characters

_LT = re.compile("<(?!\u200b)")
_ENTITY = re.compile(
    r"&(?!\u200b)(?=(?:amp;)*(?:lt|gt|commat|#0*(?:60|62|64)(?!\d)|#x0*(?:3c|3e|40)(?![0-9a-f])))", re.IGNORECASE
)
_AT = re.compile(r"(?<![^\W_])@(?!\u200b)")
_BARE_URL = re.compile(r"(?:https?://|mailto:|www\.)[^\W_][^\s<>]*", re.IGNORECASE)
_UNCHECKED_LINK = re.compile(r"\](?=[(:])")


def _defuse(text: str) -> str:
    """`<`, entities of `<`, `>` and `@`, and word-leading `@` made inert; bare URLs keep their `@`."""
    text = _ENTITY.sub("&" + ZWSP, _LT.sub("<" + ZWSP, text))
    out, pos = [], 0
    for url in _BARE_URL.finditer(text):
        out += [_AT.sub("@" + ZWSP, text[pos : url.start()]), url.group(0)]
        pos = url.end()
    out.append(_AT.sub("@" + ZWSP, text[pos:]))
    return "".join(out)


# ------------------------------------------------------------------------------------------------- links

_CODE_SPAN = re.compile(r"(?<![`\\])(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_LINK = re.compile(
    r"(?<!\\)(!?)\[((?:[^\[\]\\]|\\.|\[(?:[^\[\]\\]|\\.)*\])*)\]"
    r"\(\s*(<[^<>\n]*>|(?!<)(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)"
)
_IMAGE_IN_TEXT = re.compile(r"!\[((?:[^\[\]\\]|\\.)*)\]\([^()]*\)")
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^\s<>|]+)>", re.IGNORECASE)
_EMAIL_AUTOLINK = re.compile(r"<([^\s<>@|\u200b]+@[^\s<>@|\u200b]+\.[A-Za-z]{2,})>")
_BACKSLASH = re.compile(r"\\([!-/:-@\[-`{-~])")
_SAFE_URL = re.compile(r"^(?:https?://[^\s/?#]|mailto:\S)", re.IGNORECASE)
_URL_ESCAPES = {" ": "%20", "<": "%3C", ">": "%3E", "(": "%28", ")": "%29", "|": "%7C", "\\": "%5C", "`": "%60"}

# Link text that reads like an address: a domain (optionally with scheme, user, port, path) or an email.
_ADDRESS = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*:(?://)?)?(?:[^\s/@]+@)?"
    r"((?:[\w-]+\.)+[^\W\d_]{2,}|\d{1,3}(?:\.\d{1,3}){3}|localhost)\.?"
    r"(?::\d+)?(?:[/?#]\S*)?$",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"^(?:mailto:)?([^\s@/:]+@[^\s@/]+)$", re.IGNORECASE)
_NOT_SHOWN = re.compile(r"[*_~`\\]")


def _shown(label: str) -> str:
    """What a reader sees of a link's text, to compare with its target: no markers, no invisible marks."""
    text = _IMAGE_IN_TEXT.sub(r"\1", label)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _NOT_SHOWN.sub("", text).strip(" []<>()'\"")


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


def _is_disguised(shown: str, url: str) -> bool:
    """Whether link text names an address other than where the link goes (a classic phishing trick).

    A target on a subdomain of the shown domain is fine: only the shown domain's owner can create those.
    """
    email = _EMAIL.match(shown)
    if email and url.lower().startswith("mailto:"):
        return email.group(1).lower() != _NOT_SHOWN.sub("", url[7:].split("?", 1)[0]).lower()
    match = _ADDRESS.match(shown)
    if not match:
        return False
    shown_host = _norm_host(match.group(1))
    target = _target_host(url)
    return not (target == shown_host or target.endswith("." + shown_host))


def _url(url: str) -> str:
    """A link target that cannot end the link early, in Markdown or in a `<url|text>` translation of it."""
    url = "".join(_URL_ESCAPES.get(ch, ch) for ch in url if ch.isprintable() and ch != ZWSP)
    return _ENTITY.sub("%26", url)


def _link(match: re.Match[str]) -> str:
    """A Markdown link or image rebuilt when its target is safe and its text honest, else shown as text."""
    image, label, target = match.groups()
    url = target[1:-1] if target.startswith("<") and target.endswith(">") else target
    url = _BACKSLASH.sub(r"\1", url).strip()
    label = _IMAGE_IN_TEXT.sub(r"\1", label)  # Slack shows an image as a link to it: only its text is left
    text, shown = _prose(label), _shown(label)
    if not url:
        return text
    if not _SAFE_URL.match(url) or _is_disguised(shown, url):
        return f"{text} ({_prose(url)})" if shown else _prose(url)
    return f"{image}[{text}]({_url(url)})"


def _prose(text: str) -> str:
    """Inline Markdown outside code: links checked and rebuilt, every other character rule applied."""
    out, pos = [], 0
    for link in _LINK.finditer(text):
        out += [_plain(text[pos : link.start()]), _link(link)]
        pos = link.end()
    out.append(_plain(text[pos:]))
    return "".join(out)


def _plain(text: str) -> str:
    """Prose between links: autolinks become bare addresses, no other link can form, characters defused."""
    text = _EMAIL_AUTOLINK.sub(r"\1", _AUTOLINK.sub(r"\1", text))
    return _defuse(_UNCHECKED_LINK.sub("]" + ZWSP, text))


def _inline(line: str) -> str:
    """A line of prose: code spans keep their text (only the character rules apply), the rest is `_prose`."""
    out, pos = [], 0
    for span in _CODE_SPAN.finditer(line):
        out += [_prose(line[pos : span.start()]), _defuse(span.group(0))]
        pos = span.end()
    out.append(_prose(line[pos:]))
    return "".join(out)


# ------------------------------------------------------------------------------------------------ blocks

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
_RULE_LINE = re.compile(r"^ {0,3}([-*_])[ \t]*(?:\1[ \t]*){2,}$")
_TASK = re.compile(r"^(\s*(?:[-*+]|\d{1,9}[.)])[ \t]+)\[([ xX])\](?=[ \t])")
_TABLE_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_TICKS = re.compile(r"`{3,}")
_EMPHASIS = [
    re.compile(r"(?<![\w*])(\*{1,3})(?=[^\s*])(.+?)(?<=[^\s*])\1(?![\w*])"),
    re.compile(r"(?<![\w_])(_{1,3})(?=[^\s_])(.+?)(?<=[^\s_])\1(?![\w_])"),
    re.compile(r"(~~)(?=\S)(.+?)(?<=\S)\1"),
]


@dataclass(frozen=True)
class _Fence:
    char: str
    size: int
    indent: str = ""

    @property
    def marker(self) -> str:
        return self.indent + self.char * min(self.size, _MAX_FENCE)

    @property
    def reopen(self) -> str:
        """The fence's opening line at the start of a chunk of its own: no list around it any more."""
        return self.indent[:3] + self.char * min(self.size, _MAX_FENCE)

    def closes(self, line: str) -> bool:
        stripped = line.strip()
        return len(stripped) >= self.size and stripped == self.char * len(stripped)


def _opens(line: str) -> _Fence | None:
    match = _FENCE.match(line)
    if not match or (match.group(2)[0] == "`" and "`" in match.group(3)):
        return None
    return _Fence(match.group(2)[0], len(match.group(2)), match.group(1))


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
    return [_cell(cell.strip().replace("\\|", "|")) for cell in _CELL_SPLIT.split(row)]


def _cell(text: str) -> str:
    """A cell's Markdown as the plain text a code block can show: code, emphasis and links unwrapped."""
    text = _CODE_SPAN.sub(lambda m: m.group(2), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(3).strip('<>')})" if m.group(3) else m.group(2), text)
    for pattern in _EMPHASIS:
        text = pattern.sub(r"\2", text)
    return _TICKS.sub(lambda m: "``" + ZWSP + m.group(0)[2:], _BACKSLASH.sub(r"\1", text))


def _width(text: str) -> int:
    """Columns a string takes in a monospace font: wide East Asian characters take two, marks none."""
    return sum(
        0 if unicodedata.combining(ch) or unicodedata.category(ch) == "Cf" else 2
        if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )  # fmt: skip


def _pad(text: str, width: int, align: str) -> str:
    gap = width - _width(text)
    if align == "right":
        return " " * gap + text
    if align == "center":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def _table(rows: list[str]) -> list[str]:
    """The block renders no tables; a code block with padded columns is the closest thing that lines up."""
    aligns: list[str] = []
    cells: list[list[str]] = []
    header_rows = 0
    for row in rows:
        if "|" in row and _TABLE_DELIMITER.match(row):
            if not aligns:
                header_rows = len(cells)
                for spec in row.strip().strip("|").split("|"):
                    right, left = spec.strip().endswith(":"), spec.strip().startswith(":")
                    aligns.append("center" if left and right else "right" if right else "left")
            continue
        cells.append(_cells(row))
    columns = max(len(cell_row) for cell_row in cells)
    for cell_row in cells:
        cell_row.extend([""] * (columns - len(cell_row)))
    aligns.extend(["left"] * (columns - len(aligns)))
    widths = [max(_width(row[c]) for row in cells) for c in range(columns)]
    lines = [" | ".join(_pad(row[c], widths[c], aligns[c]) for c in range(columns)).rstrip() for row in cells]
    if header_rows:
        lines.insert(header_rows, "-|-".join("-" * w for w in widths))
    return ["```", *(_defuse(line) for line in lines), "```"]


def _prose_line(line: str) -> str:
    if _RULE_LINE.match(line):
        return RULE
    task = _TASK.match(line)
    if task:
        line = task.group(1) + ("☐" if task.group(2) == " " else "☑") + line[task.end() :]
    return _inline(line)


def render(markdown: str) -> str:
    """Model Markdown made safe for a `markdown` block (see the module's docstring), as Slack should show it.

    Idempotent, and safe for any prefix of a text, so a reply still being written can be shown at every
    step; a fence left open is closed.
    """
    lines = clean(markdown).rstrip().split("\n")
    out: list[str] = []
    fence: _Fence | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if fence is not None:
            if fence.closes(line):
                out.append(fence.marker)
                fence = None
            elif _Fence(fence.char, _MAX_FENCE).closes(line):  # would close the shortened fence
                out.append(_defuse(line.replace(fence.char, fence.char + ZWSP, 1)))
            else:
                out.append(_defuse(line))
        elif opened := _opens(line):
            fence = opened
            info = _INFO.sub("", line.lstrip()[opened.size :])[:_MAX_INFO]  # a language name, nothing else
            out.append(opened.marker + info)
        elif _table_starts(lines, i):
            rows = []
            while i < len(lines) and lines[i].strip() and "|" in lines[i] and not _opens(lines[i]):
                rows.append(lines[i])
                i += 1
            out += _table(rows)
            continue
        else:
            out.append(_prose_line(line))
        i += 1
    if fence is not None:
        out.append(fence.marker)
    return "\n".join(out).strip("\n").rstrip()


# ------------------------------------------------------------------------------------------------ limits


def _scan(text: str) -> tuple[list[int], list[_Fence | None], _Fence | None]:
    """Each line's start, the fence open where it starts (None outside code), and the fence open at the end."""
    starts = [0, *(i + 1 for i, ch in enumerate(text) if ch == "\n")]
    states: list[_Fence | None] = []
    fence: _Fence | None = None
    for k, start in enumerate(starts):
        states.append(fence)
        line = text[start : starts[k + 1] - 1 if k + 1 < len(starts) else len(text)]
        if fence is None:
            fence = _opens(line)
        elif fence.closes(line):
            fence = None
    return starts, states, fence


def _closer(fence: _Fence | None) -> str:
    return "\n" + fence.marker if fence else ""


def _cut_in_line(text: str, start: int, bound: int) -> int:
    """Where to cut a line too long for a chunk: its last space before `bound` with words before it, else
    `bound` itself, moved back so a combining mark or an invisible character stays with its character."""
    space = text.rfind(" ", start + 1, bound + 1)
    if space > start and text[start:space].strip():
        return space
    cut = bound
    while start + 1 < cut < len(text) and unicodedata.category(text[cut]) in ("Mn", "Me", "Cf"):
        cut -= 1
    return cut


def _cut(text: str, limit: int) -> tuple[str, str]:
    """The first chunk of `text` (at most `limit` characters, its fences closed) and the rest (a fence
    cut in two reopened at its start); the rest is "" when all of it fits."""
    starts, states, end = _scan(text[: 2 * limit + 2])  # what one chunk and the block after it can need
    if len(text) + len(_closer(end)) <= limit:
        return text + _closer(end), ""
    count = len(starts)

    def line(k: int) -> str:
        return text[starts[k] : starts[k + 1] - 1 if k + 1 < count else len(text)]

    def cost(k: int) -> int:  # the chunk's length when cut before line k
        return len(text[: starts[k]].rstrip()) + len(_closer(states[k]))

    first = next((k for k in range(count) if line(k).strip() and not _opens(line(k))), count)
    fitting = [
        k
        for k in range(first + 1, count)
        if starts[k] <= limit + 1 and cost(k) <= limit and not (states[k] and states[k - 1] is None)
    ]  # a chunk never ends with a fence just opened
    outside = [k for k in fitting if states[k] is None]
    half = limit // 2
    choice: int | None = None
    if outside and cost(outside[-1]) >= half:
        paragraphs = [k for k in outside if not line(k - 1).strip() and cost(k) >= half]
        choice = (paragraphs or outside)[-1]
    elif outside and _opens(line(outside[-1])) and _block_length(text, starts, states, outside[-1]) <= limit:
        choice = outside[-1]  # a code block follows that fits a chunk of its own: keep it whole
    elif fitting and cost(fitting[-1]) >= half:
        choice = fitting[-1]
    if choice is not None:
        head, rest, fence = text[: starts[choice]], text[starts[choice] :], states[choice]
    else:  # a line too long for what is left of the chunk: cut inside it
        k = bisect_right(starts, limit - 2 * _MAX_FENCE) - 1
        fence = states[k]
        bound = min(limit - len(_closer(fence)) - 1, len(line(k)) + starts[k])
        cut = _cut_in_line(text, starts[k], bound) if bound > starts[k] + 1 else limit - 2 * _MAX_FENCE
        head, rest = text[:cut], text[cut:].removeprefix(" ")
        if _opens(rest.partition("\n")[0]):  # mid-line it was text, not a fence: keep it text
            rest = ZWSP + rest
        last = head.rpartition("\n")[2]
        if _opens(last) and not _opens(line(k)):  # its first part would open a fence (and show nothing)
            at = len(head) - len(last.lstrip()) + 1  # after the marker's first character: text again
            head = head[:at] + ZWSP + head[at:]  # within `limit`: `bound` kept a character for it
    rest = _BLANK_LINES.sub("", rest)
    if fence is None:
        return head.rstrip(), rest
    following, _, after = rest.partition("\n")
    if fence.closes(following):  # the block ends right here anyway
        return head.rstrip() + _closer(fence), _BLANK_LINES.sub("", after)
    return head.rstrip() + _closer(fence), fence.reopen + "\n" + rest


def _block_length(text: str, starts: list[int], states: list[_Fence | None], k: int) -> int:
    """Characters from the fence opening at line `k` to the end of its closing line."""
    end = next((j for j in range(k + 1, len(starts)) if states[j] is None), None)
    return (starts[end] - 1 if end is not None else len(text)) - starts[k]


def _visible(chunk: str) -> bool:
    """Whether a chunk shows anything: not only blank lines and fences (an empty code block)."""
    return any(line.strip() and not _opens(line) for line in chunk.split("\n"))


def split_markdown(text: str, limit: int = MARKDOWN_LIMIT) -> list[str]:
    """`render`ed Markdown in chunks of at most `limit` characters, each one block's text; `[]` when
    there is nothing to show (a markdown block may not be empty)."""
    if limit < _MIN_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_LIMIT}, got {limit}")
    chunks: list[str] = []
    rest = text.strip()
    while rest.strip():
        chunk, rest = _cut(rest, limit)
        if _visible(chunk):
            chunks.append(chunk)
    return chunks


def halve(text: str) -> tuple[str, str] | None:
    """A block's text cut about in half at the best boundary near the middle (the outbox's last resort
    for a message Slack found too long); None when it is too short to cut."""
    text = text.strip()
    if len(text) < 2 * _MIN_LIMIT:
        return None
    first, rest = _cut(text, max(_MIN_LIMIT, len(text) // 2 + 2 * _MAX_FENCE))
    return (first, rest) if _visible(first) and _visible(rest) else None
