"""What people type after /variations, and what they submit in its form."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.parse.command_text import MAX_CONTEXT_LINES, HelpCommand, RunCommand, parse_command
from bot.render.modals import (
    INPUT_MAX_LENGTH,
    OUT_OF_DATE,
    RequestForm,
    read_regenerate_form,
    read_request_form,
    regenerate_form,
    request_errors,
    request_form,
)


def test_plain_task() -> None:
    assert parse_command("  Write a tagline  ", 100) == RunCommand("Write a tagline", {})


def test_trailing_name_value_lines_are_context() -> None:
    text = "Write a product description\nfor our bottle\n\naudience: hikers\nkey features: 24h cold, 750 ml"
    assert parse_command(text, 500) == RunCommand(
        "Write a product description\nfor our bottle",
        {"audience": "hikers", "key features": "24h cold, 750 ml"},
    )


def test_first_line_is_always_task_even_with_a_colon() -> None:
    assert parse_command("Tagline: for our bottle", 100) == RunCommand("Tagline: for our bottle", {})


def test_colon_lines_in_the_middle_stay_in_the_task() -> None:
    text = "Write a note\nNote: be kind\nthanks everyone\ntone: warm"
    assert parse_command(text, 500) == RunCommand("Write a note\nNote: be kind\nthanks everyone", {"tone": "warm"})


def test_urls_are_not_context() -> None:
    text = "Summarize this\nhttps://example.com/page"
    assert parse_command(text, 500) == RunCommand(text, {})


def test_empty_and_help_ask_for_usage() -> None:
    for text in ("", "   ", "help", "HELP", "--help", "?"):
        assert parse_command(text, 100) == HelpCommand()


def test_fresh_leads_the_text_and_asks_for_fresh_ideas_only() -> None:
    assert parse_command("--fresh Write a tagline\naudience: hikers", 100) == RunCommand(
        "Write a tagline", {"audience": "hikers"}, fresh=True
    )
    assert parse_command("--FRESH\nWrite a tagline", 100) == RunCommand("Write a tagline", {}, fresh=True)
    assert parse_command("Write a tagline --fresh", 100) == RunCommand("Write a tagline --fresh", {})
    assert parse_command("--fresh", 100) == HelpCommand("Write what you would like variations of after --fresh.")
    assert parse_command("--frsh Write", 100) == HelpCommand(
        "I don't know the option --frsh; the ones I know are --fresh and --blind."
    )


def test_over_the_limit_says_the_limit() -> None:
    parsed = parse_command("x" * 101, 100)
    assert parsed == HelpCommand(
        "Your request is 101 characters long, context lines included; the limit is 100. Shorten it and try again."
    )


def test_context_counts_toward_the_limit() -> None:
    text = "x" * 50 + "\naudience: " + "y" * 40
    assert parse_command(text, len(text)) == RunCommand("x" * 50, {"audience": "y" * 40})
    parsed = parse_command(text, len(text) - 1)
    assert isinstance(parsed, HelpCommand) and parsed.problem
    assert f"Your request is {len(text)} characters long" in parsed.problem


def test_at_most_twenty_context_lines() -> None:
    lines = [f"k{i}: v" for i in range(MAX_CONTEXT_LINES + 1)]
    assert isinstance(parse_command("\n".join(["Write", *lines[:-1]]), 4000), RunCommand)
    assert parse_command("\n".join(["Write", *lines]), 4000) == HelpCommand(
        "Your request has 21 context lines; the limit is 20. Merge some and try again."
    )


# ------------------------------------------------------------------------------------------------ the form


def values(**fields: str) -> dict[str, Any]:
    return {block: {"value": {"type": "plain_text_input", "value": value}} for block, value in fields.items()}


def form(**change: Any) -> RequestForm:
    fields: dict[str, Any] = {
        "task": "Write",
        "context": {},
        "approaches": None,
        "channel_id": "C1",
        "response_url": None,
    }
    return RequestForm(**{**fields, **change})


def test_the_form_limits_its_fields_together() -> None:
    assert request_errors(form(task="x" * 60, context={"audience": "y" * 40}), 100) == {}
    assert request_errors(form(task="x" * 60, context={"audience": "y" * 41}), 100) == {
        "task": "Together the fields are 101 characters long; the limit is 100."
    }


def test_the_task_field_asks_slack_for_no_more_than_it_allows() -> None:
    def task_length(limit: int) -> int:
        block = next(b for b in request_form("C1", None, limit)["blocks"] if b["block_id"] == "task")
        return int(block["element"]["max_length"])

    assert task_length(4000) == INPUT_MAX_LENGTH == 3000  # Slack rejects a view asking for more
    assert task_length(500) == 500


@pytest.mark.parametrize("metadata", [None, "", "not json", "[1]", '{"response_url": 5}', '{"channel_id": ""}'])
def test_a_form_without_the_apps_metadata_is_out_of_date(metadata: str | None) -> None:
    view = {"private_metadata": metadata, "state": {"values": values(task="Write a tagline")}}
    read = read_request_form(view)
    assert (read.task, read.response_url) == ("Write a tagline", None)
    assert request_errors(read, 4000) == {"task": OUT_OF_DATE}


@pytest.mark.parametrize(
    "state", [None, {}, {"values": []}, {"values": {"task": "x"}}, {"values": {"task": {"value": 5}}}]
)
def test_a_form_with_odd_values_reads_as_empty(state: Any) -> None:
    view = {"private_metadata": json.dumps({"channel_id": "C1"}), "state": state}
    assert read_request_form(view) == form(task="")
    assert read_regenerate_form(view) == (None, "")


def test_approaches_are_read_only_when_they_are_small_numbers() -> None:
    def approaches(value: str) -> int | None:
        view = {"private_metadata": '{"channel_id": "C1"}', "state": {"values": {"approaches": {"value": {
            "type": "static_select", "selected_option": {"value": value}}}}}}  # fmt: skip
        return read_request_form(view).approaches

    assert [approaches(v) for v in ("3", "auto", "\u00b2", "9" * 5000)] == [3, None, None, None]


def test_the_fresh_ideas_box_is_read_when_ticked() -> None:
    def fresh(state: Any) -> bool:
        view = {"private_metadata": '{"channel_id": "C1"}', "state": {"values": {"fresh": {"value": state}}}}
        return read_request_form(view).fresh

    ticked = {"type": "checkboxes", "selected_options": [{"value": "fresh"}]}
    assert fresh(ticked) is True
    assert [fresh(s) for s in ({"selected_options": []}, {"selected_options": "fresh"}, None)] == [False] * 3


@pytest.mark.parametrize(("variation_id", "read"), [(7, 7), ("7", 7), ("9" * 30, None), (-1, None), (True, None)])
def test_the_regenerate_form_reads_only_ids_sqlite_can_hold(variation_id: Any, read: int | None) -> None:
    view = regenerate_form(1, "technical")
    view["private_metadata"] = json.dumps({"variation_id": variation_id})
    view["state"] = {"values": values(instruction="shorter")}
    assert read_regenerate_form(view) == (read, "shorter")
