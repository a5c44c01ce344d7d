"""The ANN exercise as the engine sees it: the course contract's hooks (gradekit.api.CourseHooks).

Probes are the only questions asked of a student's kernel.  Each returns plain data; the checks in
this folder compare that data with the reference implementations, outside the sandbox.  Inputs the
grader chooses (perceptron cases, sigmoid points, the CNN's input batches) are drawn fresh for every
run, for the visible checks too: no point rests on an answer the notebook could know in advance.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from gradekit.api import BundledFile, HostileCell, ProbeSpec, atomic_write, sibling

HERE = Path(__file__).resolve().parent
PARTS = ("perceptron", "sigmoid", "simple_cnn", "lr_sweep", "best_lr")   # gradebook columns, in notebook order
BUG_PARTS = ("perceptron", "sigmoid", "simple_cnn")   # grade_ids of the cells holding seeded bugs
TASK_PARTS = ("lr_sweep", "best_lr")                  # grade_ids of the tasks' answer cells (best_lr needs lr_sweep)
#: The demo's deadline when gradekit.toml sets none: flovelace's second attempt (17:48 London time on
#: the 21st, autograder/ann/demo.py) is then 5.8 h late and loses 10 % of its points.
DEMO_DEADLINE = "2026-11-21T12:00:00+00:00"
LMS_ASSIGNMENT = "Exercise 6 ANN"   # the assignment's name on the learning platform (demo bulk download)
#: What every grading worker imports to judge (the checks' reference code): imported once, in the
#: process the local workers are forked from.  torchvision is not among them (see _simple_cnn_state_file).
#: torch._dynamo: torch.optim's optimizers import it when the first one is built (~1 s), which the
#: reference's training does in every worker.
WORKER_IMPORTS = ("torch", "torch._dynamo", "reference.basics", "reference.fashion", "reference.microscopy",
                  "reference.datasets")
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

        atomic_write(path, lambda tmp: torch.save(simple_cnn_state(SIMPLE_CNN_STATE_SEED), tmp))  # workers race
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
    except Exception as e:
        failed = {"__error__": (type(e).__name__ + ": " + str(e))[:200]}
        out["logits"] = out["layers"] = failed
        return out
    try:
        gen = torch.Generator().manual_seed(params["seed"])
        x = torch.rand(params["batch"], 1, 28, 28, generator=gen)
        with torch.no_grad():
            out["logits"] = plain(model(x))
    except Exception as e:
        out["logits"] = {"__error__": (type(e).__name__ + ": " + str(e))[:200]}
    layers = {}
    gen = torch.Generator().manual_seed(params["layer_seed"])
    for name, shape in params["layers"]:
        x = torch.rand(*shape, generator=gen)
        try:
            with torch.no_grad():
                layers[name] = plain(getattr(model, name)(x))
        except Exception as e:
            layers[name] = {"__error__": (type(e).__name__ + ": " + str(e))[:200]}
    out["layers"] = layers
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


def expected_names() -> tuple[str, ...]:
    """The top-level names the probes ask the kernel for (gradekit.intake.versions compares them with
    a submission's to tell another version of the notebook)."""
    return ("perceptron", "sigmoid", "SimpleCNN", "learning_rates", "lr_results", "best_lr")


# Each layer of SimpleCNN with parameters, and the shape of a random input it takes (convolutions
# accept any image size: small ones keep the answers small).  test_simple_cnn's visible check.
SIMPLE_CNN_LAYERS = [["conv1", [1, 1, 6, 6]], ["conv2", [1, 32, 5, 5]], ["fc1", [1, 64 * 7 * 7]], ["fc2", [1, 128]]]


def _perceptron_cases(rng: np.random.Generator, n: int) -> list[list[float]]:
    """n random (x1, x2, w1, w2, bias) whose weighted sum is clearly off the boundary, so that any correct
    order of the additions gives the same output (the boundary has its own exact cases)."""
    out: list[list[float]] = []
    while len(out) < n:
        x1, x2, w1, w2, b = case = rng.uniform(-2, 2, size=5).round(2).tolist()
        if abs(x1 * w1 + x2 * w2 + b) > 1e-6:
            out.append(case)
    return out


def make_probes(profile: Mapping[str, Any], rng: np.random.Generator) -> list[ProbeSpec]:
    """The probes for one run; `rng` is fresh per run so nobody can prepare for the exact inputs.

    Every check's points rest on these fresh inputs, the visible checks' too: the chapter's printed
    cases ride along first (`chapter` of them) as diagnostics with the chapter's own numbers, but a
    notebook that only knows them (or answers with the constants printed in the release) fails."""
    cases = CHAPTER_PERCEPTRON_CASES + _perceptron_cases(rng, 12)          # the visible check's
    visible = len(cases)
    cases += _perceptron_cases(rng, 40) + [[1, 1, 1, -1, 0], [0.5, 0.5, 1, 1, -1]]   # hidden; exact boundary: 1
    scalars = CHAPTER_SIGMOID_POINTS + rng.uniform(-30, 30, size=8).round(3).tolist()
    xs = rng.normal(0, 8, size=30).round(3).tolist() + [-10000.0, 10000.0, -745.2, 710.0, -1e-9]
    return [
        ProbeSpec("perceptron", PERCEPTRON_PROBE,
                  {"cases": cases, "chapter": len(CHAPTER_PERCEPTRON_CASES), "visible": visible}, 30),
        ProbeSpec("sigmoid", SIGMOID_PROBE,
                  {"scalars": scalars, "chapter": len(CHAPTER_SIGMOID_POINTS), "vector": xs}, 30),
        ProbeSpec("simple_cnn", SIMPLE_CNN_PROBE,
                  {"state_file": SIMPLE_CNN_STATE_FILE, "seed": int(rng.integers(1 << 30)), "batch": 6,
                   "layer_seed": int(rng.integers(1 << 30)), "layers": SIMPLE_CNN_LAYERS}, 60),
        ProbeSpec("sweep", SWEEP_PROBE, {}, 30),
        ProbeSpec("reconstruction", RECONSTRUCTION_PROBE, {}, 30),
    ]


MAX_SWEEP_ENTRIES = 1000          # what SWEEP_PROBE sends at most


def student_sweep(value: Any) -> dict[float, float]:
    """The student's lr_results from the sweep probe as {rate: loss}; TypeError says what is wrong.
    Every odd answer (a key of 10 ** 400, a pair that is not a pair, 10,000 entries) is a TypeError
    with a sentence for the student, checked before anything is computed from it."""
    from gradekit.api import as_float, describe

    if not isinstance(value, dict):
        raise TypeError("the sweep probe returned nothing usable")
    raw = value.get("lr_results")
    if isinstance(raw, dict) and "__missing__" in raw:
        raise TypeError("there is no variable `lr_results`: store your results in a dictionary named "
                        "lr_results (printing them is not enough)")
    if not isinstance(raw, list):
        raise TypeError(f"`lr_results` should be a dict, but it is {describe(raw)}")
    if len(raw) > MAX_SWEEP_ENTRIES:
        raise TypeError(f"`lr_results` has {len(raw):,} entries; it should have one per learning rate")
    out: dict[float, float] = {}
    for item in raw:
        if type(item) is not list or len(item) != 2:   # the probe sends [rate, loss] pairs; a forged one may not
            raise TypeError(f"`lr_results` should map each learning rate to a loss, found {describe(item)}")
        k, v = item
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


# ---- the reference sweep: every rate, computed before the deadline ---------------------------
#
# Points need the work, so the checks compare EVERY rate of lr_results with the reference, claimed
# divergences (nan/inf) included, and judge best_lr against the whole reference sweep.  Comparing a
# subset cannot be made safe: a student who trains only the rates that will be compared and writes
# anything at the others (nan, or made-up losses above their best) scores whenever the compared rates
# are the ones they trained -- certainly when the subset is predictable (the first rate and the
# student's own best: what spot checks compared before), and with a probability above zero for any
# secret subset smaller than all the rates.  tests/test_sweep_verification.py proves that every
# sweep that differs from the reference at any rate loses every hidden sweep point.
#
# The cost is the reference's full sweep per CID (grading profile, one thread: ~4 s of CPU per
# converging rate, 19.8 s per CID; a real divergence is cheap: the reference stops at the first nan
# weight, 0.3 s).  It depends on the CID alone, not on the answers, so `gradekit precompute --roster
# roster.csv` computes it for the whole class before the deadline (precompute_reference below, into
# the reference cache), and grading then only reads it; a CID missing from the cache is computed
# while grading, as before.

def expected_sweep(reference, profile: Mapping[str, Any], cid: int,
                   student: Mapping[float, float] | None = None) -> dict[float, float]:
    """The reference's final losses at every learning rate, for this CID: what the checks compare
    lr_results and best_lr with.  Each rate is one cached reference call (an independent training from
    torch.manual_seed(cid), exactly the entry of the full sweep).  `student` does not change the rates
    compared (all of them, whatever the student answered); it is accepted for the callers that pass it."""
    return {float(rate): _reference_loss(reference, profile, cid, float(rate)) for rate in profile["learning_rates"]}


def _reference_loss(reference, profile: Mapping[str, Any], cid: int, rate: float) -> float:
    from reference.microscopy import lr_sweep

    return reference(lr_sweep, cid=int(cid), learning_rates=[float(rate)], num_images=int(profile["num_images"]),
                     num_epochs=int(profile["num_epochs"]), data_seed=int(profile["data_seed"]))[float(rate)]


def precompute_reference(reference, profile: Mapping[str, Any], cid: int) -> None:
    """Every reference value the checks need for this CID, whatever the student's answers: the whole
    reference sweep.  Called by `gradekit precompute` for each CID on the roster (before the deadline),
    by the local pool's idle cores for a running notebook's CID, and once per CID by the Dask engine,
    which primes each grading worker's cache with it (gradekit/distributed.py).  Resumable: each rate
    is cached on its own, so a re-run computes only what is missing."""
    expected_sweep(reference, profile, cid)


def _reconstruction(value: Mapping[str, Any], profile: Mapping[str, Any]) -> dict:
    """The problem cell's test image, the student's reconstruction, and the ground truth.  The
    student's own `ground_truth` variable is usually overwritten by their training loop, so the
    ground truth comes from the reference when the student's input image is the chapter's."""
    import numpy as np

    from gradekit.api import as_array
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
        except TypeError:          # the checks tell the student why; the page just has no sweep plot
            student = None
        if student:
            # Rates the checks did not compare (not in learning_rates, no CID) are None: "not checked".
            matches = (sweep_matches(student, expected_sweep(reference, profile, cid, student), profile["rtol"])
                       if cid else {})
            rates = sorted(student)
            extras["sweep"] = {"learning_rates": rates, "student": [student[r] for r in rates],
                               "expected_ok": [matches.get(r) for r in rates]}
    return extras


# ---- the rest of the contract: notebooks, release data, feedback figures, demo, workers ----------

def student(release, source, *, name, cid, fixed=(), solved=(), profile=None):
    """A student notebook built from the release (autograder/ann/variants.py)."""
    return sibling(__file__, "variants").student(release, source, name=name, cid=cid, fixed=fixed,
                                                 solved=solved, profile=profile)


def apply_profile(nb, profile):
    """A notebook resized to a profile (autograder/ann/variants.py)."""
    return sibling(__file__, "variants").apply_profile(nb, profile)


def bundled_files() -> list[BundledFile]:
    """Offline FashionMNIST files in torchvision's raw layout (read by the chapter's unchanged
    ``datasets.FashionMNIST(root="data", download=True)``) and the micrograph the filter sections
    load: small enough to run the notebook in a minute."""
    from reference.datasets import write_fashion_mnist, write_micrograph

    return [
        BundledFile("data", lambda path: write_fashion_mnist(path, n_train=2000, n_test=500, seed=0)),
        BundledFile("micrograph.png", lambda path: write_micrograph(path, seed=0)),
    ]


def feedback_sections(extras):
    """The reconstruction and sweep figures (autograder/ann/plots.py; matplotlib loaded only here)."""
    return sibling(__file__, "plots").feedback_sections(extras)


def demo_cohort(release, source, profile):
    return sibling(__file__, "demo").demo_cohort(release, source, profile)


def configure_worker() -> None:
    """One intra-op thread in every grading worker: the reference's losses are bit-identical to the
    student's only at the same thread count, and two threads per worker oversubscribe the cores."""
    import torch

    torch.set_num_threads(1)
# ---- diagnosis and integrity hooks (the catalogue of typical mistakes is mistakes.py) --------------
#
# The engine calls these through gradekit.grading.Course when they exist: `diagnose` for each failing
# part after judging, `comparable_answers` for every judged submission (stored with its result), and
# `matches_cid` in the cohort's integrity pass.  None of them changes marks.

def _mistakes():
    """mistakes.py of this folder (the catalogue), loaded by path like every course module."""
    return sibling(__file__, "mistakes")


def _this():
    return sibling(__file__, "course")


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


# ---- hostile cells for the corpus (gradekit corpus) ---------------------------------------------

def hostile_cells() -> list[HostileCell]:
    """The corpus's cases that need this chapter's names and libraries: lying tensors, patched torch
    asserts, answers forged from what the release prints, sweeps half done (points need the work, issue
    12).  Each cell is a file in ./hostile/, inserted into an honest student's notebook."""
    def cell(name: str) -> str:
        return (HERE / "hostile" / f"{name}.py").read_text(encoding="utf-8")

    return [
        HostileCell("patch_torch_asserts", "torch.allclose, torch.equal and torch.testing.assert_close always agree",
                    cell("patch_torch"), base="b", where="early"),
        HostileCell("liar_tensor", "every function returns a Tensor subclass whose ==, detach, numpy lie",
                    cell("liar_tensor"), base="b", helpers=("liar",)),
        # points need the work: on B, nothing may score above B
        HostileCell("forged_printed_answers", "publish_display_data wrapped: reads each probe's inputs from the "
                    "caller's frame, answers the release's printed constants, a made-up sweep",
                    cell("forge_printed_answers"), base="b", expect="at_most"),
        HostileCell("partial_sweep_diverged", "trains the first two rates only, claims nan for the others, "
                    "best_lr the better of the two", cell("partial_sweep_diverged"), base="b", expect="at_most"),
        HostileCell("partial_sweep_made_up", "trains the first rate and the best only, made-up losses above it "
                    "elsewhere", cell("partial_sweep_made_up"), base="b", expect="at_most"),
        # judging odd answers stays bounded (issue 12: ~1-3 s normally; the bound leaves room for a loaded machine)
        HostileCell("answer_out_of_range", "lr_results = {10 ** 400: 0.0, 0.1: 10 ** 400}, best_lr = 10 ** 400",
                    cell("answer_out_of_range"), base="a", expect="at_most", judge_s=15.0),
    ]
