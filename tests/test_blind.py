"""Blind voting: a run asked for with `--blind` or the form's box shows its approaches as A, B, C… and
nothing a voter sees names them (messages, live states, streams, notifications, the analysis, the ♻️ form)
until voting closes; then the verdict reveals every letter and the messages are rewritten with names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.parse.command_text import RunCommand, parse_command
from bot.render.modals import REGENERATE_FORM, REQUEST_FORM
from bot.render.run_messages import BLIND_NOTE, BLIND_PLAN, verdict_message
from bot.render.variation_messages import failed_variation_message, writing_message
from bot.slack.streams import heading
from bot.store.rows import Tally
from bot.store.store import Store
from orchestrator.memory import read_record
from orchestrator.parsing import Approach
from tests.fakes.anthropic_api import FakeAnthropicAPI, FakeReply
from tests.fakes.slack_api import FakeSlackAPI
from tests.helpers import (
    CHANNEL,
    TEAM,
    USER,
    Bot,
    buttons,
    make_run,
    mention,
    opened_view,
    press,
    run_thread,
    start_bot,
    submit_view,
    text_value,
    texts,
)
from tests.scripted import DEFAULT_APPROACHES, Script
from tests.test_home import open_home

ANALYSIS = "Buyers differ"  # the scripted plan's analysis, which a blind run keeps to itself
HIDDEN = [kind for kind, _ in DEFAULT_APPROACHES] + [brief for _, brief in DEFAULT_APPROACHES] + [ANALYSIS]
REVEAL = "🙈 *The reveal*"


@pytest.fixture
def claude() -> Iterator[FakeAnthropicAPI]:
    """Workers whose text does not name their approach (the scripted default does), so anything naming
    one in Slack came from the app."""
    with FakeAnthropicAPI(Script(worker=lambda _: "<response>\nCold all day, **every** day.\n</response>")) as fake:
        yield fake


@pytest.fixture(params=["off", "on"], ids=["rewritten", "streamed"])
def blind_bot(request: Any, slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> Iterator[Bot]:
    """The app with variations rewritten in place, or streamed in channels."""
    env = {"VARIATIONS_STREAM_CHANNELS": request.param}
    with start_bot(slack, claude, tmp_path / "variations.db", env) as running:
        yield running
    assert not slack.errors and not claude.errors, (slack.errors, claude.errors)


def leaks(bot: Bot) -> list[tuple[str, str]]:
    """(method, hidden text) for every message posted, updated or streamed, and every modal opened, that
    names an approach or shows its brief or the plan."""
    found = []
    for call in bot.slack.calls():
        if call.method.startswith(("chat.", "views.")):
            shown = json.dumps(call.params, ensure_ascii=False).lower()
            found += [(call.method, hidden) for hidden in HIDDEN if hidden.lower() in shown]
    return found


def message(bot: Bot, variation_id: int) -> dict[str, Any]:
    return bot.slack.message(CHANNEL, bot.store.variation(variation_id).message_ts)


def seen(message: dict[str, Any]) -> str:
    """A message's blocks' texts and its own text (a streamed message's is its Markdown)."""
    return f"{texts(message)}\n{message.get('text') or ''}"


def verdict(bot: Bot) -> dict[str, Any]:
    run = bot.store.run(1)
    return bot.slack.wait_for(
        lambda: next((m for m in bot.slack.thread(CHANNEL, run.message_ts) if REVEAL in texts(m)), None)
    )


def test_a_blind_run_shows_letters_until_voting_closes_then_reveals_the_names(blind_bot: Bot) -> None:
    bot = blind_bot
    assert bot.command("--blind Write a tagline")[0] == 200
    parent, replies = run_thread(bot)
    assert bot.store.run(1).blind
    assert BLIND_NOTE in texts(parent)
    assert BLIND_PLAN in texts(replies[0])
    for variation_id, label in ((1, "A"), (2, "B"), (3, "C")):
        shown = bot.slack.wait_for(lambda v=variation_id: buttons(message(bot, v)) and message(bot, v))
        assert f"*Variation {label}*" in seen(shown)

    # Votes work, and the leader is named by its letter.
    for user in ("U1", "U2", "U3", "U4", "U5"):
        assert bot.click(1, "up", user=user)[0] == 200
    assert bot.slack.wait_for(lambda: "👍 5" in buttons(message(bot, 1)).get("vote_up", ""))
    run = bot.store.run(1)
    assert bot.slack.wait_for(lambda: "🏆 Leading: *Variation A*" in texts(bot.slack.message(CHANNEL, run.message_ts)))

    # A new version keeps the letter of what it revises, from the ♻️ form on.
    assert press(bot, "regenerate", "2")[0] == 200
    form = opened_view(bot, REGENERATE_FORM)
    assert form["title"]["text"] == "New Variation B version"
    assert submit_view(bot, form, {"instruction": text_value("shorter")})[0] == 200
    bot.slack.wait_for(lambda: (row := bot.store.find_variation(4)) and row.written and buttons(message(bot, 4)))
    assert "♻️ *Variation B*, new version (shorter)" in seen(message(bot, 4)).replace("**", "*")

    assert leaks(bot) == []

    assert press(bot, "close_voting", "1", user=USER)[0] == 200
    shown = texts(verdict(bot))
    assert "🏆 Winner: *1. Technical*" in shown
    for label, (kind, brief) in zip("ABC", DEFAULT_APPROACHES, strict=True):
        position = "ABC".index(label) + 1
        assert f"*Variation {label}* was *{position}. {kind.title()}*: _{brief}_" in shown

    def renamed() -> bool:
        titles = [seen(message(bot, v)) for v in (1, 2, 3, 4)]
        return (
            all(f"*{n}. {kind.title()}*" in titles[n - 1] for n, (kind, _) in enumerate(DEFAULT_APPROACHES, start=1))
            and "♻️ *Lifestyle*, new version (shorter)" in titles[3]
            and not any("Variation" in t for t in titles)
        )

    assert bot.slack.wait_for(renamed)
    parent = bot.slack.wait_for(
        lambda: (m := bot.slack.message(CHANNEL, run.message_ts)) and "Voting has closed" in texts(m) and m
    )
    assert BLIND_NOTE not in texts(parent) and "*1. Technical*" in texts(parent)


def test_a_blind_runs_failed_approach_shows_its_letter_then_its_name(slack: FakeSlackAPI, tmp_path: Path) -> None:
    def worker(kind: str) -> FakeReply | str:
        return FakeReply(status=400, error_message="bad") if kind == "practical" else "<response>\nCold.\n</response>"

    with (
        FakeAnthropicAPI(Script(worker=worker)) as claude,
        start_bot(slack, claude, tmp_path / "variations.db") as bot,
    ):
        assert bot.command("--blind Write a tagline")[0] == 200
        run_thread(bot)
        failed = bot.slack.wait_for(lambda: "retry" in buttons(message(bot, 3)) and message(bot, 3))
        assert "*Variation C*" in texts(failed) and "This approach failed" in texts(failed)
        assert leaks(bot) == []
        assert press(bot, "close_voting", "1", user=USER)[0] == 200
        assert bot.slack.wait_for(lambda: "*3. Practical*" in texts(message(bot, 3)))
        assert "retry" in buttons(message(bot, 3))


def blind_box(*ticked: str) -> dict[str, Any]:
    options = [{"text": {"type": "plain_text", "text": "Blind voting"}, "value": value} for value in ticked]
    return {"value": {"type": "checkboxes", "selected_options": options}}


@pytest.mark.parametrize("ticked", [(), ("blind",)])
def test_the_forms_blind_voting_box_makes_a_blind_run(bot: Bot, ticked: tuple[str, ...]) -> None:
    bot.command("")
    view = opened_view(bot, REQUEST_FORM)
    [box] = [block for block in view["blocks"] if block["block_id"] == "blind"]
    assert [option["text"]["text"] for option in box["element"]["options"]] == ["Blind voting"]
    assert submit_view(bot, view, {"task": text_value("Write a tagline"), "blind": blind_box(*ticked)})[0] == 200
    parent, replies = run_thread(bot)
    first = bot.slack.wait_for(lambda: buttons(message(bot, 1)) and message(bot, 1))
    assert bot.store.run(1).blind is bool(ticked)
    assert ("*Variation A*" in texts(first)) is bool(ticked)
    assert ("*1. Technical*: _Lead with specifications" in texts(first)) is not bool(ticked)
    assert (BLIND_NOTE in texts(parent)) is bool(ticked)
    assert (BLIND_PLAN in texts(replies[0])) is bool(ticked)
    assert (ANALYSIS in texts(replies[0])) is not bool(ticked)


def test_a_normal_run_names_its_approaches(bot: Bot) -> None:
    bot.command("Write a tagline")
    parent, replies = run_thread(bot)
    assert not bot.store.run(1).blind
    assert BLIND_NOTE not in texts(parent)
    assert "*1. Technical*: Lead with specifications" in texts(replies[0])
    first = bot.slack.wait_for(lambda: buttons(message(bot, 1)) and message(bot, 1))
    assert "*1. Technical*: _Lead with specifications and measurable performance_" in texts(first)
    assert leaks(bot)  # what the blind test's check finds when nothing is hidden


@pytest.mark.parametrize("position", [0, None])
def test_live_failed_and_streamed_states_show_the_letter_only(position: int | None) -> None:
    approach = Approach(*DEFAULT_APPROACHES[0])
    shown = [
        writing_message(position, approach, "Cold", label="A"),
        failed_variation_message(position, approach, "overloaded", variation_id=7, label="A"),
    ]
    for built in shown:
        assert "Variation A" in texts(built) and "Variation A" in built["text"]
    streamed = heading(position, approach, label="A")
    assert "Variation A" in streamed
    everything = json.dumps([*shown, streamed]).lower()
    assert not [hidden for hidden in HIDDEN if hidden.lower() in everything]


@pytest.mark.parametrize(
    ("text", "fresh", "blind"),
    [("--blind Write", False, True), ("--blind --fresh Write", True, True), ("--FRESH --Blind Write", True, True)],
)
def test_blind_and_fresh_combine_in_any_order(text: str, fresh: bool, blind: bool) -> None:
    assert parse_command(text, 100) == RunCommand(task="Write", fresh=fresh, blind=blind)


def test_only_a_blind_verdict_has_the_reveal(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "v.db"))
    [first, second] = make_run(store, [("technical", "done"), ("story", "done")])
    variations = store.variations(store.variation(first).run_id)
    tallies = {first: Tally(5, 0), second: Tally(0, 1)}
    assert REVEAL not in texts(verdict_message(variations, tallies))
    blind = texts(verdict_message(variations, tallies, blind=True))
    assert "*Variation A* was *1. Technical*" in blind and "*Variation B* was *2. Story*" in blind


