"""Block Kit builders are pure: check the dicts Slack will receive."""

from __future__ import annotations

from bot.render.help import help_message
from bot.render.kit import MARKDOWN_LIMIT
from bot.render.run_messages import Progress, analysis_message, leader_line, parent_message, status_line
from bot.render.variation_messages import (
    failed_variation_message,
    stored_variation_messages,
    variation_messages,
    vote_buttons,
    writing_message,
)
from bot.store.rows import RunStatus, Tally, VariationRow, VariationStatus
from orchestrator.parsing import Approach

FORMAL = Approach("formal", "Be <precise>")


def markdown_texts(message: dict) -> list[str]:
    """The texts of a message's markdown blocks: the model's Markdown as Slack receives it."""
    return [b["text"] for b in message["blocks"] if b["type"] == "markdown"]


def test_vote_buttons_carry_the_variation_and_counts() -> None:
    block = vote_buttons(42, 3, 1)
    assert block["block_id"] == "votes-42"
    assert [(e["action_id"], e["value"], e["text"]["text"]) for e in block["elements"]] == [
        ("vote_up", "42", "👍 3"),
        ("vote_down", "42", "👎 1"),
        ("regenerate", "42", "♻️ New version"),
    ]


def test_variation_message_has_title_text_buttons_and_footnote() -> None:
    [message] = variation_messages(7, 0, FORMAL, "# Hello\nSome **bold** text", up=2, footnote="m · 1.0s")
    assert [b["type"] for b in message["blocks"]] == ["section", "markdown", "actions", "context"]
    assert message["blocks"][0]["text"]["text"] == "*1. Formal*: _Be &lt;precise&gt;_"
    assert markdown_texts(message) == ["# Hello\nSome **bold** text"]  # Slack renders the Markdown itself
    assert message["blocks"][-1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "m · 1.0s"}]}
    assert message["text"] == "formal: Hello Some bold text"  # notifications show plain words


def test_long_variation_becomes_several_messages_with_buttons_on_the_last() -> None:
    text = "\n\n".join(f"Paragraph {i} " + "lorem " * 400 for i in range(20))  # ~48,000 characters
    messages = variation_messages(1, 2, FORMAL, text)
    assert len(messages) == 5
    for number, message in enumerate(messages, start=1):
        assert len(message["blocks"]) <= 50
        assert f"({number} of {len(messages)})" in message["blocks"][0]["text"]["text"]
        assert sum(len(t) for t in markdown_texts(message)) <= MARKDOWN_LIMIT
        assert ("actions" in [b["type"] for b in message["blocks"]]) == (number == len(messages))
    shown = [t for m in messages for t in markdown_texts(m)]
    assert " ".join(shown).split() == text.split()
    assert all(t.startswith("Paragraph ") for t in shown)  # split between paragraphs, not inside one


def test_stored_row_renders_like_the_original() -> None:
    row = VariationRow(
        id=5,
        run_id=1,
        position=1,
        type="formal",
        status=VariationStatus.DONE,
        created_at="2026-01-01T00:00:00",
        description="Be <precise>",
        text="Hi",
        model="work-model",
        seconds=2.25,
        input_tokens=100,
        output_tokens=1200,
        stop_reason="max_tokens",
    )
    [message] = stored_variation_messages(row, Tally(up=1, down=0))
    footnote = message["blocks"][-1]["elements"][0]["text"]
    assert footnote == "work-model · 2.2s · 1,300 tokens · stopped at the length limit"
    assert message["blocks"][-2] == vote_buttons(5, 1, 0)


def test_parent_message_quotes_the_task_escaped_with_context_and_status() -> None:
    message = parent_message("U1", "Tell <!channel>\nabout it", {"audience": "a & b"}, Progress(RunStatus.PLANNING))
    texts = [b.get("text", {}).get("text") or b["elements"][0]["text"] for b in message["blocks"]]
    assert texts == [
        "<@U1> asked for variations:",
        "> Tell &lt;!channel&gt;\n> about it",
        "*audience:* a &amp; b",
        "⏳ Planning approaches…",
    ]
    assert message["text"] == "Variations: Tell &lt;!channel&gt; about it"


def test_status_lines() -> None:
    assert status_line(Progress(RunStatus.RUNNING, total=3, finished=1, seconds=2.0)) == (
        "✍️ Writing 3 approaches: 1 of 3 done · 2.0s"
    )
    assert status_line(Progress(RunStatus.DONE, total=3, finished=3, seconds=12.34, tokens=5432)) == (
        "✅ Done: 3 variations · 12.3s · 5,432 tokens"
    )
    assert status_line(Progress(RunStatus.PARTIAL, total=3, finished=3, failed=1)) == (
        "⚠️ Done: 2 of 3 variations written, 1 failed"
    )
    assert status_line(Progress(RunStatus.FAILED, total=3, finished=3, failed=3)) == "⚠️ All 3 approaches failed"
    assert status_line(Progress(RunStatus.FAILED, error="no <plan>")) == "⚠️ Failed: no &lt;plan&gt;"
    assert status_line(Progress(RunStatus.DONE, total=3, finished=3, unshown=2)) == (
        "⚠️ Done: 3 of 3 variations written, but only 1 could be shown here: Slack refused the others "
        "(their text is saved)"
    )
    assert status_line(Progress(RunStatus.INTERRUPTED, total=3, failed=1)) == (
        "⚠️ Interrupted by a restart: 2 of 3 variations written"
    )


