"""Hostile and malformed requests: each gets a short 4xx (never a 500 or a traceback), no body is buffered
past the limit, no request text or response_url reaches the logs, and no control character reaches Slack."""

from __future__ import annotations

import http.client
import io
import json
import logging
import socket
import time
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from bot.entry.guard import MAX_BODY_BYTES, SlackEvents
from bot.observe.logs import level_of, scrub_message
from bot.parse.payloads import FORM, JSON, SQLITE_MAX_ID, parse_id
from bot.render.modals import OUT_OF_DATE
from tests.fakes.signing import signed_headers, slash_command_body
from tests.helpers import CHANNEL, SIGNING_SECRET, TEAM, USER, Bot, interaction
from tests.scripted import Script, plan_reply

EVENTS = "/slack/events"


def address(bot: Bot) -> tuple[str, int]:
    url = urlsplit(bot.url)
    return url.hostname or "127.0.0.1", url.port or 80


def send(
    bot: Bot,
    body: bytes | str = b"",
    headers: dict[str, str] | None = None,
    *,
    method: str = "POST",
    path: str = EVENTS,
) -> tuple[int, str, dict[str, str]]:
    """Any request at all: (status, body, headers) of the answer."""
    connection = http.client.HTTPConnection(*address(bot), timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), dict(response.getheaders())
    finally:
        connection.close()


def signed(bot: Bot, body: str, content_type: str = FORM) -> tuple[int, str]:
    status, text, _ = send(bot, body, signed_headers(body, SIGNING_SECRET, content_type=content_type))
    return status, text


def payload(data: Any) -> str:
    return "payload=" + quote(json.dumps(data))


def click(**change: Any) -> dict[str, Any]:
    """A well-formed 👍 click on variation 1, with `change` applied (a None value removes the key)."""
    body = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": USER, "team_id": TEAM},
        "response_url": "http://127.0.0.1:9/response/unused",
        "actions": [{"action_id": "vote_up", "value": "1", "type": "button"}],
    }
    body.update(change)
    return {key: value for key, value in body.items() if value is not None}


def submission(**change: Any) -> dict[str, Any]:
    body = {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": USER, "team_id": TEAM},
        "view": {"type": "modal", "callback_id": "variations_form", "private_metadata": "{}", "state": {"values": {}}},
    }
    body.update(change)
    return {key: value for key, value in body.items() if value is not None}


def assert_nothing_happened(bot: Bot) -> None:
    assert bot.store.db["runs"].count == 0 and bot.store.db["feedback"].count == 0
    assert bot.claude.requests() == []
    assert bot.slack.calls("chat.postMessage") == []


# --------------------------------------------------------------------------------------------- the limit


def test_a_body_declared_too_large_is_refused_before_it_is_sent(bot: Bot) -> None:
    """300 MB announced, not a byte of it sent: the answer comes anyway, so nothing waits for or buffers it."""
    with socket.create_connection(address(bot), timeout=10) as sock:
        sock.sendall(
            f"POST {EVENTS} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\nContent-Length: 300000000\r\n\r\n".encode()
        )
        answer = sock.makefile("rb").readline()
    assert answer.split()[1] == b"413"
    assert_nothing_happened(bot)


def test_a_chunked_body_is_cut_off_at_the_limit(bot: Bot) -> None:
    """A chunked body announces no length: receiving stops at the limit with a 413."""
    size_line = f"{MAX_BODY_BYTES * 2:x}\r\n".encode()
    with socket.create_connection(address(bot), timeout=10) as sock:
        sock.sendall(
            f"POST {EVENTS} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        # Exactly up to the limit and no further, so the server has read all of it when it answers.
        sock.sendall(size_line + b"a" * (MAX_BODY_BYTES + 1 - len(size_line)))
        answer = sock.makefile("rb").readline()
    assert answer.split()[1] == b"413"
    assert_nothing_happened(bot)


def test_a_chunked_request_within_the_limit_works(bot: Bot) -> None:
    body = slash_command_body(text="Write a tagline", response_url=bot.slack.response_url("command"))
    request = urllib.request.Request(  # an iterable body without a length goes out chunked
        bot.url, data=iter([body.encode()]), headers=signed_headers(body, SIGNING_SECRET), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert bot.wait_run().task == "Write a tagline"


def test_a_click_on_a_long_message_fits_well_within_the_limit(bot: Bot) -> None:
    """Slack's largest payloads are clicks, which carry the whole message: ours hold ten sections."""
    bot.command("Write a tagline")
    bot.wait_run()
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "😀" * 3000}}
    message = {"ts": "1.2", "text": "😀" * 150, "blocks": [section] * 10}
    status, _ = interaction(bot, click(response_url=bot.slack.response_url("big"), message=message))
    assert status == 200
    assert bot.store.db["feedback"].count == 1


