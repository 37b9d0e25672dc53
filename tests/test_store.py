"""The SQLite store on a real file: schema, click log, current votes, concurrency, permissions."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store.store import Store, StoreError, Tally


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
    withdrawn = store.record_click(variation, team_id="T1", user_id="A", value="up")
    assert (withdrawn.value, withdrawn.tally) == (None, Tally(up=0, down=0))
    assert store.db["votes"].count == 0  # a withdrawn vote is no row at all, not a row with some value
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
    assert reopened.variation(variation).text == "Hello"
    assert reopened.tally(variation) == Tally(up=1)
    assert reopened.run(1).context == {"audience": "hikers"}


# -- two writers on one file ---------------------------------------------------------------------------


def test_two_connections_clicking_at_once_wait_for_each_other_instead_of_failing(tmp_path: Path) -> None:
    """Each Store is a connection of its own, as two app processes have: a write that found the other's
    write lock taken waits for it (BEGIN IMMEDIATE) instead of failing with 'database is locked'."""
    path = str(tmp_path / "v.db")
    first, second = Store(path, owner="first"), Store(path, owner="second")
    variation = new_variation(first)
    barrier = threading.Barrier(60)
    errors: list[Exception] = []

    def click(store: Store, user: str) -> None:
        barrier.wait()
        try:
            store.record_click(variation, team_id="T1", user_id=user, value="up")
        except Exception as error:
            errors.append(error)

    threads = [
        threading.Thread(target=click, args=(store, f"{name}{i}"))
        for name, store in (("A", first), ("B", second))
        for i in range(30)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert second.db["feedback"].count == 60 and first.tally(variation) == Tally(up=60)


# -- which process owns what ---------------------------------------------------------------------------

STALE = 60.0


def new_run(store: Store, status: str = "running") -> int:
    run_id = store.create_run(
        team_id="T1", channel_id="C1", user_id="U1", task="t", context={}, orchestrator_model="o", worker_model="w"
    )
    store.update_run(run_id, status=status)
    return run_id


def process_row(store: Store, owner: str, *, host: str | None = None, pid: int = 1, age: float = 0.0) -> None:
    """A `processes` row as another process would have left it: its host, pid and last heartbeat."""
    heartbeat = (datetime.now(UTC) - timedelta(seconds=age)).isoformat(timespec="milliseconds")
    store.db["processes"].upsert(
        {
            "owner": owner,
            "host": host or store.processes.host,
            "pid": pid,
            "started_at": heartbeat,
            "heartbeat_at": heartbeat,
        },
        pk="owner",
    )


def owned_by(store: Store, owner: str | None) -> int:
    run_id = new_run(store)
    store.update_run(run_id, owner=owner)
    return run_id


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_runs_and_variations_record_their_process_which_beats_and_retires(tmp_path: Path) -> None:
    path = str(tmp_path / "v.db")
    store = Store(path, owner="me")
    run_id = new_run(store)
    variation = store.add_variation(run_id, 0, "formal", "Be formal")
    assert store.run(run_id).owner == "me" and store.variation(variation).owner == "me"
    (row,) = store.db["processes"].rows
    assert (row["owner"], row["host"], row["pid"]) == ("me", socket.gethostname(), os.getpid())
    first_beat = row["heartbeat_at"]
    store.processes.beat()
    assert store.db["processes"].get("me")["heartbeat_at"] >= first_beat
    # A retry in place, written again by another process, becomes that process's.
    store.update_variation(variation, status="failed")
    other = Store(path, owner="other")
    other.update_variation(variation, status="writing", error=None)
    assert store.variation(variation).owner == "other"
    other.processes.retire()
    assert [r["owner"] for r in store.db["processes"].rows] == ["me"]
    assert Store(str(tmp_path / "w.db")).owner.startswith(f"{socket.gethostname()}:{os.getpid()}:")


def test_processes_silent_too_long_are_forgotten_and_live_ones_kept(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "v.db"), owner="me")
    process_row(store, "killed", age=STALE * 2)
    process_row(store, "slow", age=STALE / 2)
    assert store.processes.forget_gone(STALE) == 1
    assert sorted(r["owner"] for r in store.db["processes"].rows) == ["me", "slow"]


def test_orphans_are_the_working_rows_whose_process_is_gone(tmp_path: Path) -> None:
    path = str(tmp_path / "v.db")
    me, other = Store(path, owner="me"), Store(path, owner="other")
    process_row(me, "other", pid=os.getppid())  # alive, on this host, beating
    live_elsewhere = owned_by(me, "remote")
    process_row(me, "remote", host="another-host", pid=os.getpid(), age=STALE / 2)
    others = new_run(other)
    others_variation = other.add_variation(others, 0, "formal", "x")
    finished = owned_by(me, "ghost")
    me.update_run(finished, status="done")

    stale = owned_by(me, "stale")
    process_row(me, "stale", host="another-host", age=STALE * 2)
    dead = owned_by(me, "dead")
    process_row(me, "dead", pid=dead_pid())
    earlier_life = owned_by(me, "earlier-life")  # same host and pid, another owner: a restarted container
    process_row(me, "earlier-life", pid=os.getpid())
    retired = owned_by(me, "retired")  # no processes row
    before_owners = owned_by(me, None)  # made before runs recorded their process
    mine_live, mine_crashed = new_run(me), new_run(me, status="planning")
    my_variation, my_crashed_variation = (me.add_variation(mine_live, i, "formal", "x") for i in range(2))
    old_variation = me.add_variation(before_owners, 0, "formal", "x")
    me.update_variation(old_variation, owner=None)

    runs, variations = me.processes.orphans(STALE, live_runs={mine_live}, live_variations={my_variation})
    assert sorted(runs) == sorted([stale, dead, earlier_life, retired, before_owners, mine_crashed])
    assert sorted(variations) == sorted([my_crashed_variation, old_variation])
    assert {live_elsewhere, others, finished}.isdisjoint(runs) and others_variation not in variations
    # Seen from the other process, my live run is mine: not an orphan while my process beats.
    process_row(me, "me", pid=os.getppid())
    assert mine_live not in other.processes.orphans(STALE, live_runs=(), live_variations=())[0]


def test_marking_interrupted_changes_only_rows_still_being_written_and_says_which(tmp_path: Path) -> None:
    path = str(tmp_path / "v.db")
    me, other = Store(path, owner="me"), Store(path, owner="other")
    planning, running, done, failed = (new_run(me, status) for status in ("planning", "running", "done", "failed"))
    writing, written = me.add_variation(running, 0, "formal", "x"), me.add_variation(running, 1, "casual", "y")
    me.update_variation(written, status="done")
    runs = [planning, running, done, failed]

    assert me.processes.mark_interrupted(runs, [writing, written], "gone") == ([planning, running], [writing])
    assert [me.run(r).status for r in runs] == ["interrupted", "interrupted", "done", "failed"]
    assert me.run(running).error == "gone" and me.run(running).finished_at is not None
    assert me.run(done).error is None
    assert (me.variation(writing).status, me.variation(written).status) == ("interrupted", "done")
    assert other.processes.mark_interrupted(runs, [writing, written], "gone") == ([], [])  # already reported


def test_two_processes_recovering_at_once_report_each_run_once(tmp_path: Path) -> None:
    path = str(tmp_path / "v.db")
    stores = [Store(path, owner="first"), Store(path, owner="second")]
    runs = [new_run(stores[0]) for _ in range(40)]
    barrier = threading.Barrier(2)
    reported: list[list[int]] = []

    def recover(store: Store) -> None:
        barrier.wait()
        reported.append(store.processes.mark_interrupted(runs, [], "gone")[0])

    threads = [threading.Thread(target=recover, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(reported[0] + reported[1]) == runs


# -- storage failures ----------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
NOBODY = 65534


def opened_as_user(path: Path) -> str:
    """Run `Store(path)` in a process of its own as an ordinary user (as root, in containers and CI, file
    permissions would not apply). Returns what it printed: the StoreError's message, or 'opened'."""
    drop = "os.setgroups([]); os.setgid(NOBODY); os.setuid(NOBODY)" if os.geteuid() == 0 else ""
    code = f"""
import os, sys
from bot.store.store import Store, StoreError
NOBODY = {NOBODY}
Store(":memory:").close()  # everything imported, lazy imports too, while the interpreter's files are readable
{drop}
try:
    Store(sys.argv[1])
except StoreError as error:
    print(error)
else:
    print("opened")
"""
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory an ordinary user can reach (pytest's own are private to root when run as root)."""
    directory = Path(tempfile.mkdtemp(prefix="store-test-"))
    directory.chmod(0o777)
    yield directory
    for path in (directory, *directory.iterdir()):
        path.chmod(0o777)
    shutil.rmtree(directory)


def one_line(message: str, path: Path) -> str:
    assert message.endswith("\n") and message.count("\n") == 1, message
    assert str(path) in message, message
    return message.strip()


def test_a_read_only_directory_is_one_clear_line(open_dir: Path) -> None:
    open_dir.chmod(0o555)
    message = one_line(opened_as_user(open_dir / "v.db"), open_dir / "v.db")
    assert message == (
        f"cannot create the database {open_dir / 'v.db'}: Permission denied; make its directory exist and be "
        "writable by this user, or set VARIATIONS_DB to another path"
    )


def test_an_existing_database_in_a_read_only_directory_is_one_clear_line(open_dir: Path) -> None:
    path = open_dir / "v.db"
    assert opened_as_user(path) == "opened\n"  # made by that user, then its directory locked
    for leftover in open_dir.glob("v.db-*"):
        leftover.unlink()
    open_dir.chmod(0o555)
    message = one_line(opened_as_user(path), path)
    assert message.startswith(f"the database {path} is read-only (")
    assert message.endswith(
        "make the file and its directory writable by this user, or set VARIATIONS_DB to another path"
    )


def test_an_unreadable_file_is_one_clear_line(open_dir: Path) -> None:
    path = open_dir / "v.db"
    Store(str(path)).close()
    path.chmod(0o000)
    message = one_line(opened_as_user(path), path)
    assert message.startswith(f"cannot open the database {path} (unable to open database file); the file and its")


def test_a_read_only_file_is_one_clear_line(open_dir: Path) -> None:
    path = open_dir / "v.db"
    assert opened_as_user(path) == "opened\n"
    path.chmod(0o444)
    assert one_line(opened_as_user(path), path).startswith(f"the database {path} is read-only")


def test_junk_a_directory_or_a_missing_directory_is_one_clear_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("these are not the rows you are looking for\n" * 100)
    with pytest.raises(StoreError) as raised:
        Store(str(junk))
    assert str(raised.value) == f"{junk} is not a SQLite database; move it away or set VARIATIONS_DB to another path"
    assert junk.read_text().startswith("these are not")  # left as it was
    with pytest.raises(StoreError, match=r"^cannot open the database .*unable to open database file"):
        Store(str(tmp_path))
    with pytest.raises(StoreError, match=r"^cannot create the database .*: No such file or directory; "):
        Store(str(tmp_path / "missing" / "v.db"))


def test_check_writable_raises_when_the_file_system_refuses_writes(tmp_path: Path) -> None:
    """The file system stops taking writes (here: a file size limit, as a full disk does): reads still work,
    so only a real write shows it."""
    code = """
import resource, signal, sqlite3, sys
from bot.store.store import Store
store = Store(sys.argv[1])
store.processes.check_writable()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
store.query("select count(*) from runs")
try:
    for _ in range(100):
        store.processes.check_writable()
except sqlite3.Error as error:
    print("raised", type(error).__name__)
"""
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "v.db")], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert (result.stdout, result.stderr) == ("raised OperationalError\n", "")
