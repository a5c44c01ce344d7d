"""The order in which a batch starts its notebooks: likely-long ones first.

Longest-processing-time-first: a batch whose last task is a long notebook ends with one core running
it while the others idle; short ones last fill those gaps.  The guess of a notebook's length is the
number of tasks the student answered: nbgrader solution cells that hold nbgrader's code stub
(`raise NotImplementedError()`) in the release and something else in the submission (an unanswered
task raises at once and costs nothing to run).  A wrong guess costs some idle time at the end of a
batch, never a result.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from .fabricate import CODE_STUB
from .model import Submission


def solution_cells(notebook_json: str) -> dict[str, str]:
    """grade_id -> source of the nbgrader solution cells of a notebook ({} if unreadable)."""
    try:
        cells = json.loads(notebook_json).get("cells", [])
    except (ValueError, AttributeError, RecursionError):
        return {}
    out: dict[str, str] = {}
    for cell in cells if isinstance(cells, list) else []:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        if isinstance(meta, dict) and meta.get("solution") and isinstance(meta.get("grade_id"), str):
            src = cell.get("source", "")
            out[meta["grade_id"]] = "".join(src) if isinstance(src, list) else str(src)
    return out


def task_cells(notebook_json: str) -> dict[str, str]:
    """The solution cells that hold nbgrader's code stub: the tasks (not the bug cells or details)."""
    return {gid: src for gid, src in solution_cells(notebook_json).items() if CODE_STUB.splitlines()[-1] in src}


def answered(sub: Submission, tasks: dict[str, str]) -> int:
    """How many of the release's task cells (`task_cells`) this submission changed."""
    if sub.notebook_json is None:
        return -1                                  # nothing to run: reported at once wherever it goes
    mine = solution_cells(sub.notebook_json)
    return sum(1 for gid, src in tasks.items() if gid in mine and mine[gid].strip() != src.strip())


def longest_first(subs: Iterable[Submission], release_path: Path) -> list[Submission]:
    """`subs` with the submissions that answered more tasks first (stable otherwise)."""
    subs = list(subs)
    try:
        tasks = task_cells(Path(release_path).read_text())
    except OSError:
        return subs
    return sorted(subs, key=lambda s: -answered(s, tasks))
