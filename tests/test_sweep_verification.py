"""The learning-rate sweep is verified at every rate (autograder/ann/course.py), and the proof that no
sweep without the work behind it earns a hidden point.

Spot checks (comparing a few rates) were removed: a student who trains only the rates that will be
compared scores, and the first rate and the student's own best -- what they compared first -- are
known to the student (issue 12: the first two rates trained, nan claimed for the rest, 12/12).  Now:
- real notebooks built from the release and graded in the sandbox (tiny data, the grading's six
  rates): sweeps trained at only some rates (variants.partial_sweep: claimed divergences, made-up
  losses) lose every sweep point, the correct sweep earns them all; the students' honest mistakes
  (every one of variants.CATALOGUED_SWEEPS) lose every sweep point too, judged in tests/test_mistakes.py
  on the answers the same probes get from their cells;
- on plain data, every subset of rates left untrained, with every kind of answer written there
  instead: whenever the sweep differs from the reference at any rate, the hidden checks' rule fails;
- the cost: the whole reference sweep per CID, computed once by `gradekit precompute` (then grading
  computes nothing) or, for a CID not precomputed, while grading.
"""
from __future__ import annotations

import itertools
import math

import pytest

from shared_cohort import CID, wants   # kit.full: the shared cohort's full notebook, at CID
from gradekit.model import Status


@pytest.fixture(scope="module")
def m(course):
    return course.module


@pytest.fixture(scope="module")
def full_reference(course, m):
    return m.expected_sweep(course.reference, course.profile, CID)


def test_each_rate_is_the_entry_of_the_full_sweep(course, m, full_reference):
    """Every rate is compared, and one cached reference call per rate gives exactly the full sweep."""
    from reference.microscopy import lr_sweep

    p = course.profile
    full = lr_sweep(CID, p["learning_rates"], num_images=p["num_images"], num_epochs=p["num_epochs"],
                    data_seed=p["data_seed"])
    assert list(full_reference) == [float(r) for r in p["learning_rates"]]
    assert all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(full_reference.values(), full.values()))
    # whatever the student answered, the same rates: all of them
    assert list(m.expected_sweep(course.reference, p, CID, {float(p["learning_rates"][0]): 1.0})) \
        == list(full_reference)


def _hidden_verdicts(m, student: dict, best: float, reference: dict, rtol: float) -> tuple[bool, bool]:
    """(lr_sweep's hidden check passes, best_lr's hidden check passes): their rule on plain data."""
    from reference.microscopy import best_lr

    sweep_ok = all(m.sweep_matches(student, reference, rtol).values())
    finite = {r: v for r, v in student.items() if math.isfinite(v)}
    consistent = bool(finite) and best == min(finite, key=lambda r: (finite[r], r))
    return sweep_ok, sweep_ok and consistent and best == best_lr(reference)


def test_every_sweep_that_differs_anywhere_loses_every_hidden_point(course, m, full_reference):
    """Every subset of rates left untrained (trained: the rest, at their reference values), filled with
    a claimed divergence, a made-up loss above, below or near the reference, or the value of another
    rate; best_lr the argmin of that sweep or the true best.  Scores only where the sweep equals the
    reference at every rate (a divergence claimed at a rate that really diverges is its true value)."""
    from reference.microscopy import best_lr

    rtol = course.profile["rtol"]
    rates = list(full_reference)
    finite = [v for v in full_reference.values() if math.isfinite(v)]
    fillers = [lambda r: math.nan, lambda r: math.inf, lambda r: 0.0, lambda r: 10 * max(finite),
               lambda r: 0.5 * min(finite), lambda r: full_reference[r] * (1 + 3 * rtol),
               lambda r: full_reference[rates[0]]]
    students = scored = 0
    for k in range(1, len(rates) + 1):
        for untrained in itertools.combinations(rates, k):
            for fill in fillers:
                student = {r: (fill(r) if r in untrained else full_reference[r]) for r in rates}
                students += 1
                own = [r for r in rates if math.isfinite(student[r])]
                for best in {min(own, key=lambda r: (student[r], r)) if own else rates[0], best_lr(full_reference)}:
                    differs = not all(m.sweep_matches(student, full_reference, rtol).values())
                    sweep_ok, best_ok = _hidden_verdicts(m, student, best, full_reference, rtol)
                    scored += sweep_ok or best_ok
                    assert not (differs and (sweep_ok or best_ok)), (untrained, student, best)
    assert students == (2 ** len(rates) - 1) * len(fillers)
    assert scored > 0       # where the filler is the true value (a divergence claimed where it is real)


@wants
def notebooks(kit):
    """The correct sweep and partial ones (graded in the sandbox, shared cohort)."""
    from reference.microscopy import best_lr

    full, v, reference = kit.full, kit.variants, kit.reference_sweep
    rates = list(reference)
    too_high = 10 * max(x for x in reference.values() if math.isfinite(x))
    partial = {   # issue 12's attack, and the same with the true best trained and losses made up elsewhere
        "partial: first two rates, divergence claimed": v.partial_sweep(full, rates[:2]),
        "partial: first rate and the best, losses made up": v.partial_sweep(
            full, [rates[0], best_lr(reference)], claim=repr(too_high)),
    }
    return {"correct": full} | partial


@pytest.fixture(scope="module")
def graded(shared_cohort):
    """name -> SubmissionResult for every notebook above (the cohort asserts none was lost)."""
    return shared_cohort.results(notebooks)


def _student_sweep(result) -> dict[float, float]:
    sweep = result.extras["sweep"]
    return dict(zip(sweep["learning_rates"], sweep["student"]))


@pytest.mark.sandbox
def test_no_sweep_without_the_work_earns_a_sweep_point(graded, course, m, full_reference):
    p = course.profile
    for name, result in graded.items():
        assert result.status == Status.GRADED, (name, result.message)
        student = _student_sweep(result)
        assert sorted(student) == sorted(full_reference), name          # every rate answered
        points = result.part_points()
        differing = [r for r in full_reference
                     if not m.sweep_matches(student, {r: full_reference[r]}, p["rtol"])[r]]
        if name == "correct":
            assert not differing and points["lr_sweep"] == 4 and points["best_lr"] == 2, result.message
            assert result.extras["sweep"]["expected_ok"] == [True] * len(full_reference)
        else:
            assert differing, name                                      # really not the reference sweep
            assert points["lr_sweep"] == 0 and points["best_lr"] == 0, (name, result.message)
    claimed = _student_sweep(graded["partial: first two rates, divergence claimed"])
    assert [r for r, v in claimed.items() if math.isnan(v)] == list(full_reference)[2:]


def test_grading_after_precompute_computes_no_reference(tiny_cfg, full_reference):
    """`gradekit precompute`'s hook computes exactly what the checks need: after it, judging a CID costs
    no reference computation; a second precompute computes nothing (resumable)."""
    from gradekit.grading import Course
    from gradekit.precompute import precompute_cid

    cfg = tiny_cfg.with_(cache=tiny_cfg.cache / "precomputed")
    first = precompute_cid(CID, cfg)
    assert first.error is None and first.computed == len(Course(cfg).profile["learning_rates"])
    assert precompute_cid(CID, cfg).computed == 0
    fresh = Course(cfg)
    got = fresh.module.expected_sweep(fresh.reference, fresh.profile, CID, dict(full_reference))
    assert fresh.reference.misses == 0 and fresh.reference.hits == len(got)
