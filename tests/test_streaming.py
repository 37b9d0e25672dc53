"""Runs stream into Slack: text appears while it is written, within a bounded number of calls."""

from __future__ import annotations

import itertools

from tests.fakes.anthropic_api import FakeReply
from tests.helpers import CHANNEL, Bot, buttons, run_thread, texts
from tests.scripted import Script, plan_reply

WORDS = " ".join(f"word{i}" for i in range(300))  # ~2,700 characters


def updates_of(bot: Bot, ts: str) -> list[str]:
    """The texts a message was rewritten with, in order."""
    return [
        texts(call.params)
        for call in bot.slack.calls("chat.update")
        if call.params.get("ts") == ts and not call.faulted
    ]


def test_variation_text_streams_into_its_message_then_gets_buttons(bot: Bot) -> None:
    slow = FakeReply(f"<response>{WORDS}</response>", tokens_per_second=1000, chunk_chars=20)  # ~0.7 s
    bot.claude.responder = Script(worker=lambda kind: slow)
    bot.command("Write a long one")
    _, replies = run_thread(bot)
    variation = bot.store.variation(1)
    seen = updates_of(bot, variation.message_ts)
    live = [text for text in seen if "Writing…" in text]
    assert len(live) >= 2, seen  # several partial versions before the end
    assert all(len(a) <= len(b) for a, b in itertools.pairwise(live))  # the text only grows
    assert "word0" in live[0] and "word299" not in live[0]
    final = bot.slack.message(CHANNEL, variation.message_ts)
    assert WORDS in texts(final).replace("\n", " ")
    assert "Writing…" not in texts(final)
    assert buttons(final) == {"vote_up": "👍 0", "vote_down": "👎 0", "regenerate": "♻️ New version"}
    # The thread reads in approach order: the placeholders were posted as the workers started.
    assert [r["ts"] for r in replies[1:]] == sorted(r["message_ts"] for r in bot.store.db["variations"].rows)


def test_analysis_appears_before_the_plan_is_complete(bot: Bot) -> None:
    long_analysis = "Readers differ. " * 80
    plan = FakeReply(plan_reply(analysis=long_analysis), tokens_per_second=800, chunk_chars=16)  # ~1 s
    bot.claude.responder = Script(plan=lambda: plan)
    bot.command("Write a tagline")
    _, replies = run_thread(bot)
    first_post = next(c for c in bot.slack.calls("chat.postMessage") if c.params.get("thread_ts"))
    assert "How I'll approach this" in texts(first_post.params)
    assert "Thinking…" in texts(first_post.params)
    assert len(texts(first_post.params)) < len(long_analysis)
    assert "Readers differ. Readers differ." in texts(replies[0]) and "Thinking…" not in texts(replies[0])


def test_parent_shows_progress_then_the_total(bot: Bot) -> None:
    def worker(kind: str) -> FakeReply:
        delay = {"technical": 0.0, "lifestyle": 0.5, "practical": 1.0}[kind]
        return FakeReply(f"<response>{kind}</response>", ttft=delay)

    bot.claude.responder = Script(worker=worker)
    bot.command("Write a tagline")
    parent, _ = run_thread(bot)
    statuses = [texts(c.params) for c in bot.slack.calls("chat.update") if c.params["ts"] == parent["ts"]]
    assert any("Writing 3 approaches: 1 of 3 done" in s for s in statuses), statuses
    assert "✅ Done: 3 variations" in texts(parent) and "tokens" in texts(parent)


def test_fast_token_rate_does_not_flood_slack(bot: Bot) -> None:
    text = "x" * 8000
    flood = FakeReply(f"<response>{text}</response>", tokens_per_second=2000, chunk_chars=4)  # 2000 deltas, 1 s
    bot.claude.responder = Script(worker=lambda kind: flood)
    bot.command("Write a tagline")
    run_thread(bot)
    seconds = bot.store.run(1).seconds
    for variation in bot.store.variations(1):
        # one update per 0.2 s interval at most, plus the final one
        assert len(updates_of(bot, variation.message_ts)) <= seconds / 0.2 + 2
    assert len(bot.slack.calls()) < 100


def test_slack_rate_limit_is_retried_and_no_text_is_lost(bot: Bot) -> None:
    bot.slack.fail_next("chat.update", status=429, retry_after=1, times=2)
    bot.slack.fail_next("chat.postMessage", status=429, retry_after=1)
    bot.command("Write a tagline")
    parent, replies = run_thread(bot)
    assert "✅ Done: 3 variations" in texts(parent)
    assert len(replies) == 4
    for reply in replies[1:]:
        assert "version." in texts(reply) and buttons(reply)
    assert sum(c.faulted for c in bot.slack.calls()) == 3


def test_a_live_preview_holds_back_unfinished_bold_and_the_notification_text_is_plain(bot: Bot) -> None:
    bold = (
        "## Cold all day\n\n"
        + " ".join(f"**word{i}** and" for i in range(150))
        + "\n\n| Size | Price |\n|---|---|\n| 750 ml | $30 |"
    )
    # a reply of about 2 s, so that it shows several live previews (one every 0.2 s) under any load
    slow = FakeReply(f"<response>{bold}</response>", tokens_per_second=250, chunk_chars=7)
    bot.claude.responder = Script(worker=lambda kind: slow)
    bot.command("Write a bold one")
    run_thread(bot)
    variation = bot.store.variation(1)
    live = [text for text in updates_of(bot, variation.message_ts) if "Writing…" in text]
    assert len(live) >= 2 and any("**word1**" in text for text in live)
    assert all(text.count("**") % 2 == 0 for text in live), [t for t in live if t.count("**") % 2]
    final = bot.slack.message(CHANNEL, variation.message_ts)
    assert "**word149**" in texts(final)  # the blocks keep the formatting
    notification = final["text"]
    assert notification.startswith("technical: Cold all day word0 and word1 and")
    assert not any(mark in notification for mark in ("#", "**", "|"))
