"""Typical student notebooks of this exercise, built from the release by code.

Used by the engine's tests, the demo cohort, `gradekit validate` and the benchmark, so they stay
valid when the release changes: every edit asserts that it found what it edits.
Generic operations (fix a seeded bug, copy a solution) come from gradekit.fabricate; the
mistakes below are this course's own.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable, Mapping

from gradekit.api import fabricate, sibling

_course = sibling(__file__, "course")
BUG_PARTS = _course.BUG_PARTS
TASK_PARTS = _course.TASK_PARTS


class EditNotFound(AssertionError):
    """The release changed so that a variant no longer applies: update the variant."""


def replace_in_cells(nb, old: str, new: str, *, count: int | None = 1):
    """A copy of nb with `old` replaced by `new` in code cells; exactly `count` occurrences must exist."""
    nb = copy.deepcopy(nb)
    found = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and old in cell.source:
            found += cell.source.count(old)
            cell.source = cell.source.replace(old, new)
    if found == 0 or (count is not None and found != count):
        raise EditNotFound(f"expected {count} occurrence(s) of {old!r} in the notebook, found {found}")
    return nb


def profile_lines(profile: Mapping[str, Any]) -> dict[str, str]:
    """Lines of the release that fix the exercise's size -> their value under `profile`."""
    return {
        "num_images = 500": f"num_images = {int(profile['num_images'])}",
        "num_epochs = 5": f"num_epochs = {int(profile['num_epochs'])}",
        "learning_rates = [0.001, 0.01, 0.1, 0.5, 0.9, 1.5]":
            f"learning_rates = {[float(r) for r in profile['learning_rates']]!r}",
    }


def apply_profile(nb, profile: Mapping[str, Any]):
    """The notebook resized to a profile (tests use `tiny`); the grading profile changes nothing."""
    for old, new in profile_lines(profile).items():
        if old != new:
            nb = replace_in_cells(nb, old, new)
    return nb


def student(release, source, *, name: str, cid: int | None, fixed: Iterable[str] = (),
            solved: Iterable[str] = (), profile: Mapping[str, Any] | None = None):
    """A student who fixed the seeded bugs `fixed` and solved the tasks `solved`, nothing else."""
    nb = copy.deepcopy(release)
    for part in fixed:
        nb = fabricate.fix_bug(nb, source, part)
    for part in solved:
        nb = fabricate.solve(nb, source, part)
    if cid is not None:
        nb = fabricate.set_details(nb, name, cid)
    if profile is not None:
        nb = apply_profile(nb, profile)
    return nb


def full_marks(release, source, *, name: str, cid: int, profile=None):
    return student(release, source, name=name, cid=cid, fixed=BUG_PARTS, solved=TASK_PARTS, profile=profile)


# ---- the mistakes students really make ---------------------------------------------------------

def sweep_without_reinit(nb):
    """Seeds once and trains ONE model across all rates: every rate after the first continues from
    the previous rate's weights."""
    nb = replace_in_cells(nb, "for rate in learning_rates:\n    torch.manual_seed(CID)\n    model = PixelPredictionModel()\n",
                          "torch.manual_seed(CID)\nmodel = PixelPredictionModel()\nfor rate in learning_rates:\n")
    return nb


def sweep_seeded_once(nb):
    """Seeds once before the loop: a new model per rate, but only the first starts from CID's weights."""
    return replace_in_cells(nb, "for rate in learning_rates:\n    torch.manual_seed(CID)\n    model = PixelPredictionModel()\n",
                            "torch.manual_seed(CID)\nfor rate in learning_rates:\n    model = PixelPredictionModel()\n")


def sweep_seeded_after_model(nb):
    """Seeds right after creating the model: every rate but the first starts from CID's weights."""
    return replace_in_cells(nb, "for rate in learning_rates:\n    torch.manual_seed(CID)\n    model = PixelPredictionModel()\n",
                            "for rate in learning_rates:\n    model = PixelPredictionModel()\n    torch.manual_seed(CID)\n")


