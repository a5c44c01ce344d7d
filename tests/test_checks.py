"""The autograder checks judged directly on probe answers (no notebook run): what they accept and
what they refuse, fast.  Among them, the rule "points need the work": answers that a notebook could
write down without doing the work (the constants printed in the release, made-up or partly trained
sweeps) score nothing, visible checks included."""
import math

import numpy as np
import pytest
import torch

from gradekit.judge import JudgeInputs, judge
from gradekit.model import Identity, ProbeResult

CID = 7654321


@pytest.fixture(scope="module")
def specs(course):
    return {s.name: s for s in course.module.make_probes(course.profile, np.random.default_rng(1))}


@pytest.fixture(scope="module")
def expected(course):
    """The full reference sweep (every rate)."""
    return course.module.expected_sweep(course.reference, course.profile, CID)


def run(course, probes, cid=CID):
    checks = judge(course.cfg.checks, JudgeInputs(probes, Identity("T", cid), course.profile, course.reference,
                                                  course.module))
    return {c.name: c for c in checks}


def points(checks) -> dict[str, float]:
    out: dict[str, float] = {}
    for c in checks.values():
        out[c.part] = out.get(c.part, 0.0) + c.points
    return out


def sweep_points(checks) -> dict[str, float]:
    return {k: v for k, v in points(checks).items() if k in ("lr_sweep", "best_lr")}


def _plain(x):
    """What the probe's `plain` makes of a numpy array or tensor."""
    a = np.asarray(x.detach().numpy() if hasattr(x, "detach") else x, dtype=float)
    return {"__array__": [float(v) if np.isfinite(v) else repr(float(v)) for v in a.ravel()], "shape": list(a.shape)}


def _loss(v):
    return v if math.isfinite(v) else repr(v)


def sweep_probe(pairs, best, cid=CID):
    return {"sweep": ProbeResult("sweep", "ok", {}, {"lr_results": [[k, _loss(v)] for k, v in pairs.items()],
                                                     "best_lr": best, "learning_rates": list(pairs), "CID": cid})}


def honest_answers(course, specs, sweep) -> dict[str, ProbeResult]:
    """Every probe answered by the reference itself: what a notebook with all the work answers."""
    from reference.basics import perceptron, sigmoid
    from reference.fashion import SimpleCNN, simple_cnn_state
    from reference.microscopy import best_lr

    p, s, c = specs["perceptron"].params, specs["sigmoid"].params, specs["simple_cnn"].params
    model = SimpleCNN()
    model.load_state_dict(simple_cnn_state(course.module.SIMPLE_CNN_STATE_SEED))
    model.eval()
    gen = torch.Generator().manual_seed(c["layer_seed"])
    with torch.no_grad():
        layers = {name: _plain(getattr(model, name)(torch.rand(*shape, generator=gen))) for name, shape in c["layers"]}
        logits = _plain(model(torch.rand(c["batch"], 1, 28, 28, generator=torch.Generator().manual_seed(c["seed"]))))
    cnn = {"param_count": sum(q.numel() for q in model.parameters()),
           "shapes": {k: list(v.shape) for k, v in model.state_dict().items()}, "logits": logits, "layers": layers}
    return {"perceptron": ProbeResult("perceptron", "ok", p, [perceptron(*case) for case in p["cases"]]),
            "sigmoid": ProbeResult("sigmoid", "ok", s, {"scalars": [float(sigmoid(x)) for x in s["scalars"]],
                                                        "vector": _plain(sigmoid(np.array(s["vector"])))}),
            "simple_cnn": ProbeResult("simple_cnn", "ok", c, cnn),
            **sweep_probe(sweep, best_lr(sweep))}


# ---- every point of the reference's own answers -------------------------------------------------

def test_the_references_answers_score_every_point(course, specs, expected):
    got = run(course, honest_answers(course, specs, expected))
    assert all(c.passed for c in got.values()), {n: c.message for n, c in got.items() if not c.passed}
    assert sum(c.points for c in got.values()) == 12


def test_visible_checks_get_fresh_inputs_every_run(course):
    one, two = (course.module.make_probes(course.profile, np.random.default_rng(seed)) for seed in (1, 2))
    a, b = {s.name: s.params for s in one}, {s.name: s.params for s in two}
    chapter = a["perceptron"]["chapter"]
    assert a["perceptron"]["cases"][:chapter] == b["perceptron"]["cases"][:chapter]          # the printed ones
    visible = a["perceptron"]["visible"]
    assert visible > chapter and a["perceptron"]["cases"][chapter:visible] != b["perceptron"]["cases"][chapter:visible]
    assert len(a["sigmoid"]["scalars"]) > a["sigmoid"]["chapter"]
    assert a["sigmoid"]["scalars"][a["sigmoid"]["chapter"]:] != b["sigmoid"]["scalars"][b["sigmoid"]["chapter"]:]
    assert a["simple_cnn"]["layer_seed"] != b["simple_cnn"]["layer_seed"]


