"""The typical mistakes of this exercise, each a reference implementation of the mistake.

When a part fails, the engine asks course.py's `diagnose` hook which of these explains the student's
answers: the mistake is computed for the student's CID on the grader's own probe inputs (for the
sweep: at the rates the checks compared, through the reference cache) and compared with the answers
as the checks compare them with the correct reference.  A diagnosis names the mistake and its fix on
the feedback page; it never changes marks.  Entries are tried cheapest first; the first that
explains every compared answer is the diagnosis.

The training mistakes live in reference/microscopy.py (`training_trace`, `chained_sweep`) and
reference/fashion.py (`SimpleCNN` widths, `skip_relu`); the small ones are written out below exactly
as students write them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from gradekit.api import Mistake, as_array, as_float

TEMPLATE_CID = 123446   # the CID the release's "Your details" cell ships with


@dataclass(frozen=True)
class Entry:
    part: str
    id: str
    sentence: str       # names the mistake and its fix; never a reference value

    def mistake(self) -> Mistake:
        return Mistake(self.part, self.id, self.sentence)


def _entries(part: str, *rows: tuple[str, str]) -> dict[str, Entry]:
    return {mid: Entry(part, mid, sentence) for mid, sentence in rows}


PERCEPTRON = _entries(
    "perceptron",
    ("seeded_bug", "Your perceptron still has the chapter's deliberate bug: `weighted_sum + ...` adds to a "
                   "variable that does not exist; assign it with `weighted_sum = ...`."),
    ("strict_inequality", "Your perceptron uses `>` where the rule is `>=`: a weighted sum of exactly 0 must "
                          "give 1."),
    ("bias_ignored", "Your perceptron leaves out the bias: the weighted sum is x1*w1 + x2*w2 + bias."),
    ("returns_weighted_sum", "Your perceptron returns the weighted sum itself: return 1 when it is >= 0, "
                             "else 0."),
    ("inverted_output", "Your perceptron returns 0 and 1 the wrong way round: a weighted sum >= 0 gives 1."),
)
SIGMOID = _entries(
    "sigmoid",
    ("seeded_bug", "Your sigmoid still has the chapter's deliberate bug `def sigmoid():`: it needs its "
                   "argument, `def sigmoid(x):`."),
    ("math_exp", "Your sigmoid uses math.exp, which takes one number only: use np.exp so that it works on "
                 "a whole numpy array."),
    ("sign_flip", "Your sigmoid computes 1 / (1 + exp(x)): the exponent is -x, 1 / (1 + np.exp(-x))."),
    ("missing_parentheses", "Your sigmoid computes 1/1 + exp(-x): put the denominator in parentheses, "
                            "1 / (1 + np.exp(-x))."),
    ("overflow_formula", "Your sigmoid computes exp(x) / (1 + exp(x)), which gives nan for large x "
                         "(inf / inf): use 1 / (1 + np.exp(-x))."),
)
SIMPLE_CNN = _entries(
    "simple_cnn",
    ("seeded_bug", "SimpleCNN is not defined: its cell still has the chapter's deliberate typo `clas` "
                   "(write `class SimpleCNN(nn.Module):`)."),
    ("layer_size", "A layer of your SimpleCNN has another size than the chapter's (32 and 64 filters, 128 "
                   "hidden units): keep the sizes of the notebook."),
    ("missing_activation", "Your SimpleCNN's forward() leaves out one of its ReLU activations: apply "
                           "relu1, relu2 and relu3 as the notebook does."),
)
LR_SWEEP = _entries(
    "lr_sweep",
    ("stale_optimizer", "Your models never learn: the optimizer still belongs to the problem cell's "
                        "model. Create `optimizer = optim.SGD(model.parameters(), lr=rate)` for each new model."),
    ("seed_102", "Your sweep is seeded with the data seed 102: call torch.manual_seed(CID) with your own "
                 "CID right before creating each model."),
    ("seed_placeholder", f"Your sweep is seeded with the template's CID {TEMPLATE_CID}: call "
                         "torch.manual_seed(CID) with your own CID (the variable CID)."),
    ("all_epochs_mean", "Your losses are the mean over all epochs: store the mean loss of the final epoch "
                        "only (reset total_loss at the start of each epoch)."),
    ("all_epochs_sum", "Your losses add up every epoch's mean: reset total_loss = 0.0 at the start of each "
                       "epoch, not once per rate."),
    ("last_step_loss", "Your losses are the last training step's loss: store the mean loss over the final "
                       "epoch (total_loss / number of images)."),
    ("wrong_epochs", "Your models train for another number of epochs: train for num_epochs epochs, as the "
                     "problem cell does."),
    ("seed_after_model", "You call torch.manual_seed(CID) after creating the model: seed first, then create "
                         "the model."),
    ("seeded_once", "You seed once before the loop: call torch.manual_seed(CID) inside the loop, right "
                    "before creating each model, so that every rate starts from the same weights."),
    ("adam", "Your sweep trains with Adam: the task asks for SGD (optim.SGD(model.parameters(), lr=rate))."),
    ("no_reinit", "You train one model across all the rates: create a fresh PixelPredictionModel for every "
                  "rate, right after torch.manual_seed(CID)."),
)
BEST_LR = _entries(
    "best_lr",
    ("highest_loss", "Your best_lr is the rate with the highest loss: the best rate has the lowest final "
                     "loss (min, not max)."),
    ("loss_not_rate", "Your best_lr is a loss value: best_lr is the learning rate at which the loss is "
                      "lowest."),
    ("diverged_rate", "Your best_lr is a rate that diverged (nan/inf): leave out non-finite losses before "
                      "taking the minimum."),
)
CATALOGUE: dict[str, dict[str, Entry]] = {"perceptron": PERCEPTRON, "sigmoid": SIGMOID, "simple_cnn": SIMPLE_CNN,
                                          "lr_sweep": LR_SWEEP, "best_lr": BEST_LR}


# ---- comparing a mistake's answers with the student's, as the probes report them ----------------

def as_probe_answer(fn: Callable, *args) -> Any:
    """fn(*args) as the probe would report it: the value, or {"__error__": "Type: message"}."""
    try:
        with np.errstate(all="ignore"):
            return fn(*args)
    except Exception as e:  # noqa: BLE001 - the mistake's own exception is its answer
        return {"__error__": f"{type(e).__name__}: {e}"}


def _error_type(v: Any) -> str | None:
    return v["__error__"].split(":", 1)[0] if isinstance(v, dict) and isinstance(v.get("__error__"), str) else None


def same_answer(student: Any, predicted: Any, rtol: float = 1e-7) -> bool:
    """An exception of the same type, or numbers (scalars or arrays) equal within rtol, nan to nan."""
    if _error_type(student) or _error_type(predicted):
        return _error_type(student) == _error_type(predicted)
    try:
        got = as_array(student) if not isinstance(student, (bool, np.bool_)) else np.array(float(student))
        want = np.asarray(predicted, dtype=float)
    except (TypeError, ValueError):
        return False
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=rtol, atol=1e-12, equal_nan=True))


# ---- perceptron and sigmoid: the mistakes as students write them --------------------------------

def _perceptron_seeded_bug(x1, x2, w1, w2, bias):
    weighted_sum + x1 * w1 + x2 * w2 + bias  # noqa: F821 - the release's bug, verbatim
    return 1 if weighted_sum >= 0 else 0  # noqa: F821


def _sigmoid_seeded_bug():
    return 0.5


PERCEPTRON_FNS: dict[str, Callable] = {
    "seeded_bug": _perceptron_seeded_bug,
    "strict_inequality": lambda x1, x2, w1, w2, bias: 1 if x1 * w1 + x2 * w2 + bias > 0 else 0,
    "bias_ignored": lambda x1, x2, w1, w2, bias: 1 if x1 * w1 + x2 * w2 >= 0 else 0,
    "returns_weighted_sum": lambda x1, x2, w1, w2, bias: x1 * w1 + x2 * w2 + bias,
    "inverted_output": lambda x1, x2, w1, w2, bias: 0 if x1 * w1 + x2 * w2 + bias >= 0 else 1,
}
SIGMOID_FNS: dict[str, Callable] = {
    "seeded_bug": _sigmoid_seeded_bug,
    "math_exp": lambda x: 1 / (1 + math.exp(-x)),
    "sign_flip": lambda x: 1 / (1 + np.exp(x)),
    "missing_parentheses": lambda x: 1 / 1 + np.exp(-x),
    "overflow_formula": lambda x: np.exp(x) / (1 + np.exp(x)),
}


def diagnose_perceptron(probe) -> list[Mistake]:
    cases, outs = probe.params.get("cases", []), probe.value
    if not isinstance(outs, list) or len(outs) != len(cases):
        return []
    for mid, fn in PERCEPTRON_FNS.items():
        if all(same_answer(out, as_probe_answer(fn, *case), rtol=1e-9) for case, out in zip(cases, outs)):
            return [PERCEPTRON[mid].mistake()]
    return []


def diagnose_sigmoid(probe) -> list[Mistake]:
    value = probe.value
    if not isinstance(value, dict):
        return []
    scalars, vector = probe.params.get("scalars", []), np.array(probe.params.get("vector", []), dtype=float)
    for mid, fn in SIGMOID_FNS.items():
        if (len(value.get("scalars", [])) == len(scalars)
                and all(same_answer(out, as_probe_answer(fn, x)) for x, out in zip(scalars, value["scalars"]))
                and same_answer(value.get("vector"), as_probe_answer(fn, vector))):
            return [SIGMOID[mid].mistake()]
    return []


# ---- SimpleCNN -----------------------------------------------------------------------------------

MAX_WIDTH = 4096     # a student's layer sizes are untrusted: nothing larger is ever built


def diagnose_simple_cnn(probe) -> list[Mistake]:
    import torch

    from reference.fashion import SimpleCNN, simple_cnn_state

    if probe.status == "error" and "NameError" in (probe.error or "") and "SimpleCNN" in (probe.error or ""):
        return [SIMPLE_CNN["seeded_bug"].mistake()]
    value = probe.value if probe.status == "ok" and isinstance(probe.value, dict) else {}
    shapes = value.get("shapes")
    chapter = {k: list(v.shape) for k, v in SimpleCNN().state_dict().items()}
    if isinstance(shapes, dict) and shapes != chapter and set(shapes) == set(chapter):
        try:
            widths = [int(shapes[k][0]) for k in ("conv1.weight", "conv2.weight", "fc1.weight")]
        except (TypeError, ValueError, IndexError):
            return []
        if all(0 < w <= MAX_WIDTH for w in widths):
            with torch.device("meta"):   # shapes only: no memory for the student's sizes
                theirs = {k: list(v.shape) for k, v in SimpleCNN(*widths).state_dict().items()}
            if theirs == shapes:
                return [SIMPLE_CNN["layer_size"].mistake()]
        return []
    try:
        logits = as_array(value.get("logits"))
    except TypeError:
        return []
    params = probe.params
    x = torch.rand(params["batch"], 1, 28, 28, generator=torch.Generator().manual_seed(params["seed"]))
    for relu in ("relu1", "relu2", "relu3"):
        model = SimpleCNN(skip_relu=relu)
        model.load_state_dict(simple_cnn_state(0))
        model.eval()
        with torch.no_grad():
            want = model(x).numpy()
        if logits.shape == want.shape and float(abs(logits - want).max()) <= 1e-4:
            return [SIMPLE_CNN["missing_activation"].mistake()]
    return []


# ---- best_lr: from the student's own sweep -------------------------------------------------------

def diagnose_best_lr(course, probe) -> list[Mistake]:
    value = probe.value if probe.status == "ok" else None
    try:
        student = course.student_sweep(value)
        best = as_float(value.get("best_lr"))
    except (TypeError, AttributeError):
        return []
    finite = {r: v for r, v in student.items() if math.isfinite(v)}
    if best in student and not math.isfinite(student[best]):
        return [BEST_LR["diverged_rate"].mistake()]
    if len(finite) >= 2 and best == max(finite, key=lambda r: (finite[r], -r)) != min(finite, key=finite.get):
        return [BEST_LR["highest_loss"].mistake()]
    if finite and best not in student and math.isclose(best, min(finite.values()), rel_tol=1e-9):
        return [BEST_LR["loss_not_rate"].mistake()]
    return []


# ---- the sweep, at the rates the checks compared -------------------------------------------------

def sweep_predictions(course, reference, profile: Mapping[str, Any], cid: int) -> list[tuple[str, Callable]]:
    """(mistake id, rate -> the mistake's final loss for this CID), cheapest first.  A prediction of
    None means "the same as the correct reference at this rate" (known without computing: a sweep that
    is not re-seeded is right at the first rate).  Each call is one cached reference computation."""
    from reference.microscopy import chained_sweep, training_trace

    rates = [float(r) for r in profile["learning_rates"]]
    n, size = int(profile["num_epochs"]), dict(num_images=int(profile["num_images"]),
                                               data_seed=int(profile["data_seed"]))

    def trace(seed, rate, epochs=n, **kw):
        return reference(training_trace, init_seed=int(seed), rate=float(rate), num_epochs=epochs, **size, **kw)

    def long(rate):       # 2n epochs: the first n are the correct training, the rest "too many epochs"
        return trace(cid, rate, 2 * n)

    def first_rate_only(fn):
        return lambda r: fn(r) if rates.index(r) == 0 else None

    def after_first_rate(fn):
        return lambda r: None if rates.index(r) == 0 else fn(r)

    out: list[tuple[str, Callable]] = [
        ("stale_optimizer", lambda r: trace(cid, 0.0, 1, learn=False)["epoch_means"][-1]),
        ("seed_102", lambda r: course._reference_loss(reference, profile, int(profile["data_seed"]), r)),
        ("seed_placeholder", lambda r: course._reference_loss(reference, profile, TEMPLATE_CID, r)),
        ("all_epochs_mean", lambda r: float(np.mean(long(r)["epoch_means"][:n]))),
        ("all_epochs_sum", lambda r: float(np.sum(long(r)["epoch_means"][:n]))),
        ("last_step_loss", lambda r: long(r)["last_losses"][n - 1]),
    ]
    out += [("wrong_epochs", lambda r, k=k: long(r)["epoch_means"][k - 1]) for k in range(1, 2 * n + 1) if k != n]
    out += [
        ("seed_after_model", first_rate_only(lambda r: trace(profile["data_seed"], r, init_skip=1)["epoch_means"][-1])),
        ("seeded_once", after_first_rate(lambda r: trace(cid, r, init_skip=rates.index(r))["epoch_means"][-1])),
        ("adam", lambda r: trace(cid, r, optimizer="adam")["epoch_means"][-1]),
        # one model trained through every rate up to r (the chain stops at r: rates are tried lazily)
        ("no_reinit", after_first_rate(lambda r: reference(chained_sweep, cid=int(cid), num_epochs=n, **size,
                                                           learning_rates=rates[:rates.index(r) + 1])[r])),
    ]
    return out


def diagnose_sweep(course, probe, profile: Mapping[str, Any], cid: int | None, reference) -> list[Mistake]:
    """The first catalogued mistake whose losses agree with the student's at every rate the checks
    compared (rates that failed first, so a mistake that cannot explain a failure costs nothing more)."""
    if cid is None:
        return []
    try:
        student = course.student_sweep(probe.value)
    except TypeError:
        return []
    expected = course.expected_sweep(reference, profile, cid, student)     # cache hits: the checks asked
    ok = course.sweep_matches(student, expected, profile["rtol"])
    failing = [r for r in expected if not ok[r]]
    if not failing or any(r not in student for r in failing):
        return []
    order = failing + [r for r in expected if ok[r]]

    def agrees(rate, predicted):
        if predicted is None:
            return ok[rate]
        return course.sweep_matches({rate: student[rate]}, {rate: predicted}, profile["rtol"])[rate]

    for mid, predict in sweep_predictions(course, reference, profile, cid):
        if all(agrees(r, predict(r)) for r in order):
            return [LR_SWEEP[mid].mistake()]
    return []


# ---- the hooks (course.py forwards to these) -----------------------------------------------------

def diagnose(course, part: str, probes: Mapping[str, Any], profile: Mapping[str, Any], cid: int | None,
             reference) -> list[Mistake]:
    """The catalogued mistake that explains a failing part, or []."""
    probe_of = {"perceptron": "perceptron", "sigmoid": "sigmoid", "simple_cnn": "simple_cnn",
                "lr_sweep": "sweep", "best_lr": "sweep"}
    probe = probes.get(probe_of.get(part, part))
    if probe is None:
        return []
    if part == "simple_cnn":
        return diagnose_simple_cnn(probe)
    if probe.status != "ok":
        return []
    if part == "perceptron":
        return diagnose_perceptron(probe)
    if part == "sigmoid":
        return diagnose_sigmoid(probe)
    if part == "lr_sweep":
        return diagnose_sweep(course, probe, profile, cid, reference)
    if part == "best_lr":
        return diagnose_best_lr(course, probe)
    return []


def comparable_answers(course, probes: Mapping[str, Any]) -> dict[str, list[list[float]]]:
    """{"lr_sweep": [[rate, loss], ...]}: the one answer that depends only on the student's code and
    CID (the other probes use inputs the grader draws fresh), so it can be compared between students."""
    probe = probes.get("sweep")
    if probe is None or probe.status != "ok":
        return {}
    try:
        student = course.student_sweep(probe.value)
    except TypeError:
        return {}
    return {"lr_sweep": [[rate, loss] for rate, loss in student.items()]} if student else {}


def matches_cid(course, part: str, answers, profile: Mapping[str, Any], cid: int, reference) -> str | None:
    """Evidence when the student's sweep is the reference sweep of `cid`: screened at the first rate (its
    reference is computed for every answered CID anyway), then confirmed at the rates the checks would
    compare for `cid`."""
    if part != "lr_sweep":
        return None
    student = {float(r): float(v) for r, v in answers}
    first = float(profile["learning_rates"][0])
    if first not in student or not math.isfinite(student[first]):
        return None
    screen = course._reference_loss(reference, profile, cid, first)
    if not course.sweep_matches({first: student[first]}, {first: screen}, profile["rtol"])[first]:
        return None
    expected = course.expected_sweep(reference, profile, cid, student)
    if not all(course.sweep_matches(student, expected, profile["rtol"]).values()):
        return None
    return (f"lr_results equal the reference sweep of CID {cid} at all {len(expected)} rates compared "
            f"({', '.join(f'{r:g}' for r in expected)})")
