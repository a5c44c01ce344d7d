"""The ANN exercise as the engine sees it: profiles, files for the sandbox, and the probes.

Probes are the only questions asked of a student's kernel.  Each returns plain data; the checks in
this folder compare that data with the reference implementations, outside the sandbox.  Inputs the
grader chooses (perceptron cases, sigmoid points, the CNN batch seed) are drawn fresh for every run.
"""
from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from gradekit.probes import ProbeSpec

HERE = Path(__file__).resolve().parent
PARTS = ("perceptron", "sigmoid", "simple_cnn", "lr_sweep", "best_lr")   # gradebook columns, in notebook order
SIMPLE_CNN_STATE_SEED = 0
SIMPLE_CNN_STATE_FILE = "probe_data/simple_cnn_state.pt"


def load_profile(name: str) -> dict[str, Any]:
    profiles = tomllib.loads((HERE / "profiles.toml").read_text())
    if name not in profiles:
        raise KeyError(f"unknown profile {name!r}; profiles.toml has {sorted(profiles)}")
    return dict(profiles[name], name=name)


# ---- files the sandbox gets ------------------------------------------------------------------

def job_files(profile: Mapping[str, Any], *, release_dir: Path, cache_dir: Path) -> dict[str, Path]:
    """relative path in the job folder -> file on the host.  Generated data is cached by size."""
    from reference.datasets import write_fashion_mnist

    fashion_root = cache_dir / f"fashion-{profile['fashion_train']}-{profile['fashion_test']}"
    raw = fashion_root / "FashionMNIST" / "raw"
    names = [f"{split}-{kind}-ubyte" for split in ("train", "t10k") for kind in ("images-idx3", "labels-idx1")]
    if not all((raw / n).is_file() for n in names):   # each file appears atomically (another worker may be writing)
        write_fashion_mnist(fashion_root, profile["fashion_train"], profile["fashion_test"], seed=0)
    files = {f"data/FashionMNIST/raw/{n}": raw / n for n in names}
    files[SIMPLE_CNN_STATE_FILE] = _simple_cnn_state_file(cache_dir)
    for extra in sorted(Path(release_dir).glob("*")):
        if extra.is_file() and extra.suffix != ".ipynb":   # micrograph.png and friends
            files[extra.name] = extra
    return files


def _simple_cnn_state_file(cache_dir: Path) -> Path:
    path = cache_dir / f"simple_cnn_state_{SIMPLE_CNN_STATE_SEED}.pt"
    if not path.exists():
        # Imported only to write the file: torchvision's import alone is ~1.5 s of CPU in every
        # grading worker, which otherwise never needs it.
        import torch
        from reference.fashion import simple_cnn_state

        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")   # two workers may write it at once
        torch.save(simple_cnn_state(SIMPLE_CNN_STATE_SEED), tmp)
        tmp.replace(path)
    return path


# ---- probes ------------------------------------------------------------------------------------

CHAPTER_PERCEPTRON_CASES = [[1, 1, 1, 1, 0], [0, 0, 0, 0, -1], [-1, 0, 1, 0, 1], [-1, 0, -1, 0, -0.5]]
CHAPTER_SIGMOID_POINTS = [-1.0, 0.0, 1.0, 10000.0]

PERCEPTRON_PROBE = '''
def probe(params):
    out = []
    for case in params["cases"]:
        try:
            out.append(plain(perceptron(*case)))
        except Exception as e:
            out.append({"__error__": (type(e).__name__ + ": " + str(e))[:200]})
    return out
'''

SIGMOID_PROBE = '''
def probe(params):
    import numpy as np
    import warnings
    out = {}
    scalars = []
    for x in params["scalars"]:
        try:
            scalars.append(plain(sigmoid(x)))
        except Exception as e:
            scalars.append({"__error__": (type(e).__name__ + ": " + str(e))[:200]})
    out["scalars"] = scalars
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["vector"] = plain(sigmoid(np.array(params["vector"], dtype=float)))
    except Exception as e:
        out["vector"] = {"__error__": (type(e).__name__ + ": " + str(e))[:200]}
    return out
'''

