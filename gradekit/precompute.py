"""`gradekit precompute`: every CID's reference work, done before the deadline.

A course declares, through its `precompute_reference(reference, profile, cid)` hook (called via
`Course.precompute_reference`), the reference values its checks need for one CID whatever the student
answers.  This computes them for every CID on the roster into the reference cache (refcache.py), in
parallel -- one single-threaded worker per core, as grading does, because the thread count changes the
floats -- so that grading then only reads them.  Resumable: the cache keeps every value as soon as it
is computed; a re-run (or an interrupted run started again) computes only what is missing.  A CID that
fails is reported with its reason, and the others go on.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config
from .errors import SetupError


@dataclass(frozen=True)
class CidOutcome:
    cid: int
    computed: int = 0              # reference values computed by this run (0: all were in the cache)
    cached: int = 0                # reference values found in the cache
    seconds: float = 0.0           # spent computing them
    error: str | None = None       # why this CID failed (the others are unaffected)


@dataclass
class PrecomputeSummary:
    outcomes: list[CidOutcome] = field(default_factory=list)
    roster_problems: list[str] = field(default_factory=list)   # rows skipped: no CID, unreadable CID
    wall_s: float = 0.0

    @property
    def failed(self) -> list[CidOutcome]:
        return [o for o in self.outcomes if o.error is not None]

    @property
    def ok(self) -> bool:
        return not self.failed

    def text(self) -> str:
        done = [o for o in self.outcomes if o.error is None]
        fresh = [o for o in done if o.computed]
        lines = [f"precompute: {len(self.outcomes)} CID(s): {len(fresh)} computed now "
                 f"({sum(o.computed for o in fresh)} reference values, {sum(o.seconds for o in fresh):.1f} s of "
                 f"worker time), {len(done) - len(fresh)} already cached, {len(self.failed)} failed; "
                 f"wall time {self.wall_s:.1f} s"]
        if fresh:
            lines.append(f"  {sum(o.seconds for o in fresh) / len(fresh):.1f} s per CID computed now")
        lines += [f"  CID {o.cid} FAILED: {o.error}" for o in self.failed]
        lines += [f"  roster: {p}" for p in self.roster_problems]
        if self.failed:
            lines.append("  run the same command again to retry the failed CIDs (finished ones are kept)")
        return "\n".join(lines)


def roster_cids(roster) -> tuple[list[int], list[str]]:
    """(distinct CIDs on the roster, in roster order; one line per row that has none)."""
    cids: dict[int, None] = {}
    problems = list(roster.problems)
    for e in roster.entries:
        if e.cid is None:
            problems.append(f"{e.key} has no CID: nothing to precompute for them")
        else:
            cids.setdefault(e.cid, None)
    return list(cids), problems


_worker_course: dict = {}


def _init_worker(environ: dict[str, str]) -> None:
    from .executors import adopt_environment, single_thread

    adopt_environment(environ)
    single_thread()


def precompute_cid(cid: int, cfg: Config) -> CidOutcome:
    """One CID's reference work, in this process (a pool worker).  Never raises for a failing CID."""
    from .grading import Course

    try:
        course = _worker_course.get(cfg)
        if course is None:
            course = _worker_course[cfg] = Course(cfg)
        ref = course.reference
        misses, hits, seconds = ref.misses, ref.hits, ref.seconds_computing
        course.precompute_reference(cid)
        return CidOutcome(cid, ref.misses - misses, ref.hits - hits, ref.seconds_computing - seconds)
    except Exception as e:  # noqa: BLE001 - one CID's failure is that CID's outcome, not a dead run
        return CidOutcome(cid, error=f"{type(e).__name__}: {e}")


def precompute_cids(cfg: Config, cids: list[int], *, workers: int = 1, progress: bool = True) -> list[CidOutcome]:
    """Every CID's reference work on a pool of `workers` single-threaded processes; one outcome per CID."""
    from tqdm import tqdm

    from .executors import worker_context

    outcomes: dict[int, CidOutcome] = {}
    bar = tqdm(total=len(cids), unit="CID", desc="precompute", disable=not progress, dynamic_ncols=True)
    ctx = worker_context(cfg)
    try:
        with ProcessPoolExecutor(max_workers=max(1, min(workers, len(cids) or 1)), mp_context=ctx,
                                 initializer=_init_worker, initargs=(dict(os.environ),)) as pool:
            futures = {pool.submit(precompute_cid, cid, cfg): cid for cid in cids}
            for fut in as_completed(futures):
                cid = futures[fut]
                try:
                    outcome = fut.result()
                except BrokenProcessPool:
                    outcome = CidOutcome(cid, error="a precompute worker died (out of memory?)")
                except Exception as e:  # noqa: BLE001 - e.g. the result could not be sent back
                    outcome = CidOutcome(cid, error=f"{type(e).__name__}: {e}")
                outcomes[cid] = outcome
                bar.update(1)
                bar.set_postfix_str(f"CID {cid}: " + ("failed" if outcome.error else
                                                      f"{outcome.computed} computed, {outcome.cached} cached"))
    finally:
        bar.close()
    return [outcomes[c] for c in cids]


def precompute_roster(cfg: Config, roster_path: Path, *, workers: int = 1, progress: bool = True) -> PrecomputeSummary:
    """`gradekit precompute --roster ...`: the reference work of every CID on the roster."""
    from .grading import Course
    from .intake import read_roster

    t0 = time.perf_counter()
    if not Course(cfg).precomputes:
        raise SetupError(f"the course in {cfg.checks} declares no per-CID reference work "
                         f"(no precompute_reference in its course.py): there is nothing to precompute")
    cids, problems = roster_cids(read_roster(roster_path))
    outcomes = precompute_cids(cfg, cids, workers=workers, progress=progress)
    return PrecomputeSummary(outcomes, problems, time.perf_counter() - t0)
