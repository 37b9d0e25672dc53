"""Slack's native streaming, the second delivery path (bot/slack/streams.py): variations in DMs grow in place
and end with their vote buttons; whatever Slack refuses, every run still ends visibly, buttons included."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, Settings
from bot.render.growing import without_open_emphasis
from bot.render.markdown import render
from bot.slack.streams import closing_blocks, heading, settled
from bot.store.rows import VariationRow, VariationStatus
from orchestrator.parsing import Approach
from tests.fakes.anthropic_api import FakeAnthropicAPI, FakeReply
from tests.fakes.slack_api import FakeSlackAPI
from tests.helpers import CHANNEL, TEAM, USER, Bot, buttons, start_bot, texts
from tests.scripted import Script, plan_reply

DM = "D0001"
WORDS = " ".join(f"word{i}" for i in range(300))  # ~2,700 characters
VOTES = {"vote_up": "👍 0", "vote_down": "👎 0", "regenerate": "♻️ New version"}


def slowly(text: str) -> FakeReply:
    """A worker reply that streams for a moment (about 0.7 s for WORDS), in small pieces."""
    return FakeReply(f"<response>{text}</response>", tokens_per_second=1000, chunk_chars=20)


def seen(message: dict[str, Any]) -> str:
    """All a person reads in a message: streamed Markdown, then the texts of its blocks."""
    return message["text"] + "\n" + texts(message)


def written(bot: Bot, count: int = 3, run_id: int = 1) -> list[tuple[VariationRow, dict[str, Any]]]:
    """The run's variations once each shows its final state (buttons, no stream left open), in order."""
    run = bot.wait_run(run_id)

    def shown() -> list[tuple[VariationRow, dict[str, Any]]] | None:
        rows = bot.store.variations(run.id)
        if len(rows) < count or not all(r.message_ts for r in rows):
            return None
        messages = [bot.slack.message(run.channel_id, str(r.message_ts)) for r in rows]
        if any(m["streaming"] or not buttons(m) for m in messages):
            return None
        return list(zip(rows, messages, strict=True))

    return bot.slack.wait_for(shown)


def open_streams(slack: FakeSlackAPI) -> list[str]:
    return [m["ts"] for m in slack.messages() if m["streaming"]]


def test_variations_in_a_dm_stream_in_place_and_end_with_their_buttons(bot: Bot) -> None:
    bot.claude.responder = Script(worker=lambda kind: slowly(WORDS))
    assert bot.command("Write a tagline", channel_id=DM)[0] == 200
    variations = written(bot)
    parent = bot.slack.message(DM, bot.store.run(1).message_ts or "")
    for position, (row, message) in enumerate(variations):
        assert message["thread_ts"] == parent["ts"]
        assert message["text"].startswith(f"**{position + 1}. {row.type.title()}**: _")
        assert message["text"].endswith(WORDS)  # the whole text, streamed, rendered as Markdown
        assert buttons(message) == VOTES and "work-model" in texts(message)
        calls = [c for c in bot.slack.calls() if c.params.get("ts") == row.message_ts]
        appends = [c.params["markdown_text"] for c in calls if c.method == "chat.appendStream"]
        assert len(appends) >= 2  # it grew while it was written, each piece only what was new
        assert [c.method for c in calls if c.method != "chat.appendStream"] == ["chat.stopStream"]
        assert message["text"].endswith("".join(appends) + (calls[-1].params.get("markdown_text") or ""))
    assert len(bot.slack.calls("chat.startStream")) == 3
    # The thread reads in approach order, and the parent says it is done.
    assert [r.message_ts for r, _ in variations] == sorted(str(r.message_ts) for r, _ in variations)
    assert bot.slack.wait_for(lambda: "✅ Done: 3 variations" in texts(bot.slack.message(DM, parent["ts"])))


