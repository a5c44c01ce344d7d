"""The feedback page's figures for this exercise: the student's reconstruction and learning-rate sweep.

Drawn from ``result.extras`` (made by course.feedback_extras: the student's own values, and per rate
only whether it matched -- never reference values).  The data came from an untrusted notebook: anything
malformed means no figure (None), never an error.  The engine escapes and inlines what
``feedback_sections`` returns (gradekit.api.FeedbackSection).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from gradekit.api import FeedbackSection, figure_png, grey_png, image_array

MAX_SWEEP_POINTS = 200

RECONSTRUCTION_PANELS = (("Input (missing pixels)", "input"), ("Your reconstruction", "output"),
                         ("Ground truth", "ground_truth"))
def reconstruction_pngs(data: Any) -> list[tuple[str, bytes]] | None:
    """The three panels -- input, the student's reconstruction, ground truth -- as (title, PNG),
    greyscale 0..255; None when the data is malformed."""
    if not isinstance(data, Mapping):
        return None
    arrays = [image_array(data.get(k)) for _, k in RECONSTRUCTION_PANELS]
    if any(a is None for a in arrays):
        return None
    scale = max(1, min(4, 200 // max(max(a.shape) for a in arrays)))
    return [(title, grey_png(a, scale)) for (title, _), a in zip(RECONSTRUCTION_PANELS, arrays)]


def _plain_float(x: Any) -> float | None:
    """A number as float (None, as JSON null for nan, -> nan); None for anything else."""
    if x is None:
        return math.nan
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x)


def sweep_png(data: Any) -> bytes | None:
    """The student's final loss per learning rate (log x), each rate marked as matching the expected
    value or not; diverged (nan/inf) losses marked at the top.  None if malformed."""
    if not isinstance(data, Mapping):
        return None
    rates, losses, ok = data.get("learning_rates"), data.get("student"), data.get("expected_ok")
    if not all(isinstance(v, (list, tuple)) for v in (rates, losses, ok)):
        return None
    if not (1 <= len(rates) == len(losses) == len(ok) <= MAX_SWEEP_POINTS):
        return None
    xs = [_plain_float(r) for r in rates]
    ys = [_plain_float(v) for v in losses]
    if any(x is None or not math.isfinite(x) or x <= 0 for x in xs) or any(y is None for y in ys):
        return None
    if not all(b is None or isinstance(b, bool) for b in ok):     # None: the rate was not compared
        return None
    order = sorted(range(len(xs)), key=xs.__getitem__)
    xs, ys, ok = [xs[i] for i in order], [ys[i] for i in order], [ok[i] for i in order]
    finite = [i for i, y in enumerate(ys) if math.isfinite(y)]

    fig = Figure(figsize=(5.2, 3.2), dpi=90)
    fig.subplots_adjust(left=0.15, right=0.97, bottom=0.16, top=0.96)   # fixed: a layout engine triples the time
    ax = fig.add_subplot()
    ax.set_xscale("log")
    if finite and all(ys[i] > 0 for i in finite):
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    if finite:
        ax.plot([xs[i] for i in finite], [ys[i] for i in finite], color="#999", lw=1, zorder=1)
    good = [i for i in finite if ok[i] is True]
    bad = [i for i in finite if ok[i] is False]
    unchecked = [i for i in finite if ok[i] is None]
    if good:
        ax.scatter([xs[i] for i in good], [ys[i] for i in good], marker="o", color="#2a7d2e", s=40, zorder=2,
                   label="matches the expected loss")
    if bad:
        ax.scatter([xs[i] for i in bad], [ys[i] for i in bad], marker="X", color="#b3261e", s=50, zorder=2,
                   label="does not match")
    if unchecked:
        ax.scatter([xs[i] for i in unchecked], [ys[i] for i in unchecked], marker="o", facecolors="none",
                   edgecolors="#777", s=40, zorder=2, label="not compared")
    diverged = [i for i, y in enumerate(ys) if not math.isfinite(y)]
    if diverged:
        trans = ax.get_xaxis_transform()       # x in data, y in axes coordinates
        ax.scatter([xs[i] for i in diverged], [0.95] * len(diverged), transform=trans, marker="^",
                   color="#b26a00", s=50, zorder=2, label="loss is nan/inf (diverged)")
    if not finite:
        ax.set_yticks([])
    ax.set_xlim(min(xs) / 1.6, max(xs) * 1.6)       # the diverged markers do not autoscale
    # Plain tick labels at the student's own rates, no minor ticks: log axes' default mathtext labels
    # and minor ticks are most of the rendering time.
    ax.set_xticks(sorted(set(xs)), [f"{x:g}" for x in sorted(set(xs))], fontsize=8)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("your final loss")
    ax.legend(fontsize=8, loc="best")
    ax.grid(True, which="major", alpha=0.3)
    return figure_png(fig)


def _reconstruction_section(data: Any) -> FeedbackSection | None:
    panels = reconstruction_pngs(data)
    if panels is None:
        return None
    nan = any(not np.isfinite(image_array(data.get(k))).all() for _, k in RECONSTRUCTION_PANELS)
    return FeedbackSection("Your reconstruction compared with the ground truth", tuple(panels),
                           "Magenta pixels are not numbers (nan or inf)." if nan else "")


def _sweep_section(data: Any) -> FeedbackSection | None:
    png = sweep_png(data)
    if png is None:
        return None
    return FeedbackSection(
        "Your learning-rate sweep", (("Your learning-rate sweep", png),),
        "Your final loss for each learning rate; green where it matched the expected value, red where it "
        "did not, hollow grey where it was not compared (a rate that is not in learning_rates, or no "
        "College ID to compare against).")


#: extras key -> its section, in page order
SECTIONS = {"reconstruction": _reconstruction_section, "sweep": _sweep_section}


def feedback_sections(extras: Mapping[str, Any]) -> list[FeedbackSection]:
    """The figures of one feedback page; a malformed entry is left out."""
    out = []
    for key, draw in SECTIONS.items():
        if key in extras:
            try:
                section = draw(extras[key])
            except Exception:       # noqa: BLE001 -- untrusted plot data never breaks a page
                section = None
            if section is not None:
                out.append(section)
    return out
