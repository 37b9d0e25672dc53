"""The whole flow through the real Bolt app in HTTP mode: signed requests in, Slack calls and rows out."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from bot.render.markdown import MARKDOWN_LIMIT, ZWSP
from tests.fakes.anthropic_api import FakeAnthropicAPI, FakeReply
from tests.fakes.signing import signed_headers, slash_command_body
from tests.fakes.slack_api import FakeSlackAPI
from tests.helpers import CHANNEL, SIGNING_SECRET, USER, Bot, buttons, run_thread, start_bot, texts
from tests.scripted import Script, plan_reply


def test_command_posts_analysis_and_one_reply_per_approach_with_buttons(bot: Bot) -> None:
    status, _ = bot.command("Write a product description for our new water bottle")
    assert status == 200

    parent, replies = run_thread(bot)
    assert f"<@{USER}>" in texts(parent)
    assert "water bottle" in texts(parent)
    assert "✅ Done: 3 variations" in texts(parent)

    analysis, *variations = replies
    assert "How I'll approach this" in texts(analysis)
    assert "some want a story" in texts(analysis)
    assert all(name in texts(analysis) for name in ("Technical", "Lifestyle", "Practical"))
    assert len(variations) == 3
    for variation in variations:
        assert buttons(variation) == {"vote_up": "👍 0", "vote_down": "👎 0", "regenerate": "♻️ New version"}
    by_type = {kind: next(v for v in variations if kind in texts(v)) for kind in ("Technical", "Lifestyle")}
    # The Markdown goes to Slack as written, in a markdown block, which Slack renders itself.
    [shown] = [b["text"] for b in by_type["Technical"]["blocks"] if b["type"] == "markdown"]
    assert shown == "## Technical take\nThe **technical** version."

    rows = list(bot.store.db["variations"].rows_where(order_by="position"))
    assert [(r["type"], r["status"]) for r in rows] == [
        ("technical", "done"),
        ("lifestyle", "done"),
        ("practical", "done"),
    ]
    assert all(r["message_ts"] and r["input_tokens"] and r["output_tokens"] for r in rows)
    run = bot.store.run(1)
    assert run is not None
    assert (run.status, run.user_id, run.channel_id) == ("done", USER, CHANNEL)
    assert run.analysis.startswith("Buyers differ")
    assert run.input_tokens > 0 and run.seconds > 0
    assert (run.orchestrator_model, run.worker_model) == ("orch-model", "work-model")


def test_context_lines_reach_every_prompt(bot: Bot) -> None:
    bot.command("Write a product description\naudience: hikers\nkey features: keeps ice 24h")
    bot.wait_run()
    prompts = bot.claude.prompts()
    assert len(prompts) == 4
    for prompt in prompts:
        assert "hikers" in prompt and "keeps ice 24h" in prompt
    assert bot.store.run(1).context == {"audience": "hikers", "key features": "keeps ice 24h"}


def test_workers_run_at_the_same_time(bot: Bot) -> None:
    bot.claude.responder = Script(worker=lambda kind: FakeReply(f"<response>{kind}</response>", ttft=0.3))
    bot.command("Write a tagline")
    bot.wait_run()
    assert bot.claude.max_concurrency == 3


def test_votes_are_logged_and_counted_once_per_user(bot: Bot) -> None:
    bot.command("Write a tagline")
    bot.wait_run()
    variation = bot.store.variation(1)
    assert variation is not None

    assert bot.click(1, "up", user="U1")[0] == 200
    assert bot.click(1, "up", user="U2")[0] == 200
    assert bot.click(1, "down", user="U3")[0] == 200
    message = bot.slack.wait_for(
        lambda: (
            (m := bot.slack.message(CHANNEL, variation.message_ts))
            and buttons(m) == {"vote_up": "👍 2", "vote_down": "👎 1", "regenerate": "♻️ New version"}
            and m
        )
    )
    assert message

    bot.click(1, "down", user="U1")  # switching moves the vote
    bot.slack.wait_for(
        lambda: (
            buttons(bot.slack.message(CHANNEL, variation.message_ts))
            == {"vote_up": "👍 1", "vote_down": "👎 2", "regenerate": "♻️ New version"}
        )
    )
    bot.click(1, "down", user="U1")  # the same button again takes the vote back
    bot.slack.wait_for(
        lambda: (
            buttons(bot.slack.message(CHANNEL, variation.message_ts))
            == {"vote_up": "👍 1", "vote_down": "👎 1", "regenerate": "♻️ New version"}
        )
    )
    clicks = [(r["user_id"], r["value"]) for r in bot.store.db["feedback"].rows_where(order_by="id")]
    assert clicks == [("U1", "up"), ("U2", "up"), ("U3", "down"), ("U1", "down"), ("U1", "down")]
    assert all(r["run_id"] == 1 and r["variation_id"] == 1 for r in bot.store.db["feedback"].rows)
    # The variation's text survives the button refresh.
    assert "The **technical** version." in texts(bot.slack.message(CHANNEL, variation.message_ts))


def test_bad_signature_is_rejected_with_no_side_effect(bot: Bot) -> None:
    body = slash_command_body(text="Write a tagline")
    assert bot.post(body, signed_headers(body, "wrong-secret"))[0] == 401
    assert bot.post(body, {"Content-Type": "application/x-www-form-urlencoded"})[0] == 401
    tampered = body.replace("tagline", "manifesto")
    assert bot.post(tampered, signed_headers(body, SIGNING_SECRET))[0] == 401
    stale = signed_headers(body, SIGNING_SECRET, timestamp=1_600_000_000)
    assert bot.post(body, stale)[0] == 401
    assert bot.claude.requests() == []
    assert bot.slack.calls("chat.postMessage") == []
    assert bot.store.db["runs"].count == 0


def test_help_answers_with_usage(bot: Bot) -> None:
    for text in ("help", "HELP", "?"):
        status, body = bot.command(text)
        assert status == 200
        answer = json.loads(body)
        assert answer["response_type"] == "ephemeral"
        assert "/variations Write a product description" in texts(answer)
    assert bot.store.db["runs"].count == 0
    assert bot.claude.requests() == []


def test_too_long_task_is_refused_with_the_limit(bot: Bot) -> None:
    status, body = bot.command("x" * 4001)
    assert status == 200
    assert "the limit is 4,000" in texts(json.loads(body))
    assert bot.store.db["runs"].count == 0


def test_failed_approach_is_shown_and_others_finish(bot: Bot) -> None:
    def worker(kind: str) -> FakeReply | str:
        if kind == "lifestyle":
            return FakeReply(status=400, error_message="prompt is too long")
        if kind == "practical":
            return "<response>   </response>"
        return "<response>Specs first.</response>"

    bot.claude.responder = Script(worker=worker)
    bot.command("Write a tagline")
    parent, replies = run_thread(bot)
    assert "1 of 3 variations written, 2 failed" in texts(parent)
    failures = [r for r in replies if "This approach failed" in texts(r)]
    assert len(failures) == 2
    assert any("prompt is too long" in texts(r) for r in failures)
    assert any("empty response" in texts(r) for r in failures)
    assert all(buttons(r) == {"retry": "🔁 Retry"} for r in failures)
    statuses = {r["type"]: (r["status"], r["error"]) for r in bot.store.db["variations"].rows}
    assert statuses["technical"] == ("done", None)
    assert statuses["lifestyle"][0] == "failed" and "prompt is too long" in statuses["lifestyle"][1]
    assert bot.store.run(1).status == "partial"


def test_plan_without_tasks_says_so_in_the_thread(bot: Bot) -> None:
    bot.claude.responder = Script(plan=lambda: "I think this is a great idea, happy to help!")
    bot.command("Write a tagline")
    parent, replies = run_thread(bot)
    assert "Failed" in texts(parent)
    assert len(replies) == 1
    assert "couldn't plan any approaches" in texts(replies[0])
    assert bot.store.run(1).status == "failed"
    assert bot.store.db["variations"].count == 0


def test_orchestrator_api_error_says_so_in_the_thread(bot: Bot) -> None:
    bot.claude.fail_next(529, times=3, headers={"retry-after-ms": "1"})
    bot.command("Write a tagline")
    _, replies = run_thread(bot)
    assert "overloaded" in texts(replies[0])
    assert bot.store.run(1).error


def test_transient_errors_are_retried(bot: Bot) -> None:
    bot.claude.fail_next(529, times=2, headers={"retry-after-ms": "1"})
    bot.command("Write a tagline")
    parent, _ = run_thread(bot)
    assert "✅ Done: 3 variations" in texts(parent)


def test_model_text_never_pings_anyone(bot: Bot) -> None:
    bot.claude.responder = Script(
        plan=lambda: plan_reply(analysis="Hey <!channel> look"),
        worker=lambda kind: "<response>Hi <!here> and <!everyone> and <@U999> &amp; co</response>",
    )
    bot.command("Tell <!channel> about <@U123>")
    parent, replies = run_thread(bot)
    for message in [parent, *replies]:
        for text in (texts(message), message["text"]):
            for ping in ("<!channel>", "<!here>", "<!everyone>", "<@U999>", "<@U123>"):
                assert ping not in text
    # In the markdown blocks a zero-width space keeps each token from forming; the text reads the same.
    assert f"Hey <{ZWSP}!channel> look" in texts(replies[0])
    assert f"Hi <{ZWSP}!here> and <{ZWSP}!everyone> and <{ZWSP}@{ZWSP}U999> & co" in texts(replies[1])


def test_long_variation_is_split_not_cut(bot: Bot) -> None:
    paragraphs = [f"Paragraph {i}: " + "word " * 150 for i in range(60)]  # ~45,000 characters
    bot.claude.responder = Script(worker=lambda kind: "<response>" + "\n\n".join(paragraphs) + "</response>")
    bot.command("Write a long essay")
    _, replies = run_thread(bot)
    shown = "\n".join(texts(r) for r in replies[1:])
    for i in range(60):
        assert f"Paragraph {i}:" in shown
    assert len(replies) == 1 + 3 * 4  # the analysis, then each variation over four messages
    for reply in replies:
        assert len(reply["blocks"]) <= 50
        assert sum(len(b["text"]) for b in reply["blocks"] if b["type"] == "markdown") <= MARKDOWN_LIMIT
    # Nothing was sent that Slack refuses for its length (the fake refuses it as Slack does): continued.
    for call in bot.slack.calls():
        markdown = [b["text"] for b in call.params.get("blocks") or [] if b.get("type") == "markdown"]
        assert sum(map(len, markdown)) <= MARKDOWN_LIMIT, call.method
    # Each approach's buttons are on its last message only.
    assert sum(bool(buttons(r)) for r in replies) == 3


def test_bot_not_in_channel_tells_the_user(bot: Bot) -> None:
    bot.slack.fail_next("chat.postMessage", error="not_in_channel")
    bot.command("Write a tagline")
    responses = bot.slack.wait_for(lambda: bot.slack.responses("command"))
    assert "/invite @Variations" in responses[0]["text"]
    assert responses[0]["response_type"] == "ephemeral"
    run = bot.wait_run()
    assert run.status == "failed" and "not_in_channel" in run.error
    assert bot.claude.requests() == []


def test_click_on_unknown_variation_explains(bot: Bot) -> None:
    bot.command("Write a tagline")
    bot.wait_run()
    status, _ = bot.click(999, "up", user="U7")
    assert status == 200
    responses = bot.slack.wait_for(lambda: bot.slack.responses("click-U7"))
    assert "no longer exists" in responses[0]["text"]
    assert bot.store.db["feedback"].count == 0


def test_click_from_another_workspace_is_refused(bot: Bot) -> None:
    bot.command("Write a tagline")
    bot.wait_run()
    bot.click(1, "up", user="UX", team="T9999")
    responses = bot.slack.wait_for(lambda: bot.slack.responses("click-UX"))
    assert "Only people in the workspace" in responses[0]["text"]
    assert bot.store.db["feedback"].count == 0


def test_thirty_users_voting_at_once_are_all_counted(bot: Bot) -> None:
    bot.command("Write a tagline")
    bot.wait_run()
    variation = bot.store.variation(1)
    barrier = threading.Barrier(30)
    statuses: list[int] = []

    def click(n: int) -> None:
        barrier.wait()
        statuses.append(bot.click(1, "up" if n % 3 else "down", user=f"U{n:03}")[0])

    threads = [threading.Thread(target=click, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 30
    assert bot.store.db["feedback"].count == 30
    final = bot.slack.wait_for(
        lambda: (
            buttons(m := bot.slack.message(CHANNEL, variation.message_ts))
            == {
                "vote_up": "👍 20",
                "vote_down": "👎 10",
                "regenerate": "♻️ New version",
            }
            and m
        )
    )
    assert "The **technical** version." in texts(final)
    rewrites = [c for c in bot.slack.calls("chat.update") if c.params["ts"] == variation.message_ts]
    assert len(rewrites) < 30 + 2  # coalesced: the 30 clicks did not each rewrite the message


def test_ack_does_not_wait_for_busy_workers(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> None:
    """With one run thread and one worker thread both busy, a new command is still acknowledged."""
    env = {"VARIATIONS_RUN_THREADS": "1", "VARIATIONS_WORKER_THREADS": "1"}
    release = threading.Event()

    def plan() -> str:
        release.wait(timeout=30)
        return plan_reply()

    claude.responder = Script(plan=plan)
    with start_bot(slack, claude, tmp_path / "v.db", env) as bot:
        try:
            bot.command("First")
            claude.wait_for(lambda: claude.requests())  # the first run now holds both pools
            status, _ = bot.command("Second")
            assert status == 200
            assert not release.is_set() and len(claude.requests()) == 1  # acknowledged while the pools were busy
            release.set()
            assert bot.wait_run(1).status == "done"
            assert bot.wait_run(2).status == "done"  # the second run queued, then ran
        finally:
            release.set()
