"""One notebook, graded and printed: the student's self-check (visible checks only) and the TA's
`grade-one` table (every check).  Progress goes to `progress` (stderr from the CLI) stage by stage,
so that nobody stares at a silent terminal while the notebook runs."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

from .grading import Course, execute_submission, judge_submission
from .intake.flags import FLAG_TEXT
from .model import Submission, SubmissionResult

Progress = Callable[[str], None]


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _quiet(line: str) -> None:
    pass


def _read(path: Path, course: Course, key: str | None = None):
    from .intake import read_submission

    cfg = course.cfg
    return read_submission(path, key=key or path.stem, source_name=path.name,
                           cid_placeholder=cfg.cid_placeholder,
                           max_bytes=int(cfg.limits.max_notebook_mb * 1024 * 1024))


def _who(result: SubmissionResult, sub: Submission | None) -> str:
    """`file: Name [CID n]`, saying what is wrong instead of `?`."""
    name = result.name or "Name not set (the “Your details” cell)"
    problem = sub.identity.cid_problem if sub is not None else None
    if result.cid is not None and not problem:
        cid = f"CID {result.cid}"
    else:
        cid = f"CID: {(problem or 'not set').rstrip('.')}"
    return f"{result.file}: {name} [{cid}]"


def format_table(result: SubmissionResult, *, visible_only: bool, parts: list[str] | None = None,
                 sub: Submission | None = None) -> str:
    """The checks in notebook order (`parts`: the course's part order), flags as sentences."""
    lines = [_who(result, sub),
             f"status: {result.status}" + (f" — {result.message}" if result.message else "")]
    for f in result.flags:
        lines.append(f"note: {FLAG_TEXT.get(f, f)}")
    order = {p: i for i, p in enumerate(parts or [])}
    checks = sorted(result.checks, key=lambda c: order.get(c.part, len(order)))   # stable: check order kept
    width = max([len(f"{c.part}.{c.name}") for c in checks] + [10])
    for c in checks:
        mark = "PASS" if c.passed else "FAIL"
        tag = ("" if c.visible else " (hidden)") + (" (diagnostic: no points)" if not c.max_points else "")
        lines.append(f"  {mark}  {c.part + '.' + c.name:<{width}}  {c.points:g}/{c.max_points:g}{tag}")
        if c.message:
            lines.append(f"        {c.message}")
    lines.append(f"total: {result.total:g} / {result.max_total:g}"
                 + ("  (visible checks only; more checks run when your work is graded)" if visible_only else ""))
    if result.timings:
        lines.append("time: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()))
    return "\n".join(lines)


def _grade(path: Path, course: Course, *, key: str | None, visible_only: bool,
           progress: Progress) -> tuple[Submission, SubmissionResult]:
    t0 = time.monotonic()
    progress(f"[1/3] reading {path.name}")
    sub = _read(path, course, key)
    honest = course.honest_times(measure=False)
    guess = f" (the model solution takes about {honest.total_s:.0f} s here)" if honest else ""
    progress(f"[2/3] running the notebook in the sandbox, every cell in order{guess} ...")
    executed = execute_submission(sub, course, measure_budgets=False)
    if isinstance(executed, SubmissionResult):
        return sub, executed
    progress(f"      ran in {executed.report.seconds:.0f} s: {executed.report.status}")
    progress("[3/3] checking the answers" + ("" if visible_only else " (reference values: the first time "
                                                                       "for a CID this can take a minute)"))
    result = judge_submission(sub, course, executed, visible_only=visible_only)
    progress(f"      done in {time.monotonic() - t0:.0f} s")
    return sub, result


def self_check(path: Path, course: Course, progress: Progress = _quiet) -> tuple[str, bool]:
    """Visible checks only: hidden checks and reference values never reach the student."""
    sub, result = _grade(path, course, key=None, visible_only=True, progress=progress)
    ok = bool(result.checks) and all(c.passed for c in result.checks)
    text = format_table(result, visible_only=True, parts=course.parts, sub=sub)
    text += "\n" + ("All visible checks pass." if ok else "Some visible checks fail: see the messages above.")
    return text, ok


def grade_one_table(path: Path, course: Course, *, key: str | None = None,
                    progress: Progress = _quiet) -> tuple[str, SubmissionResult]:
    sub, result = _grade(path, course, key=key, visible_only=False, progress=progress)
    return format_table(result, visible_only=False, parts=course.parts, sub=sub), result
