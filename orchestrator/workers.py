"""One model call that writes one variation (a planned approach, a new version, a synthesis, a follow-up),
in the shared pool, streamed when asked, stoppable by the request's Cancel. The engine runs the planned
approaches through it; a finished run's thread asks it for one more variation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

from orchestrator.cancel import Cancel
from orchestrator.events import FOLLOW_UP, SYNTHESIS, Request, WorkerResult
from orchestrator.llm import LLM, Cancelled, LLMError
from orchestrator.parsing import Approach, parse_response, preview_response
from orchestrator.prompts import Candidate, FollowUp, Revision, follow_up_prompt, synthesis_prompt, worker_prompt

STOPPED = "Stopped."


class Workers:
    def __init__(self, llm: LLM, executor: Executor, *, worker_model: str, max_tokens: int) -> None:
        self.llm = llm
        self.executor = executor
        self.model = worker_model
        self.max_tokens = max_tokens

    def write(
        self,
        request: Request,
        index: int,
        approach: Approach,
        on_reply: Callable[[str], None] | None = None,
        revision: Revision | None = None,
    ) -> WorkerResult:
        """Run one worker (again, with `revision`); when `on_reply` is given the reply is streamed and it
        gets the reply so far. Never raises for a model failure: the result carries the reason instead."""
        prompt = worker_prompt(request.task, approach, request.context, revision)
        return self.settle(request.cancel, prompt, index, approach, on_reply)

    def synthesize(
        self,
        request: Request,
        index: int,
        candidates: Sequence[Candidate],
        on_reply: Callable[[str], None] | None = None,
    ) -> WorkerResult:
        """Merge variations into one final version, weighted by votes; a failure is in the result."""
        prompt = synthesis_prompt(request.task, request.context, candidates)
        approach = Approach(SYNTHESIS, f"Combines {len(candidates)} variations, best-voted first")
        return self.settle(request.cancel, prompt, index, approach, on_reply)

    def follow_up(
        self,
        request: Request,
        index: int,
        follow_up: FollowUp,
        on_reply: Callable[[str], None] | None = None,
    ) -> WorkerResult:
        """Write one more variation that follows an instruction given after the run; a failure is in the
        result."""
        prompt = follow_up_prompt(request.task, request.context, follow_up)
        return self.settle(request.cancel, prompt, index, Approach(FOLLOW_UP, follow_up.instruction), on_reply)

    def settle(
        self, cancel: Cancel, prompt: str, index: int, approach: Approach, on_reply: Callable[[str], None] | None
    ) -> WorkerResult:
        """`_respond` in the pool, for a caller outside it: answered as soon as it is cancelled, with the
        text so far, even while the call still waits for the model's first byte."""
        stream = Accumulator(on_reply or (lambda _: None))
        settled = threading.Event()
        future = self.executor.submit(self.respond, prompt, index, approach, stream, cancel)
        future.add_done_callback(lambda _: settled.set())
        forget = cancel.on_cancel(settled.set)
        settled.wait()
        forget()
        if future.done():
            return future.result()
        text = preview_response(stream.received) or ""
        return WorkerResult(index, approach, text, STOPPED, self.model, stopped=True)

    def respond(
        self, prompt: str, index: int, approach: Approach, stream: Accumulator | None, cancel: Cancel | None = None
    ) -> WorkerResult:
        """One worker-model call whose answer is a <response>, streamed into `stream` when given."""
        if cancel is not None and cancel.cancelled:
            return WorkerResult(index, approach, "", STOPPED, self.model, stopped=True)
        try:
            completion = self.llm.complete(
                prompt,
                model=self.model,
                max_tokens=self.max_tokens,
                on_text=None if stream is None else stream.on_text,
                on_restart=None if stream is None else stream.restart,
                cancel=cancel,
            )
        except Cancelled as stopped:
            text = preview_response(stream.received if stream else "") or ""
            return WorkerResult(index, approach, text, STOPPED, self.model, stopped.usage, stopped=True)
        except LLMError as failure:
            return WorkerResult(index, approach, "", str(failure), self.model)
        text = parse_response(completion.text)
        error = None if text else "The model returned an empty response."
        return WorkerResult(
            index=index,
            approach=approach,
            text=text,
            error=error,
            model=completion.model,
            usage=completion.usage,
            seconds=completion.seconds,
            stop_reason=completion.stop_reason,
        )


class Accumulator:
    """Turns text deltas into calls with the whole reply so far; on a restart the reply starts over, and
    `on_reply("")` says so at once."""

    def __init__(self, on_reply: Callable[[str], None]) -> None:
        self.on_reply = on_reply
        self.received = ""

    def on_text(self, delta: str) -> None:
        self.received += delta
        self.on_reply(self.received)

    def restart(self) -> bool:
        self.received = ""
        self.on_reply("")
        return True
