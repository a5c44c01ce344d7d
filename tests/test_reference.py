"""The reference implementations against the chapter's own code (restored here as the oracle)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
from scipy.ndimage import convolve, gaussian_filter

from reference import basics, filters
from reference._rng import torch_threads
from reference.fashion import SimpleCNN, param_count, simple_cnn_state
from reference.microscopy import (
    PixelPredictionModel,
    best_lr,
    chapter_test_sample,
    generate_image_with_missing_pixels,
    lr_sweep,
    make_training_set,
    reconstruct,
    train_pixel_model,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with torch_threads(1):  # the student's kernel runs with one intra-op thread
        yield


def rng_states_equal(a, b) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


# --- the chapter's code, bugs fixed, as the oracle ----------------------------------------------------


def chapter_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def chapter_neural_network(x1, x2, w1, w2, v1, v2):
    hidden_layer_output = chapter_sigmoid(x1 * w1 + x2 * w2)
    return chapter_sigmoid(hidden_layer_output * v1 + x2 * v2)


missing_ratio = 0.20  # the chapter's global


def chapter_generate_image_with_missing_pixels(image_size, mean=128, std=50):
    image_raw = np.random.normal(mean, std, size=image_size).astype(np.uint8)
    sigma = 1
    image = gaussian_filter(image_raw, sigma=sigma)
    image = np.clip(image, 1, 255)
    ground_truth = image.copy()
    num_missing_pixels = int(image_size[0] * image_size[1] * missing_ratio)
    missing_indices = np.random.choice(image_size[0] * image_size[1], size=num_missing_pixels, replace=False)
    image_flat = image.reshape(-1)
    image_flat[missing_indices] = 0
    image = image_flat.reshape(image_size)
    return image, ground_truth


# --- basics -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [((1, 1, 1, 1, 0), 1), ((0, 0, 0, 0, -1), 0), ((-1, 0, 1, 0, 1), 1), ((-1, 0, -1, 0, -0.5), 1)],
)
def test_perceptron_chapter_prints(args, expected):
    out = basics.perceptron(*args)
    assert out == expected and type(out) is int


def test_perceptron_vectorised_matches_scalar_grid():
    x = np.linspace(-1, 1, 100)
    scalar = np.array([[basics.perceptron(x1, x2, 1, 1, 0) for x1 in x] for x2 in x])
    vector = basics.perceptron(x[None, :], x[:, None], 1, 1, 0)
    assert vector.dtype.kind == "i" and vector.shape == (100, 100)
    np.testing.assert_array_equal(vector, scalar)
    assert 0 < vector.sum() < vector.size


def test_sigmoid_values_without_warnings():
    hand = {-1: 1 / (1 + math.e), 0: 0.5, 1: 1 / (1 + 1 / math.e), 10000: 1.0, -10000: 0.0}
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        for x, expected in hand.items():
            out = basics.sigmoid(x)
            assert type(out) is float and out == pytest.approx(expected, rel=1e-15, abs=0)
        arr = basics.sigmoid(np.array([-10000.0, -1.0, 0.0, 1.0, 10000.0, np.nan]))
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float64
    np.testing.assert_allclose(arr[:5], [0.0, hand[-1], 0.5, hand[1], 1.0], rtol=1e-15)
    assert np.isnan(arr[5])


def test_sigmoid_is_the_chapter_formula_where_that_is_finite():
    x = np.linspace(-700, 700, 20001)
    np.testing.assert_array_equal(basics.sigmoid(x), chapter_sigmoid(x))


def test_scale_data_and_neural_network():
    data = np.array([0.0, 25.0, 100.0])
    np.testing.assert_allclose(basics.scale_data(data, 0, 100), [-1.0, -0.5, 1.0])
    assert basics.neural_network(0.3, -0.7, 0.1, -0.1, 0.5, 5) == chapter_neural_network(0.3, -0.7, 0.1, -0.1, 0.5, 5)


def test_phase_diagram_is_the_chapters_loop():
    temperature_range = np.linspace(0, 100, 100)
    pressure_range = np.linspace(0, 1000, 100)
    st = basics.scale_data(temperature_range, min(temperature_range), max(temperature_range))
    sp = basics.scale_data(pressure_range, min(pressure_range), max(pressure_range))
    X1, _ = np.meshgrid(st, sp)
    expected = np.zeros_like(X1)
    for i in range(len(st)):
        for j in range(len(sp)):
            expected[i, j] = chapter_neural_network(st[i], sp[j], 0.1, -0.1, 0.5, 5)
    t, p, phases = basics.phase_diagram()
    np.testing.assert_array_equal(t, temperature_range)
    np.testing.assert_array_equal(p, pressure_range)
    np.testing.assert_array_equal(phases, expected)
    # i runs over temperature: along axis 1 (pressure) the output changes a lot more (v2 = 5 on x2)
    assert np.ptp(phases[0, :]) > 10 * np.ptp(phases[:, 0])


# --- filters ------------------------------------------------------------------------------------------


def test_filters():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    gray = filters.to_gray(rgb)
    assert gray.shape == (32, 40) and gray.dtype == np.float64 and 0 <= gray.min() <= gray.max() <= 1
    rgba = np.dstack([rgb, np.full((32, 40), 255, np.uint8)])
    np.testing.assert_allclose(filters.to_gray(rgba), gray, atol=1e-12)
    np.testing.assert_allclose(filters.to_gray(rgb[..., 0]), rgb[..., 0] / 255.0)

    out = filters.classical_filters(gray)
    assert set(out) == {"gaussian", "sobel", "laplace"}
    assert all(v.shape == gray.shape for v in out.values())

    assert filters.CHAPTER_KERNEL.dtype == np.float64 and filters.CHAPTER_KERNEL.sum() == 1
    twice = filters.custom_convolution(gray, filters.CHAPTER_KERNEL, num_iterations=2)
    np.testing.assert_array_equal(twice, convolve(convolve(gray, filters.CHAPTER_KERNEL), filters.CHAPTER_KERNEL))
    np.testing.assert_array_equal(filters.custom_convolution(gray, filters.CHAPTER_KERNEL, 0), gray)


# --- CNNs ---------------------------------------------------------------------------------------------


def test_simple_cnn_shapes_and_params():
    model = SimpleCNN()
    assert param_count(model) == 421642
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert model.fc1.in_features == 64 * 7 * 7 and model.fc2.out_features == 10
    for name in ("conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1", "relu3", "fc2"):
        assert isinstance(getattr(model, name), nn.Module)


def test_simple_cnn_state_is_seeded_and_pure():
    before = torch.get_rng_state()
    state = simple_cnn_state(5)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(5)
    expected = SimpleCNN().state_dict()
    assert state.keys() == expected.keys() and all(torch.equal(state[k], expected[k]) for k in state)
    assert not torch.equal(simple_cnn_state(6)["conv1.weight"], state["conv1.weight"])


def test_pixel_model_shapes_and_params():
    model = PixelPredictionModel()
    assert param_count(model) == 609
    assert model(torch.zeros(1, 1, 50, 50)).shape == (1, 1, 50, 50)


# --- microscopy data ----------------------------------------------------------------------------------


def test_generator_reproduces_the_chapter_stream():
    np.random.seed(123446)
    expected = [chapter_generate_image_with_missing_pixels((50, 50)) for _ in range(3)]
    expected_state = np.random.get_state()
    np.random.seed(123446)
    got = [generate_image_with_missing_pixels((50, 50)) for _ in range(3)]
    assert rng_states_equal(np.random.get_state(), expected_state)
    for (image, truth), (e_image, e_truth) in zip(got, expected):
        assert image.dtype == truth.dtype == np.uint8
        np.testing.assert_array_equal(image, e_image)
        np.testing.assert_array_equal(truth, e_truth)
        assert truth.min() >= 1 and (image == 0).sum() == 500
        assert np.array_equal(image[image != 0], truth[image != 0])


def test_training_set_is_the_problem_cells():
    np.random.seed(1)
    np_before = np.random.get_state()
    torch_before = torch.get_rng_state()
    inputs, targets = make_training_set(num_images=4)
    assert rng_states_equal(np.random.get_state(), np_before)
    assert torch.equal(torch.get_rng_state(), torch_before)

    np.random.seed(102)
    pairs = [chapter_generate_image_with_missing_pixels((50, 50)) for _ in range(4)]
    assert len(inputs) == len(targets) == 4
    for x, y, (image, truth) in zip(inputs, targets, pairs):
        assert x.shape == y.shape == (1, 1, 50, 50) and x.dtype == torch.float32
        assert torch.equal(x, torch.from_numpy(image).unsqueeze(0).unsqueeze(0).float() / 255.0)
        assert torch.equal(y, torch.from_numpy(truth).unsqueeze(0).unsqueeze(0).float() / 255.0)
    sample, truth = chapter_test_sample(num_images=4)
    np.random.seed(102)
    for _ in range(4):
        chapter_generate_image_with_missing_pixels((50, 50))
    e_sample, e_truth = chapter_generate_image_with_missing_pixels((50, 50))
    np.testing.assert_array_equal(sample, e_sample)
    np.testing.assert_array_equal(truth, e_truth)


def test_training_and_reconstruction():
    inputs, targets = make_training_set(num_images=10)
    torch.manual_seed(0)
    model = PixelPredictionModel()
    losses = train_pixel_model(model, inputs, targets, lr=0.1, num_epochs=3)
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    sample, _ = chapter_test_sample(num_images=10)
    out = reconstruct(model, sample)
    expected = model(torch.from_numpy(sample).unsqueeze(0).unsqueeze(0).float() / 255.0).squeeze().detach().numpy() * 255.0
    assert out.shape == (50, 50) and out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


# --- the learning-rate sweep --------------------------------------------------------------------------

SMALL = {"num_images": 20, "num_epochs": 2}
RATES = [0.01, 0.1]
_SWEEP_IN_CHILD = (
    "import json, sys, torch; from reference.microscopy import lr_sweep;"
    "torch.set_num_threads(2);"  # the sweep must force one thread itself
    "r = lr_sweep(int(sys.argv[1]), json.loads(sys.argv[2]), num_images=20, num_epochs=2);"
    "print(json.dumps({str(k): v.hex() for k, v in r.items()}))"
)


def _sweep_in_processes(cids):
    procs = [
        subprocess.Popen([sys.executable, "-c", _SWEEP_IN_CHILD, str(cid), json.dumps(RATES)], stdout=subprocess.PIPE, text=True)
        for cid in cids
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    return [{float(k): float.fromhex(v) for k, v in json.loads(out).items()} for out in outs]


@pytest.mark.slow
def test_sweep_is_deterministic_across_processes():
    a, b = _sweep_in_processes([123446, 123446])
    assert a == b and set(a) == set(RATES)
    here = lr_sweep(123446, RATES, **SMALL)
    assert here == a  # bit-identical: one thread everywhere
    other = lr_sweep(123447, RATES, **SMALL)
    assert all(other[r] != a[r] for r in RATES)


def test_sweep_divergence_and_no_side_effects():
    np.random.seed(42)
    np_before = np.random.get_state()
    torch.manual_seed(42)
    torch_before = torch.get_rng_state()
    threads_before = torch.get_num_threads()
    result = lr_sweep(7, [0.1, 3.0, 10.0], **SMALL)
    assert rng_states_equal(np.random.get_state(), np_before)
    assert torch.equal(torch.get_rng_state(), torch_before)
    assert torch.get_num_threads() == threads_before
    assert math.isfinite(result[0.1])
    assert not math.isfinite(result[3.0]) and not math.isfinite(result[10.0])
    assert best_lr(result) == 0.1


@pytest.mark.slow
def test_early_stop_on_nan_gives_the_full_loops_losses(monkeypatch):
    """train_pixel_model stops once a weight is nan; the epoch losses must equal the full chapter loop's."""
    import torch.optim as optim

    from reference import microscopy

    stops = []
    has_nan = microscopy._has_nan
    monkeypatch.setattr(microscopy, "_has_nan", lambda model: stops.append(has_nan(model)) or stops[-1])

    def full_loop(model, inputs, targets, lr, num_epochs):
        criterion, optimizer, out = nn.MSELoss(), optim.SGD(model.parameters(), lr=lr), []
        for _ in range(num_epochs):
            total = 0.0
            for x, y in zip(inputs, targets):
                optimizer.zero_grad()
                loss = criterion(model(x), y)
                loss.backward()
                optimizer.step()
                total += loss.item()
            out.append(total / len(inputs))
        return out

    inputs, targets = make_training_set(40)
    with torch_threads(1):
        for cid in (1, 2, 3):
            for lr in (0.1, 1.5, 2.0, 3.0, 100.0):
                torch.manual_seed(cid)
                want = full_loop(PixelPredictionModel(), inputs, targets, lr, 3)
                torch.manual_seed(cid)
                got = train_pixel_model(PixelPredictionModel(), inputs, targets, lr=lr, num_epochs=3)
                assert len(got) == len(want)
                assert all(g == w or (math.isnan(g) and math.isnan(w)) for g, w in zip(got, want)), (cid, lr, got, want)
    assert sum(stops) >= 6  # the early stop did happen (lr 3 and 100 at least, for each CID)


def test_best_lr():
    assert best_lr({0.001: 0.006, 0.1: 0.0009, 0.9: 0.005, 1.5: math.nan}) == 0.1
    assert best_lr({0.5: 0.002, 0.1: 0.002, 2.0: math.inf}) == 0.1
    with pytest.raises(ValueError):
        best_lr({1.5: math.nan, 3.0: math.inf})
    with pytest.raises(ValueError):
        best_lr({})
