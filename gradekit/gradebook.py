"""Results -> a pandas gradebook (pure), and the writers at the edge: csv/parquet.

The learning platform's files (upload, review, feedback) are written by :mod:`gradekit.lms_upload`.

The rule for points (what a TA reads in a row)
----------------------------------------------
* A part column holds the points the student was actually awarded in that part: 0.0 when its
  checks ran and failed.  ``status`` says *why* (graded, no_cid, timeout, kernel_died).
* A submission that could not be graded at all -- status ``invalid_notebook``, ``no_submission`` or
  ``error`` (:data:`UNGRADED_STATUSES`) -- has **NaN** in every part column, in ``penalty`` and in
  ``total``: a blank cell, never a silent 0 in a spreadsheet's average.
* ``total`` is the earned points minus ``penalty`` (the late penalty, :mod:`gradekit.policy`).
* A part for which a judged submission has no check result at all is NaN as well ("not judged").
* ``max_total`` is the result's own maximum; for an ungraded row (no checks of its own) it is the
  assignment's maximum as seen in the other rows (sum over parts of the largest part maximum), NaN
  when no row has any checks.

Columns and dtypes: ``student`` string (the key: LMS username, roster id or file stem), ``cid``
Int64 (nullable), ``name`` string (NA when neither the notebook nor the roster said), ``file``
string, one float64 column per part, ``submitted_at`` and ``deadline`` string (ISO 8601, UTC; NA when
unknown / no deadline), ``late_by_h`` and ``penalty`` float64 (points deducted), ``total`` and
``max_total`` float64, ``status`` category (all :class:`Status` values, in their declaration order),
``flags`` string (``;``-joined, "" when none), ``mistakes`` string (the course's diagnosis of failing
parts, ``part:mistake`` ``;``-joined, "" when none; never affects points), ``overrides`` string
(``part: reason`` for each part a TA set by hand, ``; ``-joined), ``message`` string.  Rows are sorted
by ``student``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .escape import CSV_ENCODING, unescape, write_csv
from .atomic import atomic_write
from .model import Status, SubmissionResult
from .policy import ON_TIME, Lateness

#: Statuses whose submissions were not judged: NaN part columns and total, never uploaded as a score.
UNGRADED_STATUSES: frozenset[Status] = frozenset({Status.INVALID_NOTEBOOK, Status.NO_SUBMISSION, Status.ERROR})
#: Statuses whose total may go into the LMS upload (identity permitting, see gradekit.lms_upload);
#: every other row is held back for a TA to look at.
UPLOAD_STATUSES: frozenset[Status] = frozenset({Status.GRADED})

ID_COLUMNS = ("student", "cid", "name", "file")
LATE_COLUMNS = ("submitted_at", "deadline", "late_by_h", "penalty")
TAIL_COLUMNS = ("total", "max_total", "status", "flags", "mistakes", "overrides", "message")
TEXT_COLUMNS = ("student", "name", "file", "flags", "mistakes", "overrides", "message")   # untrusted text: escaped
TIME_COLUMNS = ("submitted_at", "deadline")
STATUS_DTYPE = pd.CategoricalDtype([s.value for s in Status], ordered=False)

GRADEBOOK_CSV = "gradebook.csv"
GRADEBOOK_PARQUET = "gradebook.parquet"


# -- pure: results -> frames ----------------------------------------------------------------------

def is_graded(result: SubmissionResult) -> bool:
    """Whether the submission was judged (its check results count), whatever its score."""
    return result.status not in UNGRADED_STATUSES


def part_order(results: Sequence[SubmissionResult], parts: Sequence[str] | None = None) -> list[str]:
    """``parts`` in the order given, then any other part the results have, in order of appearance."""
    order = list(dict.fromkeys(parts or ()))
    seen = set(order)
    for r in results:
        for c in r.checks:
            if c.part not in seen:
                seen.add(c.part)
                order.append(c.part)
    return order


def part_max_points(results: Sequence[SubmissionResult]) -> dict[str, float]:
    """The maximum points of each part: the largest seen in any result (they agree in one run)."""
    best: dict[str, float] = {}
    for r in results:
        for p, m in r.part_max_points().items():
            best[p] = max(best.get(p, 0.0), m)
    return best


def _check_keys_unique(results: Sequence[SubmissionResult]) -> None:
    seen: set[str] = set()
    for r in results:
        if r.key in seen:
            raise ValueError(f"two results for student {r.key!r}: a gradebook has one row per student")
        seen.add(r.key)


def _identity_frame(results: Sequence[SubmissionResult]) -> dict[str, pd.api.extensions.ExtensionArray]:
    return {
        "student": pd.array([r.key for r in results], dtype="string"),
        "cid": pd.array([r.cid for r in results], dtype="Int64"),
        "name": pd.array([r.name for r in results], dtype="string"),
        "file": pd.array([r.file for r in results], dtype="string"),
    }


def _status_column(results: Sequence[SubmissionResult]) -> pd.Categorical:
    return pd.Categorical([Status(r.status).value for r in results], dtype=STATUS_DTYPE)


def _max_totals(results: Sequence[SubmissionResult]) -> np.ndarray:
    pmax = part_max_points(results)
    assignment_max = sum(pmax.values()) if pmax else np.nan
    return np.array([r.max_total if r.checks else assignment_max for r in results], dtype=float)


def earned_total(result: SubmissionResult) -> float:
    """Points the checks awarded (before any penalty); NaN when the submission was not graded."""
    return result.total if is_graded(result) else np.nan


def _iso_utc(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat(timespec="seconds").replace("+00:00", "Z")


def _late_columns(results: Sequence[SubmissionResult], late: Sequence[Lateness]) -> dict[str, object]:
    earned = np.array([earned_total(r) for r in results], dtype=float)
    penalty = np.array([lt.penalty(e) for lt, e in zip(late, earned)], dtype=float)
    return {
        "submitted_at": pd.array([_iso_utc(lt.submitted_at) for lt in late], dtype="string"),
        "deadline": pd.array([_iso_utc(lt.deadline) for lt in late], dtype="string"),
        "late_by_h": np.array([lt.late_by_h for lt in late], dtype=float),
        "penalty": penalty,
        "total": earned - penalty,          # NaN stays NaN: ungraded rows are blank, never 0
    }


def to_dataframe(results: Sequence[SubmissionResult], parts: Sequence[str] | None = None,
                 lateness: Mapping[str, Lateness] | None = None) -> pd.DataFrame:
    """One row per student (sorted by key); see the module docstring for the columns and the NaN rule.

    ``parts`` fixes the order of the part columns (a part listed but never judged is an all-NaN
    column); parts the results have beyond ``parts`` follow in order of first appearance.
    ``lateness`` (by student key, :func:`gradekit.policy.lateness`) gives the submission times and
    late penalties; a key without an entry is on time.
    """
    _check_keys_unique(results)
    order = part_order(results, parts)
    clash = set(order) & set(ID_COLUMNS + LATE_COLUMNS + TAIL_COLUMNS)
    if clash:
        raise ValueError(f"part name(s) {sorted(clash)} clash with the gradebook's own columns")
    results = sorted(results, key=lambda r: r.key)
    late = [(lateness or {}).get(r.key, ON_TIME) for r in results]
    cols: dict[str, object] = dict(_identity_frame(results))
    points = np.full((len(results), len(order)), np.nan)
    index = {p: j for j, p in enumerate(order)}
    for i, r in enumerate(results):
        if not is_graded(r):
            continue
        for p, v in r.part_points().items():
            points[i, index[p]] = v
    for p, j in index.items():
        cols[p] = points[:, j]
    cols.update(_late_columns(results, late))
    cols["max_total"] = _max_totals(results)
    cols["status"] = _status_column(results)
    cols["flags"] = pd.array([";".join(r.flags) for r in results], dtype="string")
    cols["mistakes"] = pd.array([mistakes_text(r) for r in results], dtype="string")
    cols["overrides"] = pd.array(["; ".join(f"{o.part}: {o.reason}" for o in r.overrides) for r in results],
                                 dtype="string")   # the parts a TA set by hand (gradekit.overrides)
    cols["message"] = pd.array([r.message for r in results], dtype="string")
    return pd.DataFrame(cols)


def mistakes_text(result: SubmissionResult) -> str:
    """The gradebook's ``mistakes`` cell: ``part:mistake`` of each diagnosed mistake, ``;``-joined."""
    return ";".join(f"{m.part}:{m.id}" for m in result.mistakes)


