"""Part 3: the SimpleCNN class (seeded bug: `clas SimpleCNN`)."""
import math

import pytest
import torch

from gradekit.api import answer, as_array, expect
from reference.fashion import SimpleCNN

WHAT = "your `SimpleCNN` class"


def _reference_model():
    model = SimpleCNN()
    return model


@pytest.mark.points(1)
def test_architecture(probes):
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


@pytest.mark.hidden
@pytest.mark.points(1)
def test_forward_pass_with_reference_weights(probes):
    got = answer(probes, "simple_cnn", WHAT)
    logits = got.get("logits")
    if isinstance(logits, dict) and "__error__" in logits:
        pytest.fail(f"{WHAT} could not run a batch of images with the reference weights: {logits['__error__']}")
    try:
        values = as_array(logits)
    except TypeError as e:
        pytest.fail(f"{WHAT} returned something unusable for a batch of images: {e}")
    params = probes["simple_cnn"].params
    model = _reference_model()
    from reference.fashion import simple_cnn_state
    model.load_state_dict(simple_cnn_state(0))
    model.eval()
    x = torch.rand(params["batch"], 1, 28, 28, generator=torch.Generator().manual_seed(params["seed"]))
    with torch.no_grad():
        want = model(x).numpy()
    expect(values.shape == want.shape,
           f"for a batch of {params['batch']} images {WHAT} returned shape {values.shape}; expected {want.shape}")
    diff = float(abs(values - want).max()) if values.size else math.inf
    expect(diff <= 1e-4, f"with the reference weights, {WHAT} computes different outputs: check the order of "
                         f"layers and activations in forward()")