def test_a_vote_on_a_streamed_variation_is_stored_and_counted(bot: Bot) -> None:
    bot.command("Write a tagline", channel_id=DM)
    (row, _), *_ = written(bot)
    assert bot.click(row.id, "up")[0] == 200
    assert [(r["user_id"], r["value"]) for r in bot.store.db["feedback"].rows] == [(USER, "up")]
    message = bot.slack.wait_for(
        lambda: (m := bot.slack.message(DM, str(row.message_ts))) and buttons(m)["vote_up"] == "👍 1" and m
    )
    assert "The **technical** version." in texts(message)  # rewritten from the database, text and all


def test_channels_keep_rewriting_unless_streaming_is_turned_on(
    slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path
) -> None:
    with start_bot(slack, claude, tmp_path / "a.db") as bot:
        bot.command("Write a tagline")
        written(bot)
        assert not slack.calls("chat.startStream")
    with start_bot(slack, claude, tmp_path / "b.db", {"VARIATIONS_STREAM_CHANNELS": "on"}) as bot:
        bot.command("Write a tagline")
        variations = written(bot)
        starts = slack.calls("chat.startStream")
        assert len(starts) == 3
        assert all((c.params["recipient_team_id"], c.params["recipient_user_id"]) == (TEAM, USER) for c in starts)
        assert all(m["channel"] == CHANNEL and buttons(m) == VOTES for _, m in variations)
    assert not slack.errors and not claude.errors


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 429, "retry_after": 30},
        {"error": "internal_error"},  # ok: false
        {"error": "message_not_in_streaming_state"},
    ],
)
def test_a_stop_slack_refuses_still_ends_with_the_text_and_buttons(bot: Bot, fault: dict[str, Any]) -> None:
    bot.slack.fail_next("chat.stopStream", times=3, **fault)
    bot.command("Write a tagline", channel_id=DM)
    variations = written(bot)
    for row, message in variations:
        assert f"The **{row.type}** version." in seen(message) and buttons(message) == VOTES
    assert bot.slack.wait_for(lambda: not open_streams(bot.slack))
    # Each final state went through the outbox: posted anew while Slack still held the stream, which went.
    stops = [c.params["ts"] for c in bot.slack.calls("chat.stopStream")]
    assert not {r.message_ts for r, _ in variations} & set(stops)
    assert sorted(c.params["ts"] for c in bot.slack.calls("chat.delete")) == sorted(stops)
    assert len(bot.slack.messages(DM)) == 1 + 1 + 3  # the parent, the analysis, three variations
    assert bot.slack.wait_for(lambda: "Done" in texts(bot.slack.message(DM, bot.store.run(1).message_ts or "")))


def test_a_failed_approach_ends_its_stream_as_a_failure_with_a_retry_button(bot: Bot) -> None:
    def worker(kind: str) -> FakeReply | str:
        if kind == "lifestyle":
            return FakeReply(status=400, error_message="prompt is too long")
        return f"<response>The **{kind}** version.</response>"

    bot.claude.responder = Script(worker=worker)
    bot.command("Write a tagline", channel_id=DM)
    run = bot.wait_run()
    failed = next(r for r in bot.store.variations(run.id) if r.type == "lifestyle")
    message = bot.slack.wait_for(
        lambda: (m := bot.slack.message(DM, str(failed.message_ts))) and "retry" in buttons(m) and m
    )
    assert "This approach failed" in texts(message) and not message["streaming"]
    stops = [c for c in bot.slack.calls("chat.stopStream") if c.params["ts"] == failed.message_ts]
    assert [c.params.get("blocks") for c in stops] == [None]  # stopped as it was, then rewritten in place
    assert bot.store.variation(failed.id).message_ts == failed.message_ts


def test_a_stream_slack_will_not_open_becomes_a_rewritten_message(bot: Bot) -> None:
    bot.slack.fail_next("chat.startStream", status=429, retry_after=30)
    bot.slack.fail_next("chat.startStream", error="channel_type_not_supported")
    bot.command("Write a tagline", channel_id=DM)
    variations = written(bot)
    rewritten = [r for r, m in variations if not m["text"].startswith("**")]
    assert len(rewritten) == 2  # two got a placeholder that was rewritten; the third streamed
    for row, message in variations:
        assert f"The **{row.type}** version." in seen(message) and buttons(message) == VOTES


