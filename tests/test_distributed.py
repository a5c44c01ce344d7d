"""The Dask engine (gradekit/distributed.py) against the local pool, on a real cluster.

A LocalCluster on loopback (two worker processes, one thread each) grades a small tiny-profile
cohort while the test SIGKILLs a worker in the middle of a sandboxed run; the gradebook must equal
the local pool's on the same submissions, one row per student.  The local pool's results are the
session's shared cohort (tests/shared_cohort.py: the same notebooks, graded by `gradekit grade`'s
own batch; they are notebooks other modules read too, so the local side costs no sandboxed run of
its own); the reference work a cold local pool does is measured by judging their stored answers
again on an empty cache, in this process.  The priming of a worker's reference cache is tested on
its own, without a cluster.
"""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from conftest import submission_of
from gradekit.model import Status
from shared_cohort import wants


def test_prime_reference_seeds_the_cache_without_computing(course, tmp_path):
    """What one worker's precompute recorded is what another worker's checks get; nothing is
    computed there."""
    from gradekit.distributed import prime_reference
    from gradekit.grading import Course

    profile = course.profile                                # precompute: every rate
    elsewhere = Course(course.cfg.with_(cache=tmp_path / "elsewhere"))
    recording = elsewhere.reference.recording()
    elsewhere.module.precompute_reference(recording, profile, 3000001)
    assert len(recording.calls) == len(profile["learning_rates"])
    # a diverged value must survive the round trip: replace one recorded value by nan
    calls = [(fn, kw, v) for fn, kw, v in recording.calls]
    fn, kw, v = calls[-1]
    calls[-1] = (fn, kw, {r: float("nan") for r in v})

    fresh = Course(course.cfg.with_(cache=tmp_path / "here"))
    assert prime_reference(fresh, calls) == len(calls)
    assert prime_reference(fresh, calls) == 0               # an existing entry is kept
    got = fresh.module.expected_sweep(fresh.reference, profile, 3000001)
    assert fresh.reference.misses == 0 and fresh.reference.seconds_computing == 0
    want = [next(iter(v.values())) for _, _, v in calls]
    assert all(g == w or (g != g and w != w) for g, w in zip(got.values(), want))
    assert got[float(profile["learning_rates"][-1])] != got[float(profile["learning_rates"][-1])]


def test_a_worker_running_two_tasks_at_once_stops_the_batch(tiny_cfg, make_student):
    """One sandbox slot and one intra-op thread per worker process: a --nthreads 2 worker is refused
    before it grades anything, and the message says how to start workers."""
    from distributed import Client, LocalCluster

    from gradekit.distributed import run_dask
    from gradekit.errors import SetupError

    got = []
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        with pytest.raises(SetupError, match="--nthreads 1"):
            run_dask([submission_of("ada", make_student(full=True))], tiny_cfg, scheduler=client, on_result=got.append)
    assert got == []


@wants
def notebooks(kit):
    """The cohort both engines grade (the local pool's results: the shared cohort), four notebooks
    other modules read too: ada and cai share a CID (one reference task for the pair), ben's sweep is
    at a CID of its own, dee (the untouched release) has no sweep."""
    v = kit.variants
    return {
        "ada": kit.full,                                   # full marks
        "ben": kit.variant(v.sigmoid_not_vectorised),      # its own CID
        "cai": kit.variant(v.sweep_without_reinit),        # ada's CID
        "dee": kit.untouched,
    }


def _cold_reference_work(results, cfg, cache) -> dict[str, int]:
    """key -> reference values each result's judging computes on a cold cache, judged in the given
    order in one process (a local pool without reference tasks: a CID's entries computed once)."""
    from gradekit.grading import Course, rejudge_result

    course = Course(cfg.with_(cache=cache))
    again = {k: rejudge_result(r, course) for k, r in results.items()}
    assert all(a is not None for a in again.values()), "the shared cohort kept no answers"
    return {k: a.reference_computed for k, a in again.items()}


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


class _Killer(threading.Thread):
    """SIGKILLs the first worker process seen running a sandbox for more than `after` seconds."""

    def __init__(self, worker_pids: dict[str, int], after: float = 2.0, give_up: float = 120.0):
        super().__init__(daemon=True)
        self.worker_pids, self.after, self.give_up = worker_pids, after, give_up
        self.stop = threading.Event()
        self.killed: str | None = None
        self.orphans: list = []          # the killed worker's descendants at the moment of the kill

    def run(self) -> None:
        import psutil

        t_end = time.monotonic() + self.give_up
        while not self.stop.is_set() and time.monotonic() < t_end:
            for addr, pid in self.worker_pids.items():
                procs = _descendants(pid)
                try:
                    sandboxes = [p for p in procs if p.name() == "bwrap"]
                    busy = any(time.time() - p.create_time() > self.after for p in sandboxes)
                except psutil.NoSuchProcess:
                    continue
                if busy:
                    self.orphans = _descendants(pid)
                    os.kill(pid, signal.SIGKILL)
                    self.killed = addr
                    return
            self.stop.wait(0.2)


