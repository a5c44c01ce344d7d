"""Grade one submission: sandboxed run -> probes -> checks in the trusted process -> result.

`grade_submission` is the one function both executors (local pool, Dask) call.  It never raises for
a bad submission; a failure of the grader itself becomes a result with status ERROR and the reason.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
import time
import traceback
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .config import Config
from .errors import SetupError
from .judge import JudgeInputs, judge, parts_of
from .model import CheckResult, ExecutionReport, Mistake, ProbeResult, Status, Submission, SubmissionResult
from .refcache import ReferenceCache, tree_hash


@dataclass(frozen=True)
class Course:
    """The course content the engine needs, loaded by path from Config.checks (never by name)."""

    cfg: Config

    @cached_property
    def module(self) -> ModuleType:
        """autograder/<assignment>/course.py: profiles, files for the sandbox, probes."""
        return self.content_module("course")

    def content_module(self, name: str) -> ModuleType:
        """A module of the checks folder (`course`, `variants`), loaded by path, once per process."""
        path = self.cfg.checks / f"{name}.py"
        if not path.is_file():
            raise SetupError(f"{path} is missing: the checks folder needs a {name}.py")
        mod_name = f"gradekit_course_{self.cfg.assignment}_{name}"
        if mod_name not in sys.modules:
            spec = importlib.util.spec_from_file_location(mod_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            spec.loader.exec_module(module)
        return sys.modules[mod_name]

    @cached_property
    def profile(self) -> dict[str, Any]:
        return self.module.load_profile(self.cfg.profile)

    @cached_property
    def parts(self) -> list[str]:
        """Gradebook columns: the course's PARTS order (the notebook's), then any other check file."""
        found = parts_of(self.cfg.checks)
        order = [p for p in getattr(self.module, "PARTS", ()) if p in found]
        return order + [p for p in found if p not in order]

    @cached_property
    def reference_code_hash(self) -> str:
        return tree_hash(self.cfg.root / "reference")

    @cached_property
    def checks_hash(self) -> str:
        """Changes when the checks, the reference, the profile or the limits change: then every
        submission is graded again; otherwise a re-run skips what is already in the store."""
        h = hashlib.sha256()
        h.update(tree_hash(self.cfg.checks).encode())
        h.update(self.reference_code_hash.encode())
        h.update(repr(sorted(self.profile.items())).encode())
        h.update(repr(self.cfg.limits).encode())
        h.update(repr(self.cfg.sandbox).encode())
        return h.hexdigest()[:16]

    @cached_property
    def reference(self) -> ReferenceCache:
        return ReferenceCache(self.cfg.cache / "reference", self.reference_code_hash)

    def job_files(self) -> dict[str, Path]:
        return self.module.job_files(self.profile, release_dir=self.cfg.release.parent,
                                     cache_dir=self.cfg.cache / "data")

    @property
    def precomputes(self) -> bool:
        """Does the course declare per-CID reference work that does not depend on the answers?"""
        return getattr(self.module, "precompute_reference", None) is not None

    def precompute_reference(self, cid: int, reference=None) -> None:
        """The course's precompute_reference for this CID, through `reference` (default: this
        course's cache); nothing when the course declares none."""
        if self.precomputes:
            self.module.precompute_reference(self.reference if reference is None else reference,
                                             self.profile, cid)

    # -- optional hooks of the diagnosis and the integrity pass (course.py; absent: nothing happens) --

    def diagnose(self, checks: tuple[CheckResult, ...], probes, cid: int | None) -> tuple[Mistake, ...]:
        """The course's `diagnose(part, probes, profile, cid, reference) -> list[Mistake]` for each part
        with a failed check, in part order.  Reference work goes through this course's cache."""
        hook = getattr(self.module, "diagnose", None)
        failing = {c.part for c in checks if not c.passed}
        if hook is None or not failing:
            return ()
        return tuple(m for part in self.parts if part in failing
                     for m in hook(part, probes, self.profile, cid, self.reference))

    def comparable_answers(self, probes) -> dict[str, Any]:
        """The course's `comparable_answers(probes, profile) -> {part: [[label, number], ...]}`: answers
        that do not depend on the grader's fresh inputs, so students' answers can be compared."""
        hook = getattr(self.module, "comparable_answers", None)
        return dict(hook(probes, self.profile)) if hook is not None else {}

    def matches_cid(self, part: str, answers: Any, cid: int) -> str | None:
        """The course's `matches_cid(part, answers, profile, cid, reference) -> str | None`: evidence
        when `answers` (of comparable_answers) are what the reference computes for `cid`."""
        hook = getattr(self.module, "matches_cid", None)
        return hook(part, answers, self.profile, cid, self.reference) if hook is not None else None


def _not_run(specs_or_names, why: str) -> dict[str, ProbeResult]:
    names = [getattr(s, "name", s) for s in specs_or_names]
    return {n: ProbeResult(n, "not_run", error=why) for n in names}


@dataclass(frozen=True)
class Executed:
    """A submission after its sandboxed run and before judging: the hand-over between the two halves
    of grading (plain, picklable data; the local pool may judge it in another worker)."""

    report: ExecutionReport
    timings: dict[str, float]


