"""The diagnosis: every catalogued mistake (autograder/ann/mistakes.py), built from the release by
code (autograder/ann/variants.py), is named by the course's diagnose hook through the engine's judge,
and marks are the same with and without it.

The notebooks' cells run in this process (no sandbox: the guarantee under test is the diagnosis, not
isolation), and the probes ask them exactly what the sandboxed kernel would be asked; the answers
travel through JSON as they do from a kernel.  One end-to-end batch is in test_integrity.py.
"""
from __future__ import annotations

import html
import json
import warnings

import pytest

from conftest import submission_of
from gradekit.grading import Executed, judge_submission
from gradekit.model import ExecutionReport, ProbeResult, Status
from gradekit.probes import PROBE_PRELUDE

CID = 4300077
SWEEP_CELLS = ("imports", "synthetic-data", "details", "problem", "learning_rates", "lr_sweep", "best_lr")
PREAMBLE = "import matplotlib\nmatplotlib.use('Agg')\nimport torch\nimport torch.nn as nn\n"


def run_in_process(nb, gids, specs) -> dict[str, ProbeResult]:
    """Run the cells `gids` of nb in one namespace (a failing cell does not stop the next, as in
    grading), then each probe on a copy of it; answers round-trip through JSON like a kernel's."""
    import matplotlib.pyplot as plt

    from reference._rng import preserved_global_rng, torch_threads

    ns: dict = {}
    by_gid = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells if c.cell_type == "code"}
    # a kernel shows warnings, it does not raise them (this test session turns them into errors)
    with preserved_global_rng(), torch_threads(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(PREAMBLE, ns)
        for gid in gids:
            try:
                exec(by_gid[gid].source, ns)
            except Exception:  # noqa: BLE001 - a cell error is the student's; later cells still run
                pass
            plt.close("all")
        out = {}
        for spec in specs:
            scope = dict(ns)
            try:
                exec(PROBE_PRELUDE + "\n" + spec.code, scope)
                value = json.loads(json.dumps(scope["probe"](spec.params)))
                out[spec.name] = ProbeResult(spec.name, "ok", spec.params, value)
            except Exception as e:  # noqa: BLE001
                out[spec.name] = ProbeResult(spec.name, "error", spec.params, error=f"{type(e).__name__}: {e}")
    return out


def judged(course, key, nb, probes, *, diagnose=True, monkeypatch=None):
    report = ExecutionReport(Status.GRADED, "", probes=probes)
    if not diagnose:
        monkeypatch.delattr(course.module, "diagnose")
    try:
        return judge_submission(submission_of(key, nb), course, Executed(report, {}))
    finally:
        if not diagnose:
            monkeypatch.undo()


@pytest.fixture(scope="module")
def specs(course, tmp_path_factory):
    import numpy as np

    from gradekit.probes import ProbeSpec

    state = course.module._simple_cnn_state_file(tmp_path_factory.mktemp("state"))
    out = []
    for s in course.module.make_probes(course.profile, np.random.default_rng(7)):
        params = dict(s.params, state_file=str(state)) if s.name == "simple_cnn" else s.params
        out.append(ProbeSpec(s.name, s.code, params, s.timeout_s))
    return out


@pytest.fixture(scope="module")
def sweep_student(make_student):
    return make_student(cid=CID, solved=("lr_sweep", "best_lr"))


def named(result, part):
    return [m.id for m in result.mistakes if m.part == part]


def test_honest_sweep_and_parts_have_no_mistakes(course, make_student, specs):
    nb = make_student(cid=CID, full=True)
    probes = run_in_process(nb, ("imports", "perceptron", "sigmoid", "simple_cnn") + SWEEP_CELLS[1:], specs)
    result = judged(course, "honest", nb, probes)
    sweep_parts = [c for c in result.checks if c.part in ("perceptron", "sigmoid", "simple_cnn", "lr_sweep", "best_lr")]
    assert sweep_parts and all(c.passed for c in sweep_parts), [c for c in sweep_parts if not c.passed]
    assert result.mistakes == ()
    assert [r for r, _ in result.comparable["lr_sweep"]] == [float(r) for r in course.profile["learning_rates"]]


SWEEP_MISTAKES = ["stale_optimizer", "seed_102", "seed_placeholder", "all_epochs_mean", "all_epochs_sum",
                  "last_step_loss", "wrong_epochs", "seed_after_model", "seeded_once", "adam", "no_reinit"]


@pytest.fixture(scope="module")
def sweep_cases(course, variants, sweep_student, specs):
    """mistake id -> (notebook, probes, judged result), every catalogued sweep mistake built from the release."""
    out = {}
    for mistake in SWEEP_MISTAKES:
        nb = variants.CATALOGUED_SWEEPS[mistake](sweep_student)
        probes = run_in_process(nb, SWEEP_CELLS, [s for s in specs if s.name == "sweep"])
        out[mistake] = (nb, probes, judged(course, mistake, nb, probes))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("mistake", SWEEP_MISTAKES)
def test_each_catalogued_sweep_mistake_is_named(course, sweep_cases, mistake, monkeypatch):
    nb, probes, result = sweep_cases[mistake]
    assert not all(c.passed for c in result.checks if c.part == "lr_sweep")
    # a sweep with the wrong numbers earns no sweep point, nor a best rate read from it (the correct
    # and partial sweeps, graded in the sandbox: tests/test_sweep_verification.py)
    points = result.part_points()
    assert points["lr_sweep"] == 0 and points["best_lr"] == 0, (mistake, result.message)
    assert named(result, "lr_sweep") == [mistake]
    assert course.module._mistakes().LR_SWEEP[mistake].sentence in {m.sentence for m in result.mistakes}
    # a diagnosis never changes marks
    plain = judged(course, mistake, nb, probes, diagnose=False, monkeypatch=monkeypatch)
    assert plain.checks == result.checks and plain.mistakes == ()


@pytest.mark.slow
def test_named_in_mistakes_csv_gradebook_and_feedback_page(course, sweep_cases, tmp_path):
    import pandas as pd

    from gradekit.escape import write_csv
    from gradekit.gradebook import mistakes_frame, to_dataframe
    from gradekit.report import feedback_filename, write_feedback

    results = [r for _, _, r in sweep_cases.values()]
    write_csv(tmp_path / "mistakes.csv", mistakes_frame(results), ("student", "part", "mistake"))
    table = pd.read_csv(tmp_path / "mistakes.csv")
    assert list(table.columns) == ["student", "part", "mistake"]
    assert {(r.student, r.mistake) for r in table.itertuples() if r.part == "lr_sweep"} == \
        {(m, m) for m in SWEEP_MISTAKES}
    df = to_dataframe(results, parts=course.parts).set_index("student")
    assert all(df.loc[m, "mistakes"] == f"lr_sweep:{m}" for m in SWEEP_MISTAKES)
    sentences = course.module._mistakes().LR_SWEEP
    for r in results:
        write_feedback(r, tmp_path, assignment="ann")
        page = (tmp_path / "feedback" / feedback_filename(r.key)).read_text()
        assert "What went wrong" in page
        assert html.escape(sentences[r.key].sentence) in page


def test_catalogue_lists_every_sweep_variant(course, variants):
    assert set(variants.CATALOGUED_SWEEPS) == set(course.module._mistakes().LR_SWEEP)


@pytest.mark.parametrize("mistake", ["highest_loss", "loss_not_rate", "diverged_rate"])
def test_best_lr_mistakes_are_named(course, variants, sweep_student, specs, mistake):
    nb = variants.CATALOGUED_BEST_LR[mistake](sweep_student)
    probes = run_in_process(nb, SWEEP_CELLS, [s for s in specs if s.name == "sweep"])
    result = judged(course, mistake, nb, probes)
    assert named(result, "best_lr") == [mistake]
    assert named(result, "lr_sweep") == []          # the sweep itself is right


BUG_CASES = [(part, mid) for part, mid in
             [("perceptron", "strict_inequality"), ("perceptron", "bias_ignored"), ("perceptron", "returns_weighted_sum"),
              ("sigmoid", "math_exp"), ("sigmoid", "sign_flip"), ("sigmoid", "missing_parentheses"),
              ("simple_cnn", "layer_size"), ("simple_cnn", "missing_activation")]]


@pytest.mark.parametrize("part,mistake", BUG_CASES)
def test_part_mistakes_are_named(course, variants, make_student, specs, part, mistake):
    nb = variants.CATALOGUED_BUGS[(part, mistake)](make_student(cid=CID, fixed=(part,)))
    probes = run_in_process(nb, ("imports", part), [s for s in specs if s.name == part])
    result = judged(course, mistake, nb, probes)
    assert not all(c.passed for c in result.checks if c.part == part)
    assert named(result, part) == [mistake]


def test_catalogue_lists_every_part_variant(course, variants):
    m = course.module._mistakes()
    catalogued = {(p, mid) for p in ("perceptron", "sigmoid", "simple_cnn") for mid in m.CATALOGUE[p]}
    assert set(variants.CATALOGUED_BUGS) | {(p, "seeded_bug") for p in variants.BUG_PARTS} | \
        {("perceptron", "inverted_output"), ("sigmoid", "overflow_formula")} == catalogued


@pytest.mark.parametrize("part", ["perceptron", "sigmoid", "simple_cnn"])
def test_unfixed_seeded_bug_is_named(course, make_student, specs, part):
    nb = make_student(cid=CID)
    probes = run_in_process(nb, ("imports", part), [s for s in specs if s.name == part])
    assert named(judged(course, "release", nb, probes), part) == ["seeded_bug"]


def test_inverted_and_overflow_mistakes_on_probe_answers(course, specs):
    """The two part mistakes without a notebook variant, from their reference implementations."""
    m = course.module._mistakes()
    probe = next(s for s in specs if s.name == "perceptron")
    outs = [m.as_probe_answer(m.PERCEPTRON_FNS["inverted_output"], *c) for c in probe.params["cases"]]
    assert m.diagnose_perceptron(ProbeResult("perceptron", "ok", probe.params, outs))[0].id == "inverted_output"
    probe = next(s for s in specs if s.name == "sigmoid")
    fn = m.SIGMOID_FNS["overflow_formula"]
    import numpy as np
    value = {"scalars": [float(m.as_probe_answer(fn, x)) for x in probe.params["scalars"]],
             "vector": [float(v) for v in m.as_probe_answer(fn, np.array(probe.params["vector"]))]}
    assert m.diagnose_sigmoid(ProbeResult("sigmoid", "ok", probe.params, value))[0].id == "overflow_formula"


def test_a_diagnosis_that_raises_changes_nothing(course, variants, sweep_student, specs, monkeypatch):
    nb = variants.CATALOGUED_SWEEPS["adam"](sweep_student)
    probes = run_in_process(nb, SWEEP_CELLS, [s for s in specs if s.name == "sweep"])
    good = judged(course, "adam", nb, probes)

    def broken(*args):
        raise RuntimeError("catalogue bug")

    monkeypatch.setattr(course.module, "diagnose", broken)
    result = judged(course, "adam", nb, probes)
    assert result.checks == good.checks and result.status == good.status and result.mistakes == ()
    assert "catalogue bug" in result.extras["diagnosis_error"]


def test_mistake_references_contain_the_contract(course):
    """training_trace's first num_epochs epochs are the reference training; chained_sweep's first rate
    is the reference's (one model, not yet trained at another rate)."""
    from reference.microscopy import chained_sweep, lr_sweep, training_trace

    size = dict(num_images=int(course.profile["num_images"]), data_seed=102)
    want = lr_sweep(CID, [0.001, 0.1], num_epochs=2, **size)
    trace = training_trace(CID, 0.1, num_epochs=4, **size)
    assert trace["epoch_means"][1] == want[0.1] and len(trace["last_losses"]) == 4
    chained = chained_sweep(CID, [0.001, 0.1], num_epochs=2, **size)
    assert chained[0.001] == want[0.001] and chained[0.1] != want[0.1]


def test_stored_results_without_mistakes_still_load():
    from gradekit.model import Mistake, SubmissionResult

    old = {"key": "k", "file": "k.ipynb", "name": None, "cid": 1, "status": "graded", "message": ""}
    r = SubmissionResult.from_json(old)
    assert r.mistakes == () and r.comparable == {}
    r2 = SubmissionResult.from_json(dict(old, mistakes=[{"part": "p", "id": "x", "sentence": "s"}],
                                         comparable={"p": [[0.1, 0.2]]}))
    assert r2.mistakes == (Mistake("p", "x", "s"),) and SubmissionResult.from_json(r2.to_json()) == r2


def test_untrusted_layer_sizes_are_never_built(course):
    """A notebook controls the shapes it reports: absurd widths are refused, not allocated."""
    m = course.module._mistakes()
    shapes = {"conv1.weight": [10 ** 9, 1, 3, 3], "conv1.bias": [10 ** 9], "conv2.weight": [64, 10 ** 9, 3, 3],
              "conv2.bias": [64], "fc1.weight": [128, 3136], "fc1.bias": [128], "fc2.weight": [10, 128],
              "fc2.bias": [10]}
    assert m.diagnose_simple_cnn(ProbeResult("simple_cnn", "ok", {}, {"shapes": shapes})) == []
    assert m.diagnose_simple_cnn(ProbeResult("simple_cnn", "ok", {}, {"shapes": {"x": "y"}})) == []
