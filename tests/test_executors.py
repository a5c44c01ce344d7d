"""The local pool (executors.run_local) on a minimal course: runs and judging as separate tasks,
every submission reported once, workers that die while judging.

The course here is a few lines (one probe, one check) and the notebooks one cell, run without the
sandbox, so the file takes seconds; a check kills its worker (os._exit) for the students named so.
"""
from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import nbformat
import pytest

from gradekit.config import Config, Limits
from gradekit.executors import run_local
from gradekit.model import Identity, Status, Submission

COURSE = '''
from gradekit.api import ProbeSpec

PARTS, BUG_PARTS, TASK_PARTS = ("x",), (), ()

def student(release, source, *, name, cid, fixed=(), solved=(), profile=None):
    raise NotImplementedError("this course builds no notebooks")

def load_profile(name):
    return {"name": name}

def job_files(profile, *, release_dir, cache_dir):
    return {}

def make_probes(profile, rng):
    return [ProbeSpec("x", "def probe(params):\\n    return x", {}, 20)]

'''

CHECK = '''
import os
from pathlib import Path

import pytest


@pytest.mark.points(1)
def test_x(probes, identity):
    name = identity.name
    marker = Path(os.environ["GK_TEST_MARKERS"]) / name
    if name == "crash-always" or (name == "crash-once" and not marker.exists()):
        marker.touch()
        os._exit(1)                 # the grading worker dies in the middle of judging
    assert probes["x"].status == "ok" and probes["x"].value == 1, "x should be 1"
'''


@pytest.fixture
def mini_cfg(tmp_path, monkeypatch):
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "course.py").write_text(COURSE)
    (checks / "test_x.py").write_text(textwrap.dedent(CHECK))
    (tmp_path / "markers").mkdir()
    monkeypatch.setenv("GK_TEST_MARKERS", str(tmp_path / "markers"))  # the spawned workers inherit it
    return Config(root=tmp_path, assignment="mini", source=tmp_path / "source.ipynb",
                  release=tmp_path / "release" / "mini.ipynb", checks=checks, cid_placeholder=0,
                  profile="p", cache=tmp_path / "cache",
                  limits=Limits(cell_timeout_s=20, notebook_timeout_s=60, probe_timeout_s=20),
                  sandbox=False)


def sub(key: str, code: str = "x = 1") -> Submission:
    text = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]))
    return Submission(key=key, source_name=f"{key}.ipynb", sha256=hashlib.sha256(text.encode()).hexdigest(),
                      notebook_json=text, identity=Identity(key, 1234567))


def waiting(path: Path, then: str = "x = 1", at_most_s: float = 15) -> str:
    """A notebook cell that runs until `path` exists (at most `at_most_s`), then `then`: a run exactly
    as long as the test needs one, on a quiet or a loaded machine (the run is not sandboxed; at_most_s
    stays under the cell limit of mini_cfg)."""
    return (f"import glob, time\nend = time.monotonic() + {at_most_s}\n"
            f"while not glob.glob({str(path)!r}) and time.monotonic() < end:\n    time.sleep(0.05)\n{then}")


def grade(cfg, subs, workers):
    results = []
    run_local(subs, cfg, workers=workers, on_result=results.append)
    return results


@pytest.mark.slow
def test_every_submission_run_and_judged_once(mini_cfg):
    subs = [sub("a"), sub("b", "x = 2"), sub("c"), sub("d", "x = 1/0"),
            Submission(key="e", source_name="e.ipynb", sha256="0", notebook_json=None, problem="not JSON")]
    results = grade(mini_cfg, subs, workers=2)
    assert sorted(r.key for r in results) == ["a", "b", "c", "d", "e"]
    by_key = {r.key: r for r in results}
    assert [by_key[k].total for k in "abcde"] == [1, 0, 1, 0, 0]
    assert by_key["e"].status == Status.INVALID_NOTEBOOK
    assert by_key["b"].checks[0].message == "x should be 1"
    for k in "abcd":    # both halves' timings reach the result
        assert {"prepare", "sandbox", "reference", "judge"} <= set(by_key[k].timings), by_key[k].timings


@pytest.mark.slow
def test_worker_dying_while_judging_is_retried_once(mini_cfg):
    results = grade(mini_cfg, [sub("crash-once"), sub("crash-always"), sub("fine")], workers=1)
    by_key = {r.key: r for r in results}
    assert len(results) == 3 and set(by_key) == {"crash-once", "crash-always", "fine"}
    assert by_key["crash-once"].status == Status.GRADED and by_key["crash-once"].total == 1
    assert by_key["fine"].status == Status.GRADED and by_key["fine"].total == 1
    assert by_key["crash-always"].status == Status.ERROR
    assert "died twice" in by_key["crash-always"].message


