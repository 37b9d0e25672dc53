"""Keeps what people write, request bodies and response URLs out of the logs, at every level.

The client libraries log more than an operator should keep: slack_sdk logs whole request and response
bodies at DEBUG (message text, the request inside a modal; in Socket Mode every envelope) and a
response_url when it retries one, at INFO; Bolt logs the entire body of a request whose signature fails
at INFO (one hostile request, hundreds of megabytes of log) and parts of payloads in its
unhandled-request warnings; the anthropic SDK logs every prompt at DEBUG. A response_url is a
capability: whoever holds it can post into that conversation as the app.

`install()` rewrites such records as they are created, so every handler (pytest's caplog included) gets
the rewritten record; the app's own `run=… step=…` lines pass untouched. It also puts the libraries' routine
lines at the level they deserve, so that the log at INFO is the run steps and what an operator can act on:
httpx2's line per model request and Bolt's warning that our client replaces SLACK_BOT_TOKEN (the variable
is what the client was built from) go to DEBUG, and Slack's ordinary close of a Socket Mode link (1000 or
1001, before it hands over to the next one), which slack_sdk reports at ERROR, to INFO.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_LIBRARIES = ("slack_bolt", "slack_sdk", "anthropic")
_WEBHOOK = "slack_sdk.webhook"  # every URL this client logs is a response_url
_HOOKS = re.compile(r"https://hooks\.slack(?:-gov)?\.com/[^\s'\",)]*", re.IGNORECASE)
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\",)]+", re.IGNORECASE)
_SAFE_FIELD = re.compile(r"'(type|action_id|callback_id|command)': '([\w./:-]{1,100})'")

# (what a library message starts with, what is kept of it); the rest of such a message is payload.
_REWRITES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(Invalid request signature detected)"), r"\1 (headers and body not logged)"),
    (re.compile(r"(Sending a request - url: [^,\s]+)"), r"\1 (parameters and body not logged)"),
    (re.compile(r"(Received the following response - status: \d+)"), r"\1 (headers and body not logged)"),
    (re.compile(r"(Responding with status: \d+)"), r"\1 (body not logged)"),
    (re.compile(r"(Responding with listener middleware's response - listener: [^,]*, status: \d+)"), r"\1"),
    (re.compile(r"(A global middleware \([^)]*\) skipped calling)"), r"\1 next() (request not logged)"),
    (re.compile(r"(Skipped self event)"), r"\1 (event not logged)"),
    (re.compile(r"([Rr]equest body)"), r"(\1 not logged)"),
    (re.compile(r"(Request options)"), r"\1 not logged"),  # anthropic: the whole prompt
    # Socket Mode: every envelope received and every acknowledgement sent.
    (re.compile(r"(on_message invoked)"), r"\1 (message not logged)"),
    (re.compile(r"(Sending a (?:message|text data frame) \(session id: [^,)]*)"), r"\1, payload not logged)"),
    (re.compile(r"(Failed to parse a payload)"), r"\1 (data not logged)"),
    # OAuth: a failed code exchange names the one-time code (usable until it expires); Slack's error is kept.
    (
        re.compile(r"(Failed to fetch oauth\.v2\.access result) with code: \S* - (error: [^\n]*)"),
        r"\1 (code not logged) - \2",
    ),
]


# (logger prefix, what the message starts with, the level it is logged at instead)
_LEVELS: list[tuple[str, re.Pattern[str], int]] = [
    ("httpx2", re.compile(r"HTTP Request: "), logging.DEBUG),
    ("slack_bolt", re.compile(r"As you gave `client` as well, `token` will be unused"), logging.DEBUG),
    (
        "slack_sdk.socket_mode",
        re.compile(r"Failed to receive or enqueue a message: ConnectionClosedOK\b"),
        logging.INFO,
    ),
]


def level_of(logger: str, message: str, level: int) -> int:
    """The level a record deserves: a library's routine line is moved down, everything else kept."""
    for prefix, start, routine in _LEVELS:
        if logger.startswith(prefix) and start.match(message):
            return min(level, routine)
    return level


def scrub_message(logger: str, message: str) -> str:
    """`message` as logged by `logger`, without payloads, message text or response URLs."""
    if logger.startswith(_LIBRARIES):
        if message.startswith("Unhandled request"):  # a summary of the payload on its first line, then advice
            fields = ", ".join(f"{k}={v}" for k, v in _SAFE_FIELD.findall(message.split("\n", 1)[0]))
            message = f"Unhandled request ({fields or 'details not logged'})"
        for start, kept in _REWRITES:
            match = start.match(message)
            if match:
                message = match.expand(kept)
                break
        if logger.startswith(_WEBHOOK):
            message = _URL.sub("(response_url)", message)
    return _HOOKS.sub("(response_url)", message)


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message scrubbed (and its arguments merged in, when that changed anything)."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: leave it to logging's own error reporting, as without us
        return record
    scrubbed = scrub_message(record.name, message)
    if scrubbed != message:
        record.msg, record.args = scrubbed, None
    level = level_of(record.name, message, record.levelno)
    if level != record.levelno:
        record.levelno, record.levelname = level, logging.getLevelName(level)
    return record


def install() -> None:
    """Scrub every log record from now on. Logging's record factory is process-wide, so this is too;
    calling it again does nothing."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "scrubs", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub(previous(*args, **kwargs))

    factory.scrubs = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
