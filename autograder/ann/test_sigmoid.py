"""Part 2: the sigmoid (seeded bug: `def sigmoid():` without its argument).

The visible check scores the chapter's printed points (diagnostics) together with fresh random ones
(course.make_probes); the hidden one a numpy array with extreme values."""
import math

import numpy as np
import pytest

from gradekit.api import answer, as_array, as_float, describe, expect
from reference.basics import sigmoid


def _scalar(x, out):
    if isinstance(out, dict) and "__error__" in out:
        pytest.fail(f"sigmoid({x:g}) raised {out['__error__']}")
    try:
        return as_float(out)
    except TypeError:
        pytest.fail(f"sigmoid({x:g}) returned {describe(out)}; expected a number")


@pytest.mark.points(1)
def test_chapter_and_random_values(probes):
    got = answer(probes, "sigmoid", "your `sigmoid` function")
    xs = probes["sigmoid"].params["scalars"]
    outs = got.get("scalars") if isinstance(got, dict) else None
    expect(isinstance(outs, list) and len(outs) == len(xs), "sigmoid was not evaluated on every test input")
    for x, out in zip(xs, outs):
        value, want = _scalar(x, out), float(sigmoid(x))
        expect(math.isclose(value, want, rel_tol=1e-9, abs_tol=1e-12),
               f"sigmoid({x:g}) returned {value!r}; expected {want!r}")


@pytest.mark.hidden
@pytest.mark.points(1)
def test_vectorised_and_extreme_inputs(probes):
    got = answer(probes, "sigmoid", "your `sigmoid` function")
    xs = np.array(probes["sigmoid"].params["vector"], dtype=float)
    vec = got["vector"]
    if isinstance(vec, dict) and "__error__" in vec:
        scalars_work = not any(isinstance(out, dict) and "__error__" in out for out in got["scalars"])
        # The np.exp hint only where numbers work and arrays do not; an error every call raises
        # (`sigmoid() takes 0 positional arguments`) is not about vectorising.
        hint = "; use np.exp so that it is vectorised" if scalars_work else ""
        pytest.fail(f"sigmoid does not work on a numpy array of inputs: {vec['__error__']}{hint}")
    try:
        values = as_array(vec)
    except TypeError as e:
        pytest.fail(f"sigmoid of a numpy array returned something unusable: {e}")
    expect(values.shape == xs.shape,
           f"sigmoid of an array of {xs.size} inputs returned shape {values.shape}; expected {xs.shape}")
    want = sigmoid(xs)
    bad = [i for i in range(xs.size)
           if not (math.isfinite(values[i]) and math.isclose(values[i], want[i], rel_tol=1e-7, abs_tol=1e-12))]
    if bad:
        i = max(bad, key=lambda j: abs(xs[j]))
        pytest.fail(f"sigmoid({xs[i]:g}) returned {float(values[i])!r}; expected {float(want[i])!r}")
