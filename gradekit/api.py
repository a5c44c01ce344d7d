"""The course contract: everything course content imports from the engine, and the hooks the engine calls.

A course is a folder ``autograder/<assignment>/`` named by ``checks`` in gradekit.toml, plus whatever
it imports itself (this repository's ``reference/`` package).  The engine loads the folder's
``course.py`` by path (never by name) and calls the hooks of :class:`CourseHooks` on it; the folder's
``test_<part>.py`` files are the checks (pytest; ``@pytest.mark.points(n)``, ``@pytest.mark.hidden``),
judged with the fixtures listed in :data:`CHECK_FIXTURES`.  Course content imports from this module
only -- ``from gradekit.api import ...`` -- so the engine can change behind it.

How to add a graded part, from the source cell to the check: docs/COURSE.md.

Conventions the engine relies on (no hook needed):

- the source notebook marks each graded answer cell with an nbgrader ``grade_id`` equal to the part's
  name, and its test cell with ``test_<part>`` and nbgrader ``points`` equal to the sum of the points of
  ``test_<part>.py`` (``gradekit validate`` fails otherwise);
- the "Your details" cell assigns ``Name = "..."`` and ``CID = <int>``;
- a seeded bug is a ``### BEGIN SEEDED BUG`` region, a task a ``### BEGIN SOLUTION`` region.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

from . import fabricate
from .atomic import atomic_write
from .checking import answer, as_array, as_float, describe, expect
from .contentload import load as _load
from .figures import figure_png, grey_png, image_array
from .model import Identity, Mistake, ProbeResult
from .probes import ProbeSpec
from .refcache import tree_hash

__all__ = [
    "CourseHooks", "REQUIRED_HOOKS", "OPTIONAL_HOOKS", "CHECK_FIXTURES",
    "ProbeSpec", "ProbeResult", "Identity", "Mistake", "BundledFile", "FeedbackSection", "DemoStudent", "HostileCell",
    "answer", "expect", "as_array", "as_float", "describe", "fabricate", "tree_hash", "sibling", "atomic_write", "figure_png",
    "grey_png", "image_array",
]

Notebook = Any          # nbformat.NotebookNode
Reference = Callable[..., Any]   # refcache.ReferenceCache: reference(fn, **kwargs) -> cached fn(**kwargs)


# -- plain data a course hands to the engine ------------------------------------------------------

@dataclass(frozen=True)
class BundledFile:
    """A file (or folder) the release ships next to the notebook, written by ``write(path)``.

    ``write`` must be deterministic: identical bytes for identical calls, unchanged files untouched
    (so the committed release stays byte-identical on re-generation)."""

    path: str                                   # relative to source/<assignment>/ (and release/<assignment>/)
    write: Callable[[Path], None]


@dataclass(frozen=True)
class FeedbackSection:
    """One section of a student's feedback page, drawn by the course from ``result.extras``.

    The engine escapes ``title``, ``text`` and every caption, and inlines the PNGs; a course never
    writes HTML.  Only the student's own data may appear (never reference values of hidden checks)."""

    title: str
    images: tuple[tuple[str, bytes], ...] = ()  # (caption, PNG bytes)
    text: str = ""


@dataclass(frozen=True)
class DemoStudent:
    """One student of the demo cohort: attempts are (LMS timestamp ``YYYY-MM-DD-HH-MM-SS``, file name,
    bytes); ``attempts=()`` is a roster-only student who did not submit."""

    username: str
    name: str
    cid: int | None
    attempts: tuple[tuple[str, str, bytes], ...] = ()


@dataclass(frozen=True)
class HostileCell:
    """A course-specific hostile cell for the corpus (``gradekit corpus``): a cell that needs the course's
    names, libraries or answer formats (lying tensors, forged answers, a partial sweep).  The corpus
    inserts ``source`` into an honest student's notebook and grades it under the case's ``name``.

    ``base``: "a" (full marks) or "b" (the last seeded bug fixed, the first task solved: the others left as
    released); ``where``: "end" or "early" (after the first code cell); ``expect``: "same" (every check
    scores what the honest baseline scores) or "at_most" (no check scores above it);
    ``helpers``: engine cells run before ``source`` -- "liar" (``_gk_lie_about_everything(make)``: every
    student function returns ``make(args)``), "channel" (the exfiltration channel: ``_GK``, the corpus's
    targets, and ``_gk_note(what)``; the cell then fails with ``LEAKED <what>``, counted as an escape);
    ``judge_s``: at most this many seconds judging the case's answers."""

    name: str
    what: str
    source: str
    base: str = "b"
    where: str = "end"
    expect: str = "same"
    helpers: tuple[str, ...] = ()
    judge_s: float | None = None


# -- the hooks --------------------------------------------------------------------------------------

