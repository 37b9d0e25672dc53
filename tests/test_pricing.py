"""Cost in money: the price table and its override, each run's cost on its parent message, the scoreboard's
cost this week and in all, and the cost columns in the database and the export."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, Settings
from bot.render.home_view import usage_line
from bot.render.run_messages import Progress, status_line
from bot.store.export import export
from bot.store.pricing import DEFAULT_PRICES, LIST_PRICES, Price, money, parse_prices, total
from bot.store.rows import RunStatus
from bot.store.stats import stats
from bot.store.store import Store
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fakes.slack_api import FakeSlackAPI
from tests.helpers import CHANNEL, make_run, press, run_thread, start_bot, texts
from tests.scripted import is_plan_prompt, plan_reply

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "ANTHROPIC_API_KEY": "k"}

# -- the price table ---------------------------------------------------------------------------------------


def test_current_models_have_their_list_prices() -> None:
    assert DEFAULT_PRICES.price("claude-opus-4-7") == Price(5, 25)
    assert DEFAULT_PRICES.price("claude-sonnet-4-6") == Price(3, 15)
    assert DEFAULT_PRICES.price("claude-haiku-4-5") == Price(1, 5)
    # the API answers with a snapshot's id: priced as its model
    assert DEFAULT_PRICES.price("claude-haiku-4-5-20251001") == Price(1, 5)


def test_cost_is_tokens_times_price_per_million() -> None:
    assert DEFAULT_PRICES.cost("claude-sonnet-4-6", 1_000_000, 0) == 3.0
    assert DEFAULT_PRICES.cost("claude-sonnet-4-6", 2000, 400) == pytest.approx(0.012)
    assert DEFAULT_PRICES.cost("claude-opus-4-7", 1000, 1000) == pytest.approx(0.03)


def test_an_unknown_model_has_no_cost_rather_than_a_wrong_one() -> None:
    assert DEFAULT_PRICES.price("gpt-4") is None
    assert DEFAULT_PRICES.cost("some-new-model", 100, 100) is None
    assert DEFAULT_PRICES.cost(None, 100, 100) is None
    assert DEFAULT_PRICES.cost("some-new-model", 0, 0) == 0.0  # a call that failed before any token: free
    assert total([0.01, None, 0.02]) is None  # a sum with a part left out would be wrong
    assert total([0.01, 0.02]) == pytest.approx(0.03)
    assert total([]) == 0


def test_prices_parse_and_override_the_table() -> None:
    assert parse_prices("my-model=2/10, claude-haiku-4-5 = 0.5/2.5,") == {
        "my-model": Price(2, 10),
        "claude-haiku-4-5": Price(0.5, 2.5),
    }
    prices = DEFAULT_PRICES.overridden("my-model=2/10,claude-haiku-4-5=0.5/2.5")
    assert prices.price("my-model") == Price(2, 10)
    assert prices.price("claude-haiku-4-5") == Price(0.5, 2.5)
    assert prices.price("claude-opus-4-7") == Price(5, 25)  # the others stay
    assert DEFAULT_PRICES.price("claude-haiku-4-5") == Price(1, 5)  # the built-in table is not changed
    for bad in ("my-model", "my-model=2", "my-model=two/ten", "=1/2", "my-model=1/2/3", "my-model=-1/2"):
        with pytest.raises(ValueError):
            parse_prices(bad)


def test_money_reads_well_small_and_large() -> None:
    assert money(0.01234) == "$0.012"
    assert money(0.0001) == "<$0.001"
    assert money(0) == "$0"
    assert money(0.9999) == "$1.00"
    assert money(1.234) == "$1.23"
    assert money(12345.678) == "$12,345.68"


# -- the setting -------------------------------------------------------------------------------------------


def test_settings_use_the_list_prices_unless_the_environment_overrides_them() -> None:
    assert Settings.from_env(BASE).prices.table == LIST_PRICES
    settings = Settings.from_env({**BASE, "VARIATIONS_PRICES": "orch-model=3/15,claude-opus-4-7=4/20"})
    assert settings.prices.price("orch-model") == Price(3, 15)
    assert settings.prices.price("claude-opus-4-7") == Price(4, 20)


def test_a_malformed_price_is_one_clear_line() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**BASE, "VARIATIONS_PRICES": "claude-opus-4-7=5"})
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("VARIATIONS_PRICES must be model=input/output in $ per million tokens")
    assert "'claude-opus-4-7=5'" in message


# -- the parent's status line ------------------------------------------------------------------------------


def test_status_line_shows_the_cost_after_the_tokens_and_none_when_unknown() -> None:
    done = Progress(RunStatus.DONE, total=3, finished=3, seconds=12.34, tokens=5432, cost=0.01234)
    assert status_line(done) == "✅ Done: 3 variations · 12.3s · 5,432 tokens · $0.012"
    unknown = Progress(RunStatus.DONE, total=3, finished=3, seconds=12.34, tokens=5432)
    assert status_line(unknown) == "✅ Done: 3 variations · 12.3s · 5,432 tokens"


def test_a_run_shows_its_cost_next_to_its_tokens(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> None:
    prices = {"VARIATIONS_PRICES": "orch-model=3/15,work-model=1/5"}
    with start_bot(slack, claude, tmp_path / "v.db", prices) as bot:
        bot.command("Write a product description for our new water bottle")
        parent, _ = run_thread(bot)
        run = bot.store.run(1)
        variations = bot.store.variations(1)
    # the tokens the fake Anthropic API counted, priced per model: the plan's at the orchestrator's price
    plan_in = run.input_tokens - sum(v.input_tokens or 0 for v in variations)
    plan_out = run.output_tokens - sum(v.output_tokens or 0 for v in variations)
    assert plan_in > 0 and plan_out > 0
    for v in variations:
        assert v.model == "work-model"
        assert v.cost_usd == pytest.approx((v.input_tokens * 1 + v.output_tokens * 5) / 1e6)
    expected = (plan_in * 3 + plan_out * 15) / 1e6 + sum(v.cost_usd or 0 for v in variations)
    assert run.cost_usd == pytest.approx(expected)
    assert f"· {run.tokens:,} tokens · {money(expected)}" in texts(parent)
    assert not slack.errors and not claude.errors


def test_a_synthesis_adds_its_cost_to_the_run(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> None:
    with start_bot(slack, claude, tmp_path / "v.db", {"VARIATIONS_PRICES": "orch-model=3/15,work-model=1/5"}) as bot:
        bot.command("Write a tagline")
        run_thread(bot)
        before = bot.store.run(1)
        bot.click(1, "up", user="U2")

        def synthesis(request: dict[str, Any]) -> str:
            return plan_reply() if is_plan_prompt(request) else "<response>The **best** of both.</response>"

        claude.responder = synthesis
        assert press(bot, "synthesize", "1")[0] == 200
        after = slack.wait_for(lambda: (r := bot.store.run(1)).tokens > before.tokens and r)
        [added] = [v for v in bot.store.variations(1) if v.type == "synthesis"]
        parent = slack.wait_for(
            lambda: (m := slack.message(CHANNEL, after.message_ts)) and f"{after.tokens:,} tokens" in texts(m) and m
        )
    assert added.cost_usd == pytest.approx((added.input_tokens * 1 + added.output_tokens * 5) / 1e6)
    assert after.cost_usd == pytest.approx((before.cost_usd or 0) + added.cost_usd)
    assert f"{after.tokens:,} tokens · {money(after.cost_usd or 0)}" in texts(parent)
    assert not slack.errors and not claude.errors


def test_a_run_on_a_model_without_a_price_shows_no_cost(
    slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path
) -> None:
    # the orchestrator's model is priced, the workers' (work-model) is not: the run's cost is unknown
    with start_bot(slack, claude, tmp_path / "v.db", {"VARIATIONS_PRICES": "orch-model=3/15"}) as bot:
        bot.command("Write a product description for our new water bottle")
        parent, _ = run_thread(bot)
        run = bot.store.run(1)
        variations = bot.store.variations(1)
    assert run.cost_usd is None and all(v.cost_usd is None for v in variations)
    assert f"· {run.tokens:,} tokens" in texts(parent)
    assert "$" not in texts(parent)
    assert not slack.errors and not claude.errors


# -- the scoreboard ----------------------------------------------------------------------------------------


def test_stats_show_cost_this_week_and_in_all(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "v.db"))
    try:
        make_run(store, [("technical", "done")], tokens=(1000, 200))
        make_run(store, [("technical", "done")], tokens=(1000, 200), ago=timedelta(days=30))
        make_run(store, [("technical", "done")], tokens=(1000, 200), channel="CB")
        make_run(store, [("technical", "done")], tokens=(500, 100))  # a model without a price: left out
        make_run(store, [("technical", "done")], tokens=(500, 100), team="T2")  # another workspace
        for run_id, cost in ((1, 1.234), (2, 44.0), (3, 0.436), (5, 9.0)):
            store.update_run(run_id, cost_usd=cost)

        channel, workspace = stats(store, "T1", "CA"), stats(store, "T1")
        assert (channel.cost_this_week, channel.cost_all_time) == (pytest.approx(1.234), pytest.approx(45.234))
        assert (workspace.cost_this_week, workspace.cost_all_time) == (pytest.approx(1.67), pytest.approx(45.67))
        assert usage_line(workspace) == (
            "3 runs this week · 3,000 tokens this week · 4,200 all time · $1.67 this week · $45.67 in all"
        )
        # where no run has a cost, none is shown (rather than $0)
        make_run(store, [("technical", "done")], tokens=(10, 10), team="T3")
        assert stats(store, "T3").cost_all_time is None
        assert usage_line(stats(store, "T3")) == "1 run this week · 20 tokens this week · 20 all time"
    finally:
        store.close()


def test_a_follow_up_call_adds_its_cost_and_an_unknown_one_makes_it_unknown(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "v.db"))
    try:
        make_run(store, [("technical", "done")], tokens=(1000, 200))
        store.update_run(1, cost_usd=0.5)
        store.add_run_tokens(1, 100, 10, 0.25)
        assert (store.run(1).tokens, store.run(1).cost_usd) == (1310, 0.75)
        store.add_run_tokens(1, 100, 10, None)
        assert (store.run(1).tokens, store.run(1).cost_usd) == (1420, None)
    finally:
        store.close()


# -- the database and the export ---------------------------------------------------------------------------


def test_a_database_from_before_costs_gets_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    Store(str(path)).close()
    with sqlite3.connect(path) as conn:  # as an older version made it: no cost, the older indexes
        conn.execute("drop index runs_team_usage")
        conn.execute("drop index runs_channel_usage")
        conn.execute("alter table runs drop column cost_usd")
        conn.execute("alter table variations drop column cost_usd")
        conn.execute("create index runs_team_time on runs (team_id, created_at, input_tokens, output_tokens)")
        conn.execute("drop table _sqlite_migrations")  # releases before the named steps kept no record
    conn.close()
    store = Store(str(path))
    try:
        make_run(store, [("technical", "done")], tokens=(1000, 200))
        store.update_run(1, cost_usd=0.25)
        store.update_variation(1, cost_usd=0.125)
        assert (store.run(1).cost_usd, store.variation(1).cost_usd) == (0.25, 0.125)
        assert stats(store, "T1").cost_all_time == 0.25
        indexes = {name for (name,) in store.query("select name from sqlite_master where type = 'index'")}
        assert {"runs_team_usage", "runs_channel_usage"} <= indexes and "runs_team_time" not in indexes
    finally:
        store.close()


def test_the_export_has_the_cost_of_runs_and_variations(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    store = Store(str(path))
    make_run(store, [("technical", "done"), ("formal", "done")], team="T1", tokens=(1000, 200))
    store.update_run(1, cost_usd=0.012)
    store.update_variation(1, cost_usd=0.004)
    store.close()

    out = io.StringIO()
    export(path, "json", None, out)
    document = json.loads(out.getvalue())
    assert document["runs"][0]["cost_usd"] == 0.012
    assert [v["cost_usd"] for v in document["variations"]] == [0.004, None]

    export(path, "csv", tmp_path / "csv", io.StringIO())
    with (tmp_path / "csv" / "runs.csv").open(encoding="utf-8") as file:
        assert [row["cost_usd"] for row in csv.DictReader(file)] == ["0.012"]
    with (tmp_path / "csv" / "variations.csv").open(encoding="utf-8") as file:
        assert [row["cost_usd"] for row in csv.DictReader(file)] == ["0.004", ""]
