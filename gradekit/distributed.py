"""`gradekit grade --scheduler tcp://host:8786`: the same batch, graded on a Dask distributed cluster.

Dask does the scheduling, the retries and the bookkeeping of lost workers; this module only builds
the task graph and turns what comes back into exactly one result per submission:

    reference-<cid>  one task per distinct valid CID: the course's per-CID reference work
                     (`course.precompute_reference(reference, profile, cid)`), computed once for
                     the cohort; it returns every (fn, kwargs, value) the course asked of the reference
    grade-<key>      one task per submission: executors.grade_in_worker (the very function the local
                     pool runs: sandbox, probes, judge), after priming the worker's ReferenceCache
                     with its CID's reference values, so that no worker computes them again

Workers share no disk with the client or with each other.  Only plain data travels: the Submission
to the worker; the reference values between workers; the SubmissionResult back to the client, which
alone calls `on_result` (and so alone writes the result store).  Each worker keeps its reference
cache and generated grading data in the course's cache folder on its own disk.

Worker loss: the scheduler reschedules the tasks of a worker that dies (its sandboxes die with it:
bubblewrap runs with --die-with-parent); a task whose workers died more than the scheduler's
`distributed.scheduler.allowed-failures` times (default 3) becomes an ERROR row for that student
(graded again by the next run, like the local pool's), never a dead batch.  The client reports each
submission key once, whatever happens.

Workers must run one task at a time (`dask worker --nthreads 1`): a worker process holds one sandbox
slot (a uid of its own) and grades with one intra-op thread, as the local pool does.
"""
from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .config import Config
from .errors import GradekitError, SetupError
from .executors import SINGLE_THREAD_ENV, _course_for, _crashed, grade_in_worker, single_thread
from .model import Submission, SubmissionResult

if TYPE_CHECKING:
    import distributed

try:  # the plugin base class; the engine imports this module only when --scheduler is given
    from distributed import WorkerPlugin as _WorkerPluginBase
except ImportError:  # pragma: no cover - dask[distributed] is a dependency
    _WorkerPluginBase = object

PLUGIN_NAME = "gradekit-worker"


class GradekitWorkerPlugin(_WorkerPluginBase):
    """Set on every worker, present and future (a restarted worker gets it again): one intra-op
    thread for OpenMP/MKL/OpenBLAS before anything imports torch.  torch itself is told in the task
    (single_thread), which runs in the worker's executor thread rather than its event loop."""

    idempotent = True
    name = PLUGIN_NAME

    def setup(self, worker) -> None:
        os.environ.update(SINGLE_THREAD_ENV)


@dataclass(frozen=True)
class WorkerSetupFailed:
    """Returned (not raised) by a task when the worker's host is not set up to grade, so that Dask
    does not retry it elsewhere and hide a broken host: the client stops the batch and says why."""

    host: str
    message: str


@dataclass
class DaskRunStats:
    """What run_dask did, for the caller's log and the tests."""

    submitted: int = 0
    reported: int = 0
    reference_tasks: int = 0      # distinct valid CIDs: one reference task each
    worker_deaths: int = 0        # submissions that lost all their tries to dying workers (ERROR rows)
    reference_fallbacks: int = 0  # submissions re-sent without their CID's reference task (it was lost)


# ---- what runs on a worker ---------------------------------------------------------------------

def _prepare_worker(cfg: Config, checks_hash: str | None) -> None:
    """Raise SetupError when this worker cannot grade like the client expects."""
    single_thread()
    try:
        from distributed import get_worker

        nthreads = get_worker().state.nthreads
    except ValueError:  # not inside a Dask worker (called directly, e.g. by a test)
        nthreads = 1
    if nthreads != 1:
        raise SetupError(f"the Dask worker runs {nthreads} tasks at a time; gradekit needs one per worker process "
                         f"(start workers with `dask worker --nthreads 1`, as many processes as cores)")
    if not (cfg.checks / "course.py").is_file():
        raise SetupError(f"{cfg.checks / 'course.py'} does not exist on this worker host: the course repository "
                         f"and its virtual environment must exist at the same path on every worker host")
    if checks_hash is not None:
        here = _course_for(cfg).checks_hash
        if here != checks_hash:
            raise SetupError(f"the course content on this worker host (checks hash {here}) differs from the "
                             f"client's ({checks_hash}): update the repository on every worker host")


def reference_values(cfg: Config, cid: int) -> list[tuple[Callable, dict, Any]] | None:
    """Task: the course's per-CID reference work, as the (fn, kwargs, value) calls it made of the
    reference (None when the course declares none, or when computing it failed: each grading task then
    computes what it needs, exactly as locally)."""
    try:
        _prepare_worker(cfg, None)
        course = _course_for(cfg)
        if not course.precomputes:
            return None
        recording = course.reference.recording()
        course.precompute_reference(cid, recording)
        return recording.calls
    except Exception:  # noqa: BLE001 - an optimisation only: the grading task reports real problems
        return None


def prime_reference(course, calls: list[tuple[Callable, dict, Any]]) -> int:
    """Seed this worker's ReferenceCache with calls recorded by reference_values (anywhere).
    Returns how many entries were written (an existing entry is kept)."""
    return sum(course.reference.prime(fn, kwargs, value) for fn, kwargs, value in calls)


