"""Tests for bot.render.markdown: model Markdown for Slack's markdown block, inert whatever Slack's translation does
with it, and split to the block's 12,000 characters without breaking a construct.

What Slack would show is checked by reading the output as a CommonMark reader does (markdown-it-py), and
its safety in every reading of it: as written, and after HTML entities are decoded (up to three times).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.render.markdown import MARKDOWN_LIMIT, RULE, ZWSP, _opens, _scan, halve, render, split_markdown
from bot.slack.clients import one_workspace
from bot.slack.outbox import Kind, Outbox, Policy, split_message
from bot.slack.pacing import UpdateBudget
from tests.fakes.slack_api import FakeSlackAPI

Z = ZWSP
COMMONMARK = MarkdownIt("commonmark").enable("strikethrough")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
BARE_URL = re.compile(r"(?:https?://|mailto:|www\.)\S+", re.IGNORECASE)
PINGS = ["<!channel>", "<!here>", "<!everyone>", "<@U123ABC>", "<#C1|x>", "<!subteam^S1|team>", "<!date^1|x>"]


def readings(text: str) -> Iterator[str]:
    """The text as written and as a reader that decodes HTML entities (once, twice, thrice) sees it."""
    yield text
    for _ in range(3):
        text = html.unescape(text)
        yield text


def assert_inert(out: str) -> None:
    """No reading of `out` holds a Slack token or a word-leading `@` without a zero-width space after it."""
    for reading in readings(out):
        assert not re.search(f"<(?!{Z})", reading), repr(reading)
        assert not re.search(f"(?<![^\\W_])@(?!{Z})", BARE_URL.sub("", reading)), repr(reading)
    assert not CONTROL.search(out)


def links(markdown: str) -> list[tuple[str, str]]:
    """(target, text) of every link and image a CommonMark reader finds; raw HTML fails the test."""
    found: list[tuple[str, str]] = []
    for token in COMMONMARK.parse(markdown):
        assert token.type != "html_block", markdown
        target: str | None = None
        text: list[str] = []
        for child in token.children or []:
            assert child.type != "html_inline", markdown
            if child.type == "link_open":
                target, text = str(child.attrGet("href")), []
            elif child.type == "link_close" and target is not None:
                found.append((target, "".join(text)))
                target = None
            elif child.type == "image":
                found.append((str(child.attrGet("src")), child.content))
            elif child.type in ("text", "code_inline"):
                text.append(child.content)
    return found


def host(url: str) -> str:
    if url.lower().startswith("mailto:"):
        return url[7:].rpartition("@")[2].lower()
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


def assert_links_honest(markdown: str) -> None:
    """Every link goes to http(s) or mailto, and a link whose text is an address goes to that address."""
    for target, text in links(markdown):
        assert re.match(r"(?:https?://|mailto:)", target, re.IGNORECASE), (target, text)
        shown = re.fullmatch(r"(?:[a-z]+://)?(?:[^\s/@]+@)?((?:[\w-]+\.)+[a-z]{2,})\S*", text.strip(), re.I)
        if shown:
            named = shown.group(1).lower().removeprefix("www.")
            assert host(target) == named or host(target).endswith("." + named), (target, text)


# ------------------------------------------------------------------------------------------------- pings


@pytest.mark.parametrize("raw", PINGS)
@pytest.mark.parametrize(
    "template",
    [
        "{}",
        "hi {} there",
        "# {}",
        "- {}",
        "> {}",
        "**{}**",
        "`{}`",
        "```\n{}\n```",
        "| {} | b |\n|--|--|\n| c | d |",
        "[{}](https://x.io)",
        "[t](https://x.io/{})",
        "[t](javascript:{})",
        "![{}](https://x.io)",
        "<https://x.io/{}>",
        "\\{}",
    ],
)
def test_slack_tokens_never_survive(raw: str, template: str) -> None:
    out = render(template.format(raw))
    assert raw not in out
    assert_inert(out)
    assert_links_honest(out)


def test_a_zero_width_space_follows_each_angle_bracket_and_nothing_else_changes() -> None:
    assert render("Hi <!here> and <@U999> &amp; <#C1|general> a<b") == (
        f"Hi <{Z}!here> and <{Z}@{Z}U999> &amp; <{Z}#C1|general> a<{Z}b"
    )


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("&lt;!here&gt;", f"&{Z}lt;!here&{Z}gt;"),
        ("&LT;!channel&GT;", f"&{Z}LT;!channel&{Z}GT;"),
        ("&#60;@U1&#62;", f"&{Z}#60;@{Z}U1&{Z}#62;"),
        ("&#x3C;!everyone&#x3e;", f"&{Z}#x3C;!everyone&{Z}#x3e;"),
        ("&#0060;!here", f"&{Z}#0060;!here"),
        ("&lt!here", f"&{Z}lt!here"),
        ("&amp;lt;!here&amp;gt;", f"&{Z}amp;lt;!here&{Z}amp;gt;"),
        ("&commat;here", f"&{Z}commat;here"),
        ("AT&T &amp; co &copy; &#169;", "AT&T &amp; co &copy; &#169;"),  # nothing that could make a token
    ],
)
def test_entities_that_decode_to_a_token_are_kept_from_decoding(typed: str, shown: str) -> None:
    assert render(typed) == shown
    assert_inert(render(typed))


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("ping @here now", f"ping @{Z}here now"),
        ("@channel", f"@{Z}channel"),
        ("**@everyone**", f"**@{Z}everyone**"),
        ("_@here_", f"_@{Z}here_"),
        ("@*here*", f"@{Z}*here*"),
        ("cc @jane", f"cc @{Z}jane"),
        ("mail jane@example.com", "mail jane@example.com"),
        ("see https://medium.com/@jane/post", "see https://medium.com/@jane/post"),
        ("[me](mailto:jane@example.com)", "[me](mailto:jane@example.com)"),
    ],
)
def test_word_leading_at_signs_cannot_mention(typed: str, shown: str) -> None:
    assert render(typed) == shown


def test_slack_link_syntax_cannot_disguise_a_link() -> None:
    out = render("Log in: <https://evil.example|https://bank.com>")
    assert out == f"Log in: <{Z}https://evil.example|https://bank.com>"
    assert links(out) == []


# ------------------------------------------------------------------------------------------------- links


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("[Docs](https://example.com/docs)", "[Docs](https://example.com/docs)"),
        ("see [**the** docs](https://x.io/a_b_c).", "see [**the** docs](https://x.io/a_b_c)."),
        ('[t](https://x.io "title")', "[t](https://x.io)"),
        ("[t](<https://x.io/a b>)", "[t](https://x.io/a%20b)"),
        ("[wiki](https://en.wikipedia.org/wiki/Foo_(bar))", "[wiki](https://en.wikipedia.org/wiki/Foo_%28bar%29)"),
        ("[a|b](https://x.io/p|q)", "[a|b](https://x.io/p%7Cq)"),
        ("[mail me](mailto:a@b.org)", "[mail me](mailto:a@b.org)"),
        ("[example.com](https://example.com/page)", "[example.com](https://example.com/page)"),
        ("[github.com](https://docs.github.com/x)", "[github.com](https://docs.github.com/x)"),
        ("![a chart](https://img.example/c.png)", "![a chart](https://img.example/c.png)"),
        ("[![badge](https://img/b.svg)](https://ci.io)", "[badge](https://ci.io)"),
        ("[](https://x.io)", "[](https://x.io)"),
    ],
)
def test_honest_links_stay_links(md: str, expected: str) -> None:
    assert render(md) == expected
    assert_links_honest(render(md))


def test_a_link_target_cannot_break_out_of_the_link() -> None:
    out = render("[x](https://x.io/<!here>&lt;!channel&gt;)")
    assert out == "[x](https://x.io/%3C!here%3E%26lt;!channel%26gt;)"
    assert_inert(out)


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("[evil.com](https://phish.net)", "evil.com (https://phish.net)"),
        ("[https://bank.com](https://phish.net/login)", "https://bank.com (https://phish.net/login)"),
        ("[www.google.com](http://g00gle.co)", "www.google.com (http://g00gle.co)"),
        ("[ceo@corp.com](mailto:thief@evil.org)", "ceo@corp.com (mailto:thief@evil.org)"),
        ("[paypal.com](https://paypal.com.evil.io)", "paypal.com (https://paypal.com.evil.io)"),
        ("[**bank.com**](https://evil.io)", "**bank.com** (https://evil.io)"),
        ("[_bank_.com](https://evil.io)", "_bank_.com (https://evil.io)"),
        (f"[bank{Z}.com](https://evil.io)", f"bank{Z}.com (https://evil.io)"),
        ("![bank.com](https://evil.io/x.png)", "bank.com (https://evil.io/x.png)"),
    ],
)
def test_disguised_links_show_their_real_target(md: str, expected: str) -> None:
    assert render(md) == expected
    assert_links_honest(render(md))


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("[click](javascript:alert(1))", "click (javascript:alert(1))"),
        ("[x](JavaScript:alert('<!here>'))", f"x (JavaScript:alert('<{Z}!here>'))"),
        ("[data](data:text/html;base64,AAA)", "data (data:text/html;base64,AAA)"),
        ("[file](ftp://host/f)", "file (ftp://host/f)"),
        ("[rel](/docs/page)", "rel (/docs/page)"),
        ("[no url]()", "no url"),
        ("<https://x.io/a>", "https://x.io/a"),
        ("<me@x.org>", "me@x.org"),
        ("<javascript:alert(1)>", f"<{Z}javascript:alert(1)>"),
    ],
)
def test_other_targets_are_not_links(md: str, expected: str) -> None:
    assert render(md) == expected
    assert links(render(md)) == []


@pytest.mark.parametrize(
    "md",
    [
        "[bank.com](https://evil.com/a((b)))",  # parentheses nested deeper than the checker reads
        "[[bank.com](https://evil.com)](https://bank.com)",
        "[bank.com][1]\n\n[1]: https://evil.com",
        "[bank.com]\n\n[bank.com]: https://evil.com",
        "> [bank.com][x]\n>\n> [x]: https://evil.com",
        "- [bank.com][x]\n- [x]: https://evil.com",
        "[bank.com](\nhttps://evil.com)",
        "[bank\n.com](https://evil.com)",
    ],
)
def test_links_the_checker_cannot_read_do_not_form(md: str) -> None:
    assert_links_honest(render(md))


# ------------------------------------------------------------------------------------------ what renders


def test_markdown_that_slack_renders_passes_through() -> None:
    md = (
        "# Plan\n\nWe **must** ship *soon*, __really__ _soon_, ~~maybe~~ ***now***.\n\n## Steps\n"
        "1. Write `code`\n2. Test\n   - unit\n\n> Note: see [docs](https://d.io).\n\nsnake_case_name 2*3*4"
    )
    assert render(md) == md


def test_non_latin_scripts_pass_through() -> None:
    md = "## 見出し\n\n**太字**と*斜体*。\n\nمرحبا **بالعالم**\n\nПривет, **мир** 👋🏽 e\u0301"  # noqa: RUF001
    assert render(md) == md


def test_fenced_code_is_kept_as_written_but_inert() -> None:
    md = "Before\n```python\ndef f(x):\n    return x**2 < 3 & __y__  # **not bold** <!here>\n```\nAfter *it*"
    assert render(md) == (
        f"Before\n```python\ndef f(x):\n    return x**2 <{Z} 3 & __y__  # **not bold** <{Z}!here>\n```\nAfter *it*"
    )


def test_code_fence_variants() -> None:
    assert render("~~~\n# not a heading\n~~~") == "~~~\n# not a heading\n~~~"
    assert render("````\n```\ninner\n```\n````") == "````\n```\ninner\n```\n````"
    assert render("- item\n  ```\n  code\n  ```") == "- item\n  ```\n  code\n  ```"
    long = "`" * 40
    assert render(f"{long}\n{'`' * 20}\n{long}") == f"{'`' * 16}\n`{Z}{'`' * 19}\n{'`' * 16}"
    assert render("```" + "x" * 100 + "\ncode") == "```" + "x" * 32 + "\ncode\n```"


def test_an_unclosed_fence_is_closed_so_a_reply_being_written_renders() -> None:
    assert render("Intro\n```python\nprint('half") == "Intro\n```python\nprint('half\n```"
    assert render("```\n") == "```\n```"


def test_inline_code_keeps_its_text() -> None:
    assert render("use `**kw** <!here> & [a](https://x.io)` here") == (
        f"use `**kw** <{Z}!here> & [a](https://x.io)` here"
    )


def test_tables_become_aligned_code_blocks() -> None:
    md = "| Name | Age |\n|:-----|----:|\n| **Alice** | 30 |\n| Bob & co | 4 |\n| 李 <@U1> | 5 |\n\nafter"
    assert render(md) == (
        f"```\nName     | Age\n---------|----\nAlice    |  30\nBob & co |   4\n李 <{Z}@{Z}U1> |   5\n```\n\nafter"
    )
    assert render("| x | y |\n| 1 | [l](https://z.io) |") == "```\nx | y\n1 | l (https://z.io)\n```"
    assert render("a | b") == "a | b"


def test_rules_and_task_lists_the_block_does_not_render() -> None:
    assert render("above\n\n---\n\n* * *\n\nbelow") == f"above\n\n{RULE}\n\n{RULE}\n\nbelow"
    assert render("- [ ] todo\n- [x] done\n1. [X] first") == "- ☐ todo\n- ☑ done\n1. ☑ first"


def test_control_characters_go() -> None:
    assert render("Hi\x00 *there*\x1b[31m\r\nnext\x9b") == "Hi *there*[31m\nnext"


MD_TOKENS = st.sampled_from(
    [
        "*", "**", "_", "__", "~~", "`", "```", "~~~", "#", "# ", "- ", "> ", "1. ", "|", "---", "\n", "\n\n",
        " ", "[", "]", "(", ")", "![", "](", "]:", "[1]", "https://", "http://x.io", "bank.com", "javascript:",
        "mailto:", "<", ">", "<!", "<@", "<#", "<!channel>", "<!here>", "<@U123ABC>", "<#C1|x>", "&", "&amp;",
        "&lt;", "&#60;", "&#x3c;", "&commat;", "@", "@here", "a@b.org", "\\", "word", "é", "中文", "\u0301", Z,
        "|--|--|", "\t", "\x00", "\x1b",
    ]
)  # fmt: skip
MARKDOWNISH = st.one_of(st.text(max_size=200), st.lists(MD_TOKENS, max_size=60).map("".join))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MARKDOWNISH)
def test_property_any_text_renders_inert_and_honest(md: str) -> None:
    out = render(md)
    assert_inert(out)
    assert_links_honest(out)
    assert render(out) == out


# -------------------------------------------------------------------------------------------- splitting


def squash(text: str) -> str:
    """The text without what a split may add, drop or move: whitespace, fence lines (a line of backticks
    followed by another backtick is text, not a fence), zero-width spaces."""
    kept = [line for line in text.split("\n") if not (_opens(line) or re.fullmatch(r"\s*(`{3,}|~{3,})\s*", line))]
    return re.sub(rf"[\s`~{Z}]", "", "\n".join(kept))


def test_short_text_is_one_chunk_and_nothing_is_none() -> None:
    assert split_markdown("hello") == ["hello"]
    assert split_markdown("") == [] and split_markdown(" \n\n ") == []
    with pytest.raises(ValueError):
        split_markdown("abc", 10)


def test_splits_at_paragraphs_then_lines_then_words() -> None:
    paragraphs = "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(6))
    chunks = split_markdown(paragraphs, 400)
    assert all(len(c) <= 400 and c.startswith("Paragraph ") for c in chunks)
    lines = "\n".join(f"- item {i} " + "word " * 10 for i in range(30))
    assert all(c.startswith("- item ") for c in split_markdown(lines, 400))
    words = "word " * 300
    chunks = split_markdown(words, 400)
    assert all(len(c) <= 400 for c in chunks) and " ".join(chunks).split() == words.split()


def test_a_code_block_that_fits_a_chunk_is_never_split() -> None:
    code = "```python\n" + "\n".join(f"line_{i} = {i}" for i in range(20)) + "\n```"
    text = "Intro " + "word " * 40 + "\n\n" + code + "\n\nOutro"
    chunks = split_markdown(text, 320)
    assert any(code in chunk for chunk in chunks)
    assert all(len(c) <= 320 for c in chunks)


def test_a_code_block_too_long_for_a_chunk_is_closed_and_reopened() -> None:
    code = "\n".join(f"line {i}" for i in range(60))
    chunks = split_markdown(f"Intro\n~~~python\n{code}\n~~~\nOutro", 120)
    assert len(chunks) > 3 and all(len(c) <= 120 for c in chunks)
    for chunk in chunks:
        assert _scan(chunk)[2] is None, chunk  # every chunk's fences are closed
    assert all(c.startswith("~~~\n") for c in chunks[1:-1])
    assert re.findall(r"line \d+", "\n".join(chunks)) == [f"line {i}" for i in range(60)]
    assert chunks[-1].endswith("Outro") and not any("~~~\n~~~" in chunk for chunk in chunks)


def test_a_line_longer_than_a_chunk_is_cut_between_words() -> None:
    line = " ".join(f"w{i}" for i in range(400))
    chunks = split_markdown("```\n" + line + "\n```", 200)
    assert all(len(c) <= 200 and c.startswith("```\n") and c.endswith("\n```") for c in chunks)
    assert " ".join(c[4:-4] for c in chunks).split() == line.split()


def test_a_cut_never_separates_a_character_from_its_marks() -> None:
    text = "e\u0301" * 200
    chunks = split_markdown(text, 100)
    assert "".join(chunks) == text and all(not c.startswith("\u0301") for c in chunks)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MARKDOWNISH, st.integers(min_value=64, max_value=600))
def test_property_split_keeps_everything_within_the_limit(md: str, limit: int) -> None:
    text = render(md)
    chunks = split_markdown(text, limit)
    assert all(0 < len(chunk) <= limit for chunk in chunks)
    assert all(_scan(chunk)[2] is None for chunk in chunks)
    assert squash("\n".join(chunks)) == squash(text)
    for chunk in chunks:
        assert_inert(chunk)


def test_halve_cuts_near_the_middle() -> None:
    text = "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(10))
    first, second = halve(text) or ("", "")
    assert abs(len(first) - len(second)) < 400 and second.startswith("Paragraph ")
    assert squash(first + second) == squash(text)
    assert halve("too short") is None


# ---------------------------------------------------------------------------------- Slack and the outbox

CHANNEL = "C0001"


def markdown_message(text: str) -> dict[str, Any]:
    title = {"type": "section", "text": {"type": "mrkdwn", "text": "*1. Formal*"}}
    buttons = {"type": "actions", "elements": [{"type": "button", "action_id": "vote_up", "value": "1"}]}
    return {"text": "t", "blocks": [title, {"type": "markdown", "text": text}, buttons]}


def test_the_fake_refuses_what_slack_refuses(slack: FakeSlackAPI) -> None:
    client = WebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[])
    assert client.chat_postMessage(channel=CHANNEL, **markdown_message("x" * MARKDOWN_LIMIT))["ok"]
    over = {"type": "markdown", "text": "y" * 6001}
    for blocks, error in [
        ([{"type": "markdown", "text": "x" * 6000}, over], "msg_blocks_too_long"),  # cumulative
        ([{"type": "markdown", "text": ""}], "invalid_blocks"),
        ([{"type": "divider"}] * 51, "invalid_blocks"),
    ]:
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel=CHANNEL, text="t", blocks=blocks)
        assert refused.value.response["error"] == error
    view = {"type": "home", "blocks": [{"type": "markdown", "text": "**hi**"}]}
    with pytest.raises(SlackApiError):  # markdown blocks are for messages
        client.views_publish(user_id="U1", view=view)


def test_split_message_halves_a_lone_markdown_block() -> None:
    text = "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(10))
    first, second = split_message(markdown_message(text)) or []  # the title apart first
    assert [b["type"] for b in first["blocks"]] == ["section"]
    first, second = split_message(second) or []
    assert [b["type"] for b in first["blocks"]] == ["markdown"]
    assert [b["type"] for b in second["blocks"]] == ["markdown", "actions"]
    assert squash(first["blocks"][0]["text"] + second["blocks"][0]["text"]) == squash(text)


@pytest.fixture
def outbox(slack: FakeSlackAPI) -> Iterator[Outbox]:
    client = WebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[])
    budget = UpdateBudget(interval=0.1, per_minute=6000, burst=100)
    box = Outbox(one_workspace(client), budget, policy=Policy(deadline=1.0, post_deadline=2.0, backoff=0.02))
    yield box
    box.close()


def test_a_message_over_slacks_markdown_limit_is_continued(slack: FakeSlackAPI, outbox: Outbox) -> None:
    """A final state the builders did not fit (Slack's own count may differ) goes on in the next message."""
    client = WebClient(token="xoxb-test", base_url=slack.url)
    parent = str(client.chat_postMessage(channel=CHANNEL, text="parent")["ts"])
    ts = str(client.chat_postMessage(channel=CHANNEL, thread_ts=parent, text="Writing…")["ts"])
    text = "\n\n".join(f"Paragraph {i} " + "word " * 150 for i in range(24))  # ~18,000 characters
    moved: list[str] = []
    outbox.update(
        CHANNEL, ts, lambda: [markdown_message(text)], kind=Kind.FINAL, thread_ts=parent, on_moved=moved.append
    )
    assert outbox.wait([ts], timeout=5)
    thread = slack.thread(CHANNEL, parent)
    assert [m["ts"] for m in thread][:1] == [ts] and thread[-1]["ts"] == moved[0] and len(thread) == 3
    assert all(len(b["text"]) <= MARKDOWN_LIMIT for m in thread for b in m["blocks"] if b["type"] == "markdown")
    shown = [b["text"] for m in thread for b in m["blocks"] if b["type"] == "markdown"]
    assert squash("".join(shown)) == squash(text)
    assert thread[-1]["blocks"][-1]["type"] == "actions"


def test_a_long_line_that_only_looks_like_a_fence_keeps_all_its_text() -> None:
    """Three backticks, then text with a backtick in it: not a fence, but its first part once cut would open
    one, and a chunk of nothing but a fence opener shows nothing (found by the property below)."""
    text = render("```" + "0" * 57 + "<<`")
    chunks = split_markdown(text, 64)
    assert len(chunks) == 2 and all(len(chunk) <= 64 and not _opens(chunk) for chunk in chunks)
    assert squash("\n".join(chunks)) == squash(text) == "0" * 57 + "<<"