def test_past_the_pace_of_opening_streams_variations_are_rewritten(bot: Bot) -> None:
    """Three five-approach runs at once want 15 streams; the app opens 10 (Tier 2 is about 20 a minute, and
    each stream must be stopped too) and writes the others by rewriting a placeholder."""
    approaches = [(f"kind{n}", f"Brief {n}") for n in range(5)]
    bot.claude.responder = Script(plan=lambda: plan_reply(approaches))
    for n in range(3):
        assert bot.command(f"Write tagline {n}", channel_id=DM, user_id=f"U000{n + 5}")[0] == 200
    shown = [pair for run in (1, 2, 3) for pair in written(bot, 5, run)]
    streamed = [row for row, message in shown if message["text"].startswith("**")]
    assert 10 <= len(streamed) < 15 == len(shown)
    assert len(bot.slack.calls("chat.startStream")) == len(streamed)
    assert all(buttons(message) == VOTES for _, message in shown)
    assert not bot.slack.errors


def test_an_append_slack_refuses_stops_the_stream_and_the_outbox_finishes_it(bot: Bot) -> None:
    bot.claude.responder = Script(worker=lambda kind: slowly(WORDS))
    bot.slack.fail_next("chat.appendStream", error="message_not_in_streaming_state")
    bot.command("Write a tagline", channel_id=DM)
    variations = written(bot)
    calls = bot.slack.calls()
    faulted = next(i for i, c in enumerate(calls) if c.method == "chat.appendStream" and c.faulted)
    refused = calls[faulted].params["ts"]
    assert [c.method for c in calls[faulted + 1 :] if c.params.get("ts") == refused] == ["chat.update", "chat.delete"]
    for _, message in variations:
        assert WORDS in seen(message) and buttons(message) == VOTES
    assert bot.slack.wait_for(lambda: not open_streams(bot.slack))


def test_a_stream_slack_ended_by_itself_is_finished_in_place(bot: Bot) -> None:
    """Slack ends a stream that stays idle for a while; the variation's final state then rewrites it."""
    release = threading.Event()

    def held(kind: str) -> FakeReply:
        release.wait(timeout=20)
        return slowly(WORDS)

    bot.claude.responder = Script(worker=held)
    try:
        bot.command("Write a tagline", channel_id=DM)
        bot.slack.wait_for(lambda: len(bot.slack.calls("chat.startStream")) == 3)
        bot.slack.expire_streams()
    finally:
        release.set()
    variations = written(bot)
    started = {c.params["ts"] for c in bot.slack.calls("chat.appendStream")}  # refused: no longer streams
    assert {r.message_ts for r, _ in variations} == started  # the same messages, rewritten
    for _, message in variations:
        assert WORDS in texts(message) and buttons(message) == VOTES
    assert not bot.slack.calls("chat.stopStream") and not bot.slack.calls("chat.delete")


def test_a_429_holds_back_only_its_own_stream(bot: Bot) -> None:
    bot.claude.responder = Script(worker=lambda kind: slowly(WORDS))
    bot.slack.fail_next("chat.appendStream", status=429, retry_after=30)
    bot.command("Write a tagline", channel_id=DM)
    variations = written(bot)
    calls = bot.slack.calls()
    faulted = next(i for i, c in enumerate(calls) if c.method == "chat.appendStream" and c.faulted)
    held = calls[faulted].params["ts"]
    after = calls[faulted + 1 :]
    # Its stream took no append within the Retry-After; its stop brought the rest. The others went on.
    assert [c.method for c in after if c.params.get("ts") == held] == ["chat.stopStream"]
    assert any(c.method == "chat.appendStream" and c.params["ts"] != held for c in after)
    for _, message in variations:
        assert message["text"].endswith(WORDS) and buttons(message) == VOTES