def test_an_open_blind_runs_votes_are_counted_by_name_nowhere_until_it_closes(bot: Bot) -> None:
    """One 👍 on Variation A, a look at stats, the Home tab and team memory: none tells A's approach (or
    counts its vote under any name) until voting closes; then all of them do."""
    assert bot.command("--blind Write a tagline")[0] == 200
    run_thread(bot)
    assert bot.click(1, "up", user="U1")[0] == 200
    assert bot.click(2, "down", user="U2")[0] == 200
    assert bot.slack.wait_for(lambda: "👍 1" in buttons(message(bot, 1)).get("vote_up", ""))

    def surfaces(key: str) -> str:
        assert bot.command("stats", response_url=bot.slack.response_url(key))[0] == 200
        answer = bot.slack.wait_for(lambda: bot.slack.responses(key))[0]
        before = len(bot.slack.calls("views.publish"))
        open_home(bot, user="U1")
        home = bot.slack.wait_for(lambda: bot.slack.calls("views.publish")[before:])[0].params["view"]
        with bot.store.reader() as conn:
            record = read_record(conn, TEAM, CHANNEL)
        return json.dumps([answer, home, [row.type for row in record.types]], ensure_ascii=False).lower()

    shown = surfaces("open")
    assert not [hidden for hidden in HIDDEN if hidden.lower() in shown]
    assert "no votes yet" in shown

    assert press(bot, "close_voting", "1", user=USER)[0] == 200
    verdict(bot)
    shown = surfaces("closed")
    assert "technical" in shown and "1 👍 0 👎" in shown and "lifestyle" in shown


