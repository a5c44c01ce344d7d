"""Classical and custom convolution filters of the chapter (section 6.3) on a gray image.

The chapter loads a micrograph from a URL; offline the grader uses
:func:`reference.datasets.write_micrograph` (or any local image) instead.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import convolve
from skimage import color, filters, util

#: The chapter's "custom kernel" before normalisation.
CHAPTER_KERNEL_RAW = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
#: ... and as the chapter uses it: divided by its sum (which is 1, so only the dtype becomes float).
CHAPTER_KERNEL = CHAPTER_KERNEL_RAW / np.sum(CHAPTER_KERNEL_RAW)


def to_gray(image) -> np.ndarray:
    """RGB, RGBA or gray image -> float64 gray image in [0, 1] (``skimage.color.rgb2gray`` for colour).

    RGBA goes through ``rgba2rgb`` first (alpha blended on white), because ``rgb2gray`` rejects four
    channels; a 2-D image is only converted to float.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        return util.img_as_float64(image)
    if image.ndim == 3 and image.shape[-1] == 4:
        image = color.rgba2rgb(image)
    if image.ndim == 3 and image.shape[-1] == 3:
        return np.asarray(color.rgb2gray(image), dtype=np.float64)
    raise ValueError(f"expected a gray (H, W), RGB or RGBA (H, W, 3|4) image, got shape {image.shape}")


def classical_filters(gray, sigma: float = 10.0) -> dict[str, np.ndarray]:
    """The chapter's three classical filters: ``{"gaussian", "sobel", "laplace"}`` -> filtered image."""
    return {
        "gaussian": filters.gaussian(gray, sigma=sigma),
        "sobel": filters.sobel(gray),
        "laplace": filters.laplace(gray),
    }


def custom_convolution(gray, kernel=CHAPTER_KERNEL, num_iterations: int = 1) -> np.ndarray:
    """Convolve ``num_iterations`` times with ``kernel`` (``scipy.ndimage.convolve``, default mode ``reflect``).

    The kernel is used as given; the chapter's is :data:`CHAPTER_KERNEL` (already normalised).
    """
    custom_filtered = np.array(gray, copy=True)
    for _ in range(num_iterations):
        custom_filtered = convolve(custom_filtered, kernel)
    return custom_filtered