SIMPLE_CNN_PROBE = '''
def probe(params):
    import torch
    out = {}
    model = SimpleCNN()
    out["param_count"] = int(sum(p.numel() for p in model.parameters()))
    out["shapes"] = {k: [int(s) for s in v.shape] for k, v in model.state_dict().items()}
    try:
        state = torch.load(params["state_file"], weights_only=True)
        model.load_state_dict(state)
        model.eval()
        gen = torch.Generator().manual_seed(params["seed"])
        x = torch.rand(params["batch"], 1, 28, 28, generator=gen)
        with torch.no_grad():
            out["logits"] = plain(model(x))
    except Exception as e:
        out["logits"] = {"__error__": (type(e).__name__ + ": " + str(e))[:200]}
    return out
'''

SWEEP_PROBE = '''
def probe(params):
    g = globals()
    out = {}
    for name in ("learning_rates", "best_lr", "CID"):
        out[name] = plain(g[name]) if name in g else {"__missing__": name}
    res = g.get("lr_results", None)
    if "lr_results" not in g:
        out["lr_results"] = {"__missing__": "lr_results"}
    elif isinstance(res, dict):
        out["lr_results"] = [[plain(k), plain(v)] for k, v in list(res.items())[:1000]]
    else:
        out["lr_results"] = {"__unconvertible__": type(res).__module__ + "." + type(res).__name__}
    return out
'''

RECONSTRUCTION_PROBE = '''
def probe(params):
    g = globals()
    return {k: plain(g[k]) for k in ("sample_image", "reconstructed_image", "ground_truth") if k in g}
'''


def make_probes(profile: Mapping[str, Any], rng: np.random.Generator) -> list[ProbeSpec]:
    """The probes for one run; `rng` is fresh per run so nobody can prepare for the exact inputs."""
    cases = rng.uniform(-2, 2, size=(40, 5)).round(2).tolist()
    cases += [[1, 1, 1, -1, 0], [0.5, 0.5, 1, 1, -1]]          # exactly on the boundary: >= 0 -> 1
    xs = rng.normal(0, 8, size=30).round(3).tolist() + [-10000.0, 10000.0, -745.2, 710.0, -1e-9]
    return [
        ProbeSpec("perceptron", PERCEPTRON_PROBE, {"cases": CHAPTER_PERCEPTRON_CASES + cases}, 30),
        ProbeSpec("sigmoid", SIGMOID_PROBE, {"scalars": CHAPTER_SIGMOID_POINTS, "vector": xs}, 30),
        ProbeSpec("simple_cnn", SIMPLE_CNN_PROBE,
                  {"state_file": SIMPLE_CNN_STATE_FILE, "seed": int(rng.integers(1 << 30)), "batch": 6}, 60),
        ProbeSpec("sweep", SWEEP_PROBE, {}, 30),
        ProbeSpec("reconstruction", RECONSTRUCTION_PROBE, {}, 30),
    ]


def student_sweep(value: Any) -> dict[float, float]:
    """The student's lr_results from the sweep probe as {rate: loss}; TypeError says what is wrong."""
    from gradekit.probes import as_float, describe

    if not isinstance(value, dict):
        raise TypeError("the sweep probe returned nothing usable")
    raw = value.get("lr_results")
    if isinstance(raw, dict) and "__missing__" in raw:
        raise TypeError("there is no variable `lr_results`: store your results in a dictionary named "
                        "lr_results (printing them is not enough)")
    if not isinstance(raw, list):
        raise TypeError(f"`lr_results` should be a dict, but it is {describe(raw)}")
    out: dict[float, float] = {}
    for k, v in raw:
        try:
            rate = as_float(k)
        except TypeError:
            raise TypeError(f"the keys of `lr_results` should be the learning rates, found {describe(k)}") from None
        try:
            out[rate] = as_float(v)
        except TypeError:
            raise TypeError(f"lr_results[{rate}] should be a number (the final epoch's mean loss), "
                            f"found {describe(v)}") from None
    return out


def sweep_matches(student: Mapping[float, float], expected: Mapping[float, float], rtol: float) -> dict[float, bool]:
    """Per rate: does the student's final loss agree with the reference?  Divergence (nan/inf) agrees
    with divergence, whichever non-finite value the student's code happened to produce."""
    import math

    out = {}
    for rate, exp in expected.items():
        got = student.get(rate)
        if got is None:
            out[rate] = False
        elif not math.isfinite(exp) or not math.isfinite(got):
            out[rate] = not math.isfinite(exp) and not math.isfinite(got)
        else:
            out[rate] = abs(got - exp) <= rtol * abs(exp) + 1e-12
    return out


