"""Grade one submission: sandboxed run -> probes -> checks in the trusted process -> result.

`grade_submission` is the one function both executors (local pool, Dask) call.  It never raises for
a bad submission; a failure of the grader itself becomes a result with status ERROR and the reason.
"""
from __future__ import annotations

import hashlib
import secrets
import time
import traceback
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import numpy as np

from . import contentload
from .config import Config
from .errors import SetupError
from .judge import JudgeInputs, judge, parts_of
from .model import CheckResult, ExecutionReport, Identity, Mistake, ProbeResult, Status, Submission, SubmissionResult
from .provenance import RUN_PROVENANCE_KEYS, judge_provenance, probes_fingerprint, run_key, run_provenance
from .refcache import ReferenceCache, tree_hash


@dataclass(frozen=True)
class Course:
    """The course content the engine needs, loaded by path from Config.checks (never by name)."""

    cfg: Config

    @cached_property
    def module(self) -> ModuleType:
        """autograder/<assignment>/course.py: the course contract's hooks (gradekit.api.CourseHooks)."""
        from .api import missing_hooks

        module = self.content_module("course")
        missing = missing_hooks(module)
        if missing:
            raise SetupError(f"{self.cfg.checks / 'course.py'} lacks {', '.join(missing)}: see gradekit/api.py "
                             "(CourseHooks) and docs/COURSE.md")
        return module

    def content_module(self, name: str) -> ModuleType:
        """A module of the checks folder, loaded by path, once per process."""
        return contentload.load(self.cfg.checks, name)

    def hook(self, name: str):
        """The course's optional hook `name` (gradekit.api.OPTIONAL_HOOKS), or None."""
        return getattr(self.module, name, None)

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
        """Changes when the checks, the reference or the profile change: then every submission is
        judged again (from its stored answers when `probes_hash` did not change)."""
        h = hashlib.sha256()
        h.update(tree_hash(self.cfg.checks).encode())
        h.update(self.reference_code_hash.encode())
        h.update(repr(sorted(self.profile.items())).encode())
        return h.hexdigest()[:16]

    @cached_property
    def probes_hash(self) -> str:
        """Changes when what the kernel is asked (the probes' code and parameters) or the profile
        change: then the stored answers are stale and the notebook must run again."""
        return probes_fingerprint(self.module.make_probes, self.profile)

    @cached_property
    def run_key(self) -> str:
        """`probes_hash` plus the limits and the sandbox setting: `gradekit grade` runs again when it changes."""
        return run_key(self.probes_hash, self.cfg.limits, self.cfg.sandbox)

    @cached_property
    def reference(self) -> ReferenceCache:
        return ReferenceCache(self.cfg.cache / "reference", self.reference_code_hash)

    def profiled(self, nb):
        """A notebook resized to this profile by the course's ``apply_profile`` hook (as tests and
        validation do); unchanged when the course has none."""
        apply = self.hook("apply_profile")
        return apply(nb, self.profile) if apply is not None else nb

    @cached_property
    def release_contract(self):
        """What a notebook of this release contains (gradekit.intake.versions), at this profile."""
        from .intake.versions import contract

        if not (self.cfg.release.is_file() and self.cfg.source.is_file()):
            return None           # a course without notebooks (engine tests): nothing to compare with
        hook = self.hook("expected_names")
        release = self.profiled(nbformat.read(self.cfg.release, as_version=4))
        return contract(release, nbformat.read(self.cfg.source, as_version=4),
                        list(hook()) if hook is not None else None)

    @cached_property
    def honest_notebook_json(self) -> str:
        """The source notebook (solutions in, seeded bugs fixed) with a valid CID, at this profile."""
        from . import fabricate
        from .budgets import HONEST_CID

        nb = fabricate.set_details(nbformat.read(self.cfg.source, as_version=4), "Honest", HONEST_CID)
        return nbformat.writes(self.profiled(nb))

    def honest_times(self, *, slot: int = 0, measure: bool = True):
        """The honest notebook's time per cell on this machine (gradekit.budgets), measured in the
        sandbox the first time (one process measures, others wait), then cached; None when budgets
        are off, not measured (measure=False) or the measurement failed."""
        from . import budgets

        if self.cfg.limits.budget_factor <= 0 or not self.cfg.source.is_file():
            return None
        text = self.honest_notebook_json
        path = budgets.cache_path(self.cfg.cache, text, self.cfg.profile, self.cfg.sandbox)
        return budgets.honest_times(
            path, lambda: budgets.measure(text, self.job_files(), self.cfg.limits, sandboxed=self.cfg.sandbox,
                                          slot=slot),
            measure_if_missing=measure)

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
        hook = self.hook("diagnose")
        failing = {c.part for c in checks if not c.passed}
        if hook is None or not failing:
            return ()
        return tuple(m for part in self.parts if part in failing
                     for m in hook(part, probes, self.profile, cid, self.reference))

    def comparable_answers(self, probes) -> dict[str, Any]:
        """The course's `comparable_answers(probes, profile) -> {part: [[label, number], ...]}`: answers
        that do not depend on the grader's fresh inputs, so students' answers can be compared."""
        hook = self.hook("comparable_answers")
        return dict(hook(probes, self.profile)) if hook is not None else {}

    def matches_cid(self, part: str, answers: Any, cid: int) -> str | None:
        """The course's `matches_cid(part, answers, profile, cid, reference) -> str | None`: evidence
        when `answers` (of comparable_answers) are what the reference computes for `cid`."""
        hook = self.hook("matches_cid")
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
    provenance: dict[str, Any] = field(default_factory=dict)  # of the run: probes hash, probe seed, ...


