"""One notebook, graded and printed: the student's self-check (visible checks only) and the TA's
`grade-one` table (every check)."""
from __future__ import annotations

from pathlib import Path

from .grading import Course, grade_submission
from .model import SubmissionResult


def _read(path: Path, course: Course, key: str | None = None):
    from .intake import read_submission

    cfg = course.cfg
    return read_submission(path, key=key or path.stem, source_name=path.name,
                           cid_placeholder=cfg.cid_placeholder,
                           max_bytes=int(cfg.limits.max_notebook_mb * 1024 * 1024))


def format_table(result: SubmissionResult, *, visible_only: bool) -> str:
    lines = [f"{result.file}: {result.name or '?'} [CID {result.cid if result.cid is not None else '?'}]",
             f"status: {result.status}" + (f" — {result.message}" if result.message else "")]
    if result.flags:
        lines.append("flags: " + ", ".join(result.flags))
    width = max([len(f"{c.part}.{c.name}") for c in result.checks] + [10])
    for c in result.checks:
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


def self_check(path: Path, course: Course) -> tuple[str, bool]:
    """Visible checks only: hidden checks and reference values never reach the student."""
    result = grade_submission(_read(path, course), course, visible_only=True)
    ok = bool(result.checks) and all(c.passed for c in result.checks)
    text = format_table(result, visible_only=True)
    text += "\n" + ("All visible checks pass." if ok else "Some visible checks fail: see the messages above.")
    return text, ok


def grade_one_table(path: Path, course: Course, *, key: str | None = None) -> tuple[str, SubmissionResult]:
    result = grade_submission(_read(path, course, key), course)
    return format_table(result, visible_only=False), result
