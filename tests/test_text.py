"""Tests for bot.render.mrkdwn: escaping for Slack mrkdwn, and splitting to Slack's length limits. (Model Markdown
goes in markdown blocks: tests/test_markdown.py.)"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render.mrkdwn import SECTION_LIMIT, clean, escape, plain_words, split_text, truncate_plain

ENTITY_TAIL = re.compile(r"&[#\w]*$")
ENTITY_HEAD = re.compile(r"^[#\w]*;")


# ------------------------------------------------------------------------------------------------ escape


def test_escape_the_three_control_characters() -> None:
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"


@pytest.mark.parametrize(
    "raw",
    ["<!channel>", "<!here>", "<!everyone>", "<@U123ABC>", "<#C1|x>", "<!subteam^S1|team>", "<http://x|y>"],
)
def test_escape_neutralizes_mentions_and_links(raw: str) -> None:
    out = escape(raw)
    assert "<" not in out and ">" not in out
    assert out.startswith("&lt;") and out.endswith("&gt;")


def test_escape_ampersand_first_so_entities_are_not_double_escaped() -> None:
    assert escape("<") == "&lt;"  # not "&amp;lt;"
    assert escape("&lt;") == "&amp;lt;"  # a typed entity is shown literally


# ------------------------------------------------------------------------------------- control characters

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_clean_drops_control_characters_but_keeps_tabs_and_newlines() -> None:
    assert clean("a\x00b\x1b[31mc\x07\x7f\x85\x9b1m\td\ne") == "ab[31mc1m\td\ne"
    assert clean("one\r\ntwo\rthree") == "one\ntwo\nthree"
    assert clean("é 中 😀 \u200b") == "é 中 😀 \u200b"  # only controls go


def test_every_way_text_reaches_slack_cleans_it() -> None:
    text = "**bold**\x00 and `co\x1bde`\n\n```\nblock\x07\n```\n| a\x00 | b |\n|---|---|\n| 1 | 2\x9b |"
    for out in (escape(text), truncate_plain(text, 20), *split_text(escape(text), 50)):
        assert not CONTROL.search(out), repr(out)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_property_no_control_character_survives(text: str) -> None:
    for out in (escape(text), truncate_plain(text, 50)):
        assert not CONTROL.search(out)


# ----------------------------------------------------------------------------------------------- split_text


def test_split_short_text_is_one_chunk() -> None:
    assert split_text("hello") == ["hello"]
    assert split_text("  hello \n") == ["hello"]


def test_split_empty_is_empty_list() -> None:
    assert split_text("") == []
    assert split_text(" \n\n ") == []


def test_split_default_limit_is_slack_section_limit() -> None:
    chunks = split_text("word " * 2000)
    assert SECTION_LIMIT == 3000
    assert all(len(c) <= 3000 for c in chunks)
    assert len(chunks) == 4


def test_split_rejects_tiny_limit() -> None:
    with pytest.raises(ValueError):
        split_text("abc", 5)


def test_split_prefers_paragraph_then_line_then_space() -> None:
    para = "aaaa bbbb\ncccc dddd\n\neeee ffff\ngggg"
    assert split_text(para, 30) == ["aaaa bbbb\ncccc dddd", "eeee ffff\ngggg"]
    lines = "aaaa bbbb cccc dd\neeee ffff gggg"
    assert split_text(lines, 30) == ["aaaa bbbb cccc dd", "eeee ffff gggg"]
    words = "aaaa bbbb cccc dddd eeee ffff gggg"
    assert split_text(words, 20) == ["aaaa bbbb cccc dddd", "eeee ffff gggg"]


def test_split_skips_breaks_that_would_leave_a_tiny_chunk() -> None:
    # A line break in the first half of the window loses to a later space: fewer, fuller chunks.
    text = "aa\nbbbb cccc dddd eeee ffff gggg hhhh"
    assert split_text(text, 30) == ["aa\nbbbb cccc dddd eeee ffff", "gggg hhhh"]


def test_split_mid_word_only_as_last_resort() -> None:
    assert split_text("x" * 45, 20) == ["x" * 20, "x" * 20, "x" * 5]


def test_split_never_inside_entity() -> None:
    text = "ab" + "&amp;" * 10
    chunks = split_text(text, 20)
    assert "".join(chunks) == text
    for chunk in chunks:
        assert not ENTITY_TAIL.search(chunk)
        assert not ENTITY_HEAD.search(chunk)


def test_split_never_inside_link() -> None:
    link = "<https://example.com/page|a link with spaces>"
    text = f"intro words {link} outro words"
    chunks = split_text(text, 50)
    assert link in chunks or any(link in c for c in chunks)
    assert " ".join(chunks) == text


def test_split_reopens_code_fence() -> None:
    code = "\n".join(f"line {i}" for i in range(12))
    text = f"Intro\n```\n{code}\n```\nOutro"
    chunks = split_text(text, 40)
    assert all(len(c) <= 40 for c in chunks)
    for chunk in chunks:
        assert chunk.count("```") % 2 == 0, chunk
    assert chunks[1].startswith("```\n")
    body = "\n".join(c for c in chunks)
    assert [f"line {i}" for i in range(12)] == re.findall(r"line \d+", body)
    assert chunks[-1].endswith("Outro")


def test_split_does_not_end_chunk_with_empty_opening_fence() -> None:
    text = "a" * 30 + "\n```\n" + "b" * 10 + "\n```"
    chunks = split_text(text, 36)
    assert chunks[0] == "a" * 30
    assert chunks[1] == "```\n" + "b" * 10 + "\n```"


def test_split_of_escaped_text() -> None:
    text = escape("\n\n".join(f"Part {i}\n" + "Some <b> words & more. " * 30 for i in range(5)))
    chunks = split_text(text, 500)
    assert all(len(c) <= 500 for c in chunks)
    assert "".join(chunks).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


# ------------------------------------------------------------------------------------------- truncate_plain


def test_truncate_keeps_short_text() -> None:
    assert truncate_plain("short", 10) == "short"
    assert truncate_plain("exactly10!", 10) == "exactly10!"


def test_truncate_cuts_with_ellipsis_at_word_boundary() -> None:
    out = truncate_plain("Hello world this is a long summary", 20)
    assert out == "Hello world this is…"
    assert len(out) <= 20


def test_truncate_mid_word_when_no_space() -> None:
    assert truncate_plain("abcdefghij", 5) == "abcd…"


def test_truncate_never_inside_entity() -> None:
    out = truncate_plain("x &amp;&amp;&amp;", 8)
    assert out == "x &amp;…"
    assert truncate_plain("&lt;&lt;&lt;", 6) == "&lt;…"


def test_truncate_collapses_whitespace() -> None:
    assert truncate_plain("a\n\nb   c", 10) == "a b c"


def test_truncate_tiny_limits() -> None:
    assert truncate_plain("abc", 1) == "…"
    assert truncate_plain("abc", 0) == ""


# ---------------------------------------------------------------------------------------------- properties

SPLIT_TOKENS = st.sampled_from(
    [
        "word", "longerword", "x" * 70, " ", " ", "  ", "\n", "\n\n", "&amp;", "&lt;", "&gt;", "&#x1F600;",
        "```", "\n```\n", "`code`", "<https://example.com/some/path|label text>", "<https://x.io>",
        "<mailto:a@b.org|mail>", "é", "e\u0301", "中", ">", "• ",
    ]
)  # fmt: skip
MRKDWNISH = st.lists(SPLIT_TOKENS, max_size=150).map("".join)


def _squash(text: str) -> str:
    return re.sub(r"[\s`]", "", text)


@settings(max_examples=300, deadline=None)
@given(MRKDWNISH, st.integers(min_value=50, max_value=3000))
def test_property_split_chunks_within_limit(text: str, limit: int) -> None:
    for chunk in split_text(text, limit):
        assert 0 < len(chunk) <= limit
        assert chunk == chunk.rstrip()
        assert not chunk.startswith("\n")


@settings(max_examples=300, deadline=None)
@given(MRKDWNISH, st.integers(min_value=50, max_value=400))
def test_property_split_keeps_every_character_in_order(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert _squash("".join(chunks)) == _squash(text)
    if "`" not in text:
        # Nothing added: the chunks are the text with whitespace at the break points dropped.
        assert "".join(c.replace(" ", "").replace("\n", "") for c in chunks) == re.sub(r"[ \n]", "", text)
        for chunk in chunks:
            assert chunk in text


@settings(max_examples=300, deadline=None)
@given(MRKDWNISH, st.integers(min_value=50, max_value=400))
def test_property_no_chunk_ends_or_starts_inside_an_entity_or_link(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    for chunk in chunks:
        assert not ENTITY_TAIL.search(chunk)
        assert not ENTITY_HEAD.search(chunk)
        # Links in the generated text are shorter than any limit, so none may be cut. Inside a code block
        # Slack shows `<url|text>` literally, and a block's reopened fences may leave no room: exempt.
        outside_code = re.sub(r"```.*?(?:```|$)", "", chunk, flags=re.S)
        for piece in re.findall(r"<[^<>]*$", outside_code):
            assert not piece.startswith(("<https", "<mailto")), chunk


@settings(max_examples=200, deadline=None)
@given(MRKDWNISH, st.integers(min_value=50, max_value=400))
def test_property_split_balances_code_fences(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    if text.count("```") % 2 == 0:
        for chunk in chunks:
            assert chunk.count("```") % 2 == 0, chunks


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120).map(escape), st.integers(min_value=0, max_value=100))
def test_property_truncate_plain(text: str, limit: int) -> None:
    out = truncate_plain(text, limit)
    assert len(out) <= max(limit, 0)
    assert not ENTITY_TAIL.search(out.removesuffix("…"))
    if out.endswith("…") and out != " ".join(text.split()):
        assert " ".join(text.split()).startswith(out[:-1].rstrip())


def test_a_link_inside_a_code_block_may_be_cut_when_the_fences_leave_no_room() -> None:
    # Found by hypothesis: 43-character "link" + fences + indent > 50. In code, Slack shows it literally.
    chunks = split_text("\n```\n <https://example.com/some/path|label text>word", 50)
    assert all(len(chunk) <= 50 for chunk in chunks)
    assert "".join(chunks).replace("```", "").split() == ["<https://example.com/some/path|label", "text", ">word"]


def test_split_never_yields_empty_chunks_around_an_indented_fence() -> None:
    # Found by hypothesis: an indented fence at a chunk's start used to produce "" and an empty block.
    chunks = split_text("word\n ``` " + "x" * 70, 50)
    assert all(chunk.strip() and chunk.strip() != "```\n```" for chunk in chunks)
    assert "".join(chunks).count("x") == 70


def test_a_link_stays_whole_inside_what_looks_like_a_long_code_span() -> None:
    # Found by hypothesis: "``" opened a code span reaching past the link, so the link was cut.
    chunks = split_text("`code``code`longerword<https://example.com/some/path|label text>`code`", 50)
    assert any("<https://example.com/some/path|label text>" in chunk for chunk in chunks)


def test_plain_words_are_what_a_notification_shows_of_markdown() -> None:
    markdown = (
        "# Cold all day\n\n**Stay** cold, _always_ — see [our site](https://x.io).\n\n"
        "| Size | Price |\n|---|:--:|\n| 750 ml | $30 |\n\n```py\nx = a*b\n```\n---\n> quote *it* snake_case 2*3"
    )
    assert plain_words(markdown) == (
        "Cold all day Stay cold, always — see our site. Size · Price 750 ml · $30 x = a*b quote it snake_case 2*3"
    )
