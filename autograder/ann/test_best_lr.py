"""Task 2: best_lr, the rate with the lowest final loss."""
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
    """best_lr, provided it is the argmin of the student's own sweep (a guessed best_lr scores nothing)."""
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
    return best


@pytest.mark.points(1)
def test_best_lr_is_lowest_of_your_results(course, probes, exercise):
    _consistent_best(course, probes, exercise)


@pytest.mark.hidden
@pytest.mark.points(1)
def test_best_lr_matches_reference(course, probes, exercise, request):
    from reference.microscopy import best_lr

    best = _consistent_best(course, probes, exercise)
    student = course.student_sweep(probes["sweep"].value)
    # The rates Task 1 compares (cache hits): best_lr first, since it is the student's own best rate,
    # then the spot checks; with spot checks off, every rate.  best_lr must be the reference's best
    # among them, and the student's loss there must be the real one (made-up lr_results whose minimum
    # happens to sit at the right rate score nothing).
    expected = request.getfixturevalue("reference_sweep")(student)
    try:
        reference_best = best_lr(expected)
    except ValueError:
        reference_best = None
    expect(best == reference_best, f"best_lr = {best:g} is not the best rate for your CID")
    matches = course.sweep_matches({best: student[best]}, {best: expected[best]}, exercise["rtol"])
    expect(matches[best], f"your final loss at best_lr = {best:g} does not match the expected value for your CID")
