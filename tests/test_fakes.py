"""The fakes answer the real clients (slack_sdk, slack_bolt, anthropic) the way the real APIs do."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import anthropic
import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.fakes import (
    FakeAnthropicAPI,
    FakeReply,
    FakeSlackAPI,
    block_actions_body,
    signed_headers,
    slash_command_body,
    wait_for,
)

MODEL = "claude-test-model"
FAST_RETRY = {"retry-after-ms": "1"}


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
def client(slack: FakeSlackAPI) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.url)


@pytest.fixture
def claude() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as fake:
        yield fake
    assert fake.errors == []


def make_anthropic(fake: FakeAnthropicAPI, max_retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test", base_url=fake.url, max_retries=max_retries, timeout=10)


def ask(client: anthropic.Anthropic, prompt: str = "hello") -> anthropic.types.Message:
    return client.messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": prompt}])


def stream(client: anthropic.Anthropic, prompt: str = "go") -> Any:
    return client.messages.stream(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": prompt}])


# -- Slack Web API -------------------------------------------------------------------------------------


def test_lifecycle_start_stop_and_url(slack: FakeSlackAPI) -> None:
    assert slack.url.startswith("http://127.0.0.1:") and slack.url.endswith("/api/")
    fake = FakeSlackAPI().start()
    url = fake.url
    fake.stop()
    fake.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = fake.url
    with pytest.raises(Exception):  # noqa: B017 - whatever urllib raises for a refused connection
        WebClient(base_url=url, timeout=2, retry_handlers=[]).auth_test()


def test_auth_test_identifies_the_bot_and_records_the_token(slack: FakeSlackAPI, client: WebClient) -> None:
    response = client.auth_test()
    assert response["user_id"] == "UBOT"
    assert response["bot_id"] == "B0001"
    assert response["team_id"] == "T0001"
    assert response["is_enterprise_install"] is False
    [call] = slack.calls("auth.test")
    assert call.token == "xoxb-test"
    assert not call.faulted


def test_post_then_update_changes_the_stored_message(slack: FakeSlackAPI, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*draft*"}}]
    posted = client.chat_postMessage(channel="C1", text="draft", blocks=blocks)
    assert posted["ok"] and posted["channel"] == "C1"
    assert posted["message"]["text"] == "draft" and posted["message"]["bot_id"] == "B0001"
    ts = posted["ts"]

    updated = client.chat_update(channel="C1", ts=ts, text="final")
    assert updated["ts"] == ts and updated["text"] == "final"

    message = slack.message("C1", ts)
    assert message["text"] == "final"
    assert message["blocks"] == blocks  # left out of the update, so kept, as in Slack
    assert message["thread_ts"] is None and message["updates"] == 1
    assert [m["ts"] for m in slack.messages("C1")] == [ts]


def test_update_of_unknown_message_fails_like_slack(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel="C1", ts="1.000000", text="x")
    assert raised.value.response["error"] == "message_not_found"


def test_ts_values_are_unique_and_increasing(client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel="C1", text=str(i))["ts"] for i in range(5)]
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 5


def test_thread_lists_replies_without_the_parent(slack: FakeSlackAPI, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="question")["ts"]
    client.chat_postMessage(channel="C1", text="one", thread_ts=parent)
    client.chat_postMessage(channel="C2", text="elsewhere", thread_ts=parent)
    client.chat_postMessage(channel="C1", text="two", thread_ts=parent)
    assert [m["text"] for m in slack.thread("C1", parent)] == ["one", "two"]
    assert slack.thread("C1", parent)[0]["thread_ts"] == parent
    assert len(slack.messages()) == 4


def test_form_encoded_calls_decode_json_fields(slack: FakeSlackAPI, client: WebClient) -> None:
    blocks = [{"type": "divider"}]
    client.api_call("chat.postMessage", params={"channel": "C1", "text": "hi", "blocks": json.dumps(blocks)})
    [call] = slack.calls("chat.postMessage")
    assert call.params == {"channel": "C1", "text": "hi", "blocks": blocks}
    assert call.token == "xoxb-test"
    assert slack.messages()[0]["blocks"] == blocks


def test_streaming_methods_accumulate_text(slack: FakeSlackAPI, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="ask")["ts"]
    started = client.chat_startStream(
        channel="C1", thread_ts=parent, markdown_text="Hel", recipient_team_id="T0001", recipient_user_id="U1"
    )
    ts = started["ts"]
    client.chat_appendStream(channel="C1", ts=ts, markdown_text="lo ")
    done = [{"type": "context", "elements": [{"type": "mrkdwn", "text": "done"}]}]
    client.chat_stopStream(channel="C1", ts=ts, markdown_text="world", blocks=done)

    message = slack.message("C1", ts)
    assert message["text"] == "Hello world" and message["blocks"] == done
    assert message["thread_ts"] == parent and message["streaming"] is False
    assert [m["ts"] for m in slack.thread("C1", parent)] == [ts]
    with pytest.raises(SlackApiError) as raised:
        client.chat_appendStream(channel="C1", ts=ts, markdown_text="late")
    assert raised.value.response["error"] == "message_not_in_streaming_state"


def test_chat_stream_helper_works_against_the_fake(slack: FakeSlackAPI, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="ask")["ts"]
    streamer = client.chat_stream(
        channel="C1", thread_ts=parent, recipient_team_id="T0001", recipient_user_id="U1", buffer_size=4
    )
    for piece in ["alpha ", "beta ", "gamma"]:
        streamer.append(markdown_text=piece)
    streamer.stop()
    [reply] = slack.thread("C1", parent)
    assert reply["text"] == "alpha beta gamma"
    assert [c.method for c in slack.calls()][-1] == "chat.stopStream"


def test_start_stream_requires_thread_ts(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.startStream", json={"channel": "C1", "markdown_text": "x"})
    assert raised.value.response["error"] == "invalid_arguments"


def test_ephemeral_messages_are_kept_apart(slack: FakeSlackAPI, client: WebClient) -> None:
    answer = client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert answer["message_ts"]
    assert slack.messages() == []
    [ephemeral] = slack.ephemerals("C1")
    assert ephemeral["user"] == "U1" and ephemeral["text"] == "only you"


def test_views_echo_the_view_with_an_id(slack: FakeSlackAPI, client: WebClient) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Vote"}, "blocks": []}
    opened = client.views_open(trigger_id="1.1.t", view=view)["view"]
    assert opened["id"].startswith("V") and opened["title"] == view["title"]
    changed = {**view, "title": {"type": "plain_text", "text": "Voted"}}
    updated = client.views_update(view_id=opened["id"], view=changed)["view"]
    assert updated["id"] == opened["id"]
    assert [v["title"]["text"] for v in slack.views()] == ["Voted"]
    assert [c.method for c in slack.calls()] == ["views.open", "views.update"]


def test_info_methods_and_unknown_methods_answer_ok(client: WebClient) -> None:
    assert client.conversations_info(channel="C1")["channel"]["id"] == "C1"
    assert client.users_info(user="U1")["user"]["id"] == "U1"
    assert client.reactions_add(channel="C1", timestamp="1.0", name="thumbsup")["ok"]


def test_fail_next_with_ok_false_raises_then_recovers(slack: FakeSlackAPI, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="x")
    assert raised.value.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel="C1", text="y")["ok"]
    assert [c.faulted for c in slack.calls("chat.postMessage")] == [True, False]
    assert [m["text"] for m in slack.messages()] == ["y"]


def test_rate_limit_is_retried_by_the_sdk_handler(slack: FakeSlackAPI) -> None:
    client = WebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[RateLimitErrorRetryHandler()])
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    assert client.chat_postMessage(channel="C1", text="x")["ok"]
    assert [c.faulted for c in slack.calls("chat.postMessage")] == [True, False]
    assert len(slack.messages()) == 1


def test_rate_limit_without_handler_surfaces_ratelimited(slack: FakeSlackAPI, client: WebClient) -> None:
    slack.fail_next("chat.update", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel="C1", ts="1.0", text="x")
    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["Retry-After"] == "7"


def test_server_error_is_a_plain_body(slack: FakeSlackAPI, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", status=503, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            client.chat_postMessage(channel="C1", text="x")
        assert raised.value.response.status_code == 503
    assert client.chat_postMessage(channel="C1", text="x")["ok"]


def test_response_url_records_what_is_posted(slack: FakeSlackAPI) -> None:
    url = slack.response_url("cmd-1")
    response = WebhookClient(url).send(text="working on it", response_type="ephemeral")
    assert response.status_code == 200
    WebhookClient(slack.response_url("cmd-2")).send(text="other")
    assert slack.responses("cmd-1") == [{"text": "working on it", "response_type": "ephemeral"}]
    assert [r["text"] for r in slack.responses()] == ["working on it", "other"]


def test_latency_delays_answers(slack: FakeSlackAPI, client: WebClient) -> None:
    slack.latency = 0.2
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.2


def test_lowering_the_latency_releases_answers_already_waiting(slack: FakeSlackAPI, client: WebClient) -> None:
    slack.latency = 600
    answered = threading.Event()
    threading.Thread(target=lambda: (client.auth_test(), answered.set()), daemon=True).start()
    slack.wait_for(lambda: slack.calls("auth.test"))
    assert not answered.wait(0.1)
    slack.latency = 0
    assert answered.wait(10)


def test_wait_for_sees_background_work_and_explains_timeouts(slack: FakeSlackAPI, client: WebClient) -> None:
    threading.Timer(0.05, lambda: client.chat_postMessage(channel="C1", text="later")).start()
    [message] = slack.wait_for(lambda: slack.messages("C1"))
    assert message["text"] == "later"
    with pytest.raises(AssertionError, match=r"(?s)timed out after 0\.05s.*'chat\.postMessage'"):
        slack.wait_for(lambda: slack.messages("C9"), timeout=0.05)
    assert wait_for(lambda: 42) == 42


def test_bolt_app_end_to_end_with_signed_requests(slack: FakeSlackAPI) -> None:
    secret = "signing-secret"
    app = App(signing_secret=secret, client=WebClient(token="xoxb-test", base_url=slack.url))

    @app.command("/variations")
    def on_command(ack: Any, respond: Any, say: Any, command: dict[str, Any]) -> None:
        ack()
        respond(f"working on: {command['text']}")
        say("posted in channel")

    body = slash_command_body(text="a haiku", response_url=slack.response_url("cmd"))
    response = app.dispatch(BoltRequest(body=body, headers=signed_headers(body, secret)))
    assert response.status == 200
    slack.wait_for(lambda: slack.messages("C0001"))
    assert slack.wait_for(lambda: slack.responses("cmd"))[0]["text"] == "working on: a haiku"

    forged = app.dispatch(BoltRequest(body=body, headers=signed_headers(body, "wrong-secret")))
    assert forged.status == 401


# -- Anthropic Messages API ----------------------------------------------------------------------------


def test_create_returns_text_and_usage(claude: FakeAnthropicAPI) -> None:
    claude.responder = lambda request: FakeReply(text="a fine answer", input_tokens=12, output_tokens=3)
    message = ask(make_anthropic(claude), "write something")
    assert message.content[0].type == "text" and message.content[0].text == "a fine answer"
    assert message.model == MODEL and message.role == "assistant" and message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 3)
    assert message.id.startswith("msg_")
    assert claude.prompts() == ["write something"]
    [request] = claude.requests()
    headers = request["_headers"]
    assert request["model"] == MODEL and "anthropic-version" in headers
    assert "test" in headers.get("x-api-key", headers.get("authorization", ""))


def test_default_reply_and_computed_usage(claude: FakeAnthropicAPI) -> None:
    message = ask(make_anthropic(claude), "x" * 40)
    assert message.content[0].text == "<response>ok</response>"
    assert message.usage.input_tokens == 10 and message.usage.output_tokens >= 1


def test_prompts_reads_block_content(claude: FakeAnthropicAPI) -> None:
    make_anthropic(claude).messages.create(
        model=MODEL,
        max_tokens=10,
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "reply"},
            {"role": "user", "content": [{"type": "text", "text": "second "}, {"type": "text", "text": "2"}]},
        ],
    )
    assert claude.prompts() == ["second 2"]


def test_stream_yields_several_deltas_and_a_final_message(claude: FakeAnthropicAPI) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    claude.responder = lambda request: FakeReply(text=text, stop_reason="max_tokens")
    client = make_anthropic(claude)
    with stream(client) as s:
        deltas = list(s.text_stream)
        final = s.get_final_message()
        assert s.request_id and s.request_id.startswith("req_")
    assert len(deltas) > 1 and "".join(deltas) == text
    assert final.content[0].text == text and final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == round(len(text) / 4)
    assert claude.requests()[0]["stream"] is True


def test_create_with_stream_true_gives_raw_events_in_api_order(claude: FakeAnthropicAPI) -> None:
    claude.responder = lambda request: "abcdefghijklmnopqrstuvwxyz"
    events = list(
        make_anthropic(claude).messages.create(
            model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "go"}], stream=True
        )
    )
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == "abcdefghijklmnopqrstuvwxyz"


def test_overloaded_then_success_is_retried_by_the_sdk(claude: FakeAnthropicAPI) -> None:
    claude.fail_next(529, headers=FAST_RETRY)
    message = ask(make_anthropic(claude, max_retries=2))
    assert message.content[0].text == "<response>ok</response>"
    assert len(claude.requests()) == 2


def test_persistent_server_error_exhausts_retries(claude: FakeAnthropicAPI) -> None:
    claude.fail_next(500, times=5, headers=FAST_RETRY)
    with pytest.raises(anthropic.InternalServerError) as raised:
        ask(make_anthropic(claude, max_retries=1))
    assert raised.value.status_code == 500
    assert raised.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert len(claude.requests()) == 2


def test_error_replies_use_the_api_error_shape(claude: FakeAnthropicAPI) -> None:
    claude.responder = lambda request: FakeReply(status=429, headers=FAST_RETRY)
    with pytest.raises(anthropic.RateLimitError) as raised:
        ask(make_anthropic(claude))
    assert raised.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    claude.responder = lambda request: FakeReply(status=400, error_message="prompt is too long")
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
        ask(make_anthropic(claude))
    claude.fail_next(529)
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        ask(make_anthropic(claude))
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_connection_reset_is_retried(claude: FakeAnthropicAPI) -> None:
    claude.fail_next(reset_connection=True)
    with pytest.raises(anthropic.APIConnectionError):
        ask(make_anthropic(claude))
    claude.fail_next(reset_connection=True)
    assert ask(make_anthropic(claude, max_retries=1)).content[0].text == "<response>ok</response>"


def test_broken_stream_breaks_off_in_the_client(claude: FakeAnthropicAPI) -> None:
    """The fake breaks a stream after 30 characters, and the client sees it fail rather than end. Which error
    the SDK raises for that is its own affair (it has changed between releases); that orchestrator.llm retries
    it is test_llm.py's test_sdk_stream_broken_mid_way_restarts_with_the_whole_text."""
    claude.responder = lambda request: FakeReply(text="x" * 100, break_after_chars=30)
    received: list[str] = []
    client = make_anthropic(claude, max_retries=2)
    with pytest.raises(Exception), stream(client) as s:  # noqa: B017 - whichever error the SDK raises
        received.extend(s.text_stream)
    assert "".join(received) == "x" * 30
    assert len(claude.requests()) == 1  # a stream that broke after it started is not retried by the SDK