def test_model_text_streamed_pings_no_one(bot: Bot) -> None:
    hostile = "Hi <!channel> and <!here|here>, ask <@U0002> or @everyone about [bank.com](https://evil.example)."
    bot.claude.responder = Script(worker=lambda kind: slowly(hostile))
    bot.command("Write a tagline", channel_id=DM)
    for _, message in written(bot):
        text = message["text"]
        for token in ("<!channel>", "<!here", "<@U0002>", "@everyone", "[bank.com](https://evil"):
            assert token not in text, (token, text)
        assert text.endswith(render(hostile))


# -- pure parts -----------------------------------------------------------------------------------------------

GROWING = [
    WORDS,
    "## A heading\n\nFirst paragraph with **bold**, `code` and a [link](https://example.com).\n\n- one\n- two\n",
    "Intro:\n\n```python\nif a < b and c > d:\n    print('<@U1>')\n```\n\nAfter the code.\n",
    "| Size | Price |\n|---|---|\n| S | 1 |\n| M | 22 |\n\nBelow the table, @here &lt;!channel&gt;.\n",
    "Line one\r\nLine two &amp; more\n---\n- [ ] task\n- [x] done\n~~~\nfenced\n~~~\nend",
    "日本語の文章です。句読点があります。\n\nहिन्दी में एक वाक्य। نص باللغة العربية.",
]


@pytest.mark.parametrize("text", GROWING)
def test_what_is_streamed_only_ever_grows(text: str) -> None:
    """The rendering of what is settled at one moment is the start of its rendering at every later one,
    so the stream never needs to take back what it showed, and it ends as the rendering of the whole."""
    shown = [render(settled(text[:end])) for end in range(len(text) + 1)]
    for earlier, later in itertools.pairwise(shown):
        assert later.startswith(earlier), (earlier, later)
    assert render(text).startswith(shown[-1])


def test_the_heading_names_the_approach_as_the_thread_does_and_is_inert() -> None:
    assert heading(1, Approach("lifestyle", "Paint *moments*")) == "**2. Lifestyle**: _Paint \\*moments\\*_\n\n"
    assert heading(None, Approach("technical", "Specs"), "shorter <!here>").startswith("♻️ **Technical**, new version")
    assert "<!here>" not in heading(None, Approach("technical", "Specs"), "shorter <!here>")
    assert heading(None, Approach("synthesis", "Combines 3")).startswith("🧩 **Synthesis**")
    assert heading(None, Approach("follow-up", "for teens")).startswith("💬 **Follow-up**: _for teens_")


def test_the_closing_blocks_are_the_buttons_and_small_print_of_a_written_variation() -> None:
    row = VariationRow(7, 1, 0, "technical", VariationStatus.DONE, "2024-01-01", model="m", seconds=1.5)
    blocks = closing_blocks(row)
    assert [b["type"] for b in blocks] == ["actions", "context"]
    assert buttons({"blocks": blocks}) == VOTES
    assert {e["value"] for e in blocks[0]["elements"]} == {"7"}
    assert blocks[1]["elements"][0]["text"] == "m · 1.5s"


def test_streaming_in_channels_is_on_or_off() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "ANTHROPIC_API_KEY": "k"}
    assert not Settings.from_env(env).stream_channels
    assert Settings.from_env({**env, "VARIATIONS_STREAM_CHANNELS": "ON"}).stream_channels
    with pytest.raises(ConfigError, match="VARIATIONS_STREAM_CHANNELS must be on or off, got 'yes'"):
        Settings.from_env({**env, "VARIATIONS_STREAM_CHANNELS": "yes"})


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Hello **b", "Hello "),
        ("Hello **bold** and *it", "Hello **bold** and "),
        ("Hello **", "Hello "),
        ("a ~~str", "a "),
        ("snake_case and 2*3", "snake_case and 2*3"),
        ("* an item", "* an item"),
        ("# Head\nsome _it", "# Head\nsome "),
    ],
)
def test_unfinished_emphasis_is_held_back_from_both_live_paths(text: str, shown: str) -> None:
    assert settled(text) == shown
    assert without_open_emphasis(text) == shown
    assert without_open_emphasis("```\ncode **x") == "```\ncode **x"  # no emphasis inside code
