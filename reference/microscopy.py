"""The synthetic-microscopy exercise (sections 6.5-6.6): data, ``PixelPredictionModel``, learning-rate sweep.

The images come from numpy's *global* RNG exactly as in the chapter, so a student's data and the
reference's data are the same arrays; functions here seed it as the chapter does and restore the
caller's state afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from scipy.ndimage import gaussian_filter

from reference._rng import preserved_global_rng, torch_threads

IMAGE_SIZE = (50, 50)
MISSING_RATIO = 0.20
DATA_SEED = 102
#: The rates of the benchmark and the grading profile.
LEARNING_RATES = (0.001, 0.01, 0.1, 0.5, 0.9, 1.5)


def generate_image_with_missing_pixels(image_size=IMAGE_SIZE, mean=128, std=50, missing_ratio=MISSING_RATIO):
    """``(image, ground_truth)``, both uint8 of ``image_size``, drawn from numpy's global RNG.

    As the chapter: normal noise cast with ``astype(np.uint8)`` -- which wraps values outside 0..255
    modulo 256 (about 0.8 % of pixels; kept on purpose, it is the exercise's data) -- smoothed by a
    uint8 ``gaussian_filter`` (sigma 1), clipped to 1..255, then ``int(H*W*missing_ratio)`` distinct
    pixels set to 0. Consumes the global RNG in the chapter's order (normal, then choice).
    """
    image_raw = np.random.normal(mean, std, size=image_size).astype(np.uint8)
    image = gaussian_filter(image_raw, sigma=1)
    image = np.clip(image, 1, 255)
    ground_truth = image.copy()
    num_missing_pixels = int(image_size[0] * image_size[1] * missing_ratio)
    missing_indices = np.random.choice(image_size[0] * image_size[1], size=num_missing_pixels, replace=False)
    image_flat = image.reshape(-1)
    image_flat[missing_indices] = 0
    image = image_flat.reshape(image_size)
    return image, ground_truth


def _to_tensor(image) -> torch.Tensor:
    # np.array copies: torch.from_numpy warns on read-only arrays (and warnings are errors in tests).
    return torch.from_numpy(np.array(image)).unsqueeze(0).unsqueeze(0).float() / 255.0


def make_training_set(num_images: int = 500, seed: int = DATA_SEED):
    """``(inputs, targets)``: lists of float tensors of shape (1, 1, 50, 50) scaled by 1/255.

    The chapter's problem cell: ``torch.manual_seed(seed); np.random.seed(seed)``, then ``num_images``
    pairs. The caller's global RNG states are restored afterwards.
    """
    with preserved_global_rng():
        torch.manual_seed(seed)
        np.random.seed(seed)
        image_pairs = [generate_image_with_missing_pixels(IMAGE_SIZE) for _ in range(num_images)]
    inputs = [_to_tensor(pair[0]) for pair in image_pairs]
    targets = [_to_tensor(pair[1]) for pair in image_pairs]
    return inputs, targets


def chapter_test_sample(num_images: int = 500, seed: int = DATA_SEED):
    """The ``(sample_image, ground_truth)`` of the chapter's test cell: the pair drawn right after the
    ``num_images`` training pairs from the same seeded stream (global RNG restored afterwards)."""
    with preserved_global_rng(torch_too=False):
        np.random.seed(seed)
        for _ in range(num_images):
            generate_image_with_missing_pixels(IMAGE_SIZE)
        return generate_image_with_missing_pixels(IMAGE_SIZE)


class PixelPredictionModel(nn.Module):
    """conv 1->32 (k3, p1), ReLU, conv 32->1 (k3, p1): 609 parameters."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(32, 1, kernel_size=3, padding=1)

    def forward(self, x):
        x = self.conv1(x)
        x = self.relu(x)
        x = self.conv2(x)
        return x


def train_pixel_model(model: nn.Module, inputs, targets, lr: float, num_epochs: int = 5) -> list[float]:
    """The chapter's loop (SGD, MSE, one image per step, in order); returns each epoch's mean loss.

    A divergent rate yields inf/nan losses, which are returned, not raised.  Training stops early once a
    weight is nan (the remaining epoch means are nan either way; lr 1.5 gets there in ~130 steps).
    """
    return train_pixel_trace(model, inputs, targets, lr, num_epochs)["epoch_means"]


def train_pixel_trace(model: nn.Module, inputs, targets, lr: float, num_epochs: int = 5, *,
                      optimizer: str = "sgd", learn: bool = True) -> dict[str, list[float]]:
    """The chapter's loop, keeping what typical mistakes report: ``{"epoch_means": [...], "last_losses":
    [...]}`` (each epoch's mean loss and its last step's loss).  ``optimizer="adam"`` trains with Adam
    instead of SGD; ``learn=False`` never changes the weights (an optimizer built for another model).
    """
    criterion = nn.MSELoss()
    opt = (optim.Adam if optimizer == "adam" else optim.SGD)(model.parameters(), lr=lr)
    epoch_means: list[float] = []
    last_losses: list[float] = []
    for epoch in range(num_epochs):
        total_loss = 0.0
        for step, (image, ground_truth) in enumerate(zip(inputs, targets)):
            opt.zero_grad()
            output = model(image)
            loss = criterion(output, ground_truth)
            if learn:
                loss.backward()
                opt.step()
            value = loss.item()
            total_loss += value
            if learn and not math.isfinite(value) and _has_nan(model):
                # Diverged for good: once a weight is nan, every later output of this network is nan
                # (nan * 0 is nan, ReLU keeps nan), so is every later loss and every later gradient.
                # Every epoch mean from the next step on is therefore nan: stop here, same result.
                # (inf alone is not enough: a ReLU channel with bias -inf is dead but finite.)
                last = step == len(inputs) - 1
                epoch_means.append(total_loss / len(inputs) if last else math.nan)
                last_losses.append(value if last else math.nan)
                epoch_means += [math.nan] * (num_epochs - epoch - 1)
                last_losses += [math.nan] * (num_epochs - epoch - 1)
                return {"epoch_means": epoch_means, "last_losses": last_losses}
        epoch_means.append(total_loss / len(inputs))
        last_losses.append(value)
    return {"epoch_means": epoch_means, "last_losses": last_losses}


def _has_nan(model: nn.Module) -> bool:
    return any(bool(torch.isnan(p).any()) for p in model.parameters())


def lr_sweep(
    cid: int,
    learning_rates: Iterable[float],
    num_images: int = 500,
    num_epochs: int = 5,
    data_seed: int = DATA_SEED,
) -> dict[float, float]:
    """The exercise contract: ``{rate: final-epoch mean loss}``.

    The training set is ``make_training_set(num_images, data_seed)``; for each rate the model is
    ``PixelPredictionModel()`` built right after ``torch.manual_seed(cid)`` and trained ``num_epochs``
    with SGD at that rate. Runs with one intra-op thread, as the student's kernel does (1 and 2 threads
    give different floats); the thread count and both global RNG states are restored afterwards.
    """
    inputs, targets = make_training_set(num_images, data_seed)
    results: dict[float, float] = {}
    with preserved_global_rng(), torch_threads(1):
        for rate in learning_rates:
            torch.manual_seed(cid)
            model = PixelPredictionModel()
            results[float(rate)] = train_pixel_model(model, inputs, targets, lr=rate, num_epochs=num_epochs)[-1]
    return results


# ---- typical mistakes (autograder/ann/mistakes.py compares a failing student's sweep with these) ----

def _fresh_model(init_seed: int, init_skip: int) -> PixelPredictionModel:
    """The model built after ``torch.manual_seed(init_seed)`` and ``init_skip`` earlier models."""
    torch.manual_seed(init_seed)
    for _ in range(init_skip):
        PixelPredictionModel()
    return PixelPredictionModel()


def training_trace(init_seed: int, rate: float, num_images: int = 500, num_epochs: int = 5,
                   data_seed: int = DATA_SEED, init_skip: int = 0, optimizer: str = "sgd",
                   learn: bool = True) -> dict[str, list[float]]:
    """One training of the sweep as a student's variant of it would run: the model built after
    ``torch.manual_seed(init_seed)`` and ``init_skip`` earlier models (a sweep seeded once before its
    loop builds the k-th rate's model after k others), trained ``num_epochs`` at ``rate`` with
    ``optimizer``.  Returns :func:`train_pixel_trace`'s epoch means and last-step losses; one thread,
    global RNG states restored.  ``training_trace(cid, rate, ...)["epoch_means"][-1]`` is the contract's
    ``lr_sweep(cid, [rate], ...)[rate]``."""
    inputs, targets = make_training_set(num_images, data_seed)
    with preserved_global_rng(), torch_threads(1):
        model = _fresh_model(init_seed, init_skip)
        return train_pixel_trace(model, inputs, targets, rate, num_epochs, optimizer=optimizer, learn=learn)


def chained_sweep(cid: int, learning_rates: Iterable[float], num_images: int = 500, num_epochs: int = 5,
                  data_seed: int = DATA_SEED) -> dict[float, float]:
    """The sweep without re-initialisation: ONE model, built after ``torch.manual_seed(cid)``, trained
    at each rate in turn (a new SGD optimizer per rate); ``{rate: final-epoch mean loss}``."""
    inputs, targets = make_training_set(num_images, data_seed)
    results: dict[float, float] = {}
    with preserved_global_rng(), torch_threads(1):
        model = _fresh_model(cid, 0)
        for rate in learning_rates:
            results[float(rate)] = train_pixel_model(model, inputs, targets, lr=rate, num_epochs=num_epochs)[-1]
    return results


def best_lr(results: dict) -> float:
    """The rate with the lowest finite loss (ties: the smallest rate); ValueError if none is finite."""
    finite = [(loss, rate) for rate, loss in results.items() if loss is not None and math.isfinite(loss)]
    if not finite:
        raise ValueError("no learning rate has a finite loss")
    return min(finite)[1]


def reconstruct(model: nn.Module, image) -> np.ndarray:
    """The chapter's test cell: ``model(image / 255) * 255`` as a float32 array of the image's shape."""
    with torch.no_grad():
        return model(_to_tensor(image)).squeeze().detach().numpy() * 255.0