# ---- the reference sweep, spot-checked ---------------------------------------------------------
#
# The reference sweep is the costliest thing the grader computes (~3.3 s per converging rate on one
# thread).  Telling a right sweep from a wrong one does not need every rate.  The mistakes students
# make change every rate (wrong epochs, a loss summed over all epochs, other data), every rate but the
# first (no re-seeding, one model for all rates, seeding once before the loop), or only the first
# (seeding after creating the model).  So, with `spot_checks = k` in the profile, the checks compare
# the first rate, then the student's own best rate (Task 2 rests on it), then the other rates in a
# secret order, until k rates with a finite reference loss have been compared; diverging rates (cheap:
# the reference stops at the first nan weight) are compared on the way.  The secret order is keyed by
# the CID and a hash of this folder (hidden checks included, so students cannot compute it): the same
# on every re-grade and every worker.  `spot_checks = 0` compares every rate.
# tests/test_spot_checks.py proves that every flawed sweep in variants.py is caught whatever the
# secret order.

@functools.cache
def _key() -> bytes:
    from gradekit.refcache import tree_hash

    return tree_hash(HERE).encode()


def own_best_rate(student: Mapping[float, float] | None, rates) -> float | None:
    """The rate with the lowest finite loss in the student's lr_results (ties: the smaller rate),
    the same rule as the best_lr checks; None if there is none."""
    import math

    finite = [(v, r) for r, v in (student or {}).items() if r in rates and math.isfinite(v)]
    return min(finite)[1] if finite else None


def secret_rank(cid: int, key: bytes | None = None) -> Callable[[float], bytes]:
    """rate -> its place in this CID's secret order (an HMAC of CID and rate)."""
    import hashlib
    import hmac

    key = _key() if key is None else key
    return lambda rate: hmac.new(key, f"{int(cid)}:{float(rate)!r}".encode(), hashlib.sha256).digest()


def sweep_check_order(rates, student: Mapping[float, float] | None, rank: Callable[[float], Any]) -> list[float]:
    """The order in which rates are compared: the first rate, the student's own best rate, then the
    others by `rank` (secret_rank in grading; tests pass every permutation)."""
    rates = [float(r) for r in rates]
    head = [rates[0]] if rates else []
    best = own_best_rate(student, rates)
    if best is not None and best not in head:
        head.append(best)
    return head + sorted((r for r in rates if r not in head), key=rank)


def rates_to_compare(order, spot_checks: int, reference_loss: Callable[[float], float]) -> dict[float, float]:
    """{rate: reference loss} along `order` until `spot_checks` finite reference losses were seen
    (every rate when spot_checks <= 0).  `reference_loss` is called only for the rates returned."""
    import math

    out: dict[float, float] = {}
    finite = 0
    for rate in order:
        out[rate] = reference_loss(rate)
        finite += math.isfinite(out[rate])
        if 0 < spot_checks <= finite:
            break
    return out


def expected_sweep(reference, profile: Mapping[str, Any], cid: int,
                   student: Mapping[float, float] | None = None) -> dict[float, float]:
    """The reference's final losses at the rates the checks compare for this student (all rates when
    the profile's spot_checks is 0).  Each rate is one cached reference call: an independent training
    from torch.manual_seed(cid), exactly the entry of the full sweep."""
    rates = [float(r) for r in profile["learning_rates"]]
    spot_checks = int(profile.get("spot_checks", 0))
    order = rates if spot_checks <= 0 else sweep_check_order(rates, student, secret_rank(cid))
    return rates_to_compare(order, spot_checks, lambda rate: _reference_loss(reference, profile, cid, rate))


def _reference_loss(reference, profile: Mapping[str, Any], cid: int, rate: float) -> float:
    from reference.microscopy import lr_sweep

    return reference(lr_sweep, cid=int(cid), learning_rates=[float(rate)], num_images=int(profile["num_images"]),
                     num_epochs=int(profile["num_epochs"]), data_seed=int(profile["data_seed"]))[float(rate)]


