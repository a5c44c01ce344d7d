"""Spot-checking the learning-rate sweep (autograder/ann/course.py): which rates are compared, and
the proof the performance issue asks for - every flawed sweep of variants.py is still caught, not
only under the secret order grading used, but under every order the secret could have produced.

The flawed sweeps are real notebooks built from the release and graded in the sandbox (tiny data,
the grading's six learning rates); the proof then replays the checks' rule on the students' own
lr_results for every permutation of the secretly ordered rates.
"""
from __future__ import annotations

import itertools
import math

import pytest

from conftest import submission_of
from gradekit.model import Status

CID = 4300001


@pytest.fixture(scope="module")
def m(course):
    return course.module


def test_order_is_first_rate_then_own_best_then_the_rest(m):
    rates = [0.001, 0.01, 0.1, 0.5, 0.9, 1.5]
    student = {0.001: 0.5, 0.01: 0.3, 0.1: 0.01, 0.5: 0.02, 0.9: float("nan"), 1.5: float("inf")}
    order = m.sweep_check_order(rates, student, rank=lambda r: -r)
    assert order == [0.001, 0.1, 1.5, 0.9, 0.5, 0.01]
    assert m.sweep_check_order(rates, None, rank=lambda r: r) == rates
    assert m.sweep_check_order(rates, {0.001: 0.1, 0.01: 0.2}, rank=lambda r: -r)[:2] == [0.001, 1.5]
    # ties go to the smaller rate, as in the best_lr checks; rates outside learning_rates are ignored
    assert m.own_best_rate({0.5: 0.1, 0.1: 0.1, 7.0: 0.0}, rates) == 0.1
    assert m.own_best_rate({0.1: float("nan")}, rates) is None


def test_secret_order_depends_on_cid_and_key_and_is_stable(m):
    rates = [0.001, 0.01, 0.1, 0.5, 0.9, 1.5]
    orders = {tuple(m.sweep_check_order(rates, None, m.secret_rank(cid))) for cid in range(1000, 1060)}
    assert len(orders) > 20                                     # not one fixed subset for everybody
    one = m.sweep_check_order(rates, None, m.secret_rank(1000))
    assert one == m.sweep_check_order(rates, None, m.secret_rank(1000))          # re-grading: same rates
    assert any(m.sweep_check_order(rates, None, m.secret_rank(cid, b"another key")) !=
               m.sweep_check_order(rates, None, m.secret_rank(cid)) for cid in range(1000, 1010))


def test_rates_to_compare_stops_after_k_finite_reference_losses(m):
    ref = {0.001: 0.5, 1.5: float("nan"), 0.9: float("inf"), 0.1: 0.2, 0.01: 0.3}
    asked = []

    def loss(rate):
        asked.append(rate)
        return ref[rate]

    assert list(m.rates_to_compare([0.001, 1.5, 0.9, 0.1, 0.01], 2, loss)) == [0.001, 1.5, 0.9, 0.1]
    assert asked == [0.001, 1.5, 0.9, 0.1]                      # 0.01 never computed
    assert list(m.rates_to_compare(list(ref), 0, ref.__getitem__)) == list(ref)     # 0: every rate
    assert list(m.rates_to_compare([1.5, 0.9], 2, ref.__getitem__)) == [1.5, 0.9]   # fewer finite: all


def test_each_rate_is_the_entry_of_the_full_sweep(course, m):
    """One cached reference call per rate gives exactly the full sweep's numbers."""
    from reference.microscopy import lr_sweep

    p = course.profile
    full = lr_sweep(CID, p["learning_rates"], num_images=p["num_images"], num_epochs=p["num_epochs"],
                    data_seed=p["data_seed"])
    every = m.expected_sweep(course.reference, dict(p, spot_checks=0), CID)
    assert list(every) == [float(r) for r in p["learning_rates"]]
    assert all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(every.values(), full.values()))
    spot = m.expected_sweep(course.reference, p, CID, {r: v for r, v in full.items()})
    assert set(spot) < set(every) and all(spot[r] == every[r] or math.isnan(spot[r]) for r in spot)
    assert list(spot)[0] == float(p["learning_rates"][0])


@pytest.fixture(scope="module")
def flawed(tiny_cfg, make_student, variants):
    """The correct sweep and every flawed one, graded in the sandbox: key -> SubmissionResult."""
    from gradekit.executors import run_local

    full = make_student(full=True, cid=CID)
    cases = {"correct": full} | {name: make(full) for name, make in variants.FLAWED_SWEEPS.items()}
    results = {}
    run_local([submission_of(k.replace(" ", "_"), nb) for k, nb in cases.items()], tiny_cfg, workers=2,
              on_result=lambda r: results.__setitem__(r.key.replace("_", " "), r))
    assert set(results) == set(cases)
    return results


def _student_sweep(result) -> dict[float, float]:
    sweep = result.extras["sweep"]
    return dict(zip(sweep["learning_rates"], sweep["student"]))


def _caught(m, course, student, full_reference, rank) -> bool:
    """The hidden lr_sweep check's verdict under one secret order, replayed on plain data."""
    p = course.profile
    order = m.sweep_check_order(p["learning_rates"], student, rank)
    expected = m.rates_to_compare(order, int(p["spot_checks"]), full_reference.__getitem__)
    return not all(m.sweep_matches(student, expected, p["rtol"]).values())


@pytest.mark.sandbox
def test_every_flawed_sweep_is_caught_under_every_secret_order(flawed, course, m, variants):
    p = course.profile
    assert 0 < p["spot_checks"] < len(p["learning_rates"]), "the proof is about spot checks: keep them on here"
    full_reference = m.expected_sweep(course.reference, dict(p, spot_checks=0), CID)
    for name, result in flawed.items():
        assert result.status == Status.GRADED, (name, result.message)
        student = _student_sweep(result)
        assert sorted(student) == sorted(full_reference), name          # every rate answered
        points = result.part_points()
        orders = list(itertools.permutations(full_reference))      # every order a secret could give
        verdicts = {_caught(m, course, student, full_reference, rank=perm.index) for perm in orders}
        if name == "correct":
            assert points["lr_sweep"] == 4 and points["best_lr"] == 2, result.message
            assert verdicts == {False}, "a correct sweep must pass under every order"
        else:
            assert points["lr_sweep"] == 1, (name, "lost the hidden points under the real secret order")
            assert verdicts == {True}, (name, "escapes under some secret order")
            differing = [r for r in full_reference if not m.sweep_matches(student, {r: full_reference[r]},
                                                                          p["rtol"])[r]]
            assert differing, name                                      # really a flawed sweep


@pytest.mark.sandbox
def test_spot_checks_compute_a_fraction_of_the_reference(flawed, tiny_cfg):
    """What the batch above asked the reference for: per answered CID, the rates compared, not all six."""
    from gradekit.grading import Course

    fresh = Course(tiny_cfg.with_(cache=tiny_cfg.cache / "count"))
    m = fresh.module
    student = _student_sweep(flawed["correct"])
    got = m.expected_sweep(fresh.reference, fresh.profile, CID, student)
    assert fresh.reference.misses == len(got) < len(fresh.profile["learning_rates"])
