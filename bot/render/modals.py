"""Pure builders and readers of the app's modals: the request form and the "new version" form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.parse.payloads import parse_id
from bot.render.kit import Block
from bot.render.mrkdwn import truncate_plain
from orchestrator.events import MAX_APPROACHES, MIN_APPROACHES

REQUEST_FORM = "variations_form"
REGENERATE_FORM = "regenerate_form"
AUTO = "auto"
FRESH = "fresh"
BLIND = "blind"
# Form field → the context key the prompts see.
CONTEXT_FIELDS = {"audience": "audience", "key_points": "key points", "tone": "tone"}
INPUT_MAX_LENGTH = 3000
"""The largest `max_length` Slack accepts on a plain_text_input (a larger one fails views.open)."""
OUT_OF_DATE = "This form is out of date: close it and type /variations again."


def _input(block_id: str, label: str, *, optional: bool, multiline: bool = False, **element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "element": {"type": "plain_text_input", "action_id": "value", "multiline": multiline, **element},
    }


def _modal(
    callback_id: str, metadata: Mapping[str, Any], *, title: str, submit: str, blocks: list[dict[str, Any]]
) -> dict[str, Any]:
    """A modal whose submission comes back to `callback_id` carrying `metadata` (as private_metadata)."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": json.dumps(metadata),
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _placeholder(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


def request_form(channel_id: str, response_url: str | None, max_task_chars: int, task: str = "") -> dict[str, Any]:
    """The modal `/variations` opens when typed alone, or the message shortcut with the message's text as
    the `task` (as much of it as the field holds). Where to post goes in private_metadata."""
    task_length = min(max_task_chars, INPUT_MAX_LENGTH)
    prefilled = {"initial_value": task.strip()[:task_length]} if task.strip() else {}
    choices = [_option(f"Let Claude decide ({MIN_APPROACHES}-{MAX_APPROACHES})", AUTO)]
    choices += [_option(str(n), str(n)) for n in range(MIN_APPROACHES, MAX_APPROACHES + 1)]
    return _modal(
        REQUEST_FORM,
        {"channel_id": channel_id, "response_url": response_url},
        title="Variations",
        submit="Write variations",
        blocks=[
            _input(
                "task",
                "What should be written?",
                optional=False,
                multiline=True,
                max_length=task_length,
                placeholder=_placeholder("Write a product description for our new water bottle"),
                **prefilled,
            ),
            _input("audience", "Audience", optional=True, placeholder=_placeholder("hikers and commuters")),
            _input(
                "key_points",
                "Key points",
                optional=True,
                multiline=True,
                placeholder=_placeholder("keeps drinks cold 24h, 750 ml, dishwasher safe"),
            ),
            _input("tone", "Tone", optional=True, placeholder=_placeholder("warm, a little playful")),
            {
                "type": "input",
                "block_id": "approaches",
                "optional": True,
                "label": {"type": "plain_text", "text": "How many approaches"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": choices,
                    "initial_option": choices[0],
                },
            },
            _checkbox(
                "fresh",
                "Team memory",
                "Fresh ideas only",
                "Plan without your team's votes on earlier approaches",
                FRESH,
            ),
            _checkbox(
                "blind",
                "Voting",
                "Blind voting",
                "Label the approaches A, B, C… and reveal them when voting closes",
                BLIND,
            ),
        ],
    )


@dataclass(frozen=True)
class RequestForm:
    task: str
    context: dict[str, str]
    approaches: int | None  # None: the orchestrator decides
    channel_id: str
    response_url: str | None
    fresh: bool = False  # "Fresh ideas only": the team's record left out of the plan
    blind: bool = False  # "Blind voting": approaches labelled A, B, C… until voting closes


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _value(values: Mapping[str, Any], block_id: str) -> str:
    element = _dict(_dict(values.get(block_id)).get("value"))
    value = element.get("value") or _dict(element.get("selected_option")).get("value") or ""
    return value.strip() if isinstance(value, str) else ""


def _checked(values: Mapping[str, Any], block_id: str) -> set[str]:
    """The values of a checkboxes element's ticked options."""
    selected = _dict(_dict(values.get(block_id)).get("value")).get("selected_options")
    return {str(_dict(option).get("value")) for option in selected} if isinstance(selected, list) else set()


def _metadata(view: Mapping[str, Any]) -> Mapping[str, Any]:
    """The form's private_metadata: what the app put there, or {} if the submission carries anything else."""
    try:
        return _dict(json.loads(view.get("private_metadata") or "{}"))
    except (TypeError, ValueError):
        return {}


def read_request_form(view: Mapping[str, Any]) -> RequestForm:
    values = _dict(_dict(view.get("state")).get("values"))
    meta = _metadata(view)
    context = {key: _value(values, field) for field, key in CONTEXT_FIELDS.items() if _value(values, field)}
    count = _value(values, "approaches")
    response_url = meta.get("response_url")
    return RequestForm(
        task=_value(values, "task"),
        context=context,
        approaches=int(count) if count.isascii() and count.isdigit() and len(count) < 3 else None,
        channel_id=str(meta.get("channel_id") or ""),
        response_url=response_url if isinstance(response_url, str) else None,
        fresh=FRESH in _checked(values, "fresh"),
        blind=BLIND in _checked(values, "blind"),
    )


def request_errors(form: RequestForm, max_chars: int) -> dict[str, str]:
    """Errors to show inside the modal, by block id; empty when the form can be run. `max_chars` limits
    all the fields together, since all of them go into every prompt."""
    if not form.channel_id:
        return {"task": OUT_OF_DATE}
    if not form.task:
        return {"task": "Write what you would like variations of."}
    chars = len(form.task) + sum(len(value) for value in form.context.values())
    if chars > max_chars:
        return {"task": f"Together the fields are {chars:,} characters long; the limit is {max_chars:,}."}
    if form.approaches is not None and not MIN_APPROACHES <= form.approaches <= MAX_APPROACHES:
        return {"approaches": f"Choose between {MIN_APPROACHES} and {MAX_APPROACHES}."}
    return {}


def regenerate_form(variation_id: int, approach_type: str) -> dict[str, Any]:
    """The small modal behind ♻️: an optional instruction for the new version."""
    return _modal(
        REGENERATE_FORM,
        {"variation_id": variation_id},
        title=truncate_plain(f"New {approach_type} version", 24),
        submit="Write it",
        blocks=[
            _input(
                "instruction",
                "What should change? (optional)",
                optional=True,
                max_length=500,
                placeholder=_placeholder("shorter, more playful, lead with the price…"),
            )
        ],
    )


def read_regenerate_form(view: Mapping[str, Any]) -> tuple[int | None, str]:
    """(variation id, instruction) from a submitted regenerate form; the id is None when the form does not
    carry one the app could have put there."""
    values = _dict(_dict(view.get("state")).get("values"))
    return parse_id(_metadata(view).get("variation_id")), _value(values, "instruction")


def _checkbox(block_id: str, label: str, text: str, description: str, value: str) -> Block:
    """An optional input block holding one checkbox (read back by `_checked`)."""
    option = {
        "text": {"type": "plain_text", "text": text},
        "description": {"type": "plain_text", "text": description},
        "value": value,
    }
    return {
        "type": "input",
        "block_id": block_id,
        "optional": True,
        "label": {"type": "plain_text", "text": label},
        "element": {"type": "checkboxes", "action_id": "value", "options": [option]},
    }
