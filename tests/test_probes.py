"""Answers from the kernel are untrusted: every one is type- and size-checked before any work is done on
it, and an odd answer is the student's failure with a sentence, never a grader error (issue 12, items 6, 8)."""
from __future__ import annotations

import time

import numpy as np
import pytest

from conftest import submission_of
from gradekit.grading import Executed, judge_submission
from gradekit.model import ExecutionReport, ProbeResult, Status
from gradekit.probes import MAX_ARRAY_ELEMENTS, as_array, as_float, describe

GIANT_SHAPE = {"__array__": [1.0] * 4, "shape": [10 ** 17 + 7] * 90_000}   # 41 s of math.prod before
ODD = [10 ** 400, -10 ** 4000, True, None, "nan ", "x" * 100_000, [[1] * 10_000] * 50, {"a": [1] * 10_000},
       GIANT_SHAPE, {"__array__": "abc", "shape": 3}, {"__array__": [1, 2], "shape": [True, 2]},
       {"__array__": [1] * 6, "shape": [2, 4]}, {"__array__": [1], "shape": {"x": 1}},
       {"__unconvertible__": ["x"] * 10_000}, [float("nan")], {"__array__": [None], "shape": [1]}]


@pytest.mark.parametrize("value", ODD, ids=range(len(ODD)))
def test_odd_answers_are_type_errors_with_a_short_description(value):
    t0 = time.process_time()
    for convert in (as_float, as_array):
        try:
            convert(value)
        except TypeError as e:
            assert len(str(e)) < 200
    text = describe(value)
    assert isinstance(text, str) and len(text) <= 120
    assert time.process_time() - t0 < 0.5


def test_plain_answers_still_convert():
    assert as_float(3) == 3.0 and np.isnan(as_float("nan")) and as_float({"__array__": [2], "shape": []}) == 2.0
    assert as_array({"__array__": [1, 2, 3, 4, 5, 6], "shape": [2, 3]}).shape == (2, 3)
    assert as_array({"__array__": [], "shape": [0, 5]}).shape == (0, 5)
    assert describe({"__array__": [1.0] * 6, "shape": [3, 2]}) == "an array of shape (3, 2)"
    assert describe({"__unconvertible__": "torch.Tensor"}) == "an object of type torch.Tensor"
    with pytest.raises(TypeError, match="too large for a float"):
        as_float(10 ** 400)
    with pytest.raises(TypeError, match="more than 1,000,000"):
        as_array([1.0] * (MAX_ARRAY_ELEMENTS + 1))


@pytest.mark.parametrize("lr_results, words", [
    ([[10 ** 400, 0.0]], "keys of `lr_results`"),
    ([[0.1, 10 ** 400]], "should be a number"),
    ([[0.1, 0.2, 0.3]], "map each learning rate"),
    ([0.1], "map each learning rate"),
    ([[float(i), 0.1] for i in range(5000)], "5,000 entries"),
])
def test_odd_sweeps_are_the_students_failure(course, lr_results, words):
    with pytest.raises(TypeError, match=words):
        course.module.student_sweep({"lr_results": lr_results})


def _odd_report(course):
    sweep = {"lr_results": [[10 ** 400, 0.0]], "best_lr": 10 ** 400, "learning_rates": [0.1], "CID": 1}
    specs = course.module.make_probes(course.profile, np.random.default_rng(0))
    probes = {p.name: ProbeResult(p.name, "ok", dict(p.params), GIANT_SHAPE) for p in specs}
    probes["sweep"] = ProbeResult("sweep", "ok", {}, sweep)
    probes["reconstruction"] = ProbeResult("reconstruction", "ok", {}, {"sample_image": GIANT_SHAPE,
                                                                      "reconstructed_image": [10 ** 400]})
    return ExecutionReport(Status.GRADED, "ran 3 code cells", probes=probes)


def test_odd_answers_are_judged_quickly_and_never_a_grader_error(course, make_student):
    sub = submission_of("odd", make_student())
    t0 = time.process_time()
    r = judge_submission(sub, course, Executed(_odd_report(course), {}))
    assert time.process_time() - t0 < 10
    assert r.status is Status.GRADED, r.message
    assert r.total == 0
    assert all(0 < len(c.message) < 400 and "internal" not in c.message for c in r.checks), r.checks
    sweep = " ".join(c.message for c in r.checks if c.part in ("lr_sweep", "best_lr"))
    assert "could not evaluate" not in sweep and "should be" in sweep, sweep   # says what is wrong
    assert "feedback_extras_failed" not in r.extras


def test_a_feedback_extras_failure_keeps_the_grade(course, make_student, monkeypatch):
    def broken(*a, **k):
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(course.module, "feedback_extras", broken)
    r = judge_submission(submission_of("odd", make_student()), course, Executed(_odd_report(course), {}))
    assert r.status is Status.GRADED, r.message
    assert "OverflowError" in r.extras["feedback_extras_failed"]
