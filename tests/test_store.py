"""The SQLite store on a real file: schema, click log, current votes, concurrency, permissions."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from bot.store import Store, Tally


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(str(tmp_path / "v.db"))


def new_variation(store: Store) -> int:
    run_id = store.create_run(
        team_id="T1",
        channel_id="C1",
        user_id="U1",
        task="Write",
        context={"audience": "hikers"},
        orchestrator_model="o",
        worker_model="w",
    )
    return store.add_variation(run_id, 0, "formal", "Be formal")


def test_schema_is_created_in_wal_mode_readable_by_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    Store(str(path)).close()
    store = Store(str(path))  # opening again keeps the tables
    assert {"runs", "variations", "feedback", "votes"} <= set(store.db.table_names())
    assert store.db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_clicks_toggle_and_switch_votes_and_all_are_logged(store: Store) -> None:
    variation = new_variation(store)
    assert store.record_click(variation, team_id="T1", user_id="A", value="up").value == "up"
    assert store.record_click(variation, team_id="T1", user_id="A", value="up").value is None
    assert store.record_click(variation, team_id="T1", user_id="A", value="down").value == "down"
    vote = store.record_click(variation, team_id="T1", user_id="A", value="up")
    assert (vote.value, vote.tally) == ("up", Tally(up=1, down=0))
    assert [r["value"] for r in store.db["feedback"].rows_where(order_by="id")] == ["up", "up", "down", "up"]
    assert store.db["votes"].count == 1


def test_unknown_variation_and_value_are_refused(store: Store) -> None:
    variation = new_variation(store)
    with pytest.raises(LookupError):
        store.record_click(variation + 1, team_id="T1", user_id="A", value="up")
    with pytest.raises(ValueError):
        store.record_click(variation, team_id="T1", user_id="A", value="meh")
    assert store.db["feedback"].count == 0


def test_thirty_users_clicking_at_once_are_all_counted(store: Store) -> None:
    variation = new_variation(store)
    barrier = threading.Barrier(30)

    def click(user: int) -> None:
        barrier.wait()
        store.record_click(variation, team_id="T1", user_id=f"U{user}", value="up" if user % 3 else "down")

    threads = [threading.Thread(target=click, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.db["feedback"].count == 30
    assert store.tally(variation) == Tally(up=20, down=10)


def test_rows_survive_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "v.db")
    store = Store(path)
    variation = new_variation(store)
    store.record_click(variation, team_id="T1", user_id="A", value="up")
    store.update_variation(variation, text="Hello", status="done")
    reopened = Store(path)  # a second process or a restart sees what was written, without close()
    assert reopened.variation(variation)["text"] == "Hello"
    assert reopened.tally(variation) == Tally(up=1)
    assert reopened.run(1)["context"] == '{"audience": "hikers"}'