# ---- item 2 of issue 12: forged answers with the release's printed constants ----------------------

PRINTED_PERCEPTRON = {(1, 1, 1, 1, 0): 1, (0, 0, 0, 0, -1): 0, (-1, 0, 1, 0, 1): 1, (-1, 0, -1, 0, -0.5): 1}
PRINTED_SIGMOID = {-1.0: 0.2689414213699951, 0.0: 0.5, 1.0: 0.7310585786300049, 10000.0: 1.0}


def forged_answers(course, specs) -> dict[str, ProbeResult]:
    """A notebook with no work in it that reads each probe's inputs and answers with what the release
    prints (the chapter's cases and values, SimpleCNN's layer shapes and parameter count), a plausible
    guess everywhere else, and a made-up sweep whose best_lr is its own minimum."""
    from reference.fashion import SimpleCNN

    p, s, c = specs["perceptron"].params, specs["sigmoid"].params, specs["simple_cnn"].params
    shapes = {k: list(v.shape) for k, v in SimpleCNN().state_dict().items()}

    def zeros(shape):
        return {"__array__": [0.0] * int(np.prod(shape)), "shape": list(shape)}

    layers = {name: zeros([shape[0], shapes[f"{name}.weight"][0], *shape[2:]]) for name, shape in c["layers"]}
    cnn = {"param_count": 421642, "shapes": shapes, "logits": zeros([c["batch"], 10]), "layers": layers}
    rates = [float(r) for r in course.profile["learning_rates"]]
    made_up = {r: 0.001 + abs(math.log10(r) + 1) for r in rates}                 # lowest at 0.1
    return {"perceptron": ProbeResult("perceptron", "ok", p, [PRINTED_PERCEPTRON.get(tuple(k), 1) for k in p["cases"]]),
            "sigmoid": ProbeResult("sigmoid", "ok", s, {"scalars": [PRINTED_SIGMOID.get(x, 0.5) for x in s["scalars"]],
                                                        "vector": zeros([len(s["vector"])])}),
            "simple_cnn": ProbeResult("simple_cnn", "ok", c, cnn),
            **sweep_probe(made_up, min(made_up, key=made_up.get))}


def test_printed_constants_score_nothing(course, specs):
    got = run(course, forged_answers(course, specs))
    assert sum(c.points for c in got.values()) == 0, {n: c.points for n, c in got.items() if c.points}
    # the diagnostics still speak: the chapter's own cases pass, the fresh inputs do not
    assert "(a case of the chapter)" not in got["test_chapter_examples_and_random_inputs"].message
    assert "perceptron(" in got["test_chapter_examples_and_random_inputs"].message
    assert "sigmoid(" in got["test_chapter_and_random_values"].message
    assert "layer conv1" in got["test_architecture"].message
    # made-up lr_results that are consistent with themselves: the diagnostics pass, worth nothing
    assert got["test_lr_results_has_every_rate"].passed and got["test_best_lr_is_lowest_of_your_results"].passed
    assert got["test_lr_results_has_every_rate"].max_points == 0
    assert got["test_best_lr_is_lowest_of_your_results"].max_points == 0


@pytest.mark.parametrize("part", ["perceptron", "sigmoid", "simple_cnn"])
def test_each_visible_point_needs_the_work(course, specs, expected, part):
    """Honest answers everywhere but one part, forged there: that part's visible check fails."""
    answers = honest_answers(course, specs, expected)
    answers[part] = forged_answers(course, specs)[part]
    got = run(course, answers)
    assert points(got)[part] == 0
    assert all(c.passed for c in got.values() if c.part != part)


def test_architecture_right_but_one_layer_wrong_is_named(course, specs, expected):
    answers = honest_answers(course, specs, expected)
    cnn = dict(answers["simple_cnn"].value)
    cnn["layers"] = dict(cnn["layers"], fc2={**cnn["layers"]["fc2"],
                                             "__array__": [v + 0.01 for v in cnn["layers"]["fc2"]["__array__"]]})
    answers["simple_cnn"] = ProbeResult("simple_cnn", "ok", specs["simple_cnn"].params, cnn)
    got = run(course, answers)
    assert not got["test_architecture"].passed and "layer fc2" in got["test_architecture"].message
    assert got["test_forward_pass_with_reference_weights"].passed


