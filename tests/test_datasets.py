"""Offline course data: torchvision reads the generated FashionMNIST files; outputs are byte-stable."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets.mnist as tv_mnist
from skimage import io

from reference import datasets as ds
from reference._rng import torch_threads
from reference.fashion import SimpleCNN, evaluate, fashion_pipeline, load_fashion_mnist, simple_cnn_state, train_one_epoch

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with torch_threads(1):  # the student's kernel runs with one intra-op thread
        yield


@pytest.fixture
def no_download(monkeypatch):
    """Any download attempt by torchvision fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"torchvision tried to download: {args}")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", refuse)


def _read(root) -> dict[str, bytes]:
    return {name: (ds.raw_folder(root) / name).read_bytes() for name in FILES}


def test_loader_reads_generated_data_offline(tmp_path, no_download):
    assert not ds.fashion_mnist_present(tmp_path)
    raw = ds.write_fashion_mnist(tmp_path, n_train=30, n_test=12, seed=3)
    assert raw == tmp_path / "FashionMNIST" / "raw" and ds.fashion_mnist_present(tmp_path)

    files = _read(tmp_path)
    assert struct.unpack(">4i", files["train-images-idx3-ubyte"][:16]) == (2051, 30, 28, 28)
    assert struct.unpack(">2i", files["t10k-labels-idx1-ubyte"][:8]) == (2049, 12)
    assert len(files["train-images-idx3-ubyte"]) == 16 + 30 * 28 * 28

    train, test = load_fashion_mnist(tmp_path, train=True), load_fashion_mnist(tmp_path, train=False)
    assert len(train) == 30 and len(test) == 12
    image, label = train[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32 and 0 <= image.min() < image.max() <= 1
    images, labels = ds.fashion_split(30, split="train", seed=3)
    assert label == int(labels[0])
    assert torch.equal(train.data, torch.from_numpy(images)) and train.targets.tolist() == labels.tolist()

    result = fashion_pipeline(tmp_path, seed=0)
    assert (result["n_train"], result["n_test"]) == (30, 12)
    assert len(result["losses"]) == 1 and 0 <= result["accuracy"] <= 1  # 30 images: one batch of 64


def test_regeneration_is_byte_identical_and_leaves_files_alone(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    ds.write_fashion_mnist(a, 40, 20, seed=1)
    ds.write_fashion_mnist(b, 40, 20, seed=1)
    assert _read(a) == _read(b)

    old = 1_000_000_000_000_000_000
    for name in FILES:
        os.utime(ds.raw_folder(a) / name, ns=(old, old))
    ds.write_fashion_mnist(a, 40, 20, seed=1)
    assert all((ds.raw_folder(a) / name).stat().st_mtime_ns == old for name in FILES)

    ds.write_fashion_mnist(a, 40, 20, seed=2)
    assert _read(a)["train-images-idx3-ubyte"] != _read(b)["train-images-idx3-ubyte"]


def test_classes_are_balanced_and_splits_differ():
    images, labels = ds.fashion_split(95, split="train", seed=0)
    counts = np.bincount(labels, minlength=10)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 95
    assert images.dtype == np.uint8 and images.shape == (95, 28, 28)
    test_images, _ = ds.fashion_split(95, split="t10k", seed=0)
    assert not np.array_equal(images, test_images)
    assert len({img.tobytes() for img in images}) == 95  # jitter: no two samples alike


def test_cnn_learns_generated_data_in_one_epoch(tmp_path, no_download):
    ds.write_fashion_mnist(tmp_path, n_train=2000, n_test=500, seed=0)
    train, test = load_fashion_mnist(tmp_path, True), load_fashion_mnist(tmp_path, False)
    model = SimpleCNN()
    model.load_state_dict(simple_cnn_state(0))
    losses = train_one_epoch(model, train, seed=0)
    assert len(losses) == 32 and losses[-1] < losses[0]
    assert evaluate(model, test) > 0.6  # chance is 0.1


def test_cli_writes_the_same_files(tmp_path):
    root = tmp_path / "cli"
    png = tmp_path / "micro.png"
    cmd = [sys.executable, "-m", "reference.datasets", str(root), "--train", "20", "--test", "10", "--micrograph", str(png)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    ds.write_fashion_mnist(tmp_path / "api", 20, 10)
    assert _read(root) == _read(tmp_path / "api")
    assert png.read_bytes() == ds.write_micrograph(tmp_path / "api.png").read_bytes()


def test_micrograph_is_deterministic(tmp_path):
    first = ds.write_micrograph(tmp_path / "m1.png", size=(96, 128), seed=4)
    second = ds.write_micrograph(tmp_path / "m2.png", size=(96, 128), seed=4)
    assert first.read_bytes() == second.read_bytes()
    image = io.imread(first)
    assert image.shape == (96, 128, 3) and image.dtype == np.uint8 and image.std() > 10
    np.testing.assert_array_equal(image, ds.micrograph((96, 128), seed=4))
    assert ds.write_micrograph(tmp_path / "m3.png", size=(96, 128), seed=5).read_bytes() != first.read_bytes()

    old = 1_000_000_000_000_000_000
    os.utime(first, ns=(old, old))
    ds.write_micrograph(first, size=(96, 128), seed=4)
    assert first.stat().st_mtime_ns == old


# One racer: a fresh interpreter that asks the course for its job files (a subprocess, not a spawned
# pool worker, which would first import this module: torch, torchvision and scikit-image, ~3 s each).
_RACER = """
import hashlib, json, sys
from pathlib import Path
from gradekit.config import load_config
from gradekit.grading import Course
cfg = load_config(Path(sys.argv[1]) / "gradekit.toml").with_(profile="tiny", cache=Path(sys.argv[2]))
files = Course(cfg).job_files()
print(json.dumps({rel: hashlib.sha256(Path(p).read_bytes()).hexdigest() for rel, p in files.items()
                  if rel.startswith("data/")}))
"""


@pytest.mark.slow
def test_cold_cache_grading_data_is_complete_when_workers_race(tmp_path):
    """Workers starting together on a cold cache all generate the FashionMNIST files: each must get
    the four complete files, never a half-written one or another worker's temporary file."""
    import json

    root = Path(__file__).resolve().parent.parent
    racers = [subprocess.Popen([sys.executable, "-c", _RACER, str(root), str(tmp_path)], cwd=root,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [r.communicate(timeout=300) for r in racers]
    assert all(r.returncode == 0 for r in racers), [err[-2000:] for _, err in outs]
    got = [json.loads(out) for out, _ in outs]
    assert all(sorted(g) == sorted(got[0]) and len(g) == 4 for g in got)
    assert all(g == got[0] for g in got)
    assert not list(tmp_path.rglob("*.tmp"))