def test_analysis_lists_the_approaches_once_known() -> None:
    message = analysis_message("**Why**: readers differ", [FORMAL, Approach("fun", "Be fun")])
    texts = [b["text"] if b["type"] == "markdown" else b["text"]["text"] for b in message["blocks"]]
    assert texts == [
        "🧭 *How I'll approach this*",
        "**Why**: readers differ",
        "*1. Formal*: Be &lt;precise&gt;\n*2. Fun*: Be fun",
    ]


def test_analysis_of_a_plan_that_broke_off_says_so() -> None:
    message = analysis_message("Readers differ", [FORMAL], cut_short=True)
    assert message["blocks"][-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "⚠️ The plan broke off after 1 approach: these are the ones it named."}],
    }
    assert "broke off" not in str(analysis_message("Readers differ", [FORMAL]))


def test_failed_variation_has_reason_and_no_buttons() -> None:
    message = failed_variation_message(0, FORMAL, "The API said <no>")
    assert [b["type"] for b in message["blocks"]] == ["section", "section"]
    assert message["blocks"][1]["text"]["text"] == "⚠️ This approach failed: The API said &lt;no&gt;"


def test_help_leads_with_the_problem() -> None:
    message = help_message("Too <long>")
    assert message["blocks"][0]["text"]["text"] == "⚠️ Too &lt;long&gt;"
    assert "/variations Write a product description" in message["blocks"][1]["text"]["text"]


def test_a_variation_being_written_shows_its_text_so_far_in_one_message() -> None:
    message = writing_message(0, FORMAL, "## Plan\n```python\nprint('half")  # an unclosed fence, mid-stream
    assert [b["type"] for b in message["blocks"]] == ["section", "markdown", "context"]
    assert markdown_texts(message) == ["## Plan\n```python\nprint('half\n```"]  # closed, the rest renders
    assert message["blocks"][-1]["elements"][0]["text"] == "✍️ Writing…"
    assert [b["type"] for b in writing_message(0, FORMAL)["blocks"]] == ["section", "context"]  # no text yet


def test_a_long_text_being_written_shows_one_messages_worth_and_says_there_is_more() -> None:
    text = "\n\n".join(f"Paragraph {i} " + "lorem " * 400 for i in range(20))
    for message in (writing_message(0, FORMAL, text), analysis_message(text, writing=True)):
        [shown] = markdown_texts(message)
        assert len(shown) <= MARKDOWN_LIMIT and shown.startswith("Paragraph 0 ") and shown.endswith("\n\n…")


def test_a_finished_analysis_keeps_all_of_its_text() -> None:
    """Over one message's worth, the outbox continues it in the next message (see test_markdown)."""
    text = "\n\n".join(f"Paragraph {i} " + "lorem " * 400 for i in range(8))
    shown = markdown_texts(analysis_message(text))
    assert len(shown) == 2 and all(len(t) <= MARKDOWN_LIMIT for t in shown)
    assert " ".join(shown).split() == text.split()


def _rows(*kinds: str) -> list[VariationRow]:
    return [
        VariationRow(i + 1, 1, i, kind, VariationStatus.DONE, "2026-01-01T00:00:00") for i, kind in enumerate(kinds)
    ]


def test_the_leader_is_named_only_when_likely_enough_the_best() -> None:
    rows = _rows("technical", "lifestyle", "practical")
    assert leader_line(rows, {}) is None
    assert leader_line(rows, {3: Tally(up=1)}) == (
        "🗳️ 1 vote on 1 variation · too close to call: best so far *3. Practical*, 67% likely the best"
    )
    # 3 👍 against 2 👎 and nothing else: a leader, and once closed the winner.
    assert leader_line(rows, {1: Tally(up=3), 2: Tally(down=2)}) == (
        "🏆 Leading: *1. Technical*, 3 👍 0 👎, 79% likely the best · 5 votes on 2 variations"
    )
    assert leader_line(rows, {1: Tally(up=3), 2: Tally(down=2)}, closed=True) == (
        "🏆 Winner: *1. Technical*, 3 👍 0 👎, 79% likely the best · 5 votes on 2 variations"
    )
    # Two alike are too close to call, open or closed.
    assert leader_line(rows, {1: Tally(up=4, down=1), 2: Tally(up=4, down=1), 3: Tally(down=2)}) == (
        "🗳️ 12 votes on 3 variations · too close to call: best so far *1. Technical*, 49% likely the best"
    )
    assert leader_line(rows, {1: Tally(up=1), 2: Tally(up=1)}, closed=True) == (
        "🔒 No winner: too close to call (best: *1. Technical*, 40% likely the best) · 2 votes on 2 variations"
    )
    assert leader_line(rows, {}, closed=True) == "🔒 No winner: nobody voted"
