"""TA overrides: ``DIR/overrides.csv`` -> validated overrides -> results with those parts replaced.

The file (columns ``student, part, points, reason``, optional ``by``; one header row) is the one place
where a TA changes a mark by hand: ``gradekit grade`` and ``gradekit rejudge`` read it on every run
and apply it on top of the judged checks, so an override survives every re-grade and re-judge, and
deleting its line removes it (both recorded in the history of marks).  An override replaces the
points of that part; the total, the upload and the feedback page (with the reason) follow.

A file with any bad line is refused as a whole, before anything is written: every problem is
listed with its line number.  Parsing, validating and applying are pure functions; only
:func:`read_overrides_file` touches the disk.
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import GradekitError
from .model import Override, SubmissionResult

OVERRIDES_CSV = "overrides.csv"
REQUIRED = ("student", "part", "points", "reason")
OPTIONAL = ("by",)


class OverrideError(GradekitError):
    """overrides.csv cannot be used; the message names every bad line."""


@dataclass(frozen=True)
class OverrideLine:
    line: int          # 1-based line number in the file (the header is line 1)
    student: str
    override: Override


def parse_overrides(text: str, source: str = OVERRIDES_CSV) -> list[OverrideLine]:
    """The lines of an overrides file; raises OverrideError listing every line that is not usable
    on its own (missing columns, points that are not a number, an empty reason, duplicates)."""
    text = text.lstrip("\ufeff")     # Excel's UTF-8 byte-order mark
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise OverrideError(f"{source}: line 1 must be the header {', '.join(REQUIRED)} (optional: by); "
                            f"missing {', '.join(missing)}")
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
    if unknown:
        raise OverrideError(f"{source}: line 1 has unknown column(s) {', '.join(unknown)}")
    reader.fieldnames = header
    out: list[OverrideLine] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for row in reader:
        n = reader.line_num
        if None in row:
            problems.append(f"line {n}: more values than columns")
            continue
        cells = {k: (v or "").strip() for k, v in row.items()}
        if not any(cells.values()):
            continue                 # a blank line
        student, part, reason = cells["student"], cells["part"], cells["reason"]
        try:
            points = float(cells["points"])
        except ValueError:
            points = math.nan
        bad = [what for what, ok in (("no student", student), ("no part", part),
                                     (f"points {cells['points']!r} is not a number", math.isfinite(points)),
                                     ("no reason (say why the marks change)", reason)) if not ok]
        if (student, part) in seen:
            bad.append(f"{student} / {part} is already overridden on line {seen[(student, part)]}")
        if bad:
            problems.append(f"line {n}: " + "; ".join(bad))
            continue
        seen[(student, part)] = n
        out.append(OverrideLine(n, student, Override(part, points, reason, cells.get("by", ""))))
    if problems:
        raise OverrideError(f"{source} refused, nothing was written:\n  " + "\n  ".join(problems))
    return out


def validate_overrides(lines: Iterable[OverrideLine], students: Mapping[str, bool],
                       part_max: Mapping[str, float], source: str = OVERRIDES_CSV) -> dict[str, tuple[Override, ...]]:
    """Overrides per student, checked against the cohort: ``students`` maps each known key to
    whether it can take an override (its submission was judged); ``part_max`` is each part's
    maximum.  Raises OverrideError naming every bad line."""
    problems: list[str] = []
    per_student: dict[str, list[Override]] = {}
    for ln in lines:
        o = ln.override
        if ln.student not in students:
            problems.append(f"line {ln.line}: unknown student {ln.student!r}")
        elif not students[ln.student]:
            problems.append(f"line {ln.line}: {ln.student!r} has no judged submission to override "
                            f"(grade it first, or enter the mark in the LMS)")
        if o.part not in part_max:
            problems.append(f"line {ln.line}: unknown part {o.part!r} (parts: {', '.join(part_max)})")
        elif not 0 <= o.points <= part_max[o.part]:
            problems.append(f"line {ln.line}: points {o.points:g} outside 0..{part_max[o.part]:g} for {o.part}")
        per_student.setdefault(ln.student, []).append(o)
    if problems:
        raise OverrideError(f"{source} refused, nothing was written:\n  " + "\n  ".join(problems))
    return {k: tuple(sorted(v, key=lambda o: o.part)) for k, v in per_student.items()}


def apply_overrides(result: SubmissionResult, overrides: Mapping[str, tuple[Override, ...]]) -> SubmissionResult:
    """``result`` with exactly the overrides the file gives its student (none: any earlier ones go)."""
    wanted = tuple(overrides.get(result.key, ()))
    return result if wanted == result.overrides else replace(result, overrides=wanted)


def read_overrides_file(out_dir: Path, students: Mapping[str, bool],
                        part_max: Mapping[str, float]) -> dict[str, tuple[Override, ...]]:
    """``out_dir/overrides.csv`` parsed and validated ({} when there is none)."""
    path = Path(out_dir) / OVERRIDES_CSV
    if not path.is_file():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise OverrideError(f"{path} cannot be read ({e}); nothing was written") from None
    return validate_overrides(parse_overrides(text, str(path)), students, part_max, str(path))
