"""Grade one submission, end to end, on real notebooks built from the release (tiny profile).

The notebooks are graded once, in the session's shared cohort (tests/shared_cohort.py: one batch,
sandboxed, two workers, like a TA's); each test then reads one result.  Expected outcomes are stated
per part.
"""
from __future__ import annotations

import pytest

from shared_cohort import wants
from gradekit.model import Status

pytestmark = pytest.mark.sandbox

ALL_PARTS = {"perceptron", "sigmoid", "simple_cnn", "lr_sweep", "best_lr"}


@wants
def notebooks(kit):
    """What this module reads from the shared cohort (graded in one batch: two workers, like a TA's)."""
    v = kit.variants
    return {
        "full": kit.full,
        "no_reinit": kit.variant(v.sweep_without_reinit),
        "printed_only": kit.variant(v.sweep_printed_only),
        "loop_sigmoid": kit.variant(v.sigmoid_not_vectorised),
        "wrong_cnn": kit.variant(v.cnn_wrong_sizes),
        "placeholder_cid": kit.make_student(full=True, cid=None),
        "infinite_loop": kit.variant(v.infinite_loop_early),
    }


@pytest.fixture(scope="module")
def graded(shared_cohort):
    return shared_cohort.results(notebooks)


def _parts(result):
    return result.part_points()


def _full_parts(result):
    maxima = {}
    for c in result.checks:
        maxima[c.part] = maxima.get(c.part, 0) + c.max_points
    return {p for p, pts in _parts(result).items() if pts == maxima[p]}


def _messages(result, part):
    return " ".join(c.message for c in result.checks if c.part == part and not c.passed)


def test_full_marks(graded, tiny_cfg):
    from gradekit.judge import course_points

    r = graded["full"]
    assert r.status == Status.GRADED, r.message
    assert r.total == r.max_total == sum(course_points(tiny_cfg).values())
    assert _full_parts(r) == ALL_PARTS
    assert "reconstruction" in r.extras and "sweep" in r.extras
    ok = r.extras["sweep"]["expected_ok"]
    assert ok == [True] * len(ok) and len(ok) == 6          # every rate compared
    assert r.mistakes == ()                                   # nothing failed, nothing diagnosed


def test_sweep_without_reinitialising_the_model(graded):
    r = graded["no_reinit"]
    assert _parts(r)["lr_sweep"] == 0      # right shape (a diagnostic, 0 points), wrong values (hidden)
    assert {"perceptron", "sigmoid", "simple_cnn"} <= _full_parts(r)
    msg = _messages(r, "lr_sweep")
    assert "does not match the expected value for your CID" in msg
    # the first rate starts from the right weights, so only later rates are named
    first_rate = r.extras["sweep"]["learning_rates"][0]
    assert r.extras["sweep"]["expected_ok"][0] is True and False in r.extras["sweep"]["expected_ok"]
    assert f"({first_rate:g}," not in msg
    assert [(m.part, m.id) for m in r.mistakes] == [("lr_sweep", "no_reinit")]     # named, in the sandbox too


def test_results_only_printed(graded):
    r = graded["printed_only"]
    assert _parts(r)["lr_sweep"] == 0 and _parts(r)["best_lr"] == 0
    assert "no variable `lr_results`" in _messages(r, "lr_sweep")
    assert _full_parts(r) == ALL_PARTS - {"lr_sweep", "best_lr"}


def test_sigmoid_not_vectorised(graded):
    r = graded["loop_sigmoid"]
    sig = {c.name: c for c in r.checks if c.part == "sigmoid"}
    assert sig["test_chapter_and_random_values"].passed            # right for single numbers
    assert not sig["test_vectorised_and_extreme_inputs"].passed    # but not for an array
    assert "numpy array" in sig["test_vectorised_and_extreme_inputs"].message
    assert [(m.part, m.id) for m in r.mistakes] == [("sigmoid", "math_exp")]
    assert _full_parts(r) == ALL_PARTS - {"sigmoid"}


def test_simple_cnn_with_wrong_layer_sizes(graded):
    r = graded["wrong_cnn"]
    assert _parts(r)["simple_cnn"] == 0
    assert "fc1.weight has shape (64, 3136); expected (128, 3136)" in _messages(r, "simple_cnn")
    assert [(m.part, m.id) for m in r.mistakes] == [("simple_cnn", "layer_size")]
    assert _full_parts(r) == ALL_PARTS - {"simple_cnn"}


def test_placeholder_cid(graded):
    r = graded["placeholder_cid"]
    assert r.status == Status.NO_CID
    assert "placeholder" in r.message.lower() or "123446" in r.message
    assert _parts(r)["lr_sweep"] == 0      # the visible shape check does not need the CID (0 points)
    assert {"perceptron", "sigmoid", "simple_cnn"} <= _full_parts(r)
    assert "College ID" in _messages(r, "lr_sweep")


def test_infinite_loop_early_later_parts_still_graded(graded):
    r = graded["infinite_loop"]
    assert r.status == Status.GRADED
    assert "timed out" in r.message
    assert _parts(r)["perceptron"] == 0
    assert _full_parts(r) == ALL_PARTS - {"perceptron"}


def test_self_check_shows_only_visible_checks(tiny_cfg, course, make_student, tmp_path):
    import nbformat

    from gradekit.selfcheck import self_check

    path = tmp_path / "mine.ipynb"
    nbformat.write(make_student(fixed=["perceptron"]), path)
    text, ok = self_check(path, course)
    assert not ok
    assert "(hidden)" not in text and "hidden" not in text.lower().replace("(visible checks only", "")
    assert "PASS  perceptron.test_chapter_examples_and_random_inputs" in text
    assert "FAIL  sigmoid.test_chapter_and_random_values" in text
