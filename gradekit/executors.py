"""Where `grade_submission` runs: a local process pool, or a Dask cluster.  One function, two engines.

Each worker uses ONE intra-op thread (torch, OpenMP, BLAS) and there are as many workers as cores:
on this 2-core machine two threads per worker slowed training 3-7x under competition, and 1 vs 2
threads also change the floats the reference compares against.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Iterable

from .config import Config
from .model import Status, Submission, SubmissionResult

SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
# One folder for the whole machine, whatever TMPDIR a grader has: slots are uids, and two graders
# (or two test processes) with different temp folders must still never claim the same one.
SLOT_DIR = Path("/tmp/gradekit-slots")
MAX_SLOTS = 512
JUDGE_BACKLOG_PER_WORKER = 2    # run_local: executed submissions waiting to be judged, per worker, at most

_worker_state: dict = {}


def single_thread() -> None:
    """One thread for every numeric library this worker starts from now on (the environment), before
    the course is loaded; the course's ``configure_worker`` hook then sets what the environment does
    not reach (e.g. a library imported already)."""
    os.environ.update(SINGLE_THREAD_ENV)


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
        configure = course.hook("configure_worker")
        if configure is not None:
            configure()
        _worker_state[("course", cfg)] = course
    return course


def _init_worker(batch_tmp: str | None = None, environ: dict[str, str] | None = None,
                 mpl_fonts: tuple[str | None] | None = None) -> None:
    """A worker's set-up: (local pool) the batch process's environment (`adopt_environment`), the
    batch's temp root as its temp folder, so that whatever it leaves (a killed worker's job folder) is
    removed with the batch; the batch process's matplotlib font list (``mpl_fonts``: built once per
    process, see sandbox.recipe.mpl_cache); then one thread and a sandbox slot."""
    if mpl_fonts is not None:
        from .sandbox.recipe import share_mpl_cache

        share_mpl_cache(mpl_fonts[0])
    if environ is not None:
        adopt_environment(environ)
    if batch_tmp:
        tempfile.tempdir = batch_tmp
    single_thread()
    _worker_state["slot"] = claim_slot()


#: What every local grading worker imports, imported once in the process the workers are forked from
#: (`worker_context`); the course adds its own (the contract's ``WORKER_IMPORTS``).  worker_env comes
#: first: it sets one thread in that process's environment before any numeric library is loaded.
ENGINE_WORKER_IMPORTS = ("gradekit.worker_env", "gradekit.grading", "gradekit.judge", "gradekit.sandbox", "pytest")
# The worker server of this process (parent side): the imports it was started with, its socket's folder.
_server: dict = {"imports": (), "socket_home": None}


def adopt_environment(environ: dict[str, str]) -> None:
    """A forked worker's set-up: the batch process's environment as it is now, as a spawned worker would
    inherit it (the worker server was started with the environment of its day)."""
    os.environ.clear()
    os.environ.update(environ)


def worker_context(cfg: Config):
    """The multiprocessing context of the local pools: multiprocessing's forkserver, preloaded.

    Why not spawn: a spawned worker imports the course's libraries again (torch and the reference
    modules: ~2.5 s of CPU before its first task), every pool, every worker.  Why not fork: the batch
    process may have run torch (its OpenMP pool does not survive a fork) or started threads.  The
    forkserver is a single-threaded process that has imported what the workers need and forks them.

    It lives as long as this process (its socket in this process's temp folder).  Started with one set
    of imports, it is restarted once a pool needs modules it lacks (a second course in the same process;
    through ForkServer._stop, private: without it the workers import those modules themselves)."""
    import multiprocessing as mp
    from multiprocessing import forkserver

    from .grading import Course

    wanted = ENGINE_WORKER_IMPORTS + tuple(Course(cfg).hook("WORKER_IMPORTS") or ())
    ctx = mp.get_context("forkserver")
    _server_socket_home()
    if not set(wanted) <= set(_server["imports"]):
        union = tuple(dict.fromkeys(_server["imports"] + wanted))
        stop = getattr(forkserver._forkserver, "_stop", None)
        if stop is not None:
            stop()
        ctx.set_forkserver_preload(list(union))
        _server["imports"] = union
    return ctx


def _server_socket_home() -> None:
    """The worker server's socket lives in multiprocessing's per-process temp folder (``pymp-*``, made
    at its first use), which a SIGKILLed grader leaves behind.  Made here inside a folder this process
    owns (gradekit.tempdirs), the next grader sweeps it with the rest."""
    import shutil
    from multiprocessing import util

    from .tempdirs import owned_tempdir

    if _server["socket_home"] is not None:
        return
    home = owned_tempdir(SERVER_PREFIX)
    # removed at exit after multiprocessing removed its pymp-* folder inside (exitpriority -100)
    util.Finalize(None, shutil.rmtree, args=(str(home), True), exitpriority=-101)
    saved, tempfile.tempdir = tempfile.tempdir, str(home)
    try:
        util.get_temp_dir()     # cached for this process from now on; already made before: unchanged
    finally:
        tempfile.tempdir = saved
    _server["socket_home"] = home


SERVER_PREFIX = "gradekit-mp-"
BATCH_PREFIX = "gradekit-batch-"


def batch_temp_root() -> Path:
    """A temp folder for one batch, owned and removed by the batch process (`remove_batch_root`).
    Roots left by a batch process that was itself killed are removed first (gradekit.tempdirs)."""
    from .tempdirs import owned_tempdir

    return owned_tempdir(BATCH_PREFIX)


def remove_batch_root(root: Path) -> None:
    from .sandbox import remove_tree

    remove_tree(root)


def _slot() -> int:
    """This worker's sandbox slot; a Dask worker gets its set-up here, on its first task."""
    if "slot" not in _worker_state:
        _init_worker()
    return _worker_state["slot"]


def grade_in_worker(sub: Submission, cfg: Config, visible_only: bool = False) -> SubmissionResult:
    """The task both engines run.  Picklable arguments only; the course is loaded once per worker."""
    from .grading import grade_submission

    return grade_submission(sub, _course_for(cfg), visible_only=visible_only, slot=_slot())


def execute_in_worker(sub: Submission, cfg: Config):
    """The local pool's first task: the sandboxed run -> grading.Executed (or a final result)."""
    from .grading import execute_submission

    return execute_submission(sub, _course_for(cfg), slot=_slot())


def judge_in_worker(sub: Submission, cfg: Config, executed, visible_only: bool = False) -> SubmissionResult:
    """The local pool's second task: reference values and checks for an executed submission."""
    from .grading import judge_submission

    _slot()  # single-thread set-up, as for the run
    return judge_submission(sub, _course_for(cfg), executed, visible_only=visible_only)


def precompute_in_worker(cid: int, cfg: Config) -> None:
    """The local pool's filler task: the course's reference work for a CID that does not depend on the
    student's answers (course.precompute_reference), into the shared disk cache, while a core would
    otherwise idle.  An optimisation only: the judging computes whatever is missing."""
    _slot()  # single-thread set-up: the reference's floats depend on the thread count
    _course_for(cfg).precompute_reference(cid)


PRECOMPUTE = "precompute"   # run_local's marker for a filler task (it grades nobody)


def _crashed(sub: Submission, cfg: Config, why: str) -> SubmissionResult:
    return SubmissionResult(key=sub.key, file=sub.source_name, name=sub.identity.name, cid=sub.identity.cid,
                            status=Status.ERROR, message=why, flags=sub.flags, sha256=sub.sha256)


def run_local(subs: Iterable[Submission], cfg: Config, *, workers: int,
              on_result: Callable[[SubmissionResult], None]) -> None:
    """Grade on a local process pool, in two kinds of task: a notebook's sandboxed run, then its judging
    (the CID's reference values -- computed once per CID, cached -- and the checks).

    Why two: a CID's reference sweep costs as much as half a notebook, and is only needed once the run
    has shown an answer to compare.  As one task, a batch ends with the last notebook's run and then
    its reference computed one after the other while the other cores idle.  Here the pool starts runs
    first and fills the gaps with judging; judging goes first once `workers * JUDGE_BACKLOG_PER_WORKER`
    runs wait for it, so results still reach on_result (and the store) as the batch goes: an
    interrupted batch loses at most that many finished runs.

    When a core would idle (nothing left to run, nothing to judge, typically the batch's last runs), it
    computes the reference work of a running notebook's CID that does not depend on the student's
    answers (`precompute_in_worker`), so that less is left to do once that run ends.

    A worker that dies takes its in-flight tasks back to the queue once; a submission in flight during
    two pool failures gets an ERROR row, never a dead batch."""
    from .errors import SetupError
    from .grading import Executed

    workers = max(1, workers)
    backlog = workers * JUDGE_BACKLOG_PER_WORKER
    to_run: deque[Submission] = deque(subs)
    to_judge: deque[tuple[Submission, Executed]] = deque()
    strikes: dict[str, int] = {}
    precomputed: set[int] = set()    # CIDs whose filler task was started

    def submit(pool: ProcessPoolExecutor) -> tuple[Future, tuple[Submission, Executed | None]]:
        if to_judge and (not to_run or len(to_judge) >= backlog):
            sub, executed = to_judge.popleft()
            return pool.submit(judge_in_worker, sub, cfg, executed), (sub, executed)
        sub = to_run.popleft()
        return pool.submit(execute_in_worker, sub, cfg), (sub, None)

    def filler(pool: ProcessPoolExecutor, running) -> tuple[Future, tuple[Submission, str]] | None:
        """Reference work for the CID of a notebook still running, if some is left to start."""
        for sub, executed in list(running.values()):
            cid = sub.identity.cid
            if executed is None and sub.identity.cid_ok and sub.notebook_json is not None and cid not in precomputed:
                precomputed.add(cid)
                return pool.submit(precompute_in_worker, cid, cfg), (sub, PRECOMPUTE)
        return None

    def finished(sub: Submission, value: Executed | SubmissionResult) -> None:
        if isinstance(value, Executed):
            to_judge.append((sub, value))
        else:
            on_result(value)

    from .sandbox.recipe import mpl_cache

    ctx = worker_context(cfg)
    # The font list, like the worker server, belongs to this process (built at its first batch, in a
    # folder of its own that is removed at exit or swept after a kill), not to each batch.
    mpl_fonts = (mpl_cache(),)
    batch_tmp = batch_temp_root()   # every worker's temp files: removed below, even after a worker was killed
    try:
        while to_run or to_judge:
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                       initargs=(str(batch_tmp), dict(os.environ), mpl_fonts))
            drained = False
            try:
                running: dict[Future, tuple[Submission, Executed | None]] = {}
                try:
                    while to_run or to_judge or running:
                        while len(running) < workers and (to_run or to_judge):  # the order is ours, not the pool's
                            fut, task = submit(pool)
                            running[fut] = task
                        while len(running) < workers and (task := filler(pool, running)) is not None:
                            running[task[0]] = task[1]
                        done, _ = wait(running, return_when=FIRST_COMPLETED)
                        for fut in done:
                            exc = fut.exception()
                            if isinstance(exc, (BrokenProcessPool, SetupError)):  # SetupError: misconfigured, stop
                                raise exc
                            sub, what = running.pop(fut)
                            if what is PRECOMPUTE:
                                continue       # nothing to report; a failure shows again when judging
                            if exc is None:
                                finished(sub, fut.result())
                            else:
                                on_result(_crashed(sub, cfg, f"grader worker failed: {type(exc).__name__}: {exc}"))
                    drained = True
                except BrokenProcessPool:
                    for fut, (sub, executed) in running.items():
                        if executed is PRECOMPUTE:
                            continue
                        if fut.done() and fut.exception() is None:
                            finished(sub, fut.result())
                            continue
                        strikes[sub.key] = strikes.get(sub.key, 0) + 1
                        if strikes[sub.key] >= 2:
                            on_result(_crashed(sub, cfg, "a grader worker died twice while grading this submission"))
                        elif executed is None:
                            to_run.appendleft(sub)
                        else:
                            to_judge.appendleft((sub, executed))
            finally:
                # All done: no need to wait for the idle workers' exit (torch's teardown, ~0.5 s); it
                # overlaps with what the caller does next (the gradebook).  Otherwise, as `with` would.
                pool.shutdown(wait=not drained, cancel_futures=True)
    finally:
        remove_batch_root(batch_tmp)