class Exploding(io.RawIOBase):
    """A request body that must not be read."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body was read")


class Endless(io.RawIOBase):
    """A body without end, counting what was read."""

    def __init__(self) -> None:
        self.taken = 0

    def read(self, size: int = -1) -> bytes:
        assert size >= 0, "an unbounded read"
        self.taken += size
        return b"a" * size


def call(app: SlackEvents, environ: dict[str, Any]) -> tuple[str, bytes]:
    started: list[str] = []
    body = b"".join(app(environ, lambda status, headers: started.append(status)))
    return started[0], body


def environ(**fields: Any) -> dict[str, Any]:
    headers = signed_headers("x", SIGNING_SECRET)
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": EVENTS,
        "CONTENT_TYPE": FORM,
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": headers["X-Slack-Request-Timestamp"],
        "HTTP_X_SLACK_SIGNATURE": headers["X-Slack-Signature"],
        **fields,
    }


def never(request: Any) -> Any:
    raise AssertionError("the request reached Bolt")


def test_the_guard_refuses_a_declared_length_without_reading() -> None:
    """Under any WSGI server, not only waitress: the length is checked before the body is touched."""
    status, body = call(SlackEvents(never), environ(CONTENT_LENGTH="300000000", **{"wsgi.input": Exploding()}))
    assert status.startswith("413") and b"larger than 1,048,576 bytes" in body


def test_the_guard_reads_a_body_of_unknown_length_only_to_the_limit() -> None:
    stream = Endless()
    status, _ = call(SlackEvents(never), environ(**{"wsgi.input": stream}))
    assert status.startswith("413")
    assert stream.taken == MAX_BODY_BYTES + 1


# ----------------------------------------------------------------------------------- before verification


def test_wrong_method_and_unknown_paths(bot: Bot) -> None:
    status, _, headers = send(bot, method="GET")
    assert status == 405 and headers["Allow"] == "POST"
    assert send(bot, b"x", method="PUT")[0] == 405
    assert send(bot, b"x", path="/elsewhere")[0] == 404
    assert send(bot, b"x", path="/healthz")[0] == 404
    assert send(bot, method="GET", path="/healthz")[0] == 200


BAD_SIGNATURE_HEADERS = {
    "none": {},
    "no timestamp": {"X-Slack-Signature": "v0=00"},
    "a word": {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
    "superscripts": {"X-Slack-Request-Timestamp": "\u00b2" * 10, "X-Slack-Signature": "v0=00"},  # isdigit(), not int()
    "thirty nines": {"X-Slack-Request-Timestamp": "9" * 30, "X-Slack-Signature": "v0=00"},
    "no signature": {"X-Slack-Request-Timestamp": str(int(time.time()))},
}


def test_missing_or_malformed_signature_headers_get_401(bot: Bot) -> None:
    body = slash_command_body(text="Write a tagline")
    answers = {case: send(bot, body, {"Content-Type": FORM, **h})[:2] for case, h in BAD_SIGNATURE_HEADERS.items()}
    assert {case: status for case, (status, _) in answers.items()} == dict.fromkeys(BAD_SIGNATURE_HEADERS, 401)
    assert all(text.startswith("invalid request: X-Slack-") for _, text in answers.values())
    assert_nothing_happened(bot)


def test_other_content_types_get_415(bot: Bot) -> None:
    body = slash_command_body(text="Write a tagline")
    for content_type in ("text/plain", "multipart/form-data; boundary=x", ""):
        headers = signed_headers(body, SIGNING_SECRET, content_type=content_type)
        status, text, _ = send(bot, body, {k: v for k, v in headers.items() if v})
        assert status == 415 and "Slack sends" in text, content_type
    assert_nothing_happened(bot)


def test_a_body_that_is_not_utf8_gets_400(bot: Bot) -> None:
    status, text, _ = send(bot, b"text=\xff\xfe", signed_headers("x", SIGNING_SECRET))
    assert status == 400 and "not UTF-8" in text


# ------------------------------------------------------------------------------------ malformed content

MALFORMED = [
    ("payload=", FORM, 400),
    ("payload=[]", FORM, 400),
    ("payload=%7Bnot+json", FORM, 400),
    ("payload=" + "%5B" * 100_000, FORM, 400),  # nesting deeper than json.loads can recurse
    (payload({"type": "block_actions", "authorizations": "x"}), FORM, 400),  # where Bolt looks for ids
    (payload(click(user=None)), FORM, 400),
    (payload(click(user={"name": "x"})), FORM, 400),
    (payload(click(team=None, user={"id": USER})), FORM, 400),
    (payload(click(actions=None)), FORM, 400),
    (payload(click(actions=[])), FORM, 400),
    (payload(click(actions=["vote_up"])), FORM, 400),
    (payload(click(actions=[{"value": "1"}])), FORM, 400),
    (payload(click(response_url=None)), FORM, 400),
    (payload(submission(user=None)), FORM, 400),
    (payload(submission(view=None)), FORM, 400),
    (payload(submission(view={"type": "modal", "callback_id": "variations_form"})), FORM, 400),
    (payload(submission(view={**submission()["view"], "type": "workflow_step"})), FORM, 400),
    (payload({"type": "interactive_message", "callback_id": "x", "user": {"id": USER}}), FORM, 404),
    (slash_command_body(text="Write a tagline", user_id=""), FORM, 400),
    (slash_command_body(text="Write a tagline", channel_id=""), FORM, 400),
    ("[1, 2]", JSON, 400),
    ('{"type": ', JSON, 400),
    (json.dumps({"type": "event_callback", "team_id": TEAM, "event": "app_home_opened"}), JSON, 400),
    # Nothing listens for these; Bolt answers that with a 404, as it should.
    ("", FORM, 404),
    ("payload=%7B%7D", FORM, 404),
    (payload({"type": "no_such_type", "user": {"id": USER}}), FORM, 404),
    (payload({"type": ["block_actions"]}), FORM, 404),
]


def test_signed_but_malformed_requests_get_a_4xx(bot: Bot) -> None:
    answers = [(body[:80], *signed(bot, body, content_type)) for body, content_type, _ in MALFORMED]
    assert [(body, status) for body, status, _ in answers] == [(body[:80], want) for body, _, want in MALFORMED]
    for _, _, text in answers:
        assert "Traceback" not in text and len(text) < 200
    assert_nothing_happened(bot)


def test_slacks_own_checks_are_answered(bot: Bot) -> None:
    assert signed(bot, "ssl_check=1&token=x") == (200, "")
    status, text = signed(bot, json.dumps({"type": "url_verification", "challenge": "c-42", "token": "x"}), JSON)
    assert status == 200 and json.loads(text) == {"challenge": "c-42"}


def test_a_click_without_a_usable_value_explains(bot: Bot) -> None:
    """ "9" * 30 is a number to int(), and SQLite raises OverflowError when asked for it."""
    for n, value in enumerate([None, "", "-1", "1.5", "9" * 30, "\u00b2"]):
        action = {"action_id": "vote_up"} if value is None else {"action_id": "vote_up", "value": value}
        status, _ = interaction(bot, click(actions=[action], response_url=bot.slack.response_url(f"v{n}")))
        assert status == 200, value
        assert "no longer exists" in bot.slack.wait_for(lambda n=n: bot.slack.responses(f"v{n}"))[0]["text"]
    assert bot.store.db["feedback"].count == 0


def test_a_form_with_metadata_the_app_did_not_write_asks_to_start_again(bot: Bot) -> None:
    values = {"task": {"value": {"type": "plain_text_input", "value": "Write a tagline"}}}
    for metadata in ("not json", "[]", '{"response_url": 5}'):
        view = {"type": "modal", "callback_id": "variations_form", "private_metadata": metadata}
        view["state"] = {"values": values}
        status, text = interaction(bot, {"type": "view_submission", "view": view})
        assert status == 200
        assert json.loads(text) == {"response_action": "errors", "errors": {"task": OUT_OF_DATE}}
    assert_nothing_happened(bot)


def test_a_command_mentioning_payload_is_a_command(bot: Bot) -> None:
    """Bolt's own parser reads any form body containing the word "payload" as an empty request."""
    assert bot.command("Write a payload description for our rocket")[0] == 200
    assert bot.wait_run().task == "Write a payload description for our rocket"


