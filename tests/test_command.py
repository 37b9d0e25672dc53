"""What people type after /variations."""

from __future__ import annotations

from bot.command import HelpCommand, RunCommand, parse_command


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


def test_over_the_limit_says_the_limit() -> None:
    parsed = parse_command("x" * 101, 100)
    assert isinstance(parsed, HelpCommand)
    assert parsed.problem == "Your request is 101 characters long; the limit is 100. Shorten it and try again."