def grade_submission(sub: Submission, course: Course, *, visible_only: bool = False, slot: int = 0,
                     seed: int | None = None) -> SubmissionResult:
    """Run the notebook in the sandbox, then judge it: `execute_submission` + `judge_submission`."""
    executed = execute_submission(sub, course, slot=slot, seed=seed)
    if isinstance(executed, SubmissionResult):
        return executed
    return judge_submission(sub, course, executed, visible_only=visible_only)


def execute_submission(sub: Submission, course: Course, *, slot: int = 0,
                       seed: int | None = None) -> Executed | SubmissionResult:
    """First half: the sandboxed run and the probes (the student's compute).  A failure of the grader
    itself comes back as an ERROR result; SetupError is raised."""
    try:
        return _execute(sub, course, slot=slot, seed=seed)
    except SetupError:
        raise  # the course or machine is misconfigured: stop and say how to fix it
    except Exception as e:  # a bug in the grader must not kill the batch; it becomes a visible row
        return internal_error(sub, course, e)


def judge_submission(sub: Submission, course: Course, executed: Executed, *,
                     visible_only: bool = False) -> SubmissionResult:
    """Second half: reference values (per CID, cached) and the checks, in the trusted process."""
    try:
        return _judge(sub, course, executed, visible_only=visible_only)
    except SetupError:
        raise
    except Exception as e:  # noqa: BLE001 - see execute_submission
        return internal_error(sub, course, e)


def internal_error(sub: Submission, course: Course, e: Exception) -> SubmissionResult:
    return SubmissionResult(
        key=sub.key, file=sub.source_name, name=sub.identity.name, cid=sub.identity.cid,
        status=Status.ERROR, message=f"internal grader error: {type(e).__name__}: {e}",
        flags=sub.flags, sha256=sub.sha256, checks_hash=course.checks_hash,
        extras={"traceback": traceback.format_exc()[-4000:]},
    )


def _execute(sub: Submission, course: Course, *, slot: int, seed: int | None) -> Executed:
    from .sandbox import run_notebook

    timings: dict[str, float] = {}
    rng = np.random.default_rng(seed)  # fresh entropy per run unless a test pins it
    specs = course.module.make_probes(course.profile, rng)

    if sub.notebook_json is None:
        report = ExecutionReport(Status.INVALID_NOTEBOOK, sub.problem or "not a notebook",
                                 probes=_not_run(specs, "the file is not a readable notebook"))
    else:
        t0 = time.perf_counter()
        files = course.job_files()
        timings["prepare"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = run_notebook(sub.notebook_json, specs, files, course.cfg.limits,
                              sandboxed=course.cfg.sandbox, slot=slot)
        timings["sandbox"] = time.perf_counter() - t0
    return Executed(report, timings)


def _judge(sub: Submission, course: Course, executed: Executed, *, visible_only: bool) -> SubmissionResult:
    report, timings = executed.report, dict(executed.timings)
    t0 = time.perf_counter()
    ref = course.reference
    ref_before, misses_before = ref.seconds_computing, ref.misses
    checks = judge(course.cfg.checks, JudgeInputs(report.probes, sub.identity, course.profile, ref, course.module),
                   visible_only=visible_only)
    extras: dict[str, Any] = {}
    if not visible_only:
        extras = course.module.feedback_extras(report.probes, course.profile,
                                               sub.identity.cid if sub.identity.cid_ok else None, ref)
    timings["reference"] = ref.seconds_computing - ref_before
    timings["judge"] = time.perf_counter() - t0 - timings["reference"]
    mistakes, answers = (), {}
    if not visible_only:
        mistakes, answers = _diagnosis(course, checks, report.probes, sub, timings, extras)

    status, message = report.status, report.message
    if status == Status.GRADED and not sub.identity.cid_ok:
        status = Status.NO_CID
        message = f"{sub.identity.cid_problem.rstrip('.')}; parts graded against your CID score 0. {message}".strip()
    return SubmissionResult(
        key=sub.key, file=sub.source_name, name=sub.identity.name, cid=sub.identity.cid,
        status=status, message=message, checks=checks, flags=sub.flags, timings=timings,
        sha256=sub.sha256, checks_hash=course.checks_hash, extras=extras,
        reference_computed=ref.misses - misses_before, mistakes=mistakes, answers=answers,
    )


def _diagnosis(course: Course, checks, probes, sub: Submission, timings: dict, extras: dict):
    """The course's diagnosis of failing parts and its comparable answers.  Never changes marks: a
    failure here is noted for TAs (extras["diagnosis_error"]) and the result stands without it."""
    t0 = time.perf_counter()
    try:
        mistakes = course.diagnose(checks, probes, sub.identity.cid if sub.identity.cid_ok else None)
        answers = course.comparable_answers(probes)
    except Exception as e:  # noqa: BLE001 - a diagnosis is advice; the marks never depend on it
        mistakes, answers = (), {}
        extras["diagnosis_error"] = f"{type(e).__name__}: {e}"[:500]
    timings["diagnosis"] = time.perf_counter() - t0     # mostly reference work, for failing parts only
    return mistakes, answers