def sweep_loss_of_all_epochs(nb):
    """Resets total_loss once per rate, not per epoch: the 'final' loss adds up every epoch."""
    return replace_in_cells(nb, "    for epoch in range(num_epochs):\n        total_loss = 0.0\n",
                            "    total_loss = 0.0\n    for epoch in range(num_epochs):\n")


def sweep_stale_optimizer(nb):
    """Keeps the problem cell's optimizer: it steps the old model's weights, the new model never learns."""
    return replace_in_cells(nb, "    optimizer = optim.SGD(model.parameters(), lr=rate)\n", "")


# ---- sweeps without the work behind them (issue 12): what the checks must never reward ----------

def partial_sweep(nb, trained, claim: str = 'float("nan")'):
    """Trains only the rates `trained` and writes `claim` (Python source: a claimed divergence by
    default, or a made-up loss) for every other rate; best_lr is the solution's argmin of the result."""
    rates = [float(r) for r in trained]
    return replace_in_cells(nb, "lr_results = {}\nfor rate in learning_rates:\n",
                            f"lr_results = {{rate: {claim} for rate in learning_rates if rate not in {rates!r}}}\n"
                            f"for rate in {rates!r}:\n")
# The catalogued sweep mistakes (mistakes.py) that the flawed sweeps above do not already build.

_SEED_LINE = "    torch.manual_seed(CID)\n    model = PixelPredictionModel()\n"
_EPOCH_LOOP = "    for epoch in range(num_epochs):\n        total_loss = 0.0\n"
_STORE = "    lr_results[rate] = total_loss / len(images_with_missing_pixels)\n"


def sweep_seeded_with(nb, seed: int):
    """torch.manual_seed(<seed>) instead of the student's CID: the data seed 102, the template's CID,
    or a classmate's CID."""
    return replace_in_cells(nb, _SEED_LINE, f"    torch.manual_seed({int(seed)})\n    model = PixelPredictionModel()\n")


def sweep_mean_of_all_epochs(nb):
    """Stores the mean of the epochs' mean losses instead of the final epoch's."""
    nb = replace_in_cells(nb, _EPOCH_LOOP, "    epoch_losses = []\n" + _EPOCH_LOOP)
    return replace_in_cells(nb, "            total_loss += loss.item()\n" + _STORE,
                            "            total_loss += loss.item()\n"
                            "        epoch_losses.append(total_loss / len(images_with_missing_pixels))\n"
                            "    lr_results[rate] = sum(epoch_losses) / len(epoch_losses)\n")


def sweep_last_step_loss(nb):
    """Stores the last training step's loss instead of the final epoch's mean."""
    return replace_in_cells(nb, _STORE, "    lr_results[rate] = loss.item()\n")


def sweep_one_epoch_short(nb):
    """range(1, num_epochs): one epoch too few."""
    return replace_in_cells(nb, _EPOCH_LOOP, _EPOCH_LOOP.replace("range(num_epochs)", "range(1, num_epochs)"))


def sweep_adam(nb):
    """Adam instead of SGD."""
    return replace_in_cells(nb, "    optimizer = optim.SGD(model.parameters(), lr=rate)\n",
                            "    optimizer = optim.Adam(model.parameters(), lr=rate)\n")


CATALOGUED_SWEEPS = {   # mistake id (autograder/ann/mistakes.py) -> how a student makes it
    "stale_optimizer": sweep_stale_optimizer,
    "seed_102": lambda nb: sweep_seeded_with(nb, 102),
    "seed_placeholder": lambda nb: sweep_seeded_with(nb, 123446),
    "all_epochs_mean": sweep_mean_of_all_epochs,
    "all_epochs_sum": sweep_loss_of_all_epochs,
    "last_step_loss": sweep_last_step_loss,
    "wrong_epochs": sweep_one_epoch_short,
    "seed_after_model": sweep_seeded_after_model,
    "seeded_once": sweep_seeded_once,
    "adam": sweep_adam,
    "no_reinit": sweep_without_reinit,
}


