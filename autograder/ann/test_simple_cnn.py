"""Part 3: the SimpleCNN class (seeded bug: `clas SimpleCNN`).

Layer shapes and the parameter count are printed in the chapter, so they alone earn nothing: the
visible check also runs each layer of the student's model, loaded with the reference weights, on a
fresh random input (course.SIMPLE_CNN_LAYERS); the hidden check runs the whole forward pass."""
import math

import pytest
import torch

from gradekit.api import answer, as_array, expect
from reference.fashion import SimpleCNN, simple_cnn_state

WHAT = "your `SimpleCNN` class"
TOLERANCE = 1e-4      # one thread on both sides, but not necessarily the same kernels


def _reference_model(course=None):
    model = SimpleCNN()
    if course is not None:
        model.load_state_dict(simple_cnn_state(course.SIMPLE_CNN_STATE_SEED))
        model.eval()
    return model


def _as_output(value, what: str):
    if isinstance(value, dict) and "__error__" in value:
        pytest.fail(f"{what} failed with the reference weights: {value['__error__']}")
    try:
        return as_array(value)
    except TypeError as e:
        pytest.fail(f"{what} returned something unusable: {e}")


def _same(got, want, what: str, hint: str) -> None:
    expect(got.shape == want.shape, f"{what} returned shape {got.shape}; expected {want.shape}")
    diff = float(abs(got - want).max()) if got.size else math.inf
    expect(diff <= TOLERANCE, f"with the reference weights, {what} computes different outputs: {hint}")


@pytest.mark.points(1)
def test_architecture(course, probes):
    got = answer(probes, "simple_cnn", WHAT)
    ref = {k: list(v.shape) for k, v in _reference_model().state_dict().items()}
    shapes = got.get("shapes")
    expect(isinstance(shapes, dict), f"{WHAT} has no parameters I could read")
    missing = [k for k in ref if k not in shapes]
    expect(not missing, f"{WHAT} lacks the layer parameters {', '.join(missing)}; keep the layer names "
                        f"conv1, conv2, fc1, fc2 of the notebook")
    for k, shape in ref.items():
        expect(shapes[k] == shape, f"{k} has shape {tuple(shapes[k])}; expected {tuple(shape)}")
    n_ref = sum(p.numel() for p in _reference_model().parameters())
    expect(got.get("param_count") == n_ref, f"{WHAT} has {got.get('param_count')} parameters; expected {n_ref}")
    # The numbers above are printed in the chapter; the point rests on each layer's outputs.
    params = probes["simple_cnn"].params
    layers = got.get("layers")
    if isinstance(layers, dict) and "__error__" in layers:
        pytest.fail(f"{WHAT} could not load the reference weights: {layers['__error__']}")
    expect(isinstance(layers, dict), f"{WHAT}'s layers could not be run")
    model = _reference_model(course)
    gen = torch.Generator().manual_seed(params["layer_seed"])
    for name, shape in params["layers"]:
        x = torch.rand(*shape, generator=gen)
        expect(name in layers, f"{WHAT} has no layer {name}")
        with torch.no_grad():
            want = getattr(model, name)(x).numpy()
        _same(_as_output(layers[name], f"layer {name}"), want, f"layer {name} (on an input of shape {tuple(shape)})",
              "check its kernel size, padding and numbers of channels or features")


@pytest.mark.hidden
@pytest.mark.points(1)
def test_forward_pass_with_reference_weights(course, probes):
    got = answer(probes, "simple_cnn", WHAT)
    logits = got.get("logits")
    if isinstance(logits, dict) and "__error__" in logits:
        pytest.fail(f"{WHAT} could not run a batch of images with the reference weights: {logits['__error__']}")
    try:
        values = as_array(logits)
    except TypeError as e:
        pytest.fail(f"{WHAT} returned something unusable for a batch of images: {e}")
    params = probes["simple_cnn"].params
    model = _reference_model(course)
    x = torch.rand(params["batch"], 1, 28, 28, generator=torch.Generator().manual_seed(params["seed"]))
    with torch.no_grad():
        want = model(x).numpy()
    expect(values.shape == want.shape,
           f"for a batch of {params['batch']} images {WHAT} returned shape {values.shape}; expected {want.shape}")
    diff = float(abs(values - want).max()) if values.size else math.inf
    expect(diff <= 1e-4, f"with the reference weights, {WHAT} computes different outputs: check the order of "
                         f"layers and activations in forward()")