# ---- item 1 of issue 12: the sweep is verified at every rate, claimed divergences included -------

def test_true_sweep_scores(course, expected):
    from reference.microscopy import best_lr

    got = run(course, sweep_probe(expected, best_lr(expected)))
    assert all(got[n].passed for n in ("test_lr_results_has_every_rate", "test_final_losses_match_reference",
                                       "test_best_lr_is_lowest_of_your_results", "test_best_lr_matches_reference"))
    assert sweep_points(got) == {"lr_sweep": 4, "best_lr": 2}


def test_made_up_sweep_with_the_right_minimum_scores_nothing(course, expected):
    from reference.microscopy import best_lr

    best = best_lr(expected)
    fake = {r: (0.001 if r == best else 1.0) for r in expected}      # minimum placed at the right rate
    got = run(course, sweep_probe(fake, best))
    assert got["test_best_lr_is_lowest_of_your_results"].passed      # consistent with itself: a diagnostic
    assert sweep_points(got) == {"lr_sweep": 0, "best_lr": 0}
    assert "do not match the expected values" in got["test_best_lr_matches_reference"].message


def test_partial_sweep_claiming_divergence_scores_nothing(course, expected):
    """Issue 12's attack: the first two rates trained, nan claimed for the others, best_lr the better of
    the two -- 12/12 under the spot checks (which never compared a claimed divergence)."""
    rates = list(expected)
    partial = {r: (expected[r] if r in rates[:2] else math.nan) for r in rates}
    got = run(course, sweep_probe(partial, min(rates[:2], key=expected.get)))
    assert sweep_points(got) == {"lr_sweep": 0, "best_lr": 0}
    converging = [r for r in rates[2:] if math.isfinite(expected[r])]
    assert f"Rates where you got nan/inf but training should converge: {', '.join(f'{r:g}' for r in converging)}." \
        in got["test_final_losses_match_reference"].message


def test_partial_sweep_at_the_true_best_scores_nothing(course, expected):
    """The first rate and the true best trained (the only rates the spot checks compared), the others
    made up above the best or claimed diverged: no hidden point."""
    from reference.microscopy import best_lr

    best, rates = best_lr(expected), list(expected)
    for filler in (math.nan, math.inf, 10 * max(v for v in expected.values() if math.isfinite(v))):
        forged = {r: (expected[r] if r in (rates[0], best) else filler) for r in rates}
        got = run(course, sweep_probe(forged, best))
        assert sweep_points(got) == {"lr_sweep": 0, "best_lr": 0}, filler


def test_one_wrong_rate_anywhere_loses_every_hidden_sweep_point(course, expected):
    """Whatever the rate the student did not do the work for, the hidden points go: lr_sweep's and
    best_lr's (which needs the whole sweep behind it)."""
    from reference.microscopy import best_lr

    best = best_lr(expected)
    for rate, value in expected.items():
        for wrong in ({math.nan, 0.5 * value} if math.isfinite(value) else {0.5}):
            got = run(course, sweep_probe({**expected, rate: wrong}, best))
            assert sweep_points(got) == {"lr_sweep": 0, "best_lr": 0}, (rate, wrong)


def test_a_real_divergence_claimed_is_verified_and_accepted(course, expected):
    """Divergence (nan or inf, whichever the student's code produced) agrees with divergence."""
    from reference.microscopy import best_lr

    last = list(expected)[-1]
    assert not math.isfinite(expected[last]), "this CID's last rate must diverge at the tiny profile"
    for claimed in (math.nan, math.inf):
        got = run(course, sweep_probe({**expected, last: claimed}, best_lr(expected)))
        assert sweep_points(got) == {"lr_sweep": 4, "best_lr": 2}, claimed


# ---- other liars ---------------------------------------------------------------------------------

def test_lying_objects_do_not_pass_the_perceptron(course, specs):
    cases = specs["perceptron"].params["cases"]
    always = {"__unconvertible__": "__main__.AlwaysEqual"}           # what `plain` makes of a lying object
    got = run(course, {"perceptron": ProbeResult("perceptron", "ok", specs["perceptron"].params,
                                                 [always] * len(cases))})
    assert not got["test_chapter_examples_and_random_inputs"].passed
    assert not got["test_random_inputs_and_boundary"].passed
    assert "should return 1 or 0" in got["test_chapter_examples_and_random_inputs"].message


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
    assert got["test_chapter_and_random_values"].passed
    assert not got["test_vectorised_and_extreme_inputs"].passed
    assert "sigmoid(10000) returned nan; expected 1.0" in got["test_vectorised_and_extreme_inputs"].message
