"""Offline course data: FashionMNIST-format clothing silhouettes and a synthetic micrograph.

Nothing may be downloaded at grading time, and no package ships FashionMNIST, so the course data are
drawn procedurally. The files use the real on-disk formats, so the chapter's own loading code
(``datasets.FashionMNIST(root, download=True)``, ``skimage.io.imread``) reads them unchanged.

Output is a pure function of the arguments: the same arguments give byte-identical files, and a file
whose bytes would not change is not rewritten (its mtime stays).

    python -m reference.datasets ROOT --train 2000 --test 500 [--seed 0] [--micrograph PATH]
"""

from __future__ import annotations

import argparse
import io
import os
import struct
from pathlib import Path

import numpy as np

SIDE = 28
N_CLASSES = 10
_SPLITS = {"train": 0, "t10k": 1}
_IMAGE_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
_LABEL_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
_CHUNK = 2048  # images rendered at once (bounds memory for 60,000-image sets)


# --------------------------------------------------------------------------------------------------
# files


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless it already holds exactly these bytes; True if written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")   # two workers may write the same file at once
    tmp.write_bytes(data)
    tmp.replace(path)  # atomic: a concurrent reader sees the old or the new file, never half of one
    return True


def idx_images(images: np.ndarray) -> bytes:
    """IDX3 bytes (big-endian header: magic 2051, count, rows, cols) of uint8 images (N, H, W)."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    n, rows, cols = images.shape
    return struct.pack(">4i", _IMAGE_MAGIC, n, rows, cols) + images.tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    """IDX1 bytes (big-endian header: magic 2049, count) of uint8 labels (N,)."""
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    return struct.pack(">2i", _LABEL_MAGIC, labels.shape[0]) + labels.tobytes()


def raw_folder(root) -> Path:
    """Where torchvision's ``FashionMNIST`` looks for its raw files."""
    return Path(root) / "FashionMNIST" / "raw"


