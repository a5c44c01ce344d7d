"""Part 1: the perceptron (seeded bug: `weighted_sum + ...` instead of `weighted_sum = ...`)."""
import pytest

from gradekit.api import answer, as_float, describe, expect
from reference.basics import perceptron

CHAPTER_CASES = 4  # the probe sends the chapter's four printed cases first


def _outputs(probes):
    outs = answer(probes, "perceptron", "your `perceptron` function")
    return outs, probes["perceptron"].params["cases"]


def _as_bit(case, out):
    if isinstance(out, dict) and "__error__" in out:
        pytest.fail(f"perceptron{tuple(case)} raised {out['__error__']}")
    try:
        value = int(out) if type(out) is bool else as_float(out)
    except TypeError:
        pytest.fail(f"perceptron{tuple(case)} returned {describe(out)}; it should return 1 or 0")
    return value


@pytest.mark.points(1)
def test_chapter_examples(probes):
    outs, cases = _outputs(probes)
    for case, out in zip(cases[:CHAPTER_CASES], outs[:CHAPTER_CASES]):
        got = _as_bit(case, out)
        want = perceptron(*case)
        expect(got == want, f"perceptron{tuple(case)} returned {got:g}; expected {want}")


@pytest.mark.hidden
@pytest.mark.points(1)
def test_random_inputs_and_boundary(probes):
    outs, cases = _outputs(probes)
    expect(len(outs) == len(cases), "perceptron was not evaluated on every test input")
    wrong = [case for case, out in zip(cases[CHAPTER_CASES:], outs[CHAPTER_CASES:])
             if _as_bit(case, out) != perceptron(*case)]
    expect(not wrong, f"perceptron gave the wrong output for {len(wrong)} of {len(cases) - CHAPTER_CASES} "
                      f"further inputs, e.g. perceptron{tuple(wrong[0]) if wrong else ()}; remember the "
                      f"rule is weighted sum + bias >= 0 -> 1")
