"""The resumable result store: upsert, skip-if-current, and surviving SIGKILL at any moment."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gradekit.model import CheckResult, Status, SubmissionResult
from gradekit.store import STORE_NAME, ResultStore, StoreError, StoreLocked

REPO = Path(__file__).resolve().parent.parent


def result(key: str = "s1", *, status: Status = Status.GRADED, sha: str = "sha-1", checks_hash: str = "ch-1",
           message: str = "ok", points: float = 2.0) -> SubmissionResult:
    return SubmissionResult(
        key=key, file=f"{key}.ipynb", name="Ada Lovelace", cid=12345, status=status, message=message,
        checks=(CheckResult("sigmoid", "test_scalar", points, 2.0, points == 2.0, True, "fine"),
                CheckResult("sigmoid", "test_hidden", 0.0, 3.0, False, False, "wrong for large inputs")),
        flags=("late_attempt_ignored",), timings={"intake": 0.01, "sandbox": 3.5}, sha256=sha,
        checks_hash=checks_hash,
        extras={"sweep": {"learning_rates": [0.1, 1.5], "student": [0.001, float("nan")],
                          "expected_ok": [True, False]}})


def test_put_get_roundtrip(tmp_path):
    r = result()
    with ResultStore(tmp_path / STORE_NAME) as store:
        store.put(r)
        got = store.get("s1")
    assert got is not None
    # NaN != NaN: compare everything but the loss list, then the loss list by text.
    assert got.checks == r.checks and got.status is Status.GRADED and got.flags == r.flags
    assert dict(got.timings) == dict(r.timings)
    assert repr(got.extras) == repr(r.extras)
    assert got.to_json().keys() == r.to_json().keys()


def test_folder_path_wal_and_one_row_per_key(tmp_path):
    with ResultStore(tmp_path) as store:                 # a folder: results.sqlite inside it
        store.put(result(message="first"))
        store.put(result(message="second", points=0.0))
        assert len(store) == 1 and "s1" in store
        assert store.get("s1").message == "second" and store.get("s1").total == 0.0
        assert store.get("nobody") is None
    db = sqlite3.connect(tmp_path / STORE_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT COUNT(*), MIN(key) FROM results").fetchone() == (1, "s1")
    db.close()


def test_is_current(tmp_path):
    with ResultStore(tmp_path) as store:
        assert not store.is_current("s1", "sha-1", "ch-1")              # nothing stored
        store.put(result())
        assert store.is_current("s1", "sha-1", "ch-1")
        assert not store.is_current("s1", "sha-2", "ch-1")              # the student resubmitted
        assert not store.is_current("s1", "sha-1", "ch-2")              # checks/reference/config changed
        store.put(result(status=Status.ERROR))                         # the grader failed: retry
        assert not store.is_current("s1", "sha-1", "ch-1")
        store.put(result(status=Status.TIMEOUT))                        # a real outcome: keep it
        assert store.is_current("s1", "sha-1", "ch-1")


def test_all_sorted_and_delete_missing(tmp_path):
    with ResultStore(tmp_path) as store:
        for k in ("c", "a", "b"):
            store.put(result(k))
        assert [r.key for r in store.all()] == ["a", "b", "c"] == store.keys()
        assert store.delete_missing(["a", "c", "z"]) == ["b"]
        assert store.keys() == ["a", "c"]
        assert store.delete_missing(["a", "c"]) == []


def test_empty_key_rejected(tmp_path):
    with ResultStore(tmp_path) as store, pytest.raises(ValueError):
        store.put(result(""))


def test_one_writer_readonly_readers(tmp_path):
    with ResultStore(tmp_path) as store:
        store.put(result())
        with pytest.raises(StoreLocked):                    # same process
            ResultStore(tmp_path)
        other = subprocess.run(
            [sys.executable, "-c", "import sys; from gradekit.store import ResultStore, StoreLocked\n"
             "try:\n ResultStore(sys.argv[1])\nexcept StoreLocked: sys.exit(3)", str(tmp_path)],
            cwd=REPO, capture_output=True, text=True, timeout=60)
        assert other.returncode == 3, other.stderr          # another process
        with ResultStore(tmp_path, readonly=True) as ro:    # a reader while the batch runs
            assert ro.keys() == ["s1"]
            with pytest.raises(StoreError):
                ro.put(result("s2"))
    with ResultStore(tmp_path) as again:                    # released on close
        assert again.keys() == ["s1"]
    with ResultStore(tmp_path, readonly=True) as ro:        # no writer, WAL files gone: still readable
        assert [r.key for r in ro.all()] == ["s1"]
    with pytest.raises(StoreError):
        ResultStore(tmp_path / "missing.sqlite", readonly=True)


def test_not_a_store(tmp_path):
    (tmp_path / STORE_NAME).write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match="not a usable result store"):
        ResultStore(tmp_path)
    ResultStore(tmp_path / "x.sqlite").close()              # the failed open released its lock


# -- crash safety ---------------------------------------------------------------------------------

# A batch as the executor runs it: skip what is current, put the rest one at a time, say so.
BATCH = textwrap.dedent('''
    import sys
    from gradekit.model import CheckResult, Status, SubmissionResult
    from gradekit.store import ResultStore

    folder, checks_hash, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with ResultStore(folder) as store:
        for i in range(n):
            key = f"student{i:03d}"
            if store.is_current(key, "sha-" + key, checks_hash):
                continue
            r = SubmissionResult(key=key, file=key + ".ipynb", name="N " * 200, cid=i,
                                 status=Status.GRADED, message="m" * 2000,
                                 checks=tuple(CheckResult("p", f"t{j}", 1.0, 1.0, True, True, "ok" * 50)
                                              for j in range(20)),
                                 sha256="sha-" + key, checks_hash=checks_hash)
            store.put(r)
            print(key, flush=True)
    print("done", flush=True)
''')
N = 120


def run_batch(folder: Path, checks_hash: str, kill_after: int | None) -> list[str]:
    """Run BATCH; SIGKILL it after it reported `kill_after` puts (None: let it finish)."""
    proc = subprocess.Popen([sys.executable, "-c", BATCH, str(folder), checks_hash, str(N)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line.strip())
            if kill_after is not None and len(lines) >= kill_after:
                proc.send_signal(signal.SIGKILL)       # mid-way through the next put
                break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    if kill_after is None:
        assert proc.returncode == 0 and lines[-1] == "done", err
        return lines[:-1]
    assert proc.returncode == -signal.SIGKILL, err
    return lines


def rows(folder: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(folder / STORE_NAME)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return db.execute("SELECT key, checks_hash FROM results ORDER BY key").fetchall()
    finally:
        db.close()


def test_sigkill_mid_batch_then_rerun(tmp_path):
    written = run_batch(tmp_path, "A", kill_after=17)
    assert len(written) == 17
    after_kill = rows(tmp_path)
    keys = [k for k, _ in after_kill]
    assert len(keys) == len(set(keys))                   # a primary key, but check what a TA would
    assert set(written) <= set(keys) and len(keys) <= len(written) + 1   # at most the one in flight

    run_batch(tmp_path, "A", kill_after=40)              # resumes, killed again
    run_batch(tmp_path, "B", kill_after=25)              # the checks changed: everything is stale
    before = rows(tmp_path)
    already_b = {k for k, h in before if h == "B"}
    assert len(already_b) >= 25
    last = run_batch(tmp_path, "B", kill_after=None)
    assert set(last) == {f"student{i:03d}" for i in range(N)} - already_b   # skips exactly the current
    final = rows(tmp_path)
    assert [k for k, _ in final] == [f"student{i:03d}" for i in range(N)]
    assert {h for _, h in final} == {"B"}
    with ResultStore(tmp_path) as store:                 # and every row reads back as a result
        results = store.all()
    assert len(results) == N and all(r.total == 20.0 for r in results)


def test_sigkill_at_random_moments(tmp_path):
    """Kill a time after the first put rather than after a line: lands anywhere, inside commits too."""
    seen = []
    for i, delay in enumerate((0.0, 0.002, 0.005, 0.01, 0.02, 0.04)):
        proc = subprocess.Popen([sys.executable, "-c", BATCH, str(tmp_path), f"h{i}", str(N)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        proc.stdout.readline()                            # the store is open and writing
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
        stored = rows(tmp_path)
        keys = [k for k, _ in stored]
        assert len(keys) == len(set(keys))
        seen.append(sum(h == f"h{i}" for _, h in stored))
    assert any(0 < n < N for n in seen), seen            # at least some kills landed mid-batch
    run_batch(tmp_path, "final", kill_after=None)
    assert len(rows(tmp_path)) == N


def test_lock_not_held_by_orphaned_workers(tmp_path):
    """The owner dies, a forked worker lives on: a new run can still open the store."""
    script = textwrap.dedent('''
        import os, sys, time
        from gradekit.store import ResultStore
        store = ResultStore(sys.argv[1])
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        print(pid, flush=True)
        time.sleep(60)
    ''')
    owner = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    worker_pid = int(owner.stdout.readline())
    try:
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=30)
        with ResultStore(tmp_path) as store:
            store.put(result())
            assert len(store) == 1
    finally:
        owner.stdout.close()
        try:
            os.kill(worker_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# -- regrades: what a re-run must do, the executed notebook, the history of marks -------------------

def test_need_splits_rerun_from_rejudge(tmp_path):
    from dataclasses import replace

    from gradekit.store import CURRENT, REJUDGE, RUN

    r = replace(result(), provenance={"run_key": "probes-1"})
    with ResultStore(tmp_path) as store:
        assert store.need("s1", "sha-1", "probes-1", "ch-1") == RUN                # nothing stored
        store.put(r)
        assert store.need("s1", "sha-1", "probes-1", "ch-1") == CURRENT
        assert store.need("s1", "sha-1", "probes-1", "ch-2") == REJUDGE            # only the checks changed
        assert store.need("s1", "sha-1", "probes-2", "ch-1") == RUN                # the probes/settings changed
        assert store.need("s1", "sha-2", "probes-1", "ch-1") == RUN                # resubmitted
        store.put(replace(r, status=Status.ERROR))
        assert store.need("s1", "sha-1", "probes-1", "ch-1") == RUN


def test_executed_notebook_kept_apart_and_survives_a_rejudge(tmp_path):
    from dataclasses import replace

    with ResultStore(tmp_path) as store:
        store.put(replace(result(), executed_notebook='{"cells": []}'))
        assert store.notebook("s1") == '{"cells": []}' and "executed_notebook" not in store.get("s1").to_json()
        store.put(replace(result(), message="re-judged"))                        # same file, no notebook
        assert store.notebook("s1") == '{"cells": []}'
        store.put(replace(result(sha="sha-2")))                                   # another file: not its run
        assert store.notebook("s1") is None


def test_history_records_changes_of_marks_only(tmp_path):
    from dataclasses import replace

    from gradekit.model import Override

    with ResultStore(tmp_path) as store:
        assert store.put(result()).event == "graded"
        assert store.put(result(message="same marks")) is None                    # no change, no entry
        change = store.put(result(points=0.0), event="rejudged")
        assert (change.event, change.old_total, change.new_total) == ("rejudged", 2.0, 0.0)
        assert [(p.part, p.old, p.new) for p in change.parts] == [("sigmoid", 2.0, 0.0)]
        o = Override("sigmoid", 4.0, "regrade request", "TA")
        change = store.put(replace(result(points=0.0), overrides=(o,)), event="override")
        assert change.event == "override" and change.parts[0].why == "override: regrade request (by TA)"
        assert [h.event for h in store.history("s1")] == ["graded", "rejudged", "override"]
        assert store.history("nobody") == []


def test_a_version_1_store_is_upgraded_in_place(tmp_path):
    from gradekit.store import RUN, dumps_result

    path = tmp_path / STORE_NAME
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE results (key TEXT PRIMARY KEY, sha256 TEXT NOT NULL, checks_hash TEXT NOT NULL,
                              status TEXT NOT NULL, result_json TEXT NOT NULL, updated_at TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');""")
    db.execute("INSERT INTO results VALUES ('s1', 'sha-1', 'ch-1', 'graded', ?, '2026-01-01')", (dumps_result(result()),))
    db.commit()
    db.close()
    with ResultStore(path) as store:
        assert store.get("s1").checks == result().checks
        assert store.need("s1", "sha-1", "probes-1", "ch-1") == RUN    # no answers kept: it must run again
        assert store.notebook("s1") is None and store.history("s1") == []
