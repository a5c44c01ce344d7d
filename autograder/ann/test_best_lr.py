"""Task 2: best_lr, the rate with the lowest final loss.

best_lr's points need the work behind it: the hidden check judges it against the WHOLE reference
sweep, and only when the student's lr_results are that sweep (every rate, claimed divergences
included) -- a best_lr read off made-up or partly trained lr_results scores nothing.  The visible
check (best_lr is the lowest of your own lr_results) is a diagnostic worth no point, since made-up
lr_results meet it."""
import math

import pytest

from gradekit.api import answer, as_float, describe, expect


def _best(probes):
    value = answer(probes, "sweep", "your `best_lr`")
    raw = value.get("best_lr") if isinstance(value, dict) else None
    if isinstance(raw, dict) and "__missing__" in raw:
        pytest.fail("there is no variable `best_lr`")
    try:
        return as_float(raw)
    except TypeError:
        pytest.fail(f"`best_lr` should be one of the learning rates, but it is {describe(raw)}")


def _consistent_best(course, probes, exercise):
    """(best_lr, the student's sweep), provided best_lr is the argmin of that sweep."""
    best = _best(probes)
    rates = [float(r) for r in exercise["learning_rates"]]
    expect(best in rates, f"best_lr = {best:g} is not one of learning_rates")
    try:
        student = course.student_sweep(probes["sweep"].value)
    except TypeError as e:
        pytest.fail(f"best_lr cannot be checked against your sweep: {e}")
    finite = {r: v for r, v in student.items() if math.isfinite(v)}
    expect(bool(finite), "none of your lr_results is a finite loss")
    lowest = min(finite, key=lambda r: (finite[r], r))
    expect(best == lowest, f"best_lr = {best:g}, but the lowest final loss in your lr_results is at {lowest:g}")
    return best, student


@pytest.mark.points(0)
def test_best_lr_is_lowest_of_your_results(course, probes, exercise):
    _consistent_best(course, probes, exercise)


@pytest.mark.hidden
@pytest.mark.points(2)
def test_best_lr_matches_reference(course, probes, exercise, request):
    from reference.microscopy import best_lr

    best, student = _consistent_best(course, probes, exercise)
    expected = request.getfixturevalue("reference_sweep")()       # every rate (cache hits after Task 1)
    try:
        reference_best = best_lr(expected)
    except ValueError:
        reference_best = None
    expect(best == reference_best, f"best_lr = {best:g} is not the best rate for your CID")
    wrong = [r for r, ok in course.sweep_matches(student, expected, exercise["rtol"]).items() if not ok]
    expect(not wrong, f"best_lr = {best:g} is right, but it must come from your own sweep, and your lr_results "
                      f"do not match the expected values for your CID at {len(wrong)} of the {len(expected)} "
                      f"learning rates (see Task 1)")
