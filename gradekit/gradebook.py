"""Results -> a pandas gradebook (pure), and the writers at the edge: csv/parquet and a Blackboard upload.

The rule for points (what a TA reads in a row)
----------------------------------------------
* A part column holds the points the student was actually awarded in that part: 0.0 when its
  checks ran and failed.  ``status`` says *why* (graded, no_cid, timeout, kernel_died).
* A submission that could not be graded at all -- status ``invalid_notebook``, ``no_submission`` or
  ``error`` (:data:`UNGRADED_STATUSES`) -- has **NaN** in every part column and ``total`` 0.0, so it is
  never a silent 0 that looks like a real zero: the NaNs and the status tell it apart.
* A part for which a judged submission has no check result at all is NaN as well ("not judged").
* ``max_total`` is the result's own maximum; for an ungraded row (no checks of its own) it is the
  assignment's maximum as seen in the other rows (sum over parts of the largest part maximum), NaN
  when no row has any checks.

Columns and dtypes: ``student`` string (the key: LMS username, roster id or file stem), ``cid``
Int64 (nullable), ``name`` string (NA when the notebook did not say), ``file`` string, one float64
column per part, ``total`` and ``max_total`` float64, ``status`` category (all :class:`Status`
values, in their declaration order), ``flags`` string (``;``-joined, "" when none), ``mistakes`` string (the course's
diagnosis of failing parts, ``part:mistake`` ``;``-joined, "" when none; never affects points),
``message`` string.  Rows are sorted by ``student``.
"""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .model import Status, SubmissionResult

#: Statuses whose submissions were not judged: NaN part columns, total 0, never uploaded as a score.
UNGRADED_STATUSES: frozenset[Status] = frozenset({Status.INVALID_NOTEBOOK, Status.NO_SUBMISSION, Status.ERROR})
#: Statuses whose total goes into the LMS upload; every other row is held back for a TA to look at.
UPLOAD_STATUSES: frozenset[Status] = frozenset({Status.GRADED, Status.NO_CID})

ID_COLUMNS = ("student", "cid", "name", "file")
TAIL_COLUMNS = ("total", "max_total", "status", "flags", "mistakes", "message")
TEXT_COLUMNS = ("student", "name", "file", "flags", "mistakes", "message")
STATUS_DTYPE = pd.CategoricalDtype([s.value for s in Status], ordered=False)

GRADEBOOK_CSV = "gradebook.csv"
GRADEBOOK_PARQUET = "gradebook.parquet"
LMS_UPLOAD = "blackboard_upload.xls"
LMS_REVIEW = "blackboard_review.tsv"


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
        per_part: dict[str, float] = {}
        for c in r.checks:
            per_part[c.part] = per_part.get(c.part, 0.0) + c.max_points
        for p, m in per_part.items():
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


