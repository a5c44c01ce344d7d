"""Gradebook: results -> DataFrame (rows, columns, dtypes, the NaN rule), csv/parquet, Blackboard upload.

`make_result` / `cohort` are also used by test_report.py.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gradekit.gradebook import check_columns, part_order, read_gradebook, to_dataframe, write_gradebook
from gradekit.model import CheckResult, Status, SubmissionResult

PARTS = ["perceptron", "sigmoid", "simple_cnn", "lr_sweep", "best_lr"]
# (part, check name, max points, visible)
CHECKS = [
    ("perceptron", "test_chapter_cases", 1.0, True),
    ("perceptron", "test_random_cases", 1.0, False),
    ("sigmoid", "test_chapter_values", 1.0, True),
    ("sigmoid", "test_vectorised_and_extreme_inputs", 1.0, False),
    ("simple_cnn", "test_architecture", 2.0, True),
    ("lr_sweep", "test_sweep_values", 1.0, True),
    ("lr_sweep", "test_sweep_hidden_rates", 1.0, False),
    ("best_lr", "test_best_lr", 1.0, True),
]
MAX_TOTAL = sum(m for _, _, m, _ in CHECKS)          # 9
HIDDEN_SECRET = "0.7310585786300049"                  # a reference value a hidden check compares with


def _checks(failing: set[str] | None = None, all_fail: bool = False, message: str | None = None):
    out = []
    for part, name, mx, visible in CHECKS:
        ok = not all_fail and name not in (failing or set())
        msg = "" if ok else (message or f"{name.removeprefix('test_').replace('_', ' ')} is wrong")
        out.append(CheckResult(part, name, mx if ok else 0.0, mx, ok, visible, msg))
    return tuple(out)


SWEEP = {"learning_rates": [0.001, 0.01, 0.1, 0.5, 0.9, 1.5],
         "student": [0.0059, 0.0028, 0.000875, 0.00196, 0.0047, float("nan")],
         "expected_ok": [True, True, True, False, True, False]}
RECON = {"input": [[(i * 7 + j * 3) % 256 for j in range(50)] for i in range(50)],
         "output": [[(i * 5 + j) % 256 for j in range(50)] for i in range(50)],
         "ground_truth": [[(i + j * 2) % 256 for j in range(50)] for i in range(50)]}


def make_result(kind: str, key: str | None = None, **changes) -> SubmissionResult:
    """A SubmissionResult of one kind: correct, partial, zero, invalid, timeout, no_submission,
    flagged, no_cid, error."""
    key = key or kind
    base = dict(key=key, file=f"{key}.ipynb", name=f"Student {key}", cid=1000 + len(key),
                status=Status.GRADED, message="ran without errors", sha256="s" * 64, checks_hash="c" * 16,
                timings={"prepare": 0.01, "sandbox": 4.0, "judge": 0.2, "reference": 0.05})
    if kind == "correct":
        base.update(checks=_checks(), extras={"sweep": SWEEP, "reconstruction": RECON})
    elif kind == "partial":
        base.update(checks=_checks({"test_random_cases", "test_vectorised_and_extreme_inputs",
                                    "test_sweep_hidden_rates"}), extras={"sweep": SWEEP})
    elif kind == "zero":                   # judged, every check failed: a *real* zero
        base.update(checks=_checks(all_fail=True), message="cell 3 raised NameError")
    elif kind == "invalid":                # judged against not-run probes (as grading does), but not graded
        base.update(status=Status.INVALID_NOTEBOOK, message="not valid JSON: Expecting value: line 1",
                    checks=_checks(all_fail=True, message="your notebook could not be run"), name=None, cid=None,
                    timings={"judge": 0.1})
    elif kind == "timeout":
        base.update(status=Status.TIMEOUT, message="the notebook hit its 1500 s limit in cell 12",
                    checks=_checks({"test_architecture", "test_sweep_values", "test_sweep_hidden_rates",
                                    "test_best_lr"}), timings={"sandbox": 1500.0, "judge": 0.3})
    elif kind == "no_submission":
        base.update(status=Status.NO_SUBMISSION, message="on the roster, but no submission was found",
                    file="", sha256="", checks_hash="", timings={})
    elif kind == "flagged":
        base.update(checks=_checks({"test_best_lr"}), flags=("late_attempt_ignored", "cid_not_on_roster"))
    elif kind == "no_cid":
        base.update(status=Status.NO_CID, cid=None, message="the CID is still the placeholder 123446",
                    checks=_checks({"test_sweep_values", "test_sweep_hidden_rates", "test_best_lr"}))
    elif kind == "error":
        base.update(status=Status.ERROR, message="internal grader error: KeyError: 'x'",
                    extras={"traceback": "Traceback (most recent call last):\n  File grading.py\nKeyError: 'x'"})
    else:
        raise ValueError(kind)
    base.update(changes)
    return SubmissionResult(**base)


KINDS = ["correct", "partial", "zero", "invalid", "timeout", "no_submission", "flagged", "no_cid", "error"]


def cohort() -> list[SubmissionResult]:
    return [make_result(k) for k in KINDS]


@pytest.fixture
def df() -> pd.DataFrame:
    return to_dataframe(cohort(), parts=PARTS)


def row(df: pd.DataFrame, key: str) -> pd.Series:
    (i,) = np.flatnonzero(df["student"] == key)
    return df.iloc[i]


# -- the frame ------------------------------------------------------------------------------------

def test_columns_rows_and_dtypes(df):
    assert list(df.columns) == ["student", "cid", "name", "file", *PARTS, "submitted_at", "deadline", "late_by_h",
                                "penalty", "total", "max_total", "status", "flags", "mistakes", "overrides", "message"]
    assert list(df["student"]) == sorted(KINDS) and len(df) == len(KINDS)
    assert df["cid"].dtype == "Int64"
    for c in ("student", "name", "file", "flags", "mistakes", "message"):
        assert isinstance(df[c].dtype, pd.StringDtype), c
    for c in (*PARTS, "late_by_h", "penalty", "total", "max_total"):
        assert df[c].dtype == np.float64, c
    for c in ("submitted_at", "deadline"):
        assert isinstance(df[c].dtype, pd.StringDtype), c
    assert isinstance(df["status"].dtype, pd.CategoricalDtype)
    assert list(df["status"].cat.categories) == [s.value for s in Status]


def test_values(df):
    r = row(df, "correct")
    assert [r[p] for p in PARTS] == [2.0, 2.0, 2.0, 2.0, 1.0]
    assert (r.total, r.max_total, r.status, r["flags"], r.cid) == (9.0, MAX_TOTAL, "graded", "", 1007)
    r = row(df, "partial")
    assert [r[p] for p in PARTS] == [1.0, 1.0, 2.0, 1.0, 1.0] and r.total == 6.0
    r = row(df, "timeout")                            # judged: the points it got, status says why
    assert [r[p] for p in PARTS] == [2.0, 2.0, 0.0, 0.0, 0.0] and r.status == "timeout"
    assert "1500 s" in r.message
    r = row(df, "no_cid")
    assert r.status == "no_cid" and pd.isna(r.cid) and r.total == 6.0
    r = row(df, "flagged")
    assert r["flags"] == "late_attempt_ignored;cid_not_on_roster" and r.total == 8.0


def test_failed_submission_is_not_a_silent_zero(df):
    zero, invalid = row(df, "zero"), row(df, "invalid")
    assert [zero[p] for p in PARTS] == [0.0] * 5 and zero.status == "graded"      # a real zero
    for key, status in (("invalid", "invalid_notebook"), ("no_submission", "no_submission"), ("error", "error")):
        r = row(df, key)
        assert all(math.isnan(r[p]) for p in PARTS), key                          # not judged
        assert math.isnan(r.total) and math.isnan(r.penalty)                       # blank, never 0
        assert r.status == status and r.max_total == MAX_TOTAL
    assert pd.isna(invalid["name"]) and pd.isna(invalid["cid"])
    graded = df[PARTS].notna().all(axis=1)
    assert set(df.loc[~graded, "student"]) == {"invalid", "no_submission", "error"}


def test_part_order_and_unknown_parts():
    results = [make_result("correct")]
    assert part_order(results) == PARTS                                   # first appearance
    assert part_order(results, ["best_lr", "sigmoid"]) == ["best_lr", "sigmoid", "perceptron", "simple_cnn",
                                                           "lr_sweep"]
    d = to_dataframe(results, parts=["extra_part", *PARTS])
    assert d["extra_part"].isna().all() and d.loc[0, "total"] == MAX_TOTAL
    with pytest.raises(ValueError, match="clash"):
        to_dataframe([make_result("correct", checks=(CheckResult("total", "t", 1, 1, True, True),))])
    with pytest.raises(ValueError, match="two results"):
        to_dataframe([make_result("correct"), make_result("partial", key="correct")])


def test_empty():
    d = to_dataframe([], parts=PARTS)
    assert len(d) == 0 and list(d.columns)[4:9] == PARTS and d["cid"].dtype == "Int64"


def test_check_columns():
    wide = check_columns(cohort(), parts=PARTS)
    check_cols = [f"{p}.{n}" for p, n, _, _ in CHECKS]
    assert list(wide.columns) == ["student", "cid", "name", "file", "status", *check_cols, "total", "max_total"]
    r = wide[wide["student"] == "partial"].iloc[0]
    assert r["perceptron.test_random_cases"] == 0.0 and r["perceptron.test_chapter_cases"] == 1.0
    assert r["simple_cnn.test_architecture"] == 2.0
    r = wide[wide["student"] == "invalid"].iloc[0]
    assert all(math.isnan(r[c]) for c in check_cols) and math.isnan(r.total)
    assert all(wide[c].dtype == np.float64 for c in check_cols)


# -- files ----------------------------------------------------------------------------------------

def test_csv_and_parquet_roundtrip(tmp_path):
    hostile = make_result("correct", key="eve", name="=HYPERLINK(\"http://x\",\"click\")",
                          message="-2+3 <script>alert(1)</script>\ttab, \"quote\"\nnewline")
    d = to_dataframe([*cohort(), hostile], parts=PARTS)
    csv_path, pq_path = write_gradebook(d, tmp_path)
    assert (csv_path.name, pq_path.name) == ("gradebook.csv", "gradebook.parquet")
    pd.testing.assert_frame_equal(read_gradebook(pq_path), d)
    pd.testing.assert_frame_equal(read_gradebook(csv_path), d)
    text = csv_path.read_text()
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    raw = pd.read_csv(csv_path)                      # what a spreadsheet sees: NaN parts stay empty cells
    assert raw.loc[raw["student"] == "invalid", PARTS].isna().all(axis=None)
    assert not list(tmp_path.glob(".gradebook*"))   # no temporary files left
