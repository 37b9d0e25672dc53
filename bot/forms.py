"""Pure builders and readers of the app's modals: the request form and the "new version" form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.text import truncate_plain
from orchestrator.engine import MAX_APPROACHES, MIN_APPROACHES

REQUEST_FORM = "variations_form"
REGENERATE_FORM = "regenerate_form"
AUTO = "auto"
# Form field → the context key the prompts see.
CONTEXT_FIELDS = {"audience": "audience", "key_points": "key points", "tone": "tone"}


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


def request_form(channel_id: str, response_url: str | None, max_task_chars: int) -> dict[str, Any]:
    """The modal `/variations` opens when typed alone. Where to post goes in private_metadata."""
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
                max_length=max_task_chars,
                placeholder=_placeholder("Write a product description for our new water bottle"),
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
        ],
    )


@dataclass(frozen=True)
class RequestForm:
    task: str
    context: dict[str, str]
    approaches: int | None  # None: the orchestrator decides
    channel_id: str
    response_url: str | None


def _value(values: Mapping[str, Any], block_id: str) -> str:
    element = values.get(block_id, {}).get("value", {})
    selected = element.get("selected_option") or {}
    return str(element.get("value") or selected.get("value") or "").strip()


def read_request_form(view: Mapping[str, Any]) -> RequestForm:
    values = view["state"]["values"]
    meta = json.loads(view.get("private_metadata") or "{}")
    context = {key: _value(values, field) for field, key in CONTEXT_FIELDS.items() if _value(values, field)}
    count = _value(values, "approaches")
    return RequestForm(
        task=_value(values, "task"),
        context=context,
        approaches=int(count) if count.isdigit() else None,
        channel_id=meta["channel_id"],
        response_url=meta.get("response_url"),
    )


def request_errors(form: RequestForm, max_task_chars: int) -> dict[str, str]:
    """Errors to show inside the modal, by block id; empty when the form can be run."""
    if not form.task:
        return {"task": "Write what you would like variations of."}
    if len(form.task) > max_task_chars:
        return {"task": f"That is {len(form.task):,} characters; the limit is {max_task_chars:,}."}
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


def read_regenerate_form(view: Mapping[str, Any]) -> tuple[int, str]:
    """(variation id, instruction) from a submitted regenerate form."""
    meta = json.loads(view.get("private_metadata") or "{}")
    return int(meta["variation_id"]), _value(view["state"]["values"], "instruction")
