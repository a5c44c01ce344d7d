"""Task 1: the learning-rate sweep (lr_results for the student's own CID).

Every point needs the work: lr_results is compared with the reference at EVERY rate, a claimed
divergence (nan/inf) included.  The visible check is a diagnostic worth no point: a dictionary with
every rate can be written down without training anything.  (The source notebook's Task 1 test cell
is all-or-nothing too: its 4 points need the hidden comparison.)"""
import math

import pytest

from gradekit.api import answer, expect


def _student(course, probes):
    value = answer(probes, "sweep", "your learning-rate sweep")
    try:
        return course.student_sweep(value)
    except TypeError as e:
        pytest.fail(str(e))


@pytest.mark.points(0)
def test_lr_results_has_every_rate(course, probes, exercise):
    student = _student(course, probes)
    rates = [float(r) for r in exercise["learning_rates"]]
    missing = [r for r in rates if r not in student]
    extra = [r for r in student if r not in rates]
    expect(not missing, f"lr_results has no entry for the learning rate(s) {', '.join(f'{r:g}' for r in missing)}")
    expect(not extra, f"lr_results has rates that are not in learning_rates: {', '.join(f'{r:g}' for r in extra)}")


@pytest.mark.hidden
@pytest.mark.points(4)
def test_final_losses_match_reference(course, probes, exercise, request):
    student = _student(course, probes)
    # The reference (the costliest thing the grader computes, ~3 s per rate, usually precomputed) only
    # once there is a sweep to compare it with: a student without a usable lr_results fails above.
    expected = request.getfixturevalue("reference_sweep")()
    matches = course.sweep_matches(student, expected, exercise["rtol"])
    wrong = [r for r, ok in matches.items() if not ok]
    if wrong:
        diverged = [r for r in wrong if r in student and not math.isfinite(student[r])]
        hint = ("" if len(wrong) < len(matches) else
                " Did you call torch.manual_seed(CID) right before creating each new model, and train on the "
                "problem cell's images for num_epochs epochs?")
        pytest.fail(f"the final-epoch loss does not match the expected value for your CID at "
                    f"{len(wrong)} of the {len(matches)} learning rates ({', '.join(f'{r:g}' for r in wrong)})."
                    + (f" Rates where you got nan/inf but training should converge: "
                       f"{', '.join(f'{r:g}' for r in diverged)}." if diverged else "") + hint)
