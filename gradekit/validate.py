"""`gradekit validate`: prove the assignment with the real checks before students see it.

1. the source notebook (solutions, seeded bugs fixed), executed, gets full marks;
2. the untouched release, executed, gets zero on every part with a seeded bug or a task, and runs
   to the end (errors in bugged cells are expected; no cell times out, the kernel never dies);
3. mutation check: fixing one seeded bug alone (or solving one task alone) brings back the points of
   exactly its part — so every seeded bug is caught by at least one check, and by the right one.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat

from .config import Config
from .model import Status, Submission, SubmissionResult

VALIDATION_CID = 1357911


@dataclass
class ValidationReport:
    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def require(self, condition: bool, what: str) -> None:
        self.lines.append(f"{'ok  ' if condition else 'FAIL'}  {what}")
        self.ok = self.ok and condition

    @property
    def text(self) -> str:
        return "\n".join(self.lines + [f"validation {'passed' if self.ok else 'FAILED'}"])


def _submission(key: str, nb) -> Submission:
    import hashlib

    from .intake import read_identity

    text = nbformat.writes(nb)
    return Submission(key=key, source_name=f"{key}.ipynb", sha256=hashlib.sha256(text.encode()).hexdigest(),
                      notebook_json=text, identity=read_identity(nb, 123446))


def validation_cases(cfg: Config, course) -> dict[str, tuple[object, set[str]]]:
    """case name -> (notebook, the parts that must score full marks; all others must score 0)."""
    v = course.content_module("variants")
    release = nbformat.read(cfg.release, as_version=4)
    source = nbformat.read(cfg.source, as_version=4)
    profile = course.profile
    from . import fabricate

    source_nb = fabricate.set_details(copy.deepcopy(source), "Validation", VALIDATION_CID)
    cases = {
        "source": (v.apply_profile(source_nb, profile), set(course.parts)),
        "release": (v.student(release, source, name="Validation", cid=VALIDATION_CID, profile=profile), set()),
    }
    for part in v.BUG_PARTS:
        cases[f"release + fix {part}"] = (
            v.student(release, source, name="Validation", cid=VALIDATION_CID, fixed=[part], profile=profile), {part})
    cases["release + solve lr_sweep"] = (
        v.student(release, source, name="Validation", cid=VALIDATION_CID, solved=["lr_sweep"], profile=profile),
        {"lr_sweep"})
    cases["release + solve lr_sweep, best_lr"] = (
        v.student(release, source, name="Validation", cid=VALIDATION_CID, solved=["lr_sweep", "best_lr"],
                  profile=profile), {"lr_sweep", "best_lr"})
    return cases


def judge_case(name: str, result: SubmissionResult, full_parts: set[str], report: ValidationReport) -> None:
    points, maxima = result.part_points(), {}
    for c in result.checks:
        maxima[c.part] = maxima.get(c.part, 0.0) + c.max_points
    report.require(result.status == Status.GRADED, f"{name}: graded ({result.status}: {result.message})")
    for part in sorted(maxima):
        want = maxima[part] if part in full_parts else 0.0
        failing = [c.message for c in result.checks if c.part == part and not c.passed]
        detail = f" — {failing[0]}" if failing and want else ""
        report.require(points.get(part, 0.0) == want,
                       f"{name}: {part} scores {points.get(part, 0.0):g}/{maxima[part]:g}, expected {want:g}{detail}")


def validate_assignment(cfg: Config, *, workers: int = 1) -> ValidationReport:
    from .executors import run_local
    from .grading import Course

    course = Course(cfg)
    cases = validation_cases(cfg, course)
    subs = [_submission(f"case{i}", nb) for i, (nb, _) in enumerate(cases.values())]
    results: dict[str, SubmissionResult] = {}
    run_local(subs, cfg, workers=workers, on_result=lambda r: results.__setitem__(r.key, r))
    report = ValidationReport()
    for i, (name, (_, full)) in enumerate(cases.items()):
        judge_case(name, results[f"case{i}"], full, report)
        if name == "release":
            bad = results[f"case{i}"].message
            report.require("timed out" not in bad and "died" not in bad,
                           f"release runs to the end without a timeout or a dead kernel ({bad})")
    return report