def mistakes_frame(results: Sequence[SubmissionResult]) -> pd.DataFrame:
    """``student, part, mistake``: one row per diagnosed mistake (mistakes.csv)."""
    rows = [(r.key, m.part, m.id) for r in sorted(results, key=lambda r: r.key) for m in r.mistakes]
    return pd.DataFrame(rows, columns=["student", "part", "mistake"], dtype="string")


def check_columns(results: Sequence[SubmissionResult], parts: Sequence[str] | None = None) -> pd.DataFrame:
    """The TA's wide view: one float column of points per individual check, named ``part.check``.

    Columns: student, cid, name, file, status, the check columns (grouped by part in the order of
    :func:`part_order`, checks in order of first appearance), total, max_total.  NaN means the check
    was not judged for that student (ungraded submission, or a check it did not get).
    """
    _check_keys_unique(results)
    order = part_order(results, parts)
    names: dict[str, list[str]] = {p: [] for p in order}
    for r in results:
        for c in r.checks:
            if c.name not in names[c.part]:
                names[c.part].append(c.name)
    columns = [f"{p}.{n}" for p in order for n in names[p]]
    index = {c: j for j, c in enumerate(columns)}
    results = sorted(results, key=lambda r: r.key)
    points = np.full((len(results), len(columns)), np.nan)
    for i, r in enumerate(results):
        if not is_graded(r):
            continue
        for c in r.checks:
            j = index[f"{c.part}.{c.name}"]
            points[i, j] = (0.0 if np.isnan(points[i, j]) else points[i, j]) + c.points
    cols: dict[str, object] = dict(_identity_frame(results))
    cols["status"] = _status_column(results)
    for c, j in index.items():
        cols[c] = points[:, j]
    cols["total"] = np.array([earned_total(r) for r in results], dtype=float)   # before any late penalty
    cols["max_total"] = _max_totals(results)
    return pd.DataFrame(cols)