def _raw_files(root) -> list[Path]:
    raw = raw_folder(root)
    return [raw / f"{split}-{kind}" for split in _SPLITS for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")]


def fashion_mnist_present(root) -> bool:
    """True if all four raw files that torchvision needs (train and test) exist under ``root``."""
    return all(path.is_file() for path in _raw_files(root))


# --------------------------------------------------------------------------------------------------
# clothing silhouettes
#
# Each class is a union of soft-edged primitives in a canonical frame: u to the right, v downwards,
# both in [-1, 1] over the image. A per-sample affine map (scale, aspect, shift, small rotation)
# gives the canonical coordinates of every pixel; the edges are smoothed over about one pixel, which
# anti-aliases like the real (downscaled) FashionMNIST photos.


def _edge(d, soft):
    """Coverage from a signed distance (positive inside) in canonical units."""
    return np.clip(d / soft + 0.5, 0.0, 1.0)


def _box(u, v, u0, u1, v0, v1, soft):
    return _edge(np.minimum(np.minimum(u - u0, u1 - u), np.minimum(v - v0, v1 - v)), soft)


def _trapezoid(u, v, v0, v1, half0, half1, soft, centre=0.0):
    """Symmetric about ``u = centre``: half-width ``half0`` at ``v0`` growing linearly to ``half1`` at ``v1``."""
    t = np.clip((v - v0) / (v1 - v0), 0.0, 1.0)
    half = half0 + (half1 - half0) * t
    return _edge(np.minimum(half - np.abs(u - centre), np.minimum(v - v0, v1 - v)), soft)


def _ellipse(u, v, cu, cv, ru, rv, soft):
    r = np.sqrt(((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2)
    return _edge((1.0 - r) * min(ru, rv), soft)


def _bar(u, v, a, b, width, soft):
    """A straight stroke of ``width`` from point ``a`` to point ``b`` (round ends)."""
    (au, av), (bu, bv) = a, b
    du, dv = bu - au, bv - av
    t = np.clip(((u - au) * du + (v - av) * dv) / (du * du + dv * dv), 0.0, 1.0)
    dist = np.hypot(u - (au + t * du), v - (av + t * dv))
    return _edge(width / 2 - dist, soft)


def _union(*masks):
    out = masks[0]
    for m in masks[1:]:
        out = np.maximum(out, m)
    return out


def _minus(a, b):
    return np.minimum(a, 1.0 - b)


def _sleeves(u, v, top, bottom, outer, soft, width=0.26):
    """Long sleeves hanging from the shoulders, slightly splayed outwards."""
    left = _bar(u, v, (-outer + 0.1, top + 0.1), (-outer, bottom), width, soft)
    right = _bar(u, v, (outer - 0.1, top + 0.1), (outer, bottom), width, soft)
    return _union(left, right)


def _tshirt(u, v, p, soft):
    torso = _box(u, v, -0.42, 0.42, -0.7, 0.85, soft)
    sleeves = _union(  # short, splayed
        _bar(u, v, (-0.3, -0.58), (-0.8, -0.3), 0.3, soft),
        _bar(u, v, (0.3, -0.58), (0.8, -0.3), 0.3, soft),
    )
    neck = _ellipse(u, v, 0.0, -0.72, 0.18, 0.12, soft)
    return _minus(_union(torso, sleeves), neck), 1.0


def _trouser(u, v, p, soft):
    waist = _box(u, v, -0.38, 0.38, -0.92, -0.62, soft)
    gap = 0.06 + 0.05 * p[0]
    legs = _union(
        _trapezoid(u, v, -0.9, 0.95, 0.16, 0.14, soft, centre=-0.22 - gap / 2),
        _trapezoid(u, v, -0.9, 0.95, 0.16, 0.14, soft, centre=0.22 + gap / 2),
    )
    return _union(waist, legs), 1.0


def _pullover(u, v, p, soft):
    body = _union(_box(u, v, -0.42, 0.42, -0.75, 0.8, soft), _sleeves(u, v, -0.72, 0.8, 0.68, soft))
    neck = _ellipse(u, v, 0.0, -0.76, 0.2, 0.1, soft)
    hem = _box(u, v, -0.42, 0.42, 0.66, 0.8, soft) * 0.35  # ribbed hem, darker
    return _minus(body, neck) - hem, 1.0


def _dress(u, v, p, soft):
    flare = 0.5 + 0.2 * p[0]
    skirt = _trapezoid(u, v, -0.2, 0.95, 0.22, flare, soft)
    bodice = _trapezoid(u, v, -0.85, -0.15, 0.28, 0.2, soft)
    return _union(skirt, bodice), 1.0


def _coat(u, v, p, soft):
    body = _union(_box(u, v, -0.46, 0.46, -0.85, 0.95, soft), _sleeves(u, v, -0.82, 0.9, 0.72, soft))
    opening = _box(u, v, -0.035, 0.035, -0.6, 0.95, soft) * 0.7
    lapels = _union(_bar(u, v, (-0.2, -0.85), (0.0, -0.45), 0.07, soft), _bar(u, v, (0.2, -0.85), (0.0, -0.45), 0.07, soft))
    pockets = _union(_box(u, v, -0.36, -0.14, 0.35, 0.4, soft), _box(u, v, 0.14, 0.36, 0.35, 0.4, soft)) * 0.5
    return body - opening - 0.6 * lapels - pockets, 1.0


def _sandal(u, v, p, soft):
    sole = _box(u, v, -0.92, 0.92, 0.35, 0.5, soft)
    lean = 0.15 * (p[0] - 0.5)
    straps = _union(*[_bar(u, v, (x, 0.4), (x + 0.22 + lean, -0.1), 0.09, soft) for x in (-0.75, -0.35, 0.05, 0.45)])
    heel = _box(u, v, 0.6, 0.9, 0.05, 0.4, soft) * 0.6
    return _union(sole, straps, heel), 0.8


def _shirt(u, v, p, soft):
    body = _union(_box(u, v, -0.42, 0.42, -0.78, 0.85, soft), _sleeves(u, v, -0.75, 0.82, 0.68, soft))
    collar = _trapezoid(u, v, -0.8, -0.45, 0.16, 0.0, soft)  # V-notch at the neck
    buttons = _union(*[_ellipse(u, v, 0.0, y, 0.05, 0.05, soft) for y in (-0.3, 0.0, 0.3, 0.6)])
    # A check pattern (most Fashion-MNIST shirts are patterned); frequency and phase vary per sample.
    k = 9.0 + 5.0 * p[1]
    check = 0.78 + 0.22 * np.sign(np.sin(k * u + 6.3 * p[2]) * np.sin(k * v + 6.3 * p[3]))
    return _minus(body, collar) * check - 0.5 * buttons, 1.0


def _sneaker(u, v, p, soft):
    sole = _box(u, v, -0.95, 0.9, 0.3, 0.5, soft)
    upper = _minus(_ellipse(u, v, 0.15, 0.32, 0.78, 0.55, soft), _box(u, v, -2.0, 2.0, 0.32, 2.0, soft))
    toe = _ellipse(u, v, -0.62, 0.3, 0.34, 0.22, soft)
    laces = _union(*[_bar(u, v, (x, -0.05), (x + 0.14, -0.12), 0.05, soft) for x in (-0.35, -0.15, 0.05)])
    return _union(sole, upper, toe) - 0.4 * laces, 0.9


def _bag(u, v, p, soft):
    box = _box(u, v, -0.75, 0.75, -0.2, 0.85, soft)
    hu, hv = 0.42 + 0.08 * p[0], 0.55 + 0.15 * p[1]
    ring = _minus(_ellipse(u, v, 0.0, -0.2, hu, hv, soft), _ellipse(u, v, 0.0, -0.2, hu - 0.12, hv - 0.12, soft))
    handle = np.minimum(ring, _box(u, v, -2.0, 2.0, -2.0, -0.18, soft))
    return _union(box, handle), 0.9


def _boot(u, v, p, soft):
    shaft = _box(u, v, 0.0, 0.82, -0.85, 0.6, soft)
    foot = _union(_box(u, v, -0.55, 0.82, 0.15, 0.6, soft), _ellipse(u, v, -0.55, 0.38, 0.38, 0.23, soft))
    sole = _box(u, v, -0.92, 0.85, 0.58, 0.75, soft)
    heel = _box(u, v, 0.5, 0.85, 0.58, 0.85, soft)
    return _union(shaft, foot, heel, 0.6 * sole), 1.0


_SHAPES = (_tshirt, _trouser, _pullover, _dress, _coat, _sandal, _shirt, _sneaker, _bag, _boot)


def _render(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 images (N, 28, 28) for ``labels``; every random draw comes from ``rng`` in a fixed order."""
    n = labels.shape[0]
    # Per-sample jitter, drawn for all samples at once so the stream does not depend on the classes.
    scale = rng.uniform(0.8, 1.0, n)
    aspect = rng.uniform(0.9, 1.1, n)
    shift = rng.uniform(-0.1, 0.1, (n, 2))
    angle = np.deg2rad(rng.uniform(-7.0, 7.0, n))
    brightness = rng.uniform(0.55, 1.0, n)
    shape_params = rng.uniform(0.0, 1.0, (n, 4))
    pixel_noise = rng.normal(0.0, 1.0, (n, SIDE, SIDE))
    shading = rng.uniform(-0.25, 0.25, (n, 2))  # a light gradient across the garment

    centres = (np.arange(SIDE) + 0.5) / SIDE * 2.0 - 1.0
    y, x = np.meshgrid(centres, centres, indexing="ij")
    images = np.zeros((n, SIDE, SIDE))
    for k in range(n):
        sx, sy = scale[k] * aspect[k], scale[k] / aspect[k]
        cos, sin = np.cos(angle[k]), np.sin(angle[k])
        xs, ys = x - shift[k, 0], y - shift[k, 1]
        u = (cos * xs + sin * ys) / sx
        v = (-sin * xs + cos * ys) / sy
        soft = 2.0 / SIDE / min(sx, sy)  # one pixel, in canonical units
        mask, gain = _SHAPES[labels[k]](u, v, shape_params[k], soft)
        garment = np.clip(mask, 0.0, 1.0)
        tone = brightness[k] * gain * (1.0 + shading[k, 0] * u + shading[k, 1] * v) * (1.0 + 0.08 * pixel_noise[k])
        images[k] = garment * np.clip(tone, 0.0, 1.0)
    return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)


def fashion_split(n: int, *, split: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (n, 28, 28), labels uint8 (n,))`` of one split ("train" or "t10k").

    Classes are balanced (counts differ by at most one) and shuffled. Train and test use different
    streams of the same seed, so they are disjoint draws.
    """
    rng = np.random.default_rng([seed, _SPLITS[split]])
    labels = rng.permutation(np.arange(n) % N_CLASSES).astype(np.uint8)
    images = np.empty((n, SIDE, SIDE), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        images[start:stop] = _render(labels[start:stop], rng)
    return images, labels


def write_fashion_mnist(root, n_train: int, n_test: int, seed: int = 0) -> Path:
    """Write ``root/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``; returns the raw folder.

    torchvision then loads them with ``datasets.FashionMNIST(root, train=..., download=True)`` and no
    network access (it skips the download when these four files exist).
    """
    raw = raw_folder(root)
    for split, n in (("train", n_train), ("t10k", n_test)):
        images, labels = fashion_split(n, split=split, seed=seed)
        _write_if_changed(raw / f"{split}-images-idx3-ubyte", idx_images(images))
        _write_if_changed(raw / f"{split}-labels-idx1-ubyte", idx_labels(labels))
    return raw


# --------------------------------------------------------------------------------------------------
# micrograph


def micrograph(size=(256, 256), seed: int = 0) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)``: Voronoi grains of varying brightness, dark grain boundaries, a few
    round voids, mild blur and noise, tinted like an etched bronze."""
    from scipy.ndimage import gaussian_filter
    from scipy.spatial import cKDTree

    h, w = size
    rng = np.random.default_rng([seed, 7])
    n_grains = max(4, h * w // 900)
    seeds = rng.uniform(0.0, 1.0, (n_grains, 2)) * (h, w)
    grain_tone = rng.uniform(0.35, 0.85, n_grains)
    yy, xx = np.mgrid[0:h, 0:w]
    pixels = np.column_stack([yy.ravel(), xx.ravel()]).astype(np.float64)
    _, grain = cKDTree(seeds).query(pixels)
    grain = grain.reshape(h, w)
    img = grain_tone[grain]
    boundary = np.zeros((h, w), dtype=bool)
    boundary[:, 1:] |= grain[:, 1:] != grain[:, :-1]
    boundary[1:, :] |= grain[1:, :] != grain[:-1, :]
    img = np.where(boundary, 0.12, img)
    for _ in range(max(1, h * w // 8000)):  # voids
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(2.0, 6.0)
        img = np.where((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r, 0.05, img)
    img = gaussian_filter(img, sigma=0.8) + rng.normal(0.0, 0.03, (h, w))
    tint = np.array([1.0, 0.82, 0.55])
    rgb = np.clip(img[..., None] * tint * 255.0, 0, 255)
    return np.rint(rgb).astype(np.uint8)


def write_micrograph(path, size=(256, 256), seed: int = 0) -> Path:
    """Write :func:`micrograph` as a PNG (PIL, no metadata, fixed compression: deterministic bytes)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(micrograph(size, seed)).save(buffer, format="PNG", optimize=False, compress_level=6)
    path = Path(path)
    _write_if_changed(path, buffer.getvalue())
    return path


# --------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference.datasets", description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="folder that will hold FashionMNIST/raw/")
    parser.add_argument("--train", type=int, default=60000, help="training images (default 60000)")
    parser.add_argument("--test", type=int, default=10000, help="test images (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--micrograph", metavar="PNG", help="also write a synthetic micrograph to this path")
    args = parser.parse_args(argv)
    raw = write_fashion_mnist(args.root, args.train, args.test, seed=args.seed)
    print(f"FashionMNIST ({args.train} train, {args.test} test, seed {args.seed}): {raw}")
    if args.micrograph:
        print(f"micrograph: {write_micrograph(args.micrograph, seed=args.seed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