def _table(results, parts):
    """The gradebook rows as the engine graded them: without the message (timings) and the flags,
    which the batch adds afterwards from the whole cohort (the pair's duplicate_cid)."""
    from gradekit.gradebook import to_dataframe

    df = to_dataframe(results, parts=parts)
    return df.drop(columns=["message", "flags"]).set_index("student")


@pytest.mark.slow
@pytest.mark.sandbox
def test_dask_cluster_grades_like_the_local_pool_despite_a_killed_worker(shared_cohort, course, tmp_path):
    from distributed import Client, LocalCluster

    from gradekit.distributed import run_dask
    from gradekit.intake import read_submission

    cfg = shared_cohort.cfg          # the local pool's configuration (sandboxed: this test skips otherwise)
    graded = shared_cohort.results(notebooks)
    local = {graded[name].key: graded[name] for name in ("ada", "ben", "cai", "dee")}
    subs = [read_submission(shared_cohort.subs / f"{key}.ipynb", key=key, source_name=f"{key}.ipynb",
                            cid_placeholder=cfg.cid_placeholder,
                            max_bytes=int(cfg.limits.max_notebook_mb * 1024 * 1024)) for key in local]
    children_before = {p.pid for p in _descendants(os.getpid())}

    calls: list[str] = []
    remote: dict = {}

    def on_result(r):
        assert threading.current_thread() is threading.main_thread()   # the client alone writes the store
        calls.append(r.key)
        remote[r.key] = r

    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0", memory_limit=0) as cluster, Client(cluster) as client:
        killer = _Killer(client.run(os.getpid))
        killer.start()
        try:
            stats = run_dask(subs, cfg.with_(cache=tmp_path / "dask-cache"), scheduler=client,
                             on_result=on_result)
        finally:
            killer.stop.set()
            killer.join()
        assert len(cluster.workers) == 2
    t_dask = time.perf_counter() - t0
    print(f"dask {t_dask:.0f} s, killed {killer.killed}, {stats}")

    assert killer.killed is not None, "no worker was caught grading: the kill did not happen"
    assert sorted(calls) == sorted(s.key for s in subs)           # each student exactly once
    assert stats.reference_tasks == 3 and stats.reported == 4 and stats.worker_deaths == 0
    # The pair shares one reference task, and no grading task computed what the reference tasks had:
    # each CID's first rate.  (The rates that depend on the student's own answers are computed by the
    # grading task, as in the local pool.)
    computed = {k: r.reference_computed for k, r in remote.items()}
    computed_locally = _cold_reference_work(local, cfg, tmp_path / "cold-cache")
    cids_with_reference_work = {local[k].cid for k, n in computed_locally.items() if n > 0}
    assert len(cids_with_reference_work) == 2                      # ada+cai's CID and ben's; dee has no sweep
    assert graded["ada"].cid == graded["cai"].cid != graded["ben"].cid
    assert sum(computed.values()) <= sum(computed_locally.values()) - len(cids_with_reference_work), \
        (computed, computed_locally)

    ada, others = graded["ada"], [graded[n] for n in ("ben", "cai", "dee")]
    assert ada.status == Status.GRADED and ada.total == ada.max_total
    assert all(r.total < r.max_total for r in others)
    theirs, ours = _table(list(remote.values()), course.parts), _table(list(local.values()), course.parts)
    assert theirs.equals(ours), theirs.compare(ours).to_string()
    assert [n for n in ("ada", "ben", "cai", "dee") if "duplicate_cid" in graded[n].flags] == ["ada", "cai"]
    for k in local:
        assert [(c.name, c.points, c.passed) for c in remote[k].checks] == \
               [(c.name, c.points, c.passed) for c in local[k].checks], k

    # Nothing left behind: no new children of ours, and the killed worker's sandbox died with it.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        extra = [p for p in _descendants(os.getpid()) if p.pid not in children_before
                 and "resource_tracker" not in " ".join(_cmdline(p))]
        alive = [p for p in killer.orphans if _alive(p)]
        if not extra and not alive:
            break
        time.sleep(0.5)
    assert not extra, [(p.pid, _cmdline(p)) for p in extra]
    assert not alive, [(p.pid, _cmdline(p)) for p in alive]


def _cmdline(p) -> list[str]:
    import psutil

    try:
        return p.cmdline()
    except psutil.Error:
        return []


def _alive(p) -> bool:
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
