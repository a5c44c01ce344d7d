"""Where `grade_submission` runs: a local process pool, or a Dask cluster.  One function, two engines.

Each worker uses ONE intra-op thread (torch, OpenMP, BLAS) and there are as many workers as cores:
on this 2-core machine two threads per worker slowed training 3-7x under competition, and 1 vs 2
threads also change the floats the reference compares against.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Iterable

from .config import Config
from .model import Status, Submission, SubmissionResult

SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
SLOT_DIR = Path(tempfile.gettempdir()) / "gradekit-slots"
MAX_SLOTS = 512

_worker_state: dict = {}


def single_thread() -> None:
    os.environ.update(SINGLE_THREAD_ENV)
    import torch

    torch.set_num_threads(1)


def claim_slot() -> int:
    """A sandbox slot (uid 61000+slot) no other live process holds: two sandboxes never share a uid,
    so one submission's fork bomb cannot use up another's process limit.  The lock dies with us."""
    SLOT_DIR.mkdir(parents=True, exist_ok=True)
    for slot in range(MAX_SLOTS):
        f = open(SLOT_DIR / f"slot-{slot}.lock", "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        _worker_state["slot_file"] = f  # keep it open: the lock lasts as long as this process
        return slot
    raise RuntimeError("no free sandbox slot")


def _course_for(cfg: Config):
    from .grading import Course

    course = _worker_state.get(("course", cfg))
    if course is None:
        course = Course(cfg)
        _worker_state[("course", cfg)] = course
    return course


def _init_worker() -> None:
    single_thread()
    _worker_state["slot"] = claim_slot()


def grade_in_worker(sub: Submission, cfg: Config, visible_only: bool = False) -> SubmissionResult:
    """The task both engines run.  Picklable arguments only; the course is loaded once per worker."""
    from .grading import grade_submission

    if "slot" not in _worker_state:
        _init_worker()
    return grade_submission(sub, _course_for(cfg), visible_only=visible_only, slot=_worker_state["slot"])


def _crashed(sub: Submission, cfg: Config, why: str) -> SubmissionResult:
    return SubmissionResult(key=sub.key, file=sub.source_name, name=sub.identity.name, cid=sub.identity.cid,
                            status=Status.ERROR, message=why, flags=sub.flags, sha256=sub.sha256)


def run_local(subs: Iterable[Submission], cfg: Config, *, workers: int,
              on_result: Callable[[SubmissionResult], None]) -> None:
    """Grade on a local process pool.  A worker that dies takes its in-flight submissions back to the
    queue once; a submission in flight during two pool failures gets an ERROR row, never a dead batch."""
    import multiprocessing as mp

    from .errors import SetupError

    pending = list(subs)
    strikes: dict[str, int] = {}
    ctx = mp.get_context("spawn")  # torch and fork do not mix; workers import what they need once
    while pending:
        with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx, initializer=_init_worker) as pool:
            futures = {pool.submit(grade_in_worker, s, cfg): s for s in pending}
            pending = []
            reported: set = set()
            try:
                remaining = set(futures)
                while remaining:
                    done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                    for fut in done:
                        exc = fut.exception()
                        if isinstance(exc, BrokenProcessPool):
                            raise exc
                        if isinstance(exc, SetupError):  # the course/machine is misconfigured: stop
                            raise exc
                        reported.add(fut)
                        on_result(fut.result() if exc is None else
                                  _crashed(futures[fut], cfg, f"grader worker failed: {type(exc).__name__}: {exc}"))
            except BrokenProcessPool:
                for fut, sub in futures.items():
                    if fut in reported:
                        continue
                    if fut.done() and fut.exception() is None:
                        on_result(fut.result())
                        continue
                    strikes[sub.key] = strikes.get(sub.key, 0) + 1
                    if strikes[sub.key] >= 2:
                        on_result(_crashed(sub, cfg, "a grader worker died twice while grading this submission"))
                    else:
                        pending.append(sub)