def grade_submission(sub: Submission, course: Course, *, visible_only: bool = False, slot: int = 0,
                     seed: int | None = None, measure_budgets: bool = True) -> SubmissionResult:
    """Run the notebook in the sandbox, then judge it: `execute_submission` + `judge_submission`."""
    executed = execute_submission(sub, course, slot=slot, seed=seed, measure_budgets=measure_budgets)
    if isinstance(executed, SubmissionResult):
        return executed
    return judge_submission(sub, course, executed, visible_only=visible_only)


def execute_submission(sub: Submission, course: Course, *, slot: int = 0, seed: int | None = None,
                       measure_budgets: bool = True) -> Executed | SubmissionResult:
    """First half: the sandboxed run and the probes (the student's compute).  A failure of the grader
    itself comes back as an ERROR result; SetupError is raised.  The cells' time budgets come from
    the honest notebook's times, measured here first if this machine has none yet and
    `measure_budgets` (else the ceilings of gradekit.toml apply)."""
    try:
        return _execute(sub, course, slot=slot, seed=seed, measure_budgets=measure_budgets)
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


def _execute(sub: Submission, course: Course, *, slot: int, seed: int | None, measure_budgets: bool) -> Executed:
    from .budgets import budget_for
    from .sandbox import run_notebook

    timings: dict[str, float] = {}
    # Fresh per run unless a test pins it; kept in the provenance (the answers keep the params drawn).
    seed = secrets.randbits(63) if seed is None else seed
    specs = course.module.make_probes(course.profile, np.random.default_rng(seed))

    if sub.notebook_json is None:
        report = ExecutionReport(Status.INVALID_NOTEBOOK, sub.problem or "not a notebook",
                                 probes=_not_run(specs, "the file is not a readable notebook"))
    else:
        t0 = time.perf_counter()
        files = course.job_files()
        timings["prepare"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        honest = course.honest_times(slot=slot, measure=measure_budgets)
        if time.perf_counter() - t0 > 1:
            timings["budgets"] = time.perf_counter() - t0     # this run measured the honest notebook
        budget = budget_for(nbformat.reads(sub.notebook_json, as_version=4), honest, course.cfg.limits)
        t0 = time.perf_counter()
        report = run_notebook(sub.notebook_json, specs, files, course.cfg.limits,
                              sandboxed=course.cfg.sandbox, slot=slot, budget=budget)
        timings["sandbox"] = time.perf_counter() - t0
        timings["supervisor (CPU)"] = report.supervisor_cpu_s
    return Executed(report, timings, run_provenance(course, seed))


def _feedback_extras(sub: Submission, course: Course, report: ExecutionReport, ref) -> dict[str, Any]:
    """The course's plot data for the feedback page.  Cosmetic: when the course's code fails on an odd
    answer, the page has no plots and the row keeps its grade (the checks already judged the answer);
    the failure is kept in the extras for whoever maintains the course."""
    try:
        hook = course.hook("feedback_extras")
        if hook is None:
            return {}
        return hook(report.probes, course.profile, sub.identity.cid if sub.identity.cid_ok else None, ref)
    except SetupError:
        raise
    except Exception as e:  # noqa: BLE001 - see the docstring
        return {"feedback_extras_failed": f"{type(e).__name__}: {str(e)[:300]}",
                "traceback": traceback.format_exc()[-4000:]}


def _judge(sub: Submission, course: Course, executed: Executed, *, visible_only: bool) -> SubmissionResult:
    report, timings = executed.report, dict(executed.timings)
    t0 = time.perf_counter()
    ref = course.reference
    ref_before, misses_before = ref.seconds_computing, ref.misses
    checks = judge(course.cfg.checks, JudgeInputs(report.probes, sub.identity, course.profile, ref, course.module),
                   visible_only=visible_only)
    extras: dict[str, Any] = {}
    if not visible_only:
        extras = _feedback_extras(sub, course, report, ref)
    timings["reference"] = ref.seconds_computing - ref_before
    timings["judge"] = time.perf_counter() - t0 - timings["reference"]
    mistakes, comparable = (), {}
    if not visible_only:
        mistakes, comparable = _diagnosis(course, checks, report.probes, sub, timings, extras)

    status, message = report.status, report.message
    if status == Status.GRADED and not sub.identity.cid_ok:
        status = Status.NO_CID
        message = f"{sub.identity.cid_problem.rstrip('.')}; parts graded against your CID score 0. {message}".strip()
    flags, message, checks = _version_and_network(sub, course, report, message, checks)
    return SubmissionResult(
        key=sub.key, file=sub.source_name, name=sub.identity.name, cid=sub.identity.cid,
        status=status, message=message, checks=checks, flags=flags, timings=timings,
        sha256=sub.sha256, checks_hash=course.checks_hash, extras=extras,
        reference_computed=ref.misses - misses_before, answers=dict(report.probes),
        mistakes=mistakes, comparable=comparable,
        provenance=judge_provenance(course, executed.provenance, report, sub.identity),
        executed_notebook=report.notebook,
    )


def stored_execution(result: SubmissionResult) -> tuple[Submission, Executed] | None:
    """The submission and its run as a stored result remembers them, to judge the stored answers
    again without running anything; None when the result keeps no usable answers (graded before
    answers were stored, never run, or a damaged row)."""
    prov = result.provenance or {}
    run = prov.get("run")
    if not result.answers or not isinstance(run, dict):
        return None
    try:
        status, seconds = Status(run["status"]), float(run.get("seconds", 0.0))
    except (KeyError, ValueError, TypeError):
        return None     # a damaged row: grading it again is the way out
    identity = Identity(result.name, result.cid, prov.get("cid_problem"))
    sub = Submission(key=result.key, source_name=result.file, sha256=result.sha256, notebook_json=None,
                     identity=identity, flags=result.flags)
    report = ExecutionReport(status, str(run.get("message", "")), probes=dict(result.answers), seconds=seconds)
    timings = {k: v for k, v in result.timings.items() if k in ("prepare", "sandbox")}
    return sub, Executed(report, timings, {k: v for k, v in prov.items() if k in RUN_PROVENANCE_KEYS})


def rejudge_result(result: SubmissionResult, course: Course) -> SubmissionResult | None:
    """Judge a stored result's answers with the current checks and reference: no notebook, no
    kernel.  Keeps the result's overrides (the caller re-applies the current ones).  None when the
    result keeps no answers; an ERROR result when the grader itself failed."""
    stored = stored_execution(result)
    if stored is None:
        return None
    sub, executed = stored
    new = judge_submission(sub, course, executed)
    return replace(new, overrides=result.overrides)


def _version_and_network(sub: Submission, course: Course, report: ExecutionReport, message: str, checks):
    """Flags `release_mismatch` (another version of the notebook, with what differs) and `needs_network`
    (a cell failed only because grading runs offline); failed checks caused by a call's arguments
    name the exercise's signature."""
    from dataclasses import replace

    from .intake.flags import add_flags
    from .intake.versions import compare, explain_signature, mismatch_sentence
    from .sandbox.offline import needs_network

    flags = sub.flags
    if any(c.status == "error" and needs_network(c.error) for c in report.cells):
        flags = add_flags(flags, "needs_network")
    contract = course.release_contract
    if contract is None:
        return flags, message, checks
    if sub.notebook_json is not None:
        differences = compare(contract, nbformat.reads(sub.notebook_json, as_version=4))
        if differences:
            flags = add_flags(flags, "release_mismatch")
            message = f"{mismatch_sentence(differences)}. {message}".strip()
    checks = tuple(c if c.passed else replace(c, message=explain_signature(c.message, contract)) for c in checks)
    return flags, message, checks


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