PRECOMPUTING_COURSE = COURSE + '''

def square(x):
    return x * x


def precompute_reference(reference, profile, cid):
    reference(square, x=cid)
'''

REFERENCE_CHECK = '''
import pytest


@pytest.mark.points(1)
def test_x(probes, identity, reference, course):
    assert probes["x"].value == reference(course.square, x=identity.cid), "x should be the CID squared"
'''


@pytest.fixture
def precomputing_cfg(mini_cfg):
    (mini_cfg.checks / "course.py").write_text(PRECOMPUTING_COURSE)
    (mini_cfg.checks / "test_x.py").write_text(textwrap.dedent(REFERENCE_CHECK))
    return mini_cfg


@pytest.mark.slow
def test_an_idle_worker_precomputes_a_running_notebooks_reference(precomputing_cfg):
    """One slow notebook, two workers: the idle one computes the CID's answer-independent reference
    work while the notebook runs, so its judging computes nothing; with one worker, the judging does.

    The slow notebook runs until a reference result is on disk (at most 15 s): if the idle worker
    never precomputes, the judging computes it and the test fails."""
    answer = "x = 1234567 ** 2"
    slow = sub("slow", waiting(precomputing_cfg.cache / "reference" / "*.json", then=answer))
    (two,) = grade(precomputing_cfg, [slow], workers=2)
    assert two.total == 1 and two.reference_computed == 0, (two.message, two.checks)

    # one worker: busy with the run, then with the judging (the notebook's length changes nothing)
    fresh = precomputing_cfg.with_(cache=precomputing_cfg.cache.parent / "cache-one-worker")
    (one,) = grade(fresh, [sub("quick", answer)], workers=1)
    assert one.total == 1 and one.reference_computed == 1


@pytest.mark.slow
def test_a_batch_leaves_nothing_in_the_temp_folder_even_when_a_worker_is_killed(mini_cfg, tmp_path, monkeypatch):
    """Every worker's job folders and caches live in a temp root the batch process owns and removes:
    nothing is left, also when a worker is SIGKILLed in the middle of a run.  The slow notebooks run
    until the kill is done (a file outside the temp folder says so; at most 15 s)."""
    import os
    import signal
    import tempfile
    import threading
    import time

    from multiprocessing import forkserver

    from gradekit.executors import worker_context

    # The workers' server (multiprocessing's forkserver) and the matplotlib font list belong to this
    # process, not to a batch: they live in this process's temp folder until the process exits.  Made
    # before the switch.
    from gradekit.sandbox.recipe import mpl_cache

    worker_context(mini_cfg)
    forkserver.ensure_running()
    mpl_cache()
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))           # the workers get the batch process's environment
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    killed_flag = tmp_path / "killed"
    slow = waiting(killed_flag)
    killed: list[int] = []

    def kill_a_worker_mid_run() -> None:
        """SIGKILL the first pool worker seen while a job folder is in the private temp folder (the pool's
        workers are forked by multiprocessing's forkserver, a child of this process)."""
        import psutil

        end = time.monotonic() + 60
        while time.monotonic() < end and not killed:
            if any(private.glob("gradekit-batch-*/gradekit-job-*")):
                try:
                    workers = [w for server in psutil.Process().children()
                               if "forkserver" in " ".join(server.cmdline()) for w in server.children()]
                except psutil.Error:
                    workers = []
                if workers:
                    os.kill(workers[0].pid, signal.SIGKILL)
                    killed.append(workers[0].pid)
                    return
            time.sleep(0.2)

    def kill_then_say_so() -> None:
        try:
            kill_a_worker_mid_run()
        finally:
            killed_flag.touch()          # the slow notebooks (and the killed one's re-run) end now

    killer = threading.Thread(target=kill_then_say_so)
    killer.start()
    results = grade(mini_cfg, [sub("a", slow), sub("b", slow), sub("c")], workers=2)
    killer.join()
    assert killed, "no worker was killed: the test proved nothing"
    assert sorted(r.key for r in results) == ["a", "b", "c"]
    left = sorted(p.name for p in private.iterdir())
    assert left == [], left          # (the slots' lock files live in one machine-wide folder, not here)
