"""Prompt templates for the two roles (and the follow-ups that reuse the worker model).

User text (the task, context values) is XML-escaped before it goes in: the prompts and the replies use
XML-like tags, and a request that contains `</task>` must not change the prompt's structure.
Templates are filled in one regex pass over `{name}` placeholders (`_fill`), not with `str.format`, so
braces in user text are just text and a value containing `{task}` is never filled in again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from orchestrator.events import TeamRecord
from orchestrator.memory import fit, record_line
from orchestrator.parsing import Approach

ORCHESTRATOR_TEMPLATE = """\
Analyze this task and break it down into {count} distinct approaches. Choose the approaches this \
particular task calls for (technical, lifestyle, practical, formal, playful, …): each should serve a \
different reader or purpose, not just reword another one.

<request>
{task}
</request>
{context}{record}
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
{context}{revision}
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


RECORD_TEMPLATE = """
<team_record>
The approach types this team already knows, each with how many people voted it up and down:
{lines}
</team_record>
Use the team's record: for each approach, either reuse one of these types, spelled exactly as it is \
listed, when the approach is the same kind (so the team's votes add up), or name a new type when it is a \
different kind (never a variant spelling of a listed one). Favour the types the team voted up over those \
it voted down, where they suit this task; and still propose at least one approach of a type that is not in \
the record, so the team keeps discovering new ones.
"""


def render_record(record: TeamRecord) -> str:
    """The team's record within its budget (see orchestrator/memory.py), or nothing when it is empty."""
    fitted = fit(record)
    if not fitted:
        return ""
    return _fill(RECORD_TEMPLATE, {"lines": "\n".join(record_line(row) for row in fitted.types)})


STRICT_INSTRUCTION = """
IMPORTANT: your reply must contain exactly two parts and nothing else: one <analysis> element, then one \
<tasks> list of {count} <task> elements, each with a <type> and a non-empty <description>. No text before, \
between or after them, and no code fences.
"""


def orchestrator_prompt(
    task: str,
    context: Mapping[str, str],
    *,
    min_tasks: int = 2,
    max_tasks: int = 5,
    strict: bool = False,
    record: TeamRecord | None = None,
) -> str:
    """The planning prompt: analysis plus `min_tasks`..`max_tasks` approaches, with the team's `record`
    when there is one. `strict` adds a short, firm instruction about the reply's format, for asking again
    after a reply that held no usable task."""
    return _fill(
        ORCHESTRATOR_TEMPLATE + (STRICT_INSTRUCTION if strict else ""),
        {
            "count": f"exactly {max_tasks}" if min_tasks == max_tasks else f"{min_tasks}-{max_tasks}",
            "task": escape(task.strip()),
            "context": render_context(context),
            "record": render_record(record) if record else "",
        },
    )


SYNTHESIS_TEMPLATE = """\
Several writers each took a different approach to the same request, and the team voted on the results.
Combine them into one final version that keeps what the team liked best.

<request>
{task}
</request>
{context}
<variations>
{variations}
</variations>

The variations come best first, by the team's votes. Lead with the strengths of the first ones, fold \
in the best ideas of the others, and drop what does not serve the request. Write one complete, polished \
version (Markdown where it helps), not a comparison.

Return your response in this format:

<response>
The combined version.
</response>
"""


@dataclass(frozen=True)
class Revision:
    """Regenerating an approach: the earlier text and what the team asked to change (may be empty)."""

    previous_text: str
    instruction: str = ""


@dataclass(frozen=True)
class Candidate:
    """One variation offered to the synthesis, with its net votes."""

    approach: Approach
    text: str
    net_votes: int


def _render_revision(revision: Revision | None) -> str:
    if revision is None:
        return ""
    instruction = revision.instruction.strip() or "Write a fresh, better version of this approach."
    return (
        f"\n<previous_version>\n{escape(revision.previous_text.strip())}\n</previous_version>\n"
        f"<change_request>{escape(instruction)}</change_request>\n"
        "This is a new version of the approach above: follow the change request, keep the approach.\n"
    )


def worker_prompt(task: str, approach: Approach, context: Mapping[str, str], revision: Revision | None = None) -> str:
    """The prompt for one approach: the original task, the approach, the context, and when regenerating,
    the earlier version with the requested change."""
    return _fill(
        WORKER_TEMPLATE,
        {
            "task": escape(task.strip()),
            "type": escape(approach.type),
            "description": escape(approach.description),
            "context": render_context(context),
            "revision": _render_revision(revision),
        },
    )


FOLLOW_UP_TEMPLATE = """\
Several writers each took a different approach to the same request. Now someone on the team asked, in \
the conversation about them, for one more version that follows their instruction.

<request>
{task}
</request>
{context}{analysis}
<approaches_so_far>
{approaches}
</approaches_so_far>
<instruction>{instruction}</instruction>

Write one new, complete version that follows the instruction and still fully addresses the request and \
the context. Use Markdown for formatting where it helps.

Return your response in this format:

<response>
Your content here.
</response>
"""


@dataclass(frozen=True)
class FollowUp:
    """One more variation asked for in a run's thread: the instruction, and what the run already holds
    (the orchestrator's analysis, the approaches taken) so the new one builds on them."""

    instruction: str
    analysis: str = ""
    approaches: Sequence[Approach] = ()


def follow_up_prompt(task: str, context: Mapping[str, str], follow_up: FollowUp) -> str:
    """The prompt for one new variation that follows an instruction given in the thread."""
    analysis = follow_up.analysis.strip()
    approaches = "\n".join(
        f"<approach type={quoteattr(a.type)}>{escape(a.description)}</approach>" for a in follow_up.approaches
    )
    return _fill(
        FOLLOW_UP_TEMPLATE,
        {
            "task": escape(task.strip()),
            "context": render_context(context),
            "analysis": f"\n<analysis>\n{escape(analysis)}\n</analysis>\n" if analysis else "",
            "approaches": approaches,
            "instruction": escape(follow_up.instruction.strip()),
        },
    )


def synthesis_prompt(task: str, context: Mapping[str, str], candidates: Sequence[Candidate]) -> str:
    """The prompt that merges variations into one final version; `candidates` come best first."""
    variations = "\n".join(
        f'<variation type={quoteattr(c.approach.type)} net_votes="{c.net_votes}">\n'
        f"{escape(c.text.strip())}\n</variation>"
        for c in candidates
    )
    return _fill(
        SYNTHESIS_TEMPLATE,
        {"task": escape(task.strip()), "context": render_context(context), "variations": variations},
    )