def test_tokens_per_second_paces_the_stream(claude: FakeAnthropicAPI) -> None:
    claude.responder = lambda request: FakeReply(text="y" * 80, tokens_per_second=200.0, ttft=0.01)
    client = make_anthropic(claude)
    with stream(client) as s:
        deltas = list(s.text_stream)
    assert len(deltas) > 1 and "".join(deltas) == "y" * 80


def test_concurrent_requests_are_served_in_parallel(claude: FakeAnthropicAPI) -> None:
    barrier = threading.Barrier(3, timeout=5)

    def responder(request: dict[str, Any]) -> str:
        barrier.wait()  # only returns once three requests are in flight together
        return f"re: {request['messages'][-1]['content']}"

    claude.responder = responder
    client = make_anthropic(claude)
    results: list[str] = []
    threads = [threading.Thread(target=lambda p=p: results.append(ask(client, p).content[0].text)) for p in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["re: a", "re: b", "re: c"]
    assert claude.max_concurrency == 3
    assert claude.errors == []


def test_a_failing_responder_becomes_a_500_and_is_recorded() -> None:
    def responder(request: dict[str, Any]) -> str:
        raise ValueError("bad script")

    with FakeAnthropicAPI(responder) as fake:
        with pytest.raises(anthropic.InternalServerError):
            ask(make_anthropic(fake))
        [error] = fake.errors
        assert isinstance(error, ValueError)


# -- request signing -----------------------------------------------------------------------------------


def test_signed_body_verifies_and_tampered_does_not() -> None:
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    body = slash_command_body(text="three takes please")
    headers = signed_headers(body, secret)
    verifier = SignatureVerifier(secret)
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body.replace("three", "four"), headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)


def test_signature_matches_slacks_published_example() -> None:
    """The worked example from Slack's 'Verifying requests from Slack' docs."""
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = signed_headers(body, "8f742231b10e8888abcd99yyyzzz85a5", timestamp=1531420618)
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert headers["X-Slack-Signature"] == expected


def test_bodies_have_slacks_form_shape() -> None:
    fields = parse_qs(slash_command_body(text="hi", user_id="U9"))
    assert fields["command"] == ["/variations"] and fields["text"] == ["hi"] and fields["user_id"] == ["U9"]
    assert fields["team_id"] == ["T0001"] and fields["api_app_id"] == ["A0001"]
    payload = {"type": "block_actions", "actions": [{"action_id": "vote"}]}
    assert json.loads(parse_qs(block_actions_body(payload))["payload"][0]) == payload


def test_fail_next_when_fails_only_the_calls_it_accepts(slack: FakeSlackAPI, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", error="msg_too_long", when=lambda params: params.get("text") == "long")
    assert client.chat_postMessage(channel="C1", text="short")["ok"]  # not accepted: passes, fault kept
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="long")
    assert caught.value.response["error"] == "msg_too_long"
    assert client.chat_postMessage(channel="C1", text="long")["ok"]  # used up