def test_bolts_internal_headers_are_not_taken_from_outside(bot: Bot) -> None:
    body = slash_command_body(text="Write a tagline", response_url=bot.slack.response_url("command"))
    headers = {**signed_headers(body, SIGNING_SECRET), "X-Slack-Bolt-Lazy-Only": "1"}
    assert send(bot, body, headers)[0] == 200
    assert bot.wait_run().task == "Write a tagline"


# ------------------------------------------------------------------------------------------------- logs


@pytest.fixture
def logged_bot(caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest) -> Iterator[Bot]:
    """The bot, built after logging is at DEBUG (Bolt fixes its loggers' levels when the app is made)."""
    caplog.set_level(logging.DEBUG)
    yield request.getfixturevalue("bot")


def test_no_request_text_body_or_response_url_is_logged(logged_bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    bot = logged_bot
    bot.claude.responder = Script(worker=lambda kind: "<response>model-words-6624</response>")
    bot.command("Write a zebra-quokka-7319 tagline", response_url=bot.slack.response_url("capability-5150"))
    bot.wait_run()
    bot.slack.wait_for(lambda: len(bot.slack.messages(CHANNEL)) >= 4)
    bot.click(999, user="U7")  # a click on nothing: the app answers through the click's response_url
    bot.slack.wait_for(lambda: bot.slack.responses("click-U7"))
    unsigned = slash_command_body(text="unsigned-marker-4411 " * 40_000)  # ~900 KB, under the limit
    assert len(unsigned) < MAX_BODY_BYTES
    assert send(bot, unsigned, {"Content-Type": FORM, **signed_headers("x", "s")})[0] == 401
    forged = slash_command_body(text="forged-marker-8812")
    assert send(bot, forged, signed_headers(forged, "wrong-secret"))[0] == 401

    logged = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    assert "run=1 step=" in logged  # the structured run lines are all there
    assert "Invalid request signature detected" in logged  # the rejections too, without their bodies
    assert "Sending a request - url: " in logged  # DEBUG was on
    for secret in ("zebra-quokka-7319", "model-words-6624", "capability-5150", "click-U7", "/response/",
                   "unsigned-marker-4411", "forged-marker-8812"):  # fmt: skip
        assert secret not in logged, secret


@pytest.mark.parametrize(
    ("logger", "message", "logged"),
    [
        (
            "slack_sdk.webhook.client",
            "Going to retry the same request: POST https://hooks.slack.com/commands/T1/2/secret",
            "Going to retry the same request: POST (response_url)",
        ),
        (
            "bot.work.runner",
            "note to https://hooks.slack.com/actions/T1/2/secret failed",
            "note to (response_url) failed",
        ),
        (
            "slack_bolt.App",
            "Unhandled request ({'type': 'block_actions', 'block_id': 'b', 'action_id': 'vote_up'})\n---\n"
            "[Suggestion] You can handle this type of event with the following listener function: ...",
            "Unhandled request (type=block_actions, action_id=vote_up)",
        ),
        (
            "slack_bolt.App",
            "Unhandled request ({'type': 'dialog_submission', 'callback_id': 'c', 'submission': {'a': 'secret'}})",
            "Unhandled request (type=dialog_submission, callback_id=c)",
        ),
        (
            "slack_bolt.RequestVerification",
            "Invalid request signature detected (signature: v0=1, timestamp: 2, body: text=secret)",
            "Invalid request signature detected (headers and body not logged)",
        ),
        (
            "anthropic._base_client",
            "Request options: {'json_data': {'messages': [{'content': 'secret'}]}}",
            "Request options not logged",
        ),
        (
            "slack_sdk.socket_mode.builtin.client",
            'on_message invoked: (message: {"payload": {"text": "secret"}})',
            "on_message invoked (message not logged)",
        ),
        (
            "slack_sdk.socket_mode.builtin.client",
            'Sending a message (session id: s-1, message: {"payload": {"text": "secret"}})',
            "Sending a message (session id: s-1, payload not logged)",
        ),
        (
            "slack_bolt.oauth.oauth_flow",
            "Failed to fetch oauth.v2.access result with code: 123.456.abc - error: invalid_code",
            "Failed to fetch oauth.v2.access result (code not logged) - error: invalid_code",
        ),
        ("bot.work.reporter", "run=1 step=planned approaches=3", "run=1 step=planned approaches=3"),
    ],
)
def test_log_messages_keep_what_happened_and_lose_the_payload(logger: str, message: str, logged: str) -> None:
    assert scrub_message(logger, message) == logged


def test_ids_from_outside_must_fit_sqlite() -> None:
    assert [parse_id(v) for v in ("1", 7, str(SQLITE_MAX_ID), str(SQLITE_MAX_ID + 1), "9" * 30)] == [
        1, 7, SQLITE_MAX_ID, None, None
    ]  # fmt: skip
    assert [parse_id(v) for v in ("", "0", "-3", "+3", " 3", "3.0", "\u00b2", "\u0663", True, 3.0, None)] == [None] * 11


# ------------------------------------------------------------------------------------- control characters

CONTROL = {*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)}


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def test_no_control_character_reaches_slack(bot: Bot) -> None:
    bot.claude.responder = Script(
        plan=lambda: plan_reply(analysis="Plan\x00 with \x1b[2J escapes\x07"),
        worker=lambda kind: f"<response>## {kind}\x00\nHi\x1b[31m there\x9b1m ok\x08</response>",
    )
    bot.command("Write a \x00 tagline \x1b[31m in\x9b red")
    run = bot.wait_run()
    assert run.task == "Write a \x00 tagline \x1b[31m in\x9b red"  # stored as typed

    def posted() -> list[dict[str, Any]]:
        return [call.params for call in bot.slack.calls() if call.method.startswith("chat.")]

    # The run's row is finished before its last messages have gone out: wait for the variations' text.
    bot.slack.wait_for(lambda: any("there" in text for params in posted() for text in strings(params)))
    assert any("in red" in text for params in posted() for text in strings(params))
    for params in [*posted(), *bot.slack.responses()]:
        for text in strings(params):
            assert not CONTROL & {ord(ch) for ch in text}, repr(text)