def grade_task(sub: Submission, cfg: Config, checks_hash: str | None,
               reference: list[Any] | None) -> SubmissionResult | WorkerSetupFailed:
    """Task: grade one submission on this worker (the local pool's code path, sandbox included)."""
    try:
        _prepare_worker(cfg, checks_hash)
        if reference is not None and sub.identity.cid_ok:
            prime_reference(_course_for(cfg), reference)
        return grade_in_worker(sub, cfg)
    except SetupError as e:
        return WorkerSetupFailed(socket.gethostname(), str(e))


# ---- the client --------------------------------------------------------------------------------

def _needs_reference(sub: Submission) -> bool:
    return sub.notebook_json is not None and sub.identity.cid_ok


def run_dask(subs: Iterable[Submission], cfg: Config, *, scheduler: "str | distributed.Client",
             on_result: Callable[[SubmissionResult], None], retries: int = 1) -> DaskRunStats:
    """Grade `subs` on a Dask cluster; call `on_result` in this process once per submission key.

    `scheduler` is an address (tcp://host:8786: a client is opened and closed here) or a Client
    (left open).  `retries` re-runs a task that raised (grading itself never raises for a bad
    submission); a task on a worker that dies is rescheduled by Dask without using a retry.
    Raises SetupError when a worker host cannot grade (the message names the host), after cancelling
    what is still queued; results already reported stay reported.  A duplicate key is graded once
    (its last submission counts).
    """
    from distributed import Client, KilledWorker, as_completed

    from .grading import Course

    by_key: dict[str, Submission] = {}
    for s in subs:
        by_key.pop(s.key, None)
        by_key[s.key] = s
    stats = DaskRunStats()
    if not by_key:
        return stats

    course = Course(cfg)
    checks_hash = course.checks_hash
    per_cid = course.precomputes
    run = uuid.uuid4().hex[:8]
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler) if own else scheduler
    except OSError as e:
        raise SetupError(f"cannot reach the Dask scheduler at {scheduler}: {e} (is `dask scheduler` running "
                         f"there, and is its port open from this machine?)") from None
    futures: dict[str, Submission] = {}        # dask key -> submission
    holding: list = []                          # every future we made, to cancel on the way out
    finished = False
    try:
        client.register_plugin(GradekitWorkerPlugin(), name=PLUGIN_NAME)

        refs: dict[int, Any] = {}
        if per_cid:
            for cid in sorted({s.identity.cid for s in by_key.values() if _needs_reference(s)}):
                refs[cid] = client.submit(reference_values, cfg, cid, key=f"gradekit-reference-{run}-{cid}",
                                          pure=False, retries=retries, priority=10)
                holding.append(refs[cid])
        stats.reference_tasks = len(refs)

        def submit(sub: Submission, n: int, reference) -> Any:
            fut = client.submit(grade_task, sub, cfg, checks_hash, reference,
                                key=f"gradekit-grade-{run}-{n}", pure=False, retries=retries)
            futures[fut.key] = sub
            holding.append(fut)
            return fut

        pending = [submit(s, n, refs.get(s.identity.cid) if _needs_reference(s) else None)
                   for n, s in enumerate(by_key.values())]
        stats.submitted = len(pending)
        fallback_n = len(pending)
        reported: set[str] = set()
        retried_without_reference: set[str] = set()

        def report(result: SubmissionResult) -> None:
            if result.key in reported:  # defensive: one row per student, whatever Dask did
                return
            reported.add(result.key)
            stats.reported += 1
            on_result(result)

        ac = as_completed(pending)
        for fut in ac:
            sub = futures[fut.key]
            if fut.status == "finished":
                result = fut.result()
                if isinstance(result, WorkerSetupFailed):
                    raise SetupError(f"Dask worker host {result.host}: {result.message}")
                report(result)
            elif fut.status == "cancelled":
                raise GradekitError(f"the Dask scheduler cancelled the grading of {sub.key} (was it restarted?); "
                                    f"finished results are stored: run the same command again to resume")
            else:
                exc = fut.exception()
                if isinstance(exc, KilledWorker) and exc.task == fut.key:
                    stats.worker_deaths += 1
                    report(_crashed(sub, cfg, f"Dask workers died {exc.allowed_failures + 1} times while "
                                              f"grading this submission (last: {exc.last_worker.address})"))
                elif isinstance(exc, KilledWorker) and sub.key not in retried_without_reference:
                    # The CID's reference task lost its workers: grade without it (computes its own).
                    retried_without_reference.add(sub.key)
                    stats.reference_fallbacks += 1
                    ac.add(submit(sub, fallback_n, None))
                    fallback_n += 1
                elif isinstance(exc, ImportError):  # the task could not even be unpickled there
                    raise SetupError(f"a Dask worker cannot import what gradekit sends it ({exc}): install the "
                                     f"course repository and its virtual environment at the same path on every "
                                     f"worker host, and start `dask worker` from that environment")
                else:
                    report(_crashed(sub, cfg, f"grader task failed: {type(exc).__name__}: {exc}"))
            fut.release()
        finished = True
        return stats
    finally:
        if not finished and holding:
            try:
                client.cancel(holding)
            except Exception:  # noqa: BLE001 - leaving anyway; the scheduler drops orphaned tasks
                pass
        if own:
            client.close()
