"""Block Kit primitives, defined once for every builder: the shapes of a block, a message and a button,
and Slack's limits on them. Text passed in is used as given: builders escape mrkdwn (`bot.render.mrkdwn`) and
render Markdown (`bot.render.markdown`) first."""

from __future__ import annotations

from typing import Any

from bot.render.markdown import MARKDOWN_LIMIT
from bot.render.mrkdwn import SECTION_LIMIT, escape, truncate_plain

Block = dict[str, Any]
Message = dict[str, Any]  # the keyword arguments of one chat.postMessage / chat.update: `text`, `blocks`

MAX_BLOCKS = 50  # blocks in one message or view
HEADER_LIMIT = 150  # characters of a header's plain text
FALLBACK_LIMIT = 150  # a message's `text`, shown in notifications: a summary, the blocks carry the content

__all__ = [
    "FALLBACK_LIMIT",
    "HEADER_LIMIT",
    "MARKDOWN_LIMIT",
    "MAX_BLOCKS",
    "SECTION_LIMIT",
    "Block",
    "Message",
    "actions",
    "button",
    "context_block",
    "fallback",
    "header",
    "markdown",
    "section",
]


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def markdown(text: str) -> Block:
    """Standard Markdown that Slack renders itself (messages only; never empty)."""
    return {"type": "markdown", "text": text}


def context_block(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate_plain(text, HEADER_LIMIT), "emoji": True}}


def button(action_id: str, label: str, value: str) -> Block:
    """A button whose click comes back to `action_id` carrying `value` (a row's id)."""
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
    }


def actions(block_id: str, *buttons: Block) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(buttons)}


def fallback(text: str) -> str:
    """A message's `text`: shown in notifications and parsed for mentions, so escaped, on one line, short."""
    return truncate_plain(escape(" ".join(text.split())), FALLBACK_LIMIT)
