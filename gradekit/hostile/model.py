"""What a hostile case is, what it expects, and what it is built from; the hostile cells as text.

Every hostile cell is a real Python file in ``cells/`` (the course's own in its folder, see
:func:`gradekit.hostile.cases.course_cases`), read as text by :func:`cell_source` and inserted into a
notebook.  ``cells/`` is deliberately not a package: nothing imports (runs) a hostile cell by accident.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Callable

from ..model import Status

PWNED = "PWNED"               # files hostile cells try to create outside their sandbox start with this
LEAK_MARK = "LEAKED"          # what the exfiltration channel writes into the grade
CID_A, CID_B = 1100001, 1100002
CELLS = Path(__file__).resolve().parent / "cells"


@cache
def cell_source(name: str) -> str:
    """The text of the hostile cell ``cells/<name>.py``."""
    return (CELLS / f"{name}.py").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Expect:
    """A case's expected row.  ``points``: "same" -- every check scores what the honest baseline scores;
    "at_most" -- no check above it (the hostile cell may break honest work); "zero" -- nothing."""

    status: tuple[Status, ...] = (Status.GRADED,)
    points: str = "same"
    message: str | None = None          # regex (case-insensitive) the row's message must match
    flags: tuple[str, ...] = ()         # flags the row must carry
    judge_s: float | None = None        # at most this many seconds judging its answers (timings["judge"])
    supervisor_cpu_s: float | None = None   # at most this much trusted CPU watching its run


@dataclass(frozen=True)
class Case:
    name: str                           # the student key: file stem, or LMS username (zip cases)
    group: str                          # read | write | patch | liar | resource | network | intake | zip |
                                        # isolation | course (the course's hostile_cells) | control
    what: str                           # one line for the summary table
    base: str | None                    # "a" | "b": the honest student it is built from; None: nothing to run
    make: Callable[["Ctx"], Any]       # -> NotebookNode | bytes | Sparse | ZipCase
    expect: Expect = Expect()
    ordered: int = 0                    # > 0: graded before the batch by ONE worker (one sandbox slot, one
                                        # uid), in ascending order: a case of 2 runs after every case of 1
    file: str | None = None             # the submitted file's name when it is not "<name>.ipynb" (odd names:
                                        # the key is then the file's stem, which ``name`` must equal)


@dataclass(frozen=True)
class Sparse:
    size: int                           # a file of this many bytes, all holes (truncate)


@dataclass(frozen=True)
class ZipCase:
    entries: list                       # [(name or ZipInfo, bytes)], LMS-named, receipts added
    forbidden: tuple[Path, ...] = ()    # host paths that must not exist after the batch


@dataclass
class Ctx:
    """What a case is built from."""

    a: Any                              # honest student A's notebook (NotebookNode)
    b: Any                              # honest student B's notebook
    targets: dict[str, Any]             # what hostile cells aim at (host paths, port, ...); see corpus._build
    work: Path                          # the corpus's folder
    source: Any = None                  # the instructor notebook (for controls that fix a seeded bug)
    bug_parts: tuple[str, ...] = ()     # grade_ids of the seeded bugs B left in
    case: str = ""

    def cell(self, body: str, *, report: bool = True) -> str:
        """A hostile cell: the shared prelude (targets, the exfiltration channel) and ``body``."""
        targets = dict(self.targets, marker=f"{PWNED}-{self.case}")
        head = cell_source("prelude").replace('"__TARGETS__"', repr(json.dumps(targets)))
        return head + "\n" + body.strip() + ("\n_gk_report()\n" if report else "\n")
