"""Parsing of the orchestrator's plan (`<analysis>` + `<task>`s) and of the workers' `<response>`.

Model output is XML-ish, not XML: prose around the tags, stray `<` and `&`, missing closing tags, fences.
An XML parser would reject most of it, so we scan for the few tag names we know with small regexes and
treat everything else as text.

Every tag pattern here is `<name ...>` with no `<` or `>` inside, so whether a match exists depends only on
the characters up to its own `>`. Scanning a prefix of a reply therefore finds exactly the complete tags the
whole reply has in that prefix, which is what lets `PlanStreamParser` re-run the very code of `parse_plan`
on its growing buffer and still agree with it, whatever the chunking.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

from orchestrator.types import DEFAULT_TYPE, MAX_TYPE_LENGTH, Catalogue, normalize_type

__all__ = [
    "DEFAULT_TYPE",
    "MAX_TYPE_LENGTH",
    "AnalysisParsed",
    "Approach",
    "ApproachParsed",
    "Plan",
    "PlanEvent",
    "PlanParseError",
    "PlanStreamParser",
    "normalize_type",
    "parse_plan",
    "parse_response",
    "preview_analysis",
    "preview_response",
]


@dataclass(frozen=True)
class Approach:
    """One worker assignment: `type` is unique within a plan, so it can key results and votes. `written`:
    the name the model wrote, when the team's catalogue named it otherwise."""

    type: str
    description: str
    written: str = ""

    @property
    def written_type(self) -> str:
        return self.written or self.type


@dataclass(frozen=True)
class Plan:
    analysis: str  # "" when the reply had no <analysis>
    approaches: tuple[Approach, ...]
    cut_short: bool = False  # the reply broke off: these are the approaches it named before that


class PlanParseError(ValueError):
    """The orchestrator's reply held no task a worker could be given; the message says why in plain words."""


@dataclass(frozen=True)
class AnalysisParsed:
    text: str


@dataclass(frozen=True)
class ApproachParsed:
    index: int  # position in the final Plan.approaches
    approach: Approach


PlanEvent: TypeAlias = AnalysisParsed | ApproachParsed


# -- tag patterns -------------------------------------------------------------------------------------------
# Tag names are ASCII: re.ASCII keeps IGNORECASE from matching e.g. the Kelvin sign as "k".
_FLAGS = re.IGNORECASE | re.ASCII
# After the name: nothing, or whitespace/"/" then attributes; never crosses another "<" or ">".
_REST = r"(?:[\s/][^<>]*)?>"

_TASK_TAG = re.compile(r"<(/?)(tasks?)" + _REST, _FLAGS)  # <task>, </task>, <tasks>, </tasks>
_ANALYSIS_OPEN = re.compile(r"<analysis" + _REST, _FLAGS)
# A missing </analysis> is ended by the task list, so a forgetful model still gets its analysis shown.
_ANALYSIS_END = re.compile(r"</analysis" + _REST + r"|</?tasks?" + _REST, _FLAGS)
_FIELD_OPEN = {name: re.compile(f"<{name}" + _REST, _FLAGS) for name in ("type", "description")}
# A field ends at its closing tag or, when that is missing, at the next field tag.
_FIELD_END = re.compile(r"</?(?:type|description)" + _REST, _FLAGS)
_RESPONSE_OPEN = re.compile(r"<response" + _REST, _FLAGS)
_RESPONSE_CLOSE = re.compile(r"</response" + _REST, _FLAGS)


# The unfinished end of a streaming buffer: a tag or an entity still being written.
_UNFINISHED = re.compile(r"(?:<[^<>]*|&#?\w*)$")


def _self_closing(tag: re.Match[str]) -> bool:
    return tag.group().endswith("/>")


# -- shared plan scanner ------------------------------------------------------------------------------------


class _RawTask(NamedTuple):
    type: str  # already normalized
    description: str  # "" when missing or empty
    end: int  # offset just past the tag that completed the task, to order stream events


class _Scan(NamedTuple):
    analysis: str | None  # None: no complete <analysis> yet
    analysis_end: int
    tasks: list[_RawTask]  # complete tasks only, in order
    opened: int  # <task> openings seen, complete or not (for error messages)


