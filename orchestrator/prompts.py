"""Prompt templates for the two roles.

User text (the task, context values) is XML-escaped before it goes in: the prompts and the replies use
XML-like tags, and a request that contains `</task>` must not change the prompt's structure.
Templates are filled with `str.replace`, not `str.format`, so braces in user text are just text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from xml.sax.saxutils import escape, quoteattr

from orchestrator.parsing import Approach

ORCHESTRATOR_TEMPLATE = """\
Analyze this task and break it down into {count} distinct approaches. Choose the approaches this \
particular task calls for (technical, lifestyle, practical, formal, playful, …): each should serve a \
different reader or purpose, not just reword another one.

<request>
{task}
</request>
{context}
Return your response in exactly this format:

<analysis>
Explain your understanding of the task and which variations would be valuable.
Focus on how each approach serves different aspects of the task.
</analysis>

<tasks>
    <task>
    <type>a short lowercase name for the approach, e.g. formal</type>
    <description>What this version should do and emphasize, in one or two sentences</description>
    </task>
    <task>
    <type>conversational</type>
    <description>Write an engaging, friendly version that connects with readers</description>
    </task>
</tasks>
"""

_PLACEHOLDER = re.compile(r"\{(\w+)\}")

WORKER_TEMPLATE = """\
Generate content based on:

<request>
{task}
</request>
<approach>
<type>{type}</type>
<guidelines>{description}</guidelines>
</approach>
{context}
Write the content for this approach only, fully addressing the request and the context. \
Use Markdown for formatting where it helps.

Return your response in this format:

<response>
Your content here, maintaining the specified style and fully addressing requirements.
</response>
"""


def render_context(context: Mapping[str, str]) -> str:
    """The request's context as a tagged block, or nothing when there is none."""
    items = [(key.strip(), value.strip()) for key, value in context.items() if key.strip() and value.strip()]
    if not items:
        return ""
    lines = [f"<item name={quoteattr(key)}>{escape(value)}</item>" for key, value in items]
    return "\n<context>\n" + "\n".join(lines) + "\n</context>\n"


def _fill(template: str, values: Mapping[str, str]) -> str:
    """Substitute `{name}` placeholders in one pass, so a value containing `{task}` stays as it is."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def orchestrator_prompt(task: str, context: Mapping[str, str], *, min_tasks: int = 2, max_tasks: int = 5) -> str:
    """The planning prompt: analysis plus `min_tasks`..`max_tasks` approaches."""
    return _fill(
        ORCHESTRATOR_TEMPLATE,
        {
            "count": f"exactly {max_tasks}" if min_tasks == max_tasks else f"{min_tasks}-{max_tasks}",
            "task": escape(task.strip()),
            "context": render_context(context),
        },
    )


def worker_prompt(task: str, approach: Approach, context: Mapping[str, str]) -> str:
    """The prompt for one approach: the original task, the approach, the context."""
    return _fill(
        WORKER_TEMPLATE,
        {
            "task": escape(task.strip()),
            "type": escape(approach.type),
            "description": escape(approach.description),
            "context": render_context(context),
        },
    )