@runtime_checkable
class CourseHooks(Protocol):
    """What ``autograder/<assignment>/course.py`` provides.  Required members are below; the optional
    hooks (:data:`OPTIONAL_HOOKS`) are looked up with ``getattr`` and may be absent."""

    #: Gradebook columns, in notebook order; each has a ``test_<part>.py`` in the course folder.
    PARTS: Sequence[str]
    #: grade_ids of the answer cells that hold a seeded bug (``gradekit validate``: fixing one alone
    #: brings back exactly its part's points).
    BUG_PARTS: Sequence[str]
    #: grade_ids of the task answer cells, in order; solving the first k brings back exactly their
    #: parts' points (a later task may build on an earlier one).
    TASK_PARTS: Sequence[str]

    def load_profile(self, name: str) -> dict[str, Any]:
        """Exercise/data sizes by name (``grading`` for real grading; ``tiny`` for tests)."""

    def job_files(self, profile: Mapping[str, Any], *, release_dir: Path, cache_dir: Path) -> Mapping[str, Path]:
        """Relative path in the sandbox's job folder -> host file or folder to copy there."""

    def make_probes(self, profile: Mapping[str, Any], rng: np.random.Generator) -> Sequence[ProbeSpec]:
        """The questions asked of the student's kernel after the notebook ran; ``rng`` is fresh per run."""

    def student(self, release: Notebook, source: Notebook, *, name: str, cid: int | None,
                fixed: Sequence[str] = (), solved: Sequence[str] = (),
                profile: Mapping[str, Any] | None = None) -> Notebook:
        """A student notebook built from the release: the seeded bugs ``fixed`` fixed, the tasks
        ``solved`` solved, resized to ``profile``.  Used by validate, the demo, the corpus and tests."""


REQUIRED_HOOKS = ("PARTS", "BUG_PARTS", "TASK_PARTS", "load_profile", "job_files", "make_probes", "student")

#: name -> (signature, what the engine does without it)
OPTIONAL_HOOKS: Mapping[str, tuple[str, str]] = {
    "precompute_reference": ("(reference, profile, cid) -> None",
                             "per-CID reference work that does not depend on the answers; none"),
    "feedback_extras": ("(probes, profile, cid | None, reference) -> dict",
                        "plot data kept with the result (the student's own values only); {}"),
    "feedback_sections": ("(extras) -> list[FeedbackSection]", "no figures on feedback pages"),
    "bundled_files": ("() -> list[BundledFile]", "the release ships the notebook only"),
    "demo_cohort": ("(release, source, profile) -> list[DemoStudent]", "`gradekit demo` refuses to run"),
    "LMS_ASSIGNMENT": ("str", "the assignment's name in the demo's bulk download; default: [assignment] name"),
    "DEMO_DEADLINE": ("ISO 8601 str", "the demo's deadline when gradekit.toml sets no [policy]; none"),
    "configure_worker": ("() -> None", "called once in every grading worker (e.g. one intra-op thread)"),
    "WORKER_IMPORTS": ("tuple of module names", "imported once, in the process local grading workers are forked "
                                                "from (the checks' heavy libraries); workers import what they need"),
    "apply_profile": ("(notebook, profile) -> notebook",
                      "the source notebook resized to a profile (time budgets, version checks); unchanged"),
    "expected_names": ("() -> list[str]", "the names the probes need (other-version check); every function "
                                          "and class the release's answer cells define"),
    "hostile_cells": ("() -> list[HostileCell]", "the corpus runs the engine's generic cases only"),
    "diagnose": ("(part, probes, profile, cid | None, reference) -> list[Mistake]",
                 "called for each failing part after judging; names typical mistakes (never changes marks); none"),
    "comparable_answers": ("(probes, profile) -> {part: [[label, number], ...]}",
                           "answers that depend only on the student's code and CID (integrity pass); none"),
    "matches_cid": ("(part, answers, profile, cid, reference) -> str | None",
                    "evidence when a part's answers are the reference's for another CID (integrity); none"),
}

#: Fixtures the checks receive (gradekit/judge.py).
CHECK_FIXTURES: Mapping[str, str] = {
    "probes": "Mapping[str, ProbeResult]: the kernel's answers, by probe name",
    "identity": "Identity: Name and CID read statically from the notebook",
    "cid": "int: the student's CID; the check fails with a clear message when it is missing",
    "exercise": "the course profile (dict)",
    "reference": "reference(fn, **kwargs): fn(**kwargs), cached on disk per CID and reference code",
    "course": "the course module (course.py)",
}


def missing_hooks(module: ModuleType) -> list[str]:
    """The required hooks a course module lacks (empty: it satisfies the contract)."""
    return [name for name in REQUIRED_HOOKS if not hasattr(module, name)]


# -- helpers for course content ----------------------------------------------------------------------

def sibling(course_file: str | Path, name: str) -> ModuleType:
    """Another module of the same course folder (``sibling(__file__, "variants")``), loaded by path
    the way the engine loads ``course.py``: course folders are not packages."""
    return _load(Path(course_file).resolve().parent, name)