def _edit(old: str, new: str):
    """A builder that makes one edit (exactly one occurrence of `old`)."""
    return lambda nb: replace_in_cells(nb, old, new)


_RULE = "    return 1 if weighted_sum >= 0 else 0\n"
_SIGMOID = "    return 1 / (1 + np.exp(-x))\n"

CATALOGUED_BUGS = {   # (part, mistake id) -> builder applied after fixing that part's seeded bug
    ("perceptron", "strict_inequality"): _edit(_RULE, "    return 1 if weighted_sum > 0 else 0\n"),
    ("perceptron", "bias_ignored"): _edit("weighted_sum = x1 * w1 + x2 * w2 + bias", "weighted_sum = x1 * w1 + x2 * w2"),
    ("perceptron", "returns_weighted_sum"): _edit(_RULE, "    return weighted_sum\n"),
    ("sigmoid", "math_exp"): lambda nb: sigmoid_not_vectorised(nb),
    ("sigmoid", "sign_flip"): _edit(_SIGMOID, "    return 1 / (1 + np.exp(x))\n"),
    ("sigmoid", "missing_parentheses"): _edit(_SIGMOID, "    return 1 / 1 + np.exp(-x)\n"),
    ("simple_cnn", "layer_size"): lambda nb: cnn_wrong_sizes(nb),
    ("simple_cnn", "missing_activation"): _edit("        x = self.relu3(x)\n", ""),   # forward() without relu3
}


_BEST = "best_lr = min(finite_results, key=finite_results.get)\n"

CATALOGUED_BEST_LR = {   # mistake id -> how a student makes it
    "highest_loss": _edit(_BEST, "best_lr = max(finite_results, key=finite_results.get)\n"),
    "loss_not_rate": _edit(_BEST, "best_lr = min(finite_results.values())\n"),
    "diverged_rate": lambda nb: best_lr_by_argmin(nb),
}


def best_lr_by_argmin(nb):
    """Records a divergence as nan (valid), then takes np.argmin over all losses: np.argmin returns the
    position of the first nan, so best_lr is the diverged rate."""
    nb = replace_in_cells(nb, _STORE, "    lr_results[rate] = total_loss / len(images_with_missing_pixels)\n"
                                      "    if not np.isfinite(lr_results[rate]):\n"
                                      "        lr_results[rate] = float('nan')\n")
    return replace_in_cells(nb, _BEST, "best_lr = learning_rates[int(np.argmin([lr_results[r] for r in learning_rates]))]\n")


def sweep_printed_only(nb):
    """Prints each result but never builds the dictionary lr_results."""
    nb = replace_in_cells(nb, "lr_results = {}\n", "results_list = []\n")
    nb = replace_in_cells(nb, "    lr_results[rate] = total_loss / len(images_with_missing_pixels)\n"
                              "    print(f\"lr = {rate}: final-epoch loss {lr_results[rate]:.6f}\")",
                          "    print(f\"lr = {rate}: final-epoch loss {total_loss / len(images_with_missing_pixels):.6f}\")")
    return nb


def sigmoid_not_vectorised(nb):
    """math.exp: right for one number, a TypeError for a numpy array, an OverflowError at -10000."""
    return replace_in_cells(nb, "    return 1 / (1 + np.exp(-x))\n", "    import math\n    return 1 / (1 + math.exp(-x))\n")


def cnn_wrong_sizes(nb):
    """A hidden layer of 64 instead of 128 units."""
    nb = replace_in_cells(nb, "nn.Linear(64 * 7 * 7, 128)", "nn.Linear(64 * 7 * 7, 64)")
    return replace_in_cells(nb, "nn.Linear(128, 10)", "nn.Linear(64, 10)")


def infinite_loop_early(nb):
    """A stray `while True: pass` in the perceptron cell: the cell times out, later parts still count."""
    return replace_in_cells(nb, "# Function to calculate the output of the perceptron with bias\n",
                            "# Function to calculate the output of the perceptron with bias\nwhile True:\n    pass\n")
