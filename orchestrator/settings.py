"""Model choices shared by the terminal demo and the Slack app."""

from __future__ import annotations

from collections.abc import Mapping

# The cookbook's claude-sonnet-4-5 reaches end of life on 2026-11-30; these are current models.
DEFAULT_ORCHESTRATOR_MODEL = "claude-sonnet-4-6"
DEFAULT_WORKER_MODEL = "claude-sonnet-4-6"


def models_from_env(environ: Mapping[str, str]) -> tuple[str, str]:
    """(orchestrator model, worker model) from ORCHESTRATOR_MODEL / WORKER_MODEL, or the defaults."""
    return (
        environ.get("ORCHESTRATOR_MODEL", "").strip() or DEFAULT_ORCHESTRATOR_MODEL,
        environ.get("WORKER_MODEL", "").strip() or DEFAULT_WORKER_MODEL,
    )
