"""The autograder checks judged directly on probe answers (no notebook run): what they accept and
what they refuse, fast."""
import math

import numpy as np
import pytest

from gradekit.judge import JudgeInputs, judge
from gradekit.model import Identity, ProbeResult

CID = 7654321


@pytest.fixture(scope="module")
def specs(course):
    return {s.name: s for s in course.module.make_probes(course.profile, np.random.default_rng(1))}


@pytest.fixture(scope="module")
def expected(course):
    """The full reference sweep (every rate), whatever the profile's spot checks."""
    return course.module.expected_sweep(course.reference, dict(course.profile, spot_checks=0), CID)


def run(course, probes, cid=CID):
    checks = judge(course.cfg.checks, JudgeInputs(probes, Identity("T", cid), course.profile, course.reference,
                                                  course.module))
    return {c.name: c for c in checks}


def sweep_probe(pairs, best):
    return {"sweep": ProbeResult("sweep", "ok", {}, {"lr_results": [[k, v] for k, v in pairs.items()],
                                                     "best_lr": best, "learning_rates": list(pairs), "CID": CID})}


def test_true_sweep_scores(course, expected):
    from reference.microscopy import best_lr

    pairs = {r: (v if math.isfinite(v) else repr(v)) for r, v in expected.items()}
    got = run(course, sweep_probe(pairs, best_lr(expected)))
    assert all(got[n].passed for n in ("test_lr_results_has_every_rate", "test_final_losses_match_reference",
                                       "test_best_lr_is_lowest_of_your_results", "test_best_lr_matches_reference"))


def test_made_up_sweep_with_the_right_minimum_scores_no_hidden_point(course, expected):
    from reference.microscopy import best_lr

    best = best_lr(expected)
    fake = {r: (0.001 if r == best else 1.0) for r in expected}      # minimum placed at the right rate
    got = run(course, sweep_probe(fake, best))
    assert got["test_best_lr_is_lowest_of_your_results"].passed      # consistent with itself: visible point
    assert not got["test_final_losses_match_reference"].passed
    assert not got["test_best_lr_matches_reference"].passed
    assert "does not match the expected value" in got["test_best_lr_matches_reference"].message


def test_lying_objects_do_not_pass_the_perceptron(course, specs):
    cases = specs["perceptron"].params["cases"]
    always = {"__unconvertible__": "__main__.AlwaysEqual"}           # what `plain` makes of a lying object
    got = run(course, {"perceptron": ProbeResult("perceptron", "ok", specs["perceptron"].params,
                                                 [always] * len(cases))})
    assert not got["test_chapter_examples"].passed and not got["test_random_inputs_and_boundary"].passed
    assert "should return 1 or 0" in got["test_chapter_examples"].message


def test_constant_perceptron_fails_the_hidden_inputs(course, specs):
    cases = specs["perceptron"].params["cases"]
    got = run(course, {"perceptron": ProbeResult("perceptron", "ok", specs["perceptron"].params, [1] * len(cases))})
    assert not got["test_random_inputs_and_boundary"].passed


def test_sigmoid_nan_at_extremes_is_named(course, specs):
    from reference.basics import sigmoid

    params = specs["sigmoid"].params
    xs = np.array(params["vector"])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(xs) / (1 + np.exp(xs))                         # nan at +10000
    vector = {"__array__": [float(v) if np.isfinite(v) else repr(float(v)) for v in naive], "shape": [xs.size]}
    scalars = [float(sigmoid(x)) for x in params["scalars"]]
    got = run(course, {"sigmoid": ProbeResult("sigmoid", "ok", params, {"scalars": scalars, "vector": vector})})
    assert got["test_chapter_values"].passed
    assert not got["test_vectorised_and_extreme_inputs"].passed
    assert "sigmoid(10000) returned nan; expected 1.0" in got["test_vectorised_and_extreme_inputs"].message
