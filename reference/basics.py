"""Perceptron, sigmoid and the two-layer "phase diagram" network of the chapter (section 6.2)."""

from __future__ import annotations

import numpy as np

# Below this argument exp(-x) would overflow; there the sigmoid equals exp(x) to the last bit
# (1 + exp(x) == 1 in float64 for x < -37).
_EXP_SAFE = -700.0


def perceptron(x1, x2, w1, w2, bias):
    """1 if ``x1*w1 + x2*w2 + bias >= 0`` else 0.

    Scalars give a Python ``int`` (as the chapter's ``1 if ... else 0``); array inputs broadcast and
    give a numpy integer array.
    """
    weighted_sum = x1 * w1 + x2 * w2 + bias
    if np.ndim(weighted_sum) == 0:
        return 1 if weighted_sum >= 0 else 0
    return (np.asarray(weighted_sum) >= 0).astype(np.int64)


def sigmoid(x):
    """``1 / (1 + exp(-x))`` without overflow: float for a scalar, float64 ndarray for an array.

    Where ``exp(-x)`` is finite this *is* the chapter's formula, so values agree with a correct
    student's bit for bit; below -700 it switches to ``exp(x)``, which is the same number there, so
    ``sigmoid(-10000)`` is 0.0 with no RuntimeWarning instead of an overflow.
    """
    arr = np.asarray(x, dtype=np.float64)
    with np.errstate(under="ignore"):
        safe = 1.0 / (1.0 + np.exp(-np.maximum(arr, _EXP_SAFE)))
        tail = np.exp(np.minimum(arr, _EXP_SAFE))
    out = np.where(arr >= _EXP_SAFE, safe, tail)  # NaN fails the test and takes the tail: NaN stays NaN
    if out.ndim == 0:
        return float(out)
    return out


def scale_data(data, min_val, max_val):
    """Map ``[min_val, max_val]`` linearly onto ``[-1, 1]``."""
    return 2 * (data - min_val) / (max_val - min_val) - 1


def neural_network(x1, x2, w1, w2, v1, v2):
    """The chapter's two-layer toy network; note the output layer uses ``x2`` (not ``x1``) with ``v2``."""
    hidden_layer_input = x1 * w1 + x2 * w2
    hidden_layer_output = sigmoid(hidden_layer_input)
    output_layer_input = hidden_layer_output * v1 + x2 * v2
    return sigmoid(output_layer_input)


def phase_diagram(w1=0.1, w2=-0.1, v1=0.5, v2=5, n=100):
    """``(temperature_range, pressure_range, predicted_phases)`` as the chapter's double loop computes them.

    The chapter fills ``predicted_phases[i, j]`` with ``i`` indexing *temperature* and ``j`` pressure
    (although it then hands the array to ``contourf`` as if rows were pressure); this reproduces that
    layout: ``predicted_phases[i, j] == neural_network(T_i, P_j, ...)``, shape ``(n, n)``.
    """
    temperature_range = np.linspace(0, 100, n)
    pressure_range = np.linspace(0, 1000, n)
    scaled_temperature = scale_data(temperature_range, temperature_range.min(), temperature_range.max())
    scaled_pressure = scale_data(pressure_range, pressure_range.min(), pressure_range.max())
    predicted_phases = neural_network(scaled_temperature[:, None], scaled_pressure[None, :], w1, w2, v1, v2)
    return temperature_range, pressure_range, np.asarray(predicted_phases, dtype=np.float64)
