"""The team's decision loop: the request form, the leader on the parent, synthesis and new versions."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.anthropic_api import FakeReply
from tests.helpers import CHANNEL, USER, Bot, buttons, opened_view, press, run_thread, submit_view, text_value, texts
from tests.scripted import Script, is_plan_prompt, plan_reply


def test_command_alone_opens_the_form_and_its_fields_reach_the_prompts(bot: Bot) -> None:
    status, _ = bot.command("")
    assert status == 200
    view = opened_view(bot, "variations_form")
    assert bot.slack.calls("views.open")[0].params["trigger_id"] == "1.1.fake-trigger"
    fields = ["task", "audience", "key_points", "tone", "approaches", "fresh", "blind"]
    assert [block["block_id"] for block in view["blocks"]] == fields
    status, body = submit_view(
        bot,
        view,
        {
            "task": text_value("Write a product description for our bottle"),
            "audience": text_value("hikers"),
            "key_points": text_value("24h cold\n750 ml"),
            "tone": text_value(""),
            "approaches": {"value": {"type": "static_select", "selected_option": {"value": "3"}}},
        },
    )
    assert status == 200 and body == ""  # the modal closes
    run = bot.wait_run()
    assert run.context == {"audience": "hikers", "key points": "24h cold\n750 ml"}
    assert run.channel_id == CHANNEL and run.user_id == USER
    plan_prompt = next(p for p in bot.claude.prompts() if "<tasks>" in p)
    assert "exactly 3 distinct approaches" in plan_prompt
    assert all("hikers" in prompt and "750 ml" in prompt for prompt in bot.claude.prompts())


def test_form_errors_show_inside_the_modal(bot: Bot) -> None:
    bot.command("")
    view = opened_view(bot, "variations_form")
    status, body = submit_view(bot, view, {"task": text_value("   ")})
    assert status == 200
    assert json.loads(body) == {
        "response_action": "errors",
        "errors": {"task": "Write what you would like variations of."},
    }
    assert bot.store.db["runs"].count == 0


def test_votes_put_the_leader_on_the_parent(bot: Bot) -> None:
    bot.command("Write a tagline")
    parent, _ = run_thread(bot)
    assert "Leading" not in texts(parent)

    def shows(line: str) -> bool:
        return line in texts(bot.slack.message(CHANNEL, parent["ts"]))

    bot.click(2, "up", user="U1")
    bot.click(2, "up", user="U2")
    bot.click(1, "up", user="U3")
    # Two liked, one untried: no leader yet (the rule `/variations stats` ranks by).
    assert bot.slack.wait_for(
        lambda: shows("🗳️ 3 votes on 2 variations · too close to call: best so far *2. Lifestyle*, 50% likely the best")
    )
    bot.click(1, "down", user="U3")  # U3 changes their mind
    bot.click(3, "down", user="U4")
    assert bot.slack.wait_for(
        lambda: shows("🏆 Leading: *2. Lifestyle*, 2 👍 0 👎, 83% likely the best · 4 votes on 3 variations")
    )
    for user in ("U3", "U4", "U5"):
        bot.click(1, "up", user=user)  # U3 back to 👍
    bot.click(2, "up", user="U5")
    assert bot.slack.wait_for(lambda: shows("too close to call: best so far *1. Technical*, 49% likely the best"))
    bot.click(1, "up", user="U5")  # withdrawn
    assert bot.slack.wait_for(lambda: shows("too close to call: best so far *2. Lifestyle*, 56% likely the best"))


def test_synthesis_combines_the_top_voted_and_is_voted_on_like_a_variation(bot: Bot) -> None:
    bot.command("Write a tagline")
    parent, _ = run_thread(bot)
    assert buttons(parent) == {"synthesize": "🧩 Synthesize the best", "close_voting": "🔒 Close voting"}
    bot.click(3, "up", user="U1")
    bot.click(1, "up", user="U2")
    bot.click(1, "up", user="U3")

    def synthesis(request: dict[str, Any]) -> FakeReply | str:
        if is_plan_prompt(request):
            return plan_reply()
        if "<variations>" in request["messages"][0]["content"]:
            return "<response>The **best** of both.</response>"
        return "<response>unused</response>"

    bot.claude.responder = synthesis
    assert press(bot, "synthesize", "1")[0] == 200
    row = bot.slack.wait_for(
        lambda: next(
            (r for r in bot.store.variations(1) if r.type == "synthesis" and r.message_ts and r.status == "done"),
            None,
        )
    )
    assert row.position == 3 and row.text == "The **best** of both."
    prompt = bot.claude.prompts()[-1]
    # the two liked variations, best first by the ranking rule; the unvoted one left out
    assert prompt.index('type="Technical" net_votes="2"') < prompt.index('type="Practical" net_votes="1"')
    assert 'type="Lifestyle"' not in prompt
    message = bot.slack.wait_for(
        lambda: (m := bot.slack.message(CHANNEL, row.message_ts)) and "Writing" not in texts(m) and m
    )
    assert message["thread_ts"] == parent["ts"]
    assert "🧩 *Synthesis*: _Combines Technical and Practical_" in texts(message)
    assert "The **best** of both." in texts(message)
    assert "vote_up" in buttons(message)
    bot.click(row.id, "up", user="U9")
    assert bot.slack.wait_for(lambda: buttons(bot.slack.message(CHANNEL, row.message_ts))["vote_up"] == "👍 1")
    run = bot.store.run(1)
    assert run.input_tokens > 0  # the synthesis call is counted in the run's cost


def test_double_click_on_synthesize_writes_one(bot: Bot) -> None:
    bot.command("Write a tagline")
    run_thread(bot)
    bot.claude.responder = Script(worker=lambda kind: FakeReply("<response>merged</response>", ttft=0.5))
    press(bot, "synthesize", "1")
    press(bot, "synthesize", "1", user="U2")
    answer = bot.slack.wait_for(lambda: bot.slack.responses("synthesize-U2"))
    assert "already being written" in answer[0]["text"]
    bot.slack.wait_for(lambda: any(r.type == "synthesis" and r.status == "done" for r in bot.store.variations(1)))
    assert sum(r.type == "synthesis" for r in bot.store.variations(1)) == 1


def test_new_version_follows_the_instruction_and_old_votes_stay(bot: Bot) -> None:
    bot.command("Write a tagline")
    parent, _ = run_thread(bot)
    bot.click(2, "up", user="U1")
    old = bot.store.variation(2)
    before = bot.slack.wait_for(
        lambda: (m := bot.slack.message(CHANNEL, old.message_ts)) and buttons(m)["vote_up"] == "👍 1" and m
    )
    assert press(bot, "regenerate", "2")[0] == 200
    view = opened_view(bot, "regenerate_form")
    bot.claude.responder = Script(worker=lambda kind: "<response>Short and sweet.</response>")
    assert submit_view(bot, view, {"instruction": text_value("shorter")})[0] == 200
    new = bot.slack.wait_for(
        lambda: next(
            (r for r in bot.store.variations(1) if r.regenerated_from == 2 and r.message_ts and r.status == "done"),
            None,
        )
    )
    assert (new.type, new.instruction, new.text) == ("lifestyle", "shorter", "Short and sweet.")
    prompt = bot.claude.prompts()[-1]
    assert "<change_request>shorter</change_request>" in prompt and old.text in prompt
    message = bot.slack.wait_for(
        lambda: (m := bot.slack.message(CHANNEL, new.message_ts)) and "Writing" not in texts(m) and m
    )
    assert message["thread_ts"] == parent["ts"] and new.message_ts != old.message_ts
    assert "♻️ *Lifestyle*, new version (shorter)" in texts(message)
    assert buttons(message)["vote_up"] == "👍 0"
    assert bot.store.tally(2).up == 1  # the old text keeps its vote
    # The old message still shows what it showed before: its text, its vote and its buttons.
    after = bot.slack.message(CHANNEL, old.message_ts)
    assert (after["text"], after["blocks"]) == (before["text"], before["blocks"])


def test_buttons_on_unknown_things_explain(bot: Bot) -> None:
    bot.command("Write a tagline")
    run_thread(bot)
    press(bot, "regenerate", "999")
    assert "no longer exists" in bot.slack.wait_for(lambda: bot.slack.responses(f"regenerate-{USER}"))[0]["text"]
    press(bot, "synthesize", "999")
    assert "no longer exists" in bot.slack.wait_for(lambda: bot.slack.responses(f"synthesize-{USER}"))[0]["text"]
    assert not [c for c in bot.slack.calls("views.open") if c.params["view"]["callback_id"] == "regenerate_form"]