class _Selected(NamedTuple):
    approach: Approach
    end: int


def _scan(text: str) -> _Scan:
    """Everything complete in `text`; a task is complete once </task>, <task>, <tasks> or </tasks> follows."""
    analysis, analysis_end = _scan_analysis(text)
    tasks: list[_RawTask] = []
    opened = 0
    body_start: int | None = None
    for tag in _TASK_TAG.finditer(text):
        if body_start is not None:
            tasks.append(_raw_task(text[body_start : tag.start()], tag.end()))
            body_start = None
        if not tag.group(1) and tag.group(2).lower() == "task":
            opened += 1
            if _self_closing(tag):
                tasks.append(_raw_task("", tag.end()))
            else:
                body_start = tag.end()
    # A task still open here was cut off: it is not reported, as its description may be incomplete.
    return _Scan(analysis, analysis_end, tasks, opened)


def _scan_analysis(text: str) -> tuple[str | None, int]:
    opening = _ANALYSIS_OPEN.search(text)
    if opening is None:
        return None, -1
    if _self_closing(opening):
        return "", opening.end()
    end = _ANALYSIS_END.search(text, opening.end())
    if end is None:
        return None, -1  # cut off: treated as absent, like a cut-off task
    return html.unescape(text[opening.end() : end.start()]).strip(), end.end()


def _raw_task(body: str, end: int) -> _RawTask:
    description = _field(body, "description")
    return _RawTask(normalize_type(_field(body, "type")), (description or "").strip(), end)


def _field(body: str, name: str) -> str | None:
    """Unescaped content of the first <name> in a task body, None if there is none."""
    opening = _FIELD_OPEN[name].search(body)
    if opening is None:
        return None
    if _self_closing(opening):
        return ""
    end = _FIELD_END.search(body, opening.end())
    return html.unescape(body[opening.end() : end.start() if end else len(body)])


def _unique_type(base: str, used: set[str]) -> str:
    """`base`, or `base-2`, `base-3`, ... (still within MAX_TYPE_LENGTH) so results can be keyed by type."""
    if base not in used:
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = base[: MAX_TYPE_LENGTH - len(suffix)].rstrip() + suffix
        if candidate not in used:
            return candidate
        n += 1


def _select(tasks: Iterable[_RawTask], max_tasks: int, catalogue: Catalogue) -> list[_Selected]:
    """Skip unusable and duplicate tasks, name each by the team's catalogue (a name it knows becomes its
    canonical type), rename repeated types, cap the count.

    Each decision looks only at earlier tasks, so the result for a prefix of `tasks` is a prefix of the
    result for all of them: that is the streaming guarantee."""
    selected: list[_Selected] = []
    seen: set[tuple[str, str]] = set()
    used: set[str] = set()
    for task in tasks:
        if len(selected) >= max_tasks:
            break
        if not task.description:
            continue
        canonical = catalogue.resolve(task.type)
        key = (canonical, " ".join(task.description.split()))
        if key in seen:
            continue
        seen.add(key)
        name = _unique_type(canonical, used)
        used.add(name)
        written = task.type if canonical != task.type else ""  # a repeat's "-2" is no other name
        selected.append(_Selected(Approach(name, task.description, written), task.end))
    return selected


def _plan(text: str, scan: _Scan, max_tasks: int, catalogue: Catalogue) -> Plan:
    selected = _select(scan.tasks, max_tasks, catalogue)
    if not selected:
        raise PlanParseError(_explain(text, scan))
    return Plan(scan.analysis or "", tuple(s.approach for s in selected))


def _explain(text: str, scan: _Scan) -> str:
    prefix = "The orchestrator's reply contained no usable <task> (with a <description>)"
    if not text.strip():
        return f"{prefix}: the reply was empty."
    if scan.opened == 0:
        return f"{prefix}: it had no <task> tag at all, only {len(text)} characters of other text."
    if not scan.tasks:
        return f"{prefix}: its only <task> was cut off before </task>."
    count = len(scan.tasks)
    return f"{prefix}: none of its {count} complete <task> element(s) had a non-empty <description>."


