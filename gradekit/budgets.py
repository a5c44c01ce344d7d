"""Time budgets from the honest notebook: a hung cell costs seconds, not the 600-s ceiling.

The instructor's source notebook (solutions in, at the grading profile) is run once per machine the
way submissions are run (sandboxed, one thread, no probes) and its time per code cell is cached
under the cache folder, keyed by the notebook's hash, the profile and the machine.  A submission's
code cell then gets ``max(min_cell_timeout_s, budget_factor x the matched honest cell's time)``,
never more than ``cell_timeout_s``; cells are matched by nbgrader ``grade_id``, then cell id, then
identical source; a cell that matches none (a student's own cell) gets the largest budget of any
honest cell.  The notebook gets ``budget_factor x the honest total + min_cell_timeout_s`` (room for
one hung cell on top of five times the honest work), never more than ``notebook_timeout_s``.

``budget_factor = 0`` in gradekit.toml turns budgets off: every cell gets the ceilings.

Pure functions (`cell_keys`, `budget_for`) decide; `honest_times` / `measure` do the I/O.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import nbformat

from .config import Limits

BUDGETS_DIR = "budgets"
HONEST_CID = 1357911          # any valid CID: the honest run is timed, not judged


@dataclass(frozen=True)
class HonestCell:
    keys: tuple[str, ...]     # grade:<grade_id>, id:<cell id>, src:<hash of the source text>
    seconds: float


@dataclass(frozen=True)
class HonestTimes:
    """The honest notebook's measured time per code cell, and its whole run (kernel start included)."""

    cells: tuple[HonestCell, ...]
    total_s: float

    def to_json(self) -> dict[str, Any]:
        return {"cells": [{"keys": list(c.keys), "seconds": c.seconds} for c in self.cells],
                "total_s": self.total_s}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "HonestTimes":
        return cls(tuple(HonestCell(tuple(c["keys"]), float(c["seconds"])) for c in d["cells"]),
                   float(d["total_s"]))


@dataclass(frozen=True)
class Budget:
    """Per code cell (index in the submission notebook) and per notebook, in seconds."""

    cell_timeouts: Mapping[int, float]
    notebook_timeout_s: float
    honest_s: Mapping[int, float]     # the matched honest time of each cell (for messages); absent: unmatched


def _source_hash(text: str) -> str:
    return "src:" + hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


def cell_keys(cell: Any) -> tuple[str, ...]:
    """How a cell is recognised in another notebook: nbgrader grade_id, cell id, source text."""
    keys = []
    gid = (cell.get("metadata") or {}).get("nbgrader", {}).get("grade_id")
    if gid:
        keys.append(f"grade:{gid}")
    if cell.get("id"):
        keys.append(f"id:{cell['id']}")
    keys.append(_source_hash(cell.get("source") or ""))
    return tuple(keys)


def honest_from_run(nb: Any, cells_run: Mapping[int, float], total_s: float) -> HonestTimes:
    """HonestTimes of notebook `nb` from the seconds each of its code cells took (by cell index)."""
    return HonestTimes(tuple(HonestCell(cell_keys(c), float(cells_run.get(i, 0.0)))
                             for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()),
                       float(total_s))


def budget_for(nb: Any, honest: HonestTimes | None, limits: Limits) -> Budget | None:
    """Each code cell's time limit and the notebook's; None when budgets are off or not measured."""
    if honest is None or limits.budget_factor <= 0 or not honest.cells:
        return None
    factor, floor, ceiling = limits.budget_factor, limits.min_cell_timeout_s, limits.cell_timeout_s

    def limit(seconds: float) -> float:
        return min(ceiling, max(floor, factor * seconds))

    by_key: dict[str, float] = {}
    for kind in ("grade:", "id:", "src:"):        # a grade_id beats a cell id beats the source text
        for c in honest.cells:
            for k in c.keys:
                if k.startswith(kind):
                    by_key.setdefault(k, c.seconds)
    largest = limit(max(c.seconds for c in honest.cells))
    timeouts: dict[int, float] = {}
    matched: dict[int, float] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        found = next((by_key[k] for k in cell_keys(cell) if k in by_key), None)
        if found is None:
            timeouts[i] = largest
        else:
            timeouts[i], matched[i] = limit(found), found
    notebook = min(limits.notebook_timeout_s, factor * honest.total_s + floor)
    return Budget(timeouts, notebook, matched)


# -- measuring and caching (I/O) -------------------------------------------------------------------

def machine_id() -> str:
    """Where the honest times hold: host name, CPU model and count."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()}|{model}|{os.cpu_count()}|{platform.machine()}"


def cache_path(cache_dir: Path, notebook_text: str, profile: str, sandboxed: bool) -> Path:
    key = hashlib.sha256("\n".join([notebook_text, profile, machine_id(), str(sandboxed)]).encode()).hexdigest()
    return cache_dir / BUDGETS_DIR / f"{profile}-{key[:20]}.json"


def load(path: Path) -> HonestTimes | None:
    try:
        return HonestTimes.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def measure(notebook_text: str, job_files: Mapping[str, Path], limits: Limits, *, sandboxed: bool,
            slot: int) -> HonestTimes | str:
    """Run the honest notebook as a submission runs (no probes): its times, or why it could not be timed."""
    from .sandbox import run_notebook
    from .model import Status

    report = run_notebook(notebook_text, [], job_files, limits, sandboxed=sandboxed, slot=slot)
    bad = [c for c in report.cells if c.status != "ok"]
    if report.status is not Status.GRADED or bad:
        return f"the honest notebook did not run cleanly ({report.status}: {report.message})"
    nb = nbformat.reads(notebook_text, as_version=4)
    return honest_from_run(nb, {c.index: c.seconds for c in report.cells}, report.seconds)


def honest_times(path: Path, build, *, measure_if_missing: bool) -> HonestTimes | None:
    """The cached honest times at `path`; when missing, `build()` measures them (one process at a
    time: others wait on a lock file and then read what it wrote).  A failed measurement is not
    cached (None: the ceilings apply) and is tried again by the next batch."""
    found = load(path)
    if found is not None or not measure_if_missing:
        return found
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = load(path)
        if found is not None:
            return found
        got = build()
        if isinstance(got, str):
            import warnings

            warnings.warn(f"no time budgets: {got}; cells get the ceilings of gradekit.toml", stacklevel=2)
            return None
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(got.to_json()))
        tmp.replace(path)
        return got