def part_columns(df: pd.DataFrame) -> list[str]:
    """The part columns of a gradebook frame, in order."""
    fixed = set(ID_COLUMNS + LATE_COLUMNS + TAIL_COLUMNS)
    return [c for c in df.columns if c not in fixed]


# -- the edge: files ------------------------------------------------------------------------------

def write_gradebook(df: pd.DataFrame, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``out_dir/gradebook.csv`` and ``out_dir/gradebook.parquet``; returns their paths.

    The parquet file keeps the dtypes exactly.  The CSV is for people: UTF-8 with a byte-order mark
    (Excel then reads accents right), and every text cell goes through
    :func:`gradekit.escape.sheet_cell` (a cell a spreadsheet would run as a formula gets a leading
    ``'``); :func:`read_gradebook` undoes that and restores the dtypes.
    """
    out = Path(out_dir)
    csv_path, pq_path = out / GRADEBOOK_CSV, out / GRADEBOOK_PARQUET
    write_csv(csv_path, df, TEXT_COLUMNS)
    atomic_write(pq_path, lambda p: df.to_parquet(p, index=False))
    return csv_path, pq_path


def read_gradebook(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a gradebook written by :func:`write_gradebook` (csv or parquet) with its dtypes."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    df = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""], encoding=CSV_ENCODING)
    for c in df.columns:
        if c in TEXT_COLUMNS:
            df[c] = df[c].map(unescape, na_action="ignore").astype("string")
        elif c in TIME_COLUMNS:
            continue                                    # ISO 8601 text: stays a string
        elif c == "cid":
            df[c] = df[c].astype("Int64")
        elif c == "status":
            df[c] = df[c].astype(STATUS_DTYPE)
        else:
            df[c] = df[c].astype("float64")
    for c in ("student", "file", "flags", "mistakes", "overrides", "message"):   # never NA; "" reads back as NA
        if c in df.columns:
            df[c] = df[c].fillna("")
    return df