def precompute_reference(reference, profile: Mapping[str, Any], cid: int) -> None:
    """The per-CID reference work that every answered sweep needs, whatever the student's answers: the
    first rate (every rate with spot checks off).  The Dask engine runs it once per CID for the cohort
    and primes each grading worker's cache with it (gradekit/distributed.py)."""
    rates = [float(r) for r in profile["learning_rates"]]
    for rate in (rates[:1] if int(profile.get("spot_checks", 0)) > 0 else rates):
        _reference_loss(reference, profile, cid, rate)


def _reconstruction(value: Mapping[str, Any], profile: Mapping[str, Any]) -> dict:
    """The problem cell's test image, the student's reconstruction, and the ground truth.  The
    student's own `ground_truth` variable is usually overwritten by their training loop, so the
    ground truth comes from the reference when the student's input image is the chapter's."""
    import numpy as np

    from gradekit.probes import as_array
    from reference.microscopy import chapter_test_sample

    try:
        inp = as_array(value["sample_image"])
        out = as_array(value["reconstructed_image"])
    except (KeyError, TypeError, ValueError):
        return {}
    if inp.shape != (50, 50) or out.size != 2500:
        return {}
    ref_input, ref_truth = chapter_test_sample(int(profile["num_images"]), int(profile["data_seed"]))
    if np.array_equal(inp, ref_input):
        truth = np.asarray(ref_truth, dtype=float)
    else:
        try:
            truth = as_array(value["ground_truth"]).reshape(50, 50)
        except (KeyError, TypeError, ValueError):
            return {}
    return {"reconstruction": {"input": inp.tolist(), "output": out.reshape(50, 50).tolist(),
                               "ground_truth": truth.tolist()}}


def feedback_extras(probes: Mapping[str, Any], profile: Mapping[str, Any], cid: int | None, reference) -> dict:
    """Plot data for the student's feedback page: their own values, and per rate only whether it
    matched — never the reference values themselves."""
    extras: dict[str, Any] = {}
    rec = probes.get("reconstruction")
    if rec is not None and rec.status == "ok" and isinstance(rec.value, dict):
        extras.update(_reconstruction(rec.value, profile))
    sweep = probes.get("sweep")
    if sweep is not None and sweep.status == "ok":
        try:
            student = student_sweep(sweep.value)
        except TypeError:
            student = None
        if student:
            # Rates the checks did not compare (spot checks) are None: "not checked", not "wrong".
            matches = (sweep_matches(student, expected_sweep(reference, profile, cid, student), profile["rtol"])
                       if cid else {})
            rates = sorted(student)
            extras["sweep"] = {"learning_rates": rates, "student": [student[r] for r in rates],
                               "expected_ok": [matches.get(r) for r in rates]}
    return extras


# ---- diagnosis and integrity hooks (the catalogue of typical mistakes is mistakes.py) --------------
#
# The engine calls these through gradekit.grading.Course when they exist: `diagnose` for each failing
# part after judging, `comparable_answers` for every judged submission (stored with its result), and
# `matches_cid` in the cohort's integrity pass.  None of them changes marks.

def _mistakes():
    """mistakes.py of this folder, loaded by path under the name the engine's Course would give it."""
    import importlib.util
    import sys

    name = __name__.rsplit("_", 1)[0] + "_mistakes" if __name__.endswith("_course") else __name__ + "_mistakes"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "mistakes.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _this():
    import sys

    return sys.modules[__name__]


def diagnose(part: str, probes: Mapping[str, Any], profile: Mapping[str, Any], cid: int | None, reference) -> list:
    """The typical mistakes (gradekit.model.Mistake) that explain a failing part's answers, or []."""
    return _mistakes().diagnose(_this(), part, probes, profile, cid, reference)


def comparable_answers(probes: Mapping[str, Any], profile: Mapping[str, Any]) -> dict[str, list]:
    """{part: [[label, number], ...]}: answers that depend only on the student's code and CID."""
    return _mistakes().comparable_answers(_this(), probes)


def matches_cid(part: str, answers, profile: Mapping[str, Any], cid: int, reference) -> str | None:
    """Evidence when `answers` of `part` are the reference's for `cid` (another student's, or the
    template's CID); None otherwise.  Cheap for a non-match: one cached first-rate reference."""
    return _mistakes().matches_cid(_this(), part, answers, profile, cid, reference)
