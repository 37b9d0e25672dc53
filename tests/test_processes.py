"""Two real app processes (`python -m bot`) sharing one database file: no click is lost between them, and
neither takes the other's work for its own or for an orphan while the other lives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.store import Store, Tally
from tests.conftest import Bot, bot_env
from tests.fakes import free_port, wait_for
from tests.fakes.anthropic_api import FakeAnthropicAPI, FakeReply
from tests.fakes.slack_api import FakeSlackAPI
from tests.scripted import Script
from tests.test_hardening import healthy

ROOT = Path(__file__).resolve().parents[1]

Start = Callable[[str], tuple[subprocess.Popen[bytes], Bot]]


@pytest.fixture
def start(slack: FakeSlackAPI, claude: FakeAnthropicAPI, tmp_path: Path) -> Iterator[Start]:
    """Starts `python -m bot` in HTTP mode on a port of its own, on the test's one database file; every
    process started is stopped at the end. Its stderr goes to tmp_path/NAME.log."""
    db = tmp_path / "shared.db"
    store = Store(str(db))  # the test's own view of the file, as a third process would have
    started: list[subprocess.Popen[bytes]] = []

    def start_one(name: str) -> tuple[subprocess.Popen[bytes], Bot]:
        port = free_port()
        env = {**os.environ, **bot_env(slack, claude, db), "PORT": str(port)}
        with open(tmp_path / f"{name}.log", "wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, env=env, stderr=log)
        started.append(process)
        wait_for(
            lambda: healthy(f"http://127.0.0.1:{port}/healthz"),
            timeout=30,
            context=lambda: (tmp_path / f"{name}.log").read_text(errors="replace"),
        )
        return process, Bot(f"http://127.0.0.1:{port}/slack/events", store, slack, claude)

    yield start_one
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)
    store.close()


def test_thirty_clicks_on_each_of_two_processes_at_once_are_all_stored(start: Start) -> None:
    _, first = start("first")
    _, second = start("second")
    assert first.command("Write a tagline")[0] == 200
    store = first.store
    wait_for(lambda: (run := store.run(1)) is not None and run["status"] == "done", timeout=30)
    variation = next(v["id"] for v in store.variations(1) if v["status"] == "done")

    barrier = threading.Barrier(60)
    answers: dict[str, int] = {}

    def click(bot: Bot, user: str, value: str) -> None:
        barrier.wait()
        answers[user] = bot.click(variation, value, user)[0]

    clicks = [(first, f"UA{i:02d}", "up") for i in range(30)]
    clicks += [(second, f"UB{i:02d}", "down" if i % 3 == 0 else "up") for i in range(30)]
    threads = [threading.Thread(target=click, args=args) for args in clicks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers.values()) == [200] * 60, answers
    assert store.db["feedback"].count == 60
    assert {row["user_id"] for row in store.db["feedback"].rows} == {user for _, user, _ in clicks}
    assert store.tally(variation) == Tally(up=50, down=10)


def test_a_process_that_starts_leaves_the_others_runs_alone_until_that_process_dies(
    start: Start, claude: FakeAnthropicAPI
) -> None:
    # The first process's run stays in flight: two of its three workers take a minute to answer.
    claude.responder = Script(
        worker=lambda kind: FakeReply(f"<response>{kind}</response>", ttft=0.0 if kind == "technical" else 60)
    )
    first_process, first = start("first")
    assert first.command("Write a tagline")[0] == 200
    store = first.store
    wait_for(lambda: [v["status"] for v in store.variations(1)].count("writing") == 2, timeout=30)

    start("second")  # its start-up recovery has run by the time it answers /healthz
    assert store.run(1)["status"] == "running"
    assert [v["status"] for v in store.variations(1)].count("writing") == 2

    first_process.send_signal(signal.SIGKILL)
    first_process.wait(timeout=10)
    # The second process notices at its next heartbeat that the run's process is gone.
    wait_for(lambda: store.run(1)["status"] == "interrupted", timeout=30)
    assert sorted(v["status"] for v in store.variations(1)) == ["done", "interrupted", "interrupted"]
