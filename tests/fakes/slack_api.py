"""A loopback fake of the Slack Web API and of response_url endpoints, for the real slack_sdk/bolt clients.

It answers the methods the app uses the way Slack does (message store with ts, threads, streaming,
views, the AI pane's assistant.threads.*, agent sessions), records every call, and can inject Slack's
failure modes (ok=false, 429 + Retry-After, 5xx).
With `per_token=True` it is several workspaces: each token belongs to one, issued through Slack's OAuth
(the consent page `/oauth/v2/authorize`, then `oauth.v2.access`), and a call with any other answers
`invalid_auth`.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.fakes import FakeRequestHandler, LoopbackFake

TEAM_ID = "T0001"
BOT_USER_ID = "UBOT"
BOT_ID = "B0001"
STREAM_TEXT_LIMIT = 12_000  # markdown_text per chat.*Stream call
SESSION_STATUSES = ("active", "processing", "suspended", "closed")
SESSION_TITLE_LIMIT = 200
UNSUBSCRIBED = "missing_agent_session_stopped_event_subscription"
MARKDOWN_BLOCKS_LIMIT = 12_000  # the text of all `markdown` blocks of one message together

Params = dict[str, Any]
Answer = dict[str, Any]


@dataclass
class SlackCall:
    """One Web API request as the fake received it. `time` is `time.monotonic()` at arrival."""

    method: str
    params: Params
    token: str | None
    time: float
    faulted: bool = False
    team: str | None = None  # the workspace the token belongs to (None: none does, with per_token)


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: int | None
    remaining: int
    when: Callable[[Params], bool] | None = None


@dataclass
class _Counter:
    """Issues Slack-shaped, unique and increasing ts strings ("1700000000.000100", ...)."""

    n: int = 0
    views: int = 0
    base: int = field(default=1_700_000_000 * 1_000_000)

    def next_ts(self) -> str:
        self.n += 1
        micros = self.base + self.n * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def parse_body(body: bytes, content_type: str) -> Params:
    """Decode a JSON or form-urlencoded body; form values that hold JSON arrays/objects (`blocks`,
    `view`, ...) are decoded too, since slack_sdk serialises them that way in form posts."""
    if not body:
        return {}
    text = body.decode("utf-8")
    if "json" in content_type:
        parsed = json.loads(text)
        return parsed if isinstance(parsed, dict) else {"_json": parsed}
    if "x-www-form-urlencoded" in content_type or not content_type:
        return {key: _maybe_json(value) for key, value in parse_qsl(text, keep_blank_values=True)}
    return {"_raw": text}


def _maybe_json(value: str) -> Any:
    if value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


class FakeSlackAPI(LoopbackFake):
    """Fake Slack: `WebClient(token=..., base_url=fake.url)`; response URLs from `fake.response_url(key)`."""

    def __init__(self, *, per_token: bool = False) -> None:
        super().__init__()
        self._latency = 0.0
        self._latency_changed = threading.Condition()
        # per_token: token -> its workspace, as oauth.v2.access issued them; None: every token is TEAM_ID's.
        self._teams: dict[str, str] | None = {} if per_token else None
        self._codes: dict[str, tuple[str, str | None, str]] = {}  # OAuth code -> (team, redirect_uri, scope)
        self._issued = itertools.count(1)
        self._caller = TEAM_ID  # the workspace of the call being answered (set with the lock held)
        self.oauth_client: tuple[str, str] | None = None  # the app's client id and secret, when OAuth is used
        self.redirect_url: str | None = None  # the app's configured redirect URL (manifest oauth_config)
        self._calls: list[SlackCall] = []
        self._messages: list[dict[str, Any]] = []
        self._ephemerals: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._responses: list[tuple[str, Any]] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._counter = _Counter()
        # The AI app pane's threads, by (channel, thread_ts): the status shown, the suggested prompts, the title.
        self._statuses: dict[tuple[str, str], str] = {}
        self._prompts: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._titles: dict[tuple[str, str], str] = {}
        # Agent sessions, by (channel, thread_ts): status, title, initiator, and every status set, in order.
        self._sessions: dict[tuple[str, str], dict[str, Any]] = {}
        # How the workspace and app take agents.sessions.setStatus: "on"; "unsubscribed" (the app does not
        # subscribe to agent_session_stopped: ok, with Slack's warning); or any other value, the `ok: false`
        # error Slack answers instead (e.g. "missing_scope" for an app not declared as an agent).
        self.agent_sessions = "on"

    @property
    def latency(self) -> float:
        """Seconds each answer waits, to model network + Slack time; lowering it also shortens the answers
        already waiting, so a test that made Slack slow ends without waiting out its own slowness."""
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        with self._latency_changed:
            self._latency = seconds
            self._latency_changed.notify_all()

    @property
    def url(self) -> str:
        """Web API base URL, ending in `/api/` like `https://slack.com/api/`."""
        return f"{self.origin}/api/"

    # -- test-facing queries ----------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[SlackCall]:
        with self._lock:
            return [copy.deepcopy(c) for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Posted (and streamed) messages in posting order, in their current state after updates."""
        with self._lock:
            return [copy.deepcopy(m) for m in self._messages if channel is None or m["channel"] == channel]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self._lock:
            found = self._find(channel, ts)
            if found is None:
                raise KeyError(f"no message {ts} in {channel}; have {[m['ts'] for m in self._messages]}")
            return copy.deepcopy(found)

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Replies in a thread, in order, without the parent."""
        with self._lock:
            return [
                copy.deepcopy(m)
                for m in self._messages
                if m["channel"] == channel and m["thread_ts"] == thread_ts and m["ts"] != thread_ts
            ]

    def ephemerals(self, channel: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(m) for m in self._ephemerals if channel is None or m["channel"] == channel]

    def views(self) -> list[dict[str, Any]]:
        """Views opened/pushed/published, each in its latest state (with its `id`)."""
        with self._lock:
            return [copy.deepcopy(v) for v in self._views.values()]

    def status(self, channel: str, thread_ts: str) -> str:
        """The assistant thread's status line as people see it now ("" when none, or cleared by a reply)."""
        with self._lock:
            return self._statuses.get((channel, thread_ts), "")

    def suggested_prompts(self, channel: str, thread_ts: str | None = None) -> dict[str, Any] | None:
        """The suggested prompts last set for a thread (`title` and `prompts`), None when none were."""
        with self._lock:
            return copy.deepcopy(self._prompts.get((channel, thread_ts)))

    def title(self, channel: str, thread_ts: str) -> str | None:
        with self._lock:
            return self._titles.get((channel, thread_ts))

    def session(self, channel: str, thread_ts: str) -> dict[str, Any] | None:
        """A thread's agent session (`status`, `title`, `initiator`, `statuses`: each one set, in order)."""
        with self._lock:
            return copy.deepcopy(self._sessions.get((channel, thread_ts)))

    def press_session_stop(self, channel: str, thread_ts: str) -> list[str]:
        """A person clicks Slack's stop button of a `processing` session: Slack stops the app's streams in
        that thread and returns their ts (the event's `streaming_message_ts`); the status stays as it is."""
        with self._lock:
            session = self._sessions.get((channel, thread_ts))
            assert session is not None and session["status"] == "processing", session
            stopped = []
            for message in self._messages:
                if message["channel"] == channel and message["thread_ts"] == thread_ts and message["streaming"]:
                    message["streaming"] = False
                    stopped.append(message["ts"])
            return stopped

    def expire_streams(self) -> None:
        """Slack ends every open stream by itself (it does after a few idle minutes): appending to or
        stopping one then answers `message_not_in_streaming_state`."""
        with self._lock:
            for message in self._messages:
                message["streaming"] = False

    def response_url(self, key: str) -> str:
        """A response_url served by this fake; what is posted there is returned by `responses(key)`."""
        return f"{self.origin}/response/{key}"

    def responses(self, key: str | None = None) -> list[Any]:
        """JSON bodies posted to response URLs (all keys, in order, when `key` is None)."""
        with self._lock:
            return [copy.deepcopy(body) for k, body in self._responses if key is None or k == key]

    def token_for(self, team: str) -> str | None:
        """The latest bot token issued to a workspace (None when it has none, or it was revoked)."""
        with self._lock:
            return next((t for t, owner in reversed((self._teams or {}).items()) if owner == team), None)

    def revoke(self, team: str) -> None:
        """The workspace uninstalled the app: its tokens stop working (Slack then sends app_uninstalled)."""
        with self._lock:
            teams = self._teams if self._teams is not None else {}
            for token in [t for t, owner in teams.items() if owner == team]:
                del teams[token]

    def fail_next(
        self,
        method: str,
        *,
        error: str = "internal_error",
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
        when: Callable[[Params], bool] | None = None,
    ) -> None:
        """Make the next `times` calls of `method` fail: 200 + ok=false `error`; 429 + Retry-After
        (default 1 s) + `ratelimited`; any other status with a plain-text body, like Slack's edge.
        With `when`, only calls whose parameters it accepts fail (and count)."""
        with self._lock:
            self._faults.setdefault(method, []).append(_Fault(error, status, retry_after, times, when))

    # -- HTTP -------------------------------------------------------------------------------------

    def _summary(self) -> str:
        with self._lock:
            recent = [c.method + (" (faulted)" if c.faulted else "") for c in self._calls[-20:]]
            return f"FakeSlackAPI: {len(self._calls)} calls, last: {recent}; {len(self._messages)} messages"

    def _handle(self, handler: FakeRequestHandler) -> None:
        split = urlsplit(handler.path)
        content_type = handler.headers.get("Content-Type", "")
        params: Params = dict(parse_qsl(split.query))
        if split.path.startswith("/response/"):
            self._handle_response_url(handler, split.path.removeprefix("/response/"), content_type)
        elif split.path == "/oauth/v2/authorize":
            self._handle_consent(handler, params)
        elif split.path.startswith("/api/"):
            params.update(parse_body(handler.body, content_type))
            self._handle_api(handler, split.path.removeprefix("/api/"), params)
        else:
            handler.send_text(404, "not found")

    def _handle_response_url(self, handler: FakeRequestHandler, key: str, content_type: str) -> None:
        body = parse_body(handler.body, content_type or "application/json")
        with self._lock:
            self._responses.append((key, body.get("_json", body)))
        self._sleep()
        handler.send_json(200, {"ok": True})

    def _handle_consent(self, handler: FakeRequestHandler, params: Params) -> None:
        """Slack's consent page, as a browser leaves it when the person clicks Allow: back to the app's
        redirect URL with a one-time code for the workspace chosen (the `team` parameter)."""
        team, state = params.get("team"), params.get("state", "")
        redirect = params.get("redirect_uri") or self.redirect_url
        if not team or not redirect or (self.oauth_client and params.get("client_id") != self.oauth_client[0]):
            handler.send_text(400, "invalid_request: no team, redirect URL or known client_id")
            return
        with self._lock:
            code = f"code-{team}-{next(self._issued)}"
            self._codes[code] = (team, params.get("redirect_uri"), params.get("scope", ""))
        query = urlencode({"code": code, "state": state})
        handler.send_text(302, "", {"Location": f"{redirect}{'&' if '?' in redirect else '?'}{query}"})

    def _handle_api(self, handler: FakeRequestHandler, method: str, params: Params) -> None:
        auth = handler.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else params.get("token")
        if auth.startswith("Basic "):  # oauth.v2.access: the client id and secret, as slack_sdk sends them
            client_id, _, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
            params.setdefault("client_id", client_id)
            params.setdefault("client_secret", secret)
        with self._lock:
            team = TEAM_ID if self._teams is None else self._teams.get(str(token))
            fault = self._take_fault(method, params)
            call = SlackCall(method, params, token, time.monotonic(), faulted=fault is not None, team=team)
            self._calls.append(call)
            if fault is None and team is None and method != "oauth.v2.access":
                answer: Answer | None = {"ok": False, "error": "invalid_auth" if token else "not_authed"}
            else:
                self._caller = team or TEAM_ID
                answer = None if fault else self._answer(method, params)
        self._sleep()
        if answer is not None:
            handler.send_json(200, answer)
        elif fault is not None and fault.status == 200:
            handler.send_json(200, {"ok": False, "error": fault.error})
        elif fault is not None and fault.status == 429:
            retry_after = str(1 if fault.retry_after is None else fault.retry_after)
            handler.send_json(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": retry_after})
        elif fault is not None:
            handler.send_text(fault.status, f"fake Slack error {fault.status}: {fault.error}")

    def _sleep(self) -> None:
        started = time.monotonic()
        with self._latency_changed:
            while (left := self._latency - (time.monotonic() - started)) > 0:
                self._latency_changed.wait(left)

    def _take_fault(self, method: str, params: Params) -> _Fault | None:
        queue = self._faults.get(method) or []
        fault = next((f for f in queue if f.when is None or f.when(params)), None)
        if fault is None:
            return None
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.remove(fault)
        return fault

    def _answer(self, method: str, params: Params) -> Answer:
        """Dispatch to `_api_<method with dots as underscores>`; unknown methods just say ok."""
        api: Callable[[Params], Answer] | None = getattr(self, "_api_" + method.replace(".", "_"), None)
        return api(params) if api is not None else {"ok": True}

    # -- message store (called with the lock held) ------------------------------------------------

    def _find(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self._messages if m["channel"] == channel and m["ts"] == ts), None)

    def _store(self, params: Params, text: str, *, streaming: bool = False) -> dict[str, Any]:
        message: dict[str, Any] = {
            "channel": params.get("channel"),
            "ts": self._counter.next_ts(),
            "thread_ts": params.get("thread_ts") or None,
            "text": text,
            "blocks": params.get("blocks") or [],
            "metadata": params.get("metadata"),
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "streaming": streaming,
            "updates": 0,
        }
        self._messages.append(message)
        if message["thread_ts"]:  # the app replied: Slack clears the thread's status
            self._statuses.pop((str(message["channel"]), str(message["thread_ts"])), None)
        return message

    @staticmethod
    def _public(message: dict[str, Any]) -> dict[str, Any]:
        """The `message` object Slack returns: no channel, thread_ts only on replies."""
        shown = {"type": "message", "team": TEAM_ID, "user": BOT_USER_ID, "bot_id": BOT_ID}
        shown.update({k: message[k] for k in ("text", "blocks", "ts")})
        if message["thread_ts"]:
            shown["thread_ts"] = message["thread_ts"]
        return copy.deepcopy(shown)

    @staticmethod
    def _chunk_text(params: Params) -> str:
        """markdown_text plus any `markdown_text` chunks, as chat.*Stream accept both."""
        text = params.get("markdown_text") or ""
        for chunk in params.get("chunks") or []:
            if isinstance(chunk, dict) and chunk.get("type") == "markdown_text":
                text += chunk.get("text", "")
        return text

    @staticmethod
    def _refused_blocks(params: Params) -> Answer | None:
        """Slack's answer to blocks it will not post: more than 50, an empty `markdown` block, or
        `markdown` blocks over 12,000 characters together (`msg_blocks_too_long`); None when fine."""
        blocks = params.get("blocks")
        if not isinstance(blocks, list):
            return None
        texts = [b.get("text") for b in blocks if isinstance(b, dict) and b.get("type") == "markdown"]
        if len(blocks) > 50 or not all(isinstance(text, str) and text for text in texts):
            return {"ok": False, "error": "invalid_blocks"}
        if sum(len(text) for text in texts) > MARKDOWN_BLOCKS_LIMIT:
            return {"ok": False, "error": "msg_blocks_too_long"}
        return None

    # -- Web API methods (called with the lock held) ----------------------------------------------

    def _api_auth_test(self, params: Params) -> Answer:
        return {
            "ok": True,
            "url": "https://test-team.slack.com/",
            "team": "Test Team",
            "user": "variations",
            "team_id": self._caller,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_oauth_v2_access(self, params: Params) -> Answer:
        """The code exchange: a one-time code from the consent page for a new bot token of that workspace."""
        if self.oauth_client and (params.get("client_id"), params.get("client_secret")) != self.oauth_client:
            return {"ok": False, "error": "invalid_client_id"}
        granted = self._codes.pop(str(params.get("code")), None)
        if granted is None:
            return {"ok": False, "error": "invalid_code"}
        team, redirect_uri, scope = granted
        if redirect_uri is not None and params.get("redirect_uri") != redirect_uri:
            return {"ok": False, "error": "bad_redirect_uri"}
        token = f"xoxb-{team}-{next(self._issued)}"
        if self._teams is not None:
            self._teams[token] = team
        return {
            "ok": True,
            "app_id": "A0001",
            "authed_user": {"id": "U0001"},
            "scope": scope,
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": BOT_USER_ID,
            "team": {"id": team, "name": f"Team {team}"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, params: Params) -> Answer:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if refused := self._refused_blocks(params):
            return refused
        message = self._store(params, params.get("text") or params.get("markdown_text") or "")
        public = self._public(message)
        return {"ok": True, "channel": message["channel"], "ts": message["ts"], "message": public}

    def _api_chat_update(self, params: Params) -> Answer:
        message = self._find(params.get("channel", ""), params.get("ts", ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if message["streaming"]:  # still the streaming API's: Slack refuses edits until it is stopped
            return {"ok": False, "error": "streaming_state_conflict"}
        if refused := self._refused_blocks(params):
            return refused
        # Like Slack, fields left out keep their previous value; an empty blocks list clears blocks.
        for key in ("text", "blocks", "metadata"):
            if key in params:
                message[key] = params[key]
        if "markdown_text" in params:
            message["text"] = params["markdown_text"]
        message["updates"] += 1
        return {
            "ok": True,
            "channel": message["channel"],
            "ts": message["ts"],
            "text": message["text"],
            "message": self._public(message),
        }

    def _api_chat_delete(self, params: Params) -> Answer:
        message = self._find(params.get("channel", ""), params.get("ts", ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        self._messages.remove(message)
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    def _api_chat_getPermalink(self, params: Params) -> Answer:
        channel, ts = str(params.get("channel", "")), str(params.get("message_ts", ""))
        if self._find(channel, ts) is None:
            return {"ok": False, "error": "message_not_found"}
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _api_chat_postEphemeral(self, params: Params) -> Answer:
        if not params.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        if refused := self._refused_blocks(params):
            return refused
        ts = self._counter.next_ts()
        self._ephemerals.append(
            {
                "channel": params.get("channel"),
                "user": params["user"],
                "ts": ts,
                "thread_ts": params.get("thread_ts") or None,
                "text": params.get("text") or params.get("markdown_text") or "",
                "blocks": params.get("blocks") or [],
            }
        )
        return {"ok": True, "message_ts": ts}

    def _api_chat_startStream(self, params: Params) -> Answer:
        channel, thread_ts = str(params.get("channel") or ""), str(params.get("thread_ts") or "")
        if not channel or not thread_ts:
            return {"ok": False, "error": "invalid_arguments"}
        if not channel.startswith("D"):  # outside a DM Slack needs to know whom the stream is for
            for field_name in ("recipient_team_id", "recipient_user_id"):
                if not params.get(field_name):
                    return {"ok": False, "error": f"missing_{field_name}"}
        root = self._find(channel, thread_ts)
        if root is not None and root["thread_ts"] not in (None, thread_ts):
            return {"ok": False, "error": "invalid_thread_ts"}  # a reply's ts: threads are one level deep
        if len(self._chunk_text(params)) > STREAM_TEXT_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        message = self._store(params, self._chunk_text(params), streaming=True)
        message["recipient_team_id"] = params.get("recipient_team_id")
        message["recipient_user_id"] = params.get("recipient_user_id")
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    def _api_chat_appendStream(self, params: Params) -> Answer:
        message = self._find(params.get("channel", ""), params.get("ts", ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not message["streaming"]:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        if len(self._chunk_text(params)) > STREAM_TEXT_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        message["text"] += self._chunk_text(params)
        message["updates"] += 1
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    def _api_chat_stopStream(self, params: Params) -> Answer:
        if refused := self._refused_blocks(params):
            return refused
        answer = self._api_chat_appendStream(params)
        if answer["ok"]:
            message = self._find(params["channel"], params["ts"])
            assert message is not None
            message["streaming"] = False
            if "blocks" in params:
                message["blocks"] = params["blocks"]
            if "metadata" in params:
                message["metadata"] = params["metadata"]
            answer["message"] = self._public(message)
        return answer

    def _api_agents_sessions_setStatus(self, params: Params) -> Answer:
        """Creates the thread's session on first use (title and initiator apply only then), sets its status."""
        if self.agent_sessions not in ("on", "unsubscribed"):
            return {"ok": False, "error": self.agent_sessions, "needed": "assistant:write", "provided": "chat:write"}
        channel, thread_ts, status = params.get("channel_id"), params.get("thread_ts"), params.get("status")
        title = params.get("title")
        if not channel or not thread_ts or status not in SESSION_STATUSES:
            return {"ok": False, "error": "invalid_arguments"}
        if title is not None and (not isinstance(title, str) or len(title) > SESSION_TITLE_LIMIT):
            return {"ok": False, "error": "invalid_arguments"}
        session = self._sessions.setdefault(
            (str(channel), str(thread_ts)),
            {"title": title, "initiator": params.get("initiator_user_id"), "statuses": []},
        )
        session["status"] = status
        session["statuses"].append(status)
        answer: Answer = {"ok": True, "status": status, "agent_status": status, "title": session["title"]}
        if self.agent_sessions == "unsubscribed":
            answer["warning"] = UNSUBSCRIBED
            answer["response_metadata"] = {"warnings": [UNSUBSCRIBED]}
        return answer

    def _api_assistant_threads_setStatus(self, params: Params) -> Answer:
        channel, thread_ts = params.get("channel_id"), params.get("thread_ts")
        if not channel or not thread_ts or not isinstance(params.get("status"), str):
            return {"ok": False, "error": "invalid_arguments"}
        self._statuses[(str(channel), str(thread_ts))] = params["status"]  # "" clears it
        return {"ok": True}

    def _api_assistant_threads_setSuggestedPrompts(self, params: Params) -> Answer:
        prompts = params.get("prompts")
        if not params.get("channel_id") or not isinstance(prompts, list) or not 1 <= len(prompts) <= 4:
            return {"ok": False, "error": "invalid_arguments"}
        if not all(isinstance(p, dict) and p.get("title") and p.get("message") for p in prompts):
            return {"ok": False, "error": "invalid_arguments"}
        key = (str(params["channel_id"]), params.get("thread_ts"))
        self._prompts[key] = {"title": params.get("title"), "prompts": prompts}
        return {"ok": True}

    def _api_assistant_threads_setTitle(self, params: Params) -> Answer:
        channel, thread_ts, title = params.get("channel_id"), params.get("thread_ts"), params.get("title")
        if not channel or not thread_ts or not title:
            return {"ok": False, "error": "invalid_arguments"}
        self._titles[(str(channel), str(thread_ts))] = str(title)
        return {"ok": True}

    def _view_answer(self, params: Params, view_id: str | None = None) -> Answer:
        view = params.get("view")
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        if any(isinstance(b, dict) and b.get("type") == "markdown" for b in view.get("blocks") or []):
            return {"ok": False, "error": "invalid_arguments"}  # markdown blocks are for messages only
        if view_id is None:
            self._counter.views += 1
            view_id = f"V{self._counter.views:08d}"
        stored = {
            "id": view_id,
            "team_id": TEAM_ID,
            "state": {"values": {}},
            "hash": f"{time.time():.6f}",
            "root_view_id": view_id,
            "bot_id": BOT_ID,
            **copy.deepcopy(view),
        }
        if params.get("user_id"):
            stored["user_id"] = params["user_id"]
        self._views[view_id] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _api_views_open(self, params: Params) -> Answer:
        return self._view_answer(params)

    def _api_views_push(self, params: Params) -> Answer:
        return self._view_answer(params)

    def _api_views_publish(self, params: Params) -> Answer:
        user = params.get("user_id")
        home = next((v["id"] for v in self._views.values() if v.get("user_id") == user), None)
        return self._view_answer(params, home)

    def _api_views_update(self, params: Params) -> Answer:
        view_id = params.get("view_id")
        if view_id is None and params.get("external_id"):
            view_id = next(
                (v["id"] for v in self._views.values() if v.get("external_id") == params["external_id"]), None
            )
        if view_id is None or view_id not in self._views:
            return {"ok": False, "error": "not_found"}
        return self._view_answer(params, view_id)

    def _api_conversations_info(self, params: Params) -> Answer:
        channel = str(params.get("channel", ""))
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": f"channel-{channel.lower()}",
                "is_channel": channel.startswith("C"),
                "is_group": channel.startswith("G"),
                "is_im": channel.startswith("D"),
                "is_private": not channel.startswith("C"),
                "is_member": True,
                "is_archived": False,
                "context_team_id": TEAM_ID,
            },
        }

    def _api_users_info(self, params: Params) -> Answer:
        user = str(params.get("user", ""))
        name = f"user-{user.lower()}"
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": TEAM_ID,
                "name": name,
                "real_name": name.title(),
                "is_bot": user == BOT_USER_ID,
                "deleted": False,
                "tz": "UTC",
                "tz_offset": 0,
                "profile": {"display_name": name, "real_name": name.title()},
            },
        }