# ------------------------------------------------------------------------------------------ request size


def test_ten_thousand_context_lines_are_refused_before_any_work(bot: Bot) -> None:
    text = "Write a tagline\n" + "\n".join(f"key {i}: value {i}" for i in range(10_000))
    status, body = bot.command(text)
    assert status == 200
    answer = json.loads(body)
    assert answer["response_type"] == "ephemeral"
    assert f"Your request is {len(text):,} characters long" in json.dumps(answer, ensure_ascii=False)
    assert "the limit is 4,000" in json.dumps(answer)
    assert_nothing_happened(bot)


def test_more_than_twenty_context_lines_are_refused(bot: Bot) -> None:
    text = "Write a tagline\n" + "\n".join(f"k{i}: v" for i in range(21))
    answer = json.loads(bot.command(text)[1])
    assert "Your request has 21 context lines; the limit is 20" in json.dumps(answer)
    assert_nothing_happened(bot)


@pytest.mark.parametrize(
    ("logger", "message", "level", "expected"),
    [
        ("httpx2", 'HTTP Request: POST https://api.anthropic.com/v1/messages "HTTP/1.1 200 OK"', "INFO", "DEBUG"),
        ("slack_bolt.App", "As you gave `client` as well, `token` will be unused.", "WARNING", "DEBUG"),
        (
            "slack_sdk.socket_mode.websockets",
            "Failed to receive or enqueue a message: ConnectionClosedOK, error: received 1001 (going away)",
            "ERROR",
            "INFO",
        ),
        # A link that really broke, and anything else, keep their level.
        (
            "slack_sdk.socket_mode.websockets",
            "Failed to receive or enqueue a message: ConnectionClosedError, error: no close frame received",
            "ERROR",
            "ERROR",
        ),
        ("slack_bolt.App", "Failed to run listener function (error: boom)", "ERROR", "ERROR"),
        ("bot.work.reporter", "HTTP Request: run=1 step=started", "INFO", "INFO"),
    ],
)
def test_routine_library_lines_are_logged_below_info(logger: str, message: str, level: str, expected: str) -> None:
    assert level_of(logger, message, getattr(logging, level)) == getattr(logging, expected)