def test_a_blind_synthesis_and_follow_up_keep_names_out_of_their_prompts_and_closing_reveals_the_plan(
    bot: Bot,
) -> None:
    assert bot.command("--blind Write a tagline")[0] == 200
    _, replies = run_thread(bot)
    for user in ("U1", "U2", "U3"):
        bot.click(2, "up", user=user)
    bot.click(1, "up", user="U4")
    bot.click(3, "down", user="U4")
    asked = len(bot.claude.prompts())
    assert press(bot, "synthesize", "1")[0] == 200
    synthesis = bot.slack.wait_for(
        lambda: next((r for r in bot.store.variations(1) if r.type == "synthesis" and r.written), None)
    )
    run = bot.store.run(1)
    assert mention(bot, "one for teenagers", ts="1800000000.000100", thread_ts=run.message_ts)[0] == 200
    bot.slack.wait_for(lambda: any(r.type == "follow-up" and r.written for r in bot.store.variations(1)))
    prompts = bot.claude.prompts()[asked:]
    assert len(prompts) == 2
    assert not [hidden for hidden in HIDDEN if any(hidden.lower() in p.lower() for p in prompts)]
    # The synthesis combines the ranking's top, by letter: B (3 👍), then A (1 👍); C (👎) is left out.
    assert prompts[0].index('type="Variation B"') < prompts[0].index('type="Variation A"')
    assert 'type="Variation C"' not in prompts[0]
    assert synthesis.description == "Combines Variation B and Variation A"
    shown = bot.slack.wait_for(lambda: (m := message(bot, synthesis.id)) and "Writing" not in texts(m) and m)
    assert "Combines Variation B and Variation A" in texts(shown)
    assert '<approach type="Variation A">' in prompts[1]
    assert leaks(bot) == []

    assert press(bot, "close_voting", "1", user=USER)[0] == 200
    shown_verdict = texts(verdict(bot))
    # The verdict's ranking starts with the synthesis's inputs, in their order.
    assert shown_verdict.index("*2. Lifestyle*: 3 👍") < shown_verdict.index("*1. Technical*: 1 👍")
    analysis = bot.slack.wait_for(
        lambda: (m := bot.slack.message(CHANNEL, replies[0]["ts"])) and ANALYSIS in texts(m) and m
    )
    assert BLIND_PLAN not in texts(analysis) and "*1. Technical*: Lead with specifications" in texts(analysis)
