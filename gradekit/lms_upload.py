"""The learning platform's files: a Grade Centre upload Blackboard accepts as is, the review file of
every student held back from it (with the reason), and the feedback that reaches students.

Formats (Blackboard Learn, "Grade Centre > Work Offline"; see README "Publishing grades"):

* ``blackboard_upload.xls`` -- what the Grade Centre's own download is: tab-separated text in UTF-16
  with a byte-order mark, one header row, ``Username`` then the score column.  The column is matched
  by the ID in its header (``Exercise 6 [Total Pts: 12 Score] |123456``, copied from a downloaded
  grade file into ``[lms] column`` / ``--lms-column``); a header without an ID makes Blackboard
  create a *new text column with 0 points possible*, outside the Total -- the run says so.
* ``blackboard_feedback.xls`` -- the same rows plus ``Feedback to Learner`` and ``Feedback Format``,
  the two comment columns the Grade Centre's single-column download carries when "include comments"
  is chosen; uploading it sets each student's grade *and* the feedback they see with it, with no
  per-student clicking.  A separate file, so that the plain grade upload never depends on it.
* ``blackboard_review.tsv`` -- for TAs, not for upload (UTF-8 with a BOM): every student held back
  (not ``graded``, or an identity that cannot be trusted) and every uploaded student with a flag,
  with the reason.

A student held back is absent from both uploads, so their Grade Centre cell keeps what it has (no
false zero, no cleared manual grade).  Every cell passes :func:`gradekit.escape.sheet_cell`.
"""
from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .escape import BLACKBOARD_ENCODING, TSV_ENCODING, is_blank, number_cell, write_tsv
from .atomic import atomic_write
from .gradebook import part_order
from .model import Status, SubmissionResult
from .policy import Lateness

LMS_UPLOAD = "blackboard_upload.xls"
LMS_FEEDBACK = "blackboard_feedback.xls"
LMS_REVIEW = "blackboard_review.tsv"
FEEDBACK_COLUMNS = ("Feedback to Learner", "Feedback Format")
FEEDBACK_FORMAT = "HTML"

#: A platform username: what Blackboard's bulk-download names and rosters carry.
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
_COLUMN_ID = re.compile(r"\|\s*\S+\s*$")

#: Flags that make a row's identity untrustworthy, with the reason a TA reads.
UNTRUSTED_FLAGS: dict[str, str] = {
    "key_from_file_name": "the username is a file name (a plain folder, not on the roster)",
    "duplicate_key": "two files had the same name",
    "not_on_roster": "the username is not on the roster",
    "duplicate_cid": "another student's notebook carries the same CID",
    "cid_mismatch_roster": "the notebook's CID differs from the roster's",
}

_STATUS_REASON: dict[Status, str] = {
    Status.NO_CID: "no usable CID in the notebook: the parts graded against it scored 0",
    Status.TIMEOUT: "the notebook hit its time limit: what ran was graded, check before uploading",
    Status.KERNEL_DIED: "the notebook's kernel died: what ran was graded, check before uploading",
    Status.INVALID_NOTEBOOK: "not graded: the file is not a usable notebook",
    Status.NO_SUBMISSION: "not graded: no submission",
    Status.ERROR: "not graded: the grader failed on this submission",
}


def column_header(configured: str | None, assignment: str) -> tuple[str, str | None]:
    """The upload's score column header and, when Blackboard would not match it to an existing
    column, a warning for the run's summary."""
    if configured and configured.strip():
        header = re.sub(r"[\t\r\n]+", " ", configured).strip()
        if _COLUMN_ID.search(header):
            return header, None
        return header, (f"the LMS column {header!r} has no column ID ('|12345' at its end): Blackboard will "
                        f"create a NEW text column with 0 points possible, outside the Total. Copy the header "
                        f"of the column from a grade file downloaded from the Grade Centre.")
    header = re.sub(r"[\t\r\n|]+", " ", assignment).strip() or "grade"
    return header, (f"no LMS column is configured ([lms] column in gradekit.toml or --lms-column): "
                    f"Blackboard will create a NEW text column {header!r} with 0 points possible, outside "
                    f"the Total. Set it to the column's header from a grade file downloaded from the Grade "
                    f"Centre, e.g. 'Exercise 6 [Total Pts: 12 Score] |123456'.")


def hold_back_reason(student: str, status: str, total: float, flags: str) -> str | None:
    """Why a gradebook row must not be uploaded (None: upload it).  Pure."""
    st = Status(str(status))
    if st is not Status.GRADED:
        return _STATUS_REASON.get(st, f"status {st.value}")
    if is_blank(total) or (isinstance(total, float) and math.isnan(total)):
        return "no total"
    if not USERNAME.fullmatch(student or ""):
        return f"{student!r} is not a platform username"
    reasons = [UNTRUSTED_FLAGS[f] for f in str(flags or "").split(";") if f in UNTRUSTED_FLAGS]
    return "; ".join(reasons) or None


