"""Shared fixtures: the loopback fakes, and the bot running in HTTP mode against them (in-process or as
`python -m bot`). The helpers they use, and the tests share, are in tests/helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.store.store import Store
from orchestrator.engine import Engine
from orchestrator.llm import LLM
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.fakes.slack_api import FakeSlackAPI
from tests.helpers import Bot, BotProcess, StartProcess, anthropic_client, start_bot
from tests.scripted import Script


@pytest.fixture
def claude() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI(Script()) as fake:
        yield fake


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
def engine(claude: FakeAnthropicAPI) -> Iterator[Engine]:
    with ThreadPoolExecutor(8) as pool:
        yield Engine(LLM(anthropic_client(claude)), pool, orchestrator_model="orch-model", worker_model="work-model")


@pytest.fixture
def bot(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> Iterator[Bot]:
    with start_bot(slack, claude, tmp_path / "variations.db") as running:
        yield running
    assert not slack.errors and not claude.errors, (slack.errors, claude.errors)


@pytest.fixture
def start_process(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> Iterator[StartProcess]:
    """Starts `python -m bot` processes on the test's one database file, tmp_path/v.db (each process's stderr
    in tmp_path/NAME.log); every one still running at the end is killed."""
    store = Store(str(tmp_path / "v.db"))  # the test's own view of the file, as a third process would have
    started: list[BotProcess] = []

    def start(name: str = "bot", **env: str) -> BotProcess:
        started.append(BotProcess(slack, claude, store, tmp_path / f"{name}.log", **env))
        return started[-1]

    yield start
    for process in started:
        process.kill()
    store.close()
