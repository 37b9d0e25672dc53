"""Scripted model behaviour for the fake Anthropic API: a plausible orchestrator and workers.

The responder looks at the prompt the app really sent (it is the orchestrator's when it asks for
`<tasks>`), so tests exercise the real prompts end to end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from tests.fakes.anthropic_api import FakeReply, prompt_text

DEFAULT_APPROACHES = (
    ("technical", "Lead with specifications and measurable performance"),
    ("lifestyle", "Paint the moments the product fits into"),
    ("practical", "Answer the buyer's everyday questions plainly"),
)


def plan_reply(
    approaches: Sequence[tuple[str, str]] = DEFAULT_APPROACHES,
    analysis: str = "Buyers differ: some want numbers, some want a story, some want answers.",
) -> str:
    """An orchestrator reply in the cookbook's format."""
    tasks = "".join(
        f"    <task>\n    <type>{escape(kind)}</type>\n    <description>{escape(brief)}</description>\n    </task>\n"
        for kind, brief in approaches
    )
    return f"<analysis>\n{escape(analysis)}\n</analysis>\n\n<tasks>\n{tasks}</tasks>\n"


def is_plan_prompt(request: dict[str, Any]) -> bool:
    return "<tasks>" in prompt_text(request)


def approach_of(request: dict[str, Any]) -> str:
    """The approach type a worker prompt asks for."""
    match = re.search(r"<type>(.*?)</type>", prompt_text(request), re.S)
    return match.group(1) if match else ""


@dataclass
class Script:
    """A responder: the plan for orchestrator prompts, `worker(type)` for worker prompts.

    `plan` and `worker` may return a str or a FakeReply (errors, pacing). Every worker reply defaults to
    a Markdown text naming its approach."""

    plan: Callable[[], FakeReply | str] = field(default=lambda: plan_reply())
    worker: Callable[[str], FakeReply | str] = field(
        default=lambda kind: f"<response>\n## {kind.title()} take\nThe **{kind}** version.\n</response>"
    )

    def __call__(self, request: dict[str, Any]) -> FakeReply | str:
        if is_plan_prompt(request):
            return self.plan()
        return self.worker(approach_of(request))
