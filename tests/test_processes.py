"""Two real app processes (`python -m bot`) sharing one database file: no click is lost between them, and
neither takes the other's work for its own or for an orphan while the other lives."""

from __future__ import annotations

import json
import signal
import threading

from bot.store.store import Tally
from tests.fakes import wait_for
from tests.fakes.anthropic_api import FakeAnthropicAPI, FakeReply
from tests.helpers import Bot, StartProcess
from tests.scripted import Script, is_plan_prompt, plan_reply


def test_thirty_clicks_on_each_of_two_processes_at_once_are_all_stored(start_process: StartProcess) -> None:
    first = start_process("first").bot
    second = start_process("second").bot
    assert first.command("Write a tagline")[0] == 200
    store = first.store
    wait_for(lambda: (run := store.find_run(1)) is not None and run.status == "done", timeout=30)
    variation = next(v.id for v in store.variations(1) if v.status == "done")

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
    start_process: StartProcess, claude: FakeAnthropicAPI
) -> None:
    # The first process's run stays in flight: two of its three workers take a minute to answer.
    claude.responder = Script(
        worker=lambda kind: FakeReply(f"<response>{kind}</response>", ttft=0.0 if kind == "technical" else 60)
    )
    first_process = start_process("first")
    first = first_process.bot
    assert first.command("Write a tagline")[0] == 200
    store = first.store
    wait_for(lambda: [v.status for v in store.variations(1)].count("writing") == 2, timeout=30)

    start_process("second")  # its start-up recovery has run by the time it answers /healthz
    assert store.run(1).status == "running"
    assert [v.status for v in store.variations(1)].count("writing") == 2

    first_process.popen.send_signal(signal.SIGKILL)
    first_process.popen.wait(timeout=10)
    # The second process notices at its next heartbeat that the run's process is gone.
    wait_for(lambda: store.run(1).status == "interrupted", timeout=30)
    assert sorted(v.status for v in store.variations(1)) == ["done", "interrupted", "interrupted"]


def _held_plans(claude: FakeAnthropicAPI) -> threading.Event:
    """Every plan waits for the event: runs admitted stay in flight until the test sets it."""
    gate = threading.Event()
    claude.responder = Script(plan=lambda: (gate.wait(30), plan_reply())[1])
    return gate


def test_the_per_person_limit_holds_across_two_processes(start_process: StartProcess, claude: FakeAnthropicAPI) -> None:
    gate = _held_plans(claude)
    first, second = start_process("first").bot, start_process("second").bot
    answers = []
    for i in range(6):  # a flood from one person, half to each process; a refusal is the ack's private note
        status, body = (first if i % 2 == 0 else second).command(f"Write tagline {i}")
        assert status == 200
        answers.append(json.loads(body)["text"] if body else "")
    refused = [text for text in answers if text]
    assert len(refused) == 4 and all("You already have 2 runs being written (the limit is 2)" in t for t in refused)
    wait_for(lambda: len(claude.requests()) == 2, timeout=30)
    gate.set()
    wait_for(lambda: [r[0] for r in first.store.query("select status from runs")] == ["done", "done"], timeout=30)
    assert len([r for r in claude.requests() if is_plan_prompt(r)]) == 2  # two runs, not four
    wait_for(lambda: first.store.query("select count(*) from tickets") == [(0,)], timeout=30)  # given back
    assert second.command("One more") == (200, "")  # admitted again
    wait_for(lambda: first.store.query("select count(*) from runs") == [(3,)], timeout=30)


def test_a_killed_process_gives_its_place_back_once_it_is_found_gone(
    start_process: StartProcess, claude: FakeAnthropicAPI
) -> None:
    gate = _held_plans(claude)
    doomed = start_process("doomed")
    for i in range(2):
        assert doomed.bot.command(f"Write tagline {i}") == (200, "")
    assert "runs being written" in doomed.bot.command("A third")[1]
    wait_for(lambda: len(claude.requests()) == 2, timeout=30)
    doomed.popen.send_signal(signal.SIGKILL)
    doomed.popen.wait(timeout=10)
    survivor = start_process("survivor").bot
    assert survivor.command("Write it again") == (200, "")  # the dead process's two places are free
    gate.set()
    wait_for(lambda: len([r for r in claude.requests() if is_plan_prompt(r)]) == 3, timeout=30)
