"""Part 1: the perceptron (seeded bug: `weighted_sum + ...` instead of `weighted_sum = ...`).

Both checks score fresh random inputs (course.make_probes): the chapter's four printed cases come
first, as diagnostics with the chapter's numbers, but they alone earn nothing."""
import pytest

from gradekit.api import answer, as_float, describe, expect
from reference.basics import perceptron


def _outputs(probes):
    outs = answer(probes, "perceptron", "your `perceptron` function")
    params = probes["perceptron"].params
    expect(isinstance(outs, list) and len(outs) == len(params["cases"]),
           "perceptron was not evaluated on every test input")
    return outs, params


def _as_bit(case, out):
    if isinstance(out, dict) and "__error__" in out:
        pytest.fail(f"perceptron{tuple(case)} raised {out['__error__']}")
    try:
        value = int(out) if type(out) is bool else as_float(out)
    except TypeError:
        pytest.fail(f"perceptron{tuple(case)} returned {describe(out)}; it should return 1 or 0")
    return value


@pytest.mark.points(1)
def test_chapter_examples_and_random_inputs(probes):
    outs, params = _outputs(probes)
    chapter, visible = params["chapter"], params["visible"]
    for case, out in zip(params["cases"][:chapter], outs[:chapter]):
        got, want = _as_bit(case, out), perceptron(*case)
        expect(got == want, f"perceptron{tuple(case)} returned {got:g}; expected {want} (a case of the chapter)")
    for case, out in zip(params["cases"][chapter:visible], outs[chapter:visible]):
        got, want = _as_bit(case, out), perceptron(*case)
        expect(got == want, f"perceptron{tuple(case)} returned {got:g}; expected {want}")


@pytest.mark.hidden
@pytest.mark.points(1)
def test_random_inputs_and_boundary(probes):
    outs, params = _outputs(probes)
    cases, visible = params["cases"], params["visible"]
    wrong = [case for case, out in zip(cases[visible:], outs[visible:]) if _as_bit(case, out) != perceptron(*case)]
    expect(not wrong, f"perceptron gave the wrong output for {len(wrong)} of {len(cases) - visible} "
                      f"further inputs, e.g. perceptron{tuple(wrong[0]) if wrong else ()}; remember the "
                      f"rule is weighted sum + bias >= 0 -> 1")
