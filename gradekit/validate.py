"""`gradekit validate`: prove the assignment with the real checks before students see it.

1. the source notebook (solutions, seeded bugs fixed), executed, gets full marks;
2. the untouched release, executed, gets zero on every part with a seeded bug or a task, and runs
   to the end (errors in bugged cells are expected; no cell times out, the kernel never dies);
3. mutation check: fixing one seeded bug alone (or solving one task alone) brings back the points of
   exactly its part — so every seeded bug is caught by at least one check, and by the right one;
4. the release with every seeded bug fixed and every task solved gets full marks: the path a student
   takes to full marks exists;
5. the notebook's own tests agree: in the source and in that fully fixed release every cell runs
   without an error (the notebook's test cells, hidden ones included in the source, pass in the
   sandbox, offline); the report names the cells of the untouched release that raise, which is what
   students see before they start.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import nbformat

from .config import Config
from .model import Status, Submission, SubmissionResult

VALIDATION_CID = 1357911


PERFECT = "release + every fix and solve"


@dataclass
class ValidationReport:
    lines: list[str] = field(default_factory=list)
    ok: bool = True
    #: case -> {cell (grade_id, else cell id): the error's name} for the cells that raised in its run
    cell_errors: dict[str, dict[str, str]] = field(default_factory=dict)

    def require(self, condition: bool, what: str) -> None:
        self.lines.append(f"{'ok  ' if condition else 'FAIL'}  {what}")
        self.ok = self.ok and condition

    @property
    def text(self) -> str:
        return "\n".join(self.lines + [f"validation {'passed' if self.ok else 'FAILED'}"])


def _submission(key: str, nb, cid_placeholder: int) -> Submission:
    import hashlib

    from .intake import read_identity

    text = nbformat.writes(nb)
    return Submission(key=key, source_name=f"{key}.ipynb", sha256=hashlib.sha256(text.encode()).hexdigest(),
                      notebook_json=text, identity=read_identity(nb, cid_placeholder))


def source_points(source_nb) -> dict[str, float]:
    """part -> the nbgrader points of its test cell (grade_id ``test_<part>``) in the source notebook."""
    out: dict[str, float] = {}
    for cell in source_nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id") or ""
        if meta.get("grade") and gid.startswith("test_"):
            out[gid[len("test_"):]] = out.get(gid[len("test_"):], 0.0) + float(meta.get("points", 0) or 0)
    return out


def points_agree(source_nb, checks_points: dict[str, float], parts) -> list[str]:
    """Where the source notebook's nbgrader points and the pytest checks' points differ (empty: they agree)."""
    nb_points = source_points(source_nb)
    problems = []
    for part in sorted(set(nb_points) | set(checks_points) | set(parts)):
        want, have = nb_points.get(part), checks_points.get(part)
        if want is None:
            problems.append(f"{part}: the checks award {have:g} points, but the source notebook has no graded "
                            f"test cell with grade_id test_{part}")
        elif have is None:
            problems.append(f"{part}: the source notebook's test_{part} cell is worth {want:g} points, but there is "
                            f"no check file test_{part}.py")
        elif want != have:
            problems.append(f"{part}: the source notebook's test_{part} cell is worth {want:g} points, its checks "
                            f"(test_{part}.py) award {have:g}")
    return problems


def validation_cases(cfg: Config, course) -> dict[str, tuple[object, set[str]]]:
    """case name -> (notebook, the parts that must score full marks; all others must score 0).

    Derived from the course's parts: the source; the untouched release; each seeded bug (BUG_PARTS)
    fixed alone; the tasks (TASK_PARTS) solved cumulatively in order (a task may build on an earlier one)."""
    m = course.module
    release = nbformat.read(cfg.release, as_version=4)
    source = nbformat.read(cfg.source, as_version=4)
    profile = course.profile

    def student(**kw):
        return m.student(release, source, name="Validation", cid=VALIDATION_CID, profile=profile, **kw)

    full_source = m.student(source, source, name="Validation", cid=VALIDATION_CID, profile=profile)
    cases = {"source": (full_source, set(course.parts)),
             "release": (student(), set())}
    for part in m.BUG_PARTS:
        cases[f"release + fix {part}"] = (student(fixed=[part]), {part})
    tasks = list(m.TASK_PARTS)
    for k in range(1, len(tasks) + 1):
        cases[f"release + solve {', '.join(tasks[:k])}"] = (student(solved=tasks[:k]), set(tasks[:k]))
    cases[PERFECT] = (student(fixed=list(m.BUG_PARTS), solved=tasks), set(course.parts))
    return cases


def cell_errors(executed_json: str | None) -> dict[str, str] | None:
    """{cell (grade_id, else cell id): error name} of the code cells that raised in an executed
    notebook; None when the run handed back no notebook."""
    if not executed_json:
        return None
    from .fabricate import code_cells, grade_id

    try:
        nb = nbformat.reads(executed_json, as_version=4)
    except Exception:  # noqa: BLE001 - the runner's copy is untrusted data: unreadable means unknown
        return None
    return {grade_id(cell) or cell.get("id", "?"): output.get("ename", "?")
            for cell in code_cells(nb) for output in cell.get("outputs", []) if output.get("output_type") == "error"}


def describe_errors(errors: dict[str, str] | None) -> str:
    """`cell_errors`' result as a report shows it: "cell (Error), ...", "none", or unknown."""
    if errors is None:
        return "unknown (no executed notebook)"
    return ", ".join(f"{cell} ({err})" for cell, err in errors.items()) or "none"


def judge_case(name: str, result: SubmissionResult, full_parts: set[str], report: ValidationReport) -> None:
    points, maxima = result.part_points(), result.part_max_points()
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

    from .judge import course_points

    course = Course(cfg)
    report = ValidationReport()
    problems = points_agree(nbformat.read(cfg.source, as_version=4), course_points(cfg), course.parts)
    report.require(not problems, "the source notebook's nbgrader points equal the checks' points per part"
                   + "".join(f"\n      {p}" for p in problems))
    cases = validation_cases(cfg, course)
    subs = [_submission(f"case{i}", nb, cfg.cid_placeholder) for i, (nb, _) in enumerate(cases.values())]
    results: dict[str, SubmissionResult] = {}
    run_local(subs, cfg, workers=workers, on_result=lambda r: results.__setitem__(r.key, r))
    for i, (name, (_, full)) in enumerate(cases.items()):
        result = results[f"case{i}"]
        judge_case(name, result, full, report)
        errors = cell_errors(result.executed_notebook)
        if errors is not None:
            report.cell_errors[name] = errors
        if name == "release":
            bad = result.message
            report.require("timed out" not in bad and "died" not in bad,
                           f"release runs to the end without a timeout or a dead kernel ({bad})")
            report.lines.append("      cells that raise in the release (what students see first): "
                                + describe_errors(errors))
        if name in ("source", PERFECT):
            detail = "" if errors == {} else f" (raised: {describe_errors(errors)})"
            report.require(errors == {}, f"{name}: every cell runs without an error, the notebook's own tests pass{detail}")
    return report