def _check_max_tasks(max_tasks: int) -> None:
    if max_tasks < 1:
        raise ValueError(f"max_tasks must be at least 1, got {max_tasks}")


# -- public API ---------------------------------------------------------------------------------------------


def parse_plan(text: str, max_tasks: int = 5, catalogue: Catalogue | None = None) -> Plan:
    """The analysis and up to `max_tasks` usable, uniquely typed approaches, named by the team's
    `catalogue`; PlanParseError if none."""
    _check_max_tasks(max_tasks)
    return _plan(text, _scan(text), max_tasks, catalogue or Catalogue())


class PlanStreamParser:
    """Fed the orchestrator's reply in chunks as it streams; reports the analysis as soon as </analysis>
    closes and each task as soon as its </task> closes, so workers can start early.

    It re-scans the whole buffer with `parse_plan`'s scanner on each feed (replies are a few KB) and
    emits only what is new, so events always agree with `close()`."""

    def __init__(self, max_tasks: int = 5, catalogue: Catalogue | None = None) -> None:
        _check_max_tasks(max_tasks)
        self._max_tasks = max_tasks
        self._catalogue = catalogue or Catalogue()
        self._text = ""
        self._analysis_sent = False
        self._approaches_sent = 0

    def feed(self, chunk: str) -> list[PlanEvent]:
        """New events since the last feed, in the order their closing tags appear in the reply."""
        self._text += chunk
        if ">" not in chunk:
            return []  # every tag ends with ">", so nothing can have completed
        scan = _scan(self._text)
        events: list[tuple[int, int, PlanEvent]] = []
        if scan.analysis is not None and not self._analysis_sent:
            self._analysis_sent = True
            events.append((scan.analysis_end, 0, AnalysisParsed(scan.analysis)))
        selected = _select(scan.tasks, self._max_tasks, self._catalogue)
        for index in range(self._approaches_sent, len(selected)):
            events.append((selected[index].end, 1, ApproachParsed(index, selected[index].approach)))
        self._approaches_sent = len(selected)
        events.sort(key=lambda event: event[:2])
        return [event for _, _, event in events]

    def close(self) -> Plan:
        """The whole-reply result, identical to `parse_plan` on everything fed; raises PlanParseError."""
        return _plan(self._text, _scan(self._text), self._max_tasks, self._catalogue)


def parse_response(text: str) -> str:
    """A worker's answer: the first <response>, else the whole reply, since models sometimes drop the tags.

    An opening tag without a closing one means the reply was cut off: everything after it is kept. A closing
    tag without an opening one means the model forgot the opening: everything before it is kept. Without
    any tag the reply is returned as written (stripped, not unescaped): it was never meant as XML."""
    opening = _RESPONSE_OPEN.search(text)
    if opening is None:
        closing = _RESPONSE_CLOSE.search(text)
        if closing is None:
            return text.strip()
        return html.unescape(text[: closing.start()]).strip()
    closing = _RESPONSE_CLOSE.search(text, opening.end())
    end = closing.start() if closing else len(text)
    return html.unescape(text[opening.end() : end]).strip()


# -- previews of a reply still streaming ---------------------------------------------------------------------


def _preview(text: str, opening_pattern: re.Pattern[str], end_pattern: re.Pattern[str]) -> str | None:
    opening = opening_pattern.search(text)
    if opening is None or _self_closing(opening):
        return None
    end = end_pattern.search(text, opening.end())
    body = text[opening.end() : end.start()] if end else _UNFINISHED.sub("", text[opening.end() :])
    return html.unescape(body).strip()


def preview_analysis(text: str) -> str | None:
    """The analysis written so far, for showing while the plan streams; None before `<analysis>` arrives.

    A half-written tag or entity at the end is held back, so `&am` or `</anal` never flashes on screen."""
    return _preview(text, _ANALYSIS_OPEN, _ANALYSIS_END)


def preview_response(text: str) -> str | None:
    """A worker's `<response>` written so far, like `preview_analysis`."""
    return _preview(text, _RESPONSE_OPEN, _RESPONSE_CLOSE)
