"""Thin handlers, one module per kind of request: they parse it, ack, and hand on to the work floor. Each
handler is a module-level function that takes what it works with from `bot.work.tools.tools(context)`."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, assistant, commands, forms, home, mentions, shortcuts, stops


def register_all(app: App) -> None:
    """Every listener, on `app` (whose middleware hands them their Tools)."""
    for module in (commands, forms, actions, home, mentions, shortcuts, assistant, stops):
        module.register(app)