def to_dataframe(results: Sequence[SubmissionResult], parts: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per student (sorted by key); see the module docstring for the columns and the NaN rule.

    ``parts`` fixes the order of the part columns (a part listed but never judged is an all-NaN
    column); parts the results have beyond ``parts`` follow in order of first appearance.
    """
    _check_keys_unique(results)
    order = part_order(results, parts)
    clash = set(order) & set(ID_COLUMNS + TAIL_COLUMNS)
    if clash:
        raise ValueError(f"part name(s) {sorted(clash)} clash with the gradebook's own columns")
    results = sorted(results, key=lambda r: r.key)
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
    cols["total"] = np.array([r.total if is_graded(r) else 0.0 for r in results], dtype=float)
    cols["max_total"] = _max_totals(results)
    cols["status"] = _status_column(results)
    cols["flags"] = pd.array([";".join(r.flags) for r in results], dtype="string")
    cols["mistakes"] = pd.array([mistakes_text(r) for r in results], dtype="string")
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
    cols["total"] = np.array([r.total if is_graded(r) else 0.0 for r in results], dtype=float)
    cols["max_total"] = _max_totals(results)
    return pd.DataFrame(cols)


def part_columns(df: pd.DataFrame) -> list[str]:
    """The part columns of a gradebook frame, in order."""
    fixed = set(ID_COLUMNS + TAIL_COLUMNS)
    return [c for c in df.columns if c not in fixed]


# -- the edge: files ------------------------------------------------------------------------------

def _atomic_write(path: Path, write) -> None:
    """Write via a temporary file in the same folder and rename: a reader (or a killed run) never
    sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def _csv_safe(value: object) -> object:
    """Spreadsheet formula injection guard: a text cell starting with = + - @ (or a quote) gets a
    leading ``'``, which Excel/LibreOffice show as text.  :func:`read_gradebook` removes it."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_gradebook(df: pd.DataFrame, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``out_dir/gradebook.csv`` and ``out_dir/gradebook.parquet``; returns their paths.

    The parquet file keeps the dtypes exactly.  The CSV is for people: text cells that a
    spreadsheet would run as a formula (student-controlled names and messages) are prefixed with
    ``'``; :func:`read_gradebook` undoes that and restores the dtypes.
    """
    out = Path(out_dir)
    csv_path, pq_path = out / GRADEBOOK_CSV, out / GRADEBOOK_PARQUET
    safe = df.copy()
    for c in TEXT_COLUMNS:
        if c in safe.columns:
            safe[c] = safe[c].map(_csv_safe, na_action="ignore").astype("string")
    _atomic_write(csv_path, lambda p: safe.to_csv(p, index=False, lineterminator="\n"))
    _atomic_write(pq_path, lambda p: df.to_parquet(p, index=False))
    return csv_path, pq_path


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """A CSV for people, atomically: every text cell escaped like the gradebook's (no formulas)."""
    safe = df.copy()
    for c in safe.columns:
        if safe[c].dtype == "string" or safe[c].dtype == object:
            safe[c] = safe[c].map(_csv_safe, na_action="ignore")
    _atomic_write(Path(path), lambda p: safe.to_csv(p, index=False, lineterminator="\n"))
    return Path(path)


def read_gradebook(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a gradebook written by :func:`write_gradebook` (csv or parquet) with its dtypes."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    df = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    for c in df.columns:
        if c in TEXT_COLUMNS:
            df[c] = df[c].map(lambda s: s[1:] if s.startswith("'") else s, na_action="ignore").astype("string")
        elif c == "cid":
            df[c] = df[c].astype("Int64")
        elif c == "status":
            df[c] = df[c].astype(STATUS_DTYPE)
        else:
            df[c] = df[c].astype("float64")
    for c in ("student", "file", "flags", "mistakes", "message"):      # never NA in a gradebook; "" reads back as NA
        if c in df.columns:
            df[c] = df[c].fillna("")
    return df


def _num(x: float) -> str:
    """10.0 -> "10", 7.25 -> "7.25" (at most 4 decimals, no exponent)."""
    s = f"{float(x):.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _one_line(value: object) -> str:
    """Text for one cell of a tab-delimited file: no tabs or line breaks."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return re.sub(r"[\t\r\n]+", " ", str(value)).strip()


def blackboard_column_header(assignment: str, points_possible: float, column_id: str | int | None) -> str:
    """``Name [Total Pts: N Score] |ID`` (matches the existing Grade Centre column with that ID), or
    the plain name when there is no ID (Blackboard then creates a new *text* column)."""
    name = _one_line(assignment)
    if not name or "|" in name:
        raise ValueError(f"assignment name {assignment!r} cannot be a Blackboard column name")
    if column_id is None:
        return name
    cid = str(column_id).strip()
    if not cid or re.search(r"[\s|]", cid):
        raise ValueError(f"column id {column_id!r} is not a Blackboard column ID (the number after '|' in a "
                         f"downloaded grade file's header)")
    return f"{name} [Total Pts: {_num(points_possible)} Score] |{cid}"


@dataclass(frozen=True)
class LmsUpload:
    upload: Path        # the file to upload to the Grade Centre
    review: Path        # held-back and flagged students, with the reason: for a TA, not for upload
    uploaded: int
    held_back: int


def write_lms_upload(df: pd.DataFrame, out_dir: str | os.PathLike[str], assignment: str,
                     points_possible: float, column_id: str | int | None = None) -> LmsUpload:
    """A Blackboard Grade Centre upload file: ``out_dir/blackboard_upload.xls`` (+ a review file).

    Format (Blackboard Learn, "Work Offline > Upload"): tab-delimited text -- Blackboard's
    recommended form, which it names ``.xls``; no quoting -- UTF-8, one header row, then one row per
    student: ``Username`` (the gradebook's ``student`` key: right only when the keys are Blackboard
    usernames, as they are for submissions taken from Blackboard's assignment download) and the
    score column.  With ``column_id`` (the number after ``|`` in the column's header in a grade file
    downloaded from the Grade Centre) the header is ``<assignment> [Total Pts: N Score] |<id>`` and the
    upload fills that existing column.

    WARNING: without ``column_id`` the header is the plain assignment name, and Blackboard creates a
    *new text column with 0 points possible*, which no calculated column (Total, Weighted Total)
    includes until a TA edits it into a score column.  Prefer passing the ID.

    Students whose score is not trustworthy are **left out** of the upload, so their Grade Centre
    cell keeps whatever it has (no false zero, no cleared manual grade): every status other than
    graded/no_cid (:data:`UPLOAD_STATUSES`) -- invalid notebook, no submission, grader error, timeout,
    kernel died.  They are listed in ``out_dir/blackboard_review.tsv`` with the status and the reason,
    together with uploaded rows that carry flags; a TA checks them and enters grades by hand.  (An
    empty score cell was not chosen because what Blackboard does with one is not documented, and a
    notes column without an ID would itself become a new Grade Centre column.)
    """
    out = Path(out_dir)
    header = blackboard_column_header(assignment, points_possible, column_id)
    upload_rows: list[str] = ["\t".join(("Username", header))]
    review_rows: list[str] = ["\t".join(("Username", "Name", "Status", "Uploaded", "Score", "Flags", "Reason"))]
    held = 0
    for row in df.sort_values("student").itertuples(index=False):
        user = str(row.student)
        if not user or re.search(r"[\t\r\n]", user) or user != user.strip():
            raise ValueError(f"student key {user!r} cannot be a Blackboard username")
        status = Status(str(row.status))
        ok = status in UPLOAD_STATUSES and not np.isnan(row.total)
        if ok:
            upload_rows.append(f"{user}\t{_num(row.total)}")
        else:
            held += 1
        if not ok or row.flags:
            review_rows.append("\t".join((user, _one_line(row.name), status.value, "yes" if ok else "no",
                                          _num(row.total) if ok else "", _one_line(row.flags),
                                          _one_line(row.message))))
    upload, review = out / LMS_UPLOAD, out / LMS_REVIEW
    for path, lines in ((upload, upload_rows), (review, review_rows)):
        text = "\n".join(lines) + "\n"
        _atomic_write(path, lambda p, text=text: Path(p).write_text(text, encoding="utf-8", newline=""))
    return LmsUpload(upload, review, uploaded=len(upload_rows) - 1, held_back=held)