@dataclass(frozen=True)
class LmsUpload:
    upload: Path            # the file to upload to the Grade Centre (grades only)
    feedback: Path | None   # the same rows with the feedback columns (grades + feedback)
    review: Path            # held-back and flagged students, with the reason: for a TA, not for upload
    header: str
    warning: str | None     # set when Blackboard will create a new column
    uploaded: int
    held_back: int


def write_lms_upload(df: pd.DataFrame, out_dir: str | os.PathLike[str], *, header: str,
                     warning: str | None = None, feedback: Mapping[str, str] | None = None) -> LmsUpload:
    """Write the upload, the review file and (with ``feedback``: student key -> HTML text) the
    feedback upload for gradebook ``df`` (:func:`gradekit.gradebook.to_dataframe`).  Never raises
    for what a row holds: a row that cannot be uploaded is held back and listed with the reason."""
    out = Path(out_dir)
    upload_rows: list[list[object]] = [["Username", header]]
    feedback_rows: list[list[object]] = [["Username", header, *FEEDBACK_COLUMNS]]
    review_rows: list[list[object]] = [["Username", "Name", "File", "Status", "Uploaded", "Score", "Penalty",
                                        "Reason", "Flags", "Message"]]
    held = 0
    for row in df.sort_values("student").itertuples(index=False):
        total = float(row.total) if not is_blank(row.total) else np.nan
        reason = hold_back_reason(str(row.student), str(row.status), total, str(row.flags or ""))
        if reason is None:
            upload_rows.append([row.student, number_cell(total)])
            feedback_rows.append([row.student, number_cell(total), (feedback or {}).get(row.student, ""),
                                  FEEDBACK_FORMAT])
        else:
            held += 1
        if reason is not None or row.flags:
            review_rows.append([row.student, row.name, row.file, str(row.status), "no" if reason else "yes",
                                number_cell(total), number_cell(getattr(row, "penalty", np.nan)),
                                reason or "", row.flags, row.message])
    upload, review = out / LMS_UPLOAD, out / LMS_REVIEW
    fb = out / LMS_FEEDBACK if feedback is not None else None
    files = [(upload, upload_rows, BLACKBOARD_ENCODING), (review, review_rows, TSV_ENCODING)]
    if fb is not None:
        files.append((fb, feedback_rows, BLACKBOARD_ENCODING))
    for path, rows, enc in files:
        atomic_write(path, lambda p, rows=rows, enc=enc: write_tsv(Path(p), rows, encoding=enc))
    return LmsUpload(upload, fb, review, header, warning, uploaded=len(upload_rows) - 1, held_back=held)


# -- feedback text for the platform (pure) --------------------------------------------------------

def _when(t) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC") if t is not None else ""


def feedback_text(result: SubmissionResult, late: Lateness, *, assignment: str, hidden_released: bool,
                  release_at=None, parts: Sequence[str] = ()) -> str:
    """One student's feedback as one line of HTML (the Grade Centre's ``Feedback to Learner``):
    score, late penalty, points per part, and every check's result and message -- hidden checks'
    only once ``hidden_released`` (after the last deadline that applies to anyone).  Every text
    from a submission is HTML-escaped."""
    e = html.escape
    earned = result.total
    penalty = late.penalty(earned)
    total = earned - penalty
    out = [f"<p><b>{e(assignment)}</b>: {number_cell(total)} / {number_cell(result.max_total)} points"]
    if penalty > 0:
        out.append(f" ({number_cell(earned)} earned, {number_cell(penalty)} deducted: submitted "
                   f"{late.late_by_h:.1f} h after your deadline {_when(late.deadline)})")
    out.append(".</p>")
    order = part_order([result], parts)
    per_part = []
    for p in order:
        cs = [c for c in result.checks if c.part == p]
        if cs:
            per_part.append(f"{e(p)} {number_cell(sum(c.points for c in cs))}/"
                            f"{number_cell(sum(c.max_points for c in cs))}")
    if per_part:
        out.append("<p>" + "; ".join(per_part) + "</p>")
    items = []
    rank = {p: i for i, p in enumerate(order)}
    for c in sorted(result.checks, key=lambda c: rank[c.part]):     # stable: check order kept within a part
        if not c.visible and not hidden_released:
            continue
        verdict = "passed" if c.passed else "failed"
        kind = "" if c.visible else " (hidden)"
        msg = f": {e(c.message)}" if c.message and not c.passed else ""
        items.append(f"<li>{e(c.part)}, {e(c.name.removeprefix('test_').replace('_', ' '))}{kind}: {verdict}{msg}</li>")
    if items:
        out.append("<ul>" + "".join(items) + "</ul>")
    if not hidden_released and any(not c.visible for c in result.checks):
        out.append(f"<p>Hidden checks' results are shown after the last deadline ({_when(release_at)}).</p>")
    return re.sub(r"[\t\r\n]+", " ", "".join(out))
