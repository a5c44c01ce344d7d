"""One graded cohort per test session, shared by the tests that only read results.

A sandboxed run of a tiny full-marks notebook costs ~5.5 s of CPU (mostly importing torch), so a
notebook two test modules need is graded once, and the whole cohort in one batch (one worker pool):

- each test module declares the notebooks it reads with ``@wants`` (a function kit -> {name: nb},
  registered when pytest imports the module, i.e. before any fixture runs);
- the session fixture ``shared_cohort`` (tests/conftest.py) builds every registered notebook,
  de-duplicates identical ones (same cells, same CID: one file, one key, several names), and grades
  them with ``gradekit grade``'s own function into one out folder, with a roster of every key (the
  name and CID each notebook states), as a TA would;
- a module reads its results by its own names (``shared_cohort.results(notebooks)``); a test that changes
  results (re-judging, overrides) works on a private copy of its ``out`` and of its ``cfg.checks``.

The cohort is graded in the sandbox (the stronger condition: the same answers, plus isolation) when
bubblewrap works; without it, unsandboxed, and the tests marked ``sandbox`` skip (conftest).  Only the
notebooks of the modules whose selected tests use the cohort are graded (one module, or ``-k``, runs
with those modules' notebooks only): tests must not assume who else is in the cohort.
"""
from __future__ import annotations

import csv
import itertools
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat

CID = 4300001            # the CID of every notebook whose test does not need a CID of its own
# The infinite-loop notebook spins for this long.  The tiny profile's longest honest cell takes ~2.5 s
# alone; test_budgets shows an 8-s limit never cuts it off, even beside a CPU hog.
CELL_TIMEOUT_S = 10
# Notebooks of different students that share a CID are flagged `duplicate_cid` and held back from the
# LMS upload.  These mistakes' notebooks are read from the upload (test_regrades), so they carry a CID
# of their own, in every module that asks for them (then they are graded once).
OWN_CID = {"sigmoid_not_vectorised": 1200002, "cnn_wrong_sizes": 1200003}
UNTOUCHED_CID = 7654321  # the untouched release's CID (`Kit.untouched`): no other notebook has it

Build = Callable[["Kit"], Mapping[str, Any]]
_WANTED: dict[str, Build] = {}


@dataclass
class Kit:
    """What a module's notebooks are built from: the session's factories (tests/conftest.py)."""
    make_student: Callable[..., Any]
    variants: ModuleType
    course: Any

    @cached_property
    def full(self):
        """The full-marks notebook at the cohort's CID (a fresh copy is never needed: variants copy)."""
        return self.make_student(full=True, cid=CID)

    @cached_property
    def untouched(self):
        """The release as handed out, only the student's details filled in (no bug fixed, no task
        solved), at a CID of its own."""
        return self.make_student(cid=UNTOUCHED_CID)

    def variant(self, mistake: Callable[[Any], Any]):
        """The full notebook with one mistake (a function of the course's variants), at the CID that
        mistake carries in every module: its own (OWN_CID) or the cohort's."""
        cid = OWN_CID.get(mistake.__name__)
        return mistake(self.full if cid is None else self.make_student(full=True, cid=cid))

    @cached_property
    def reference_sweep(self) -> dict[float, float]:
        """The reference learning-rate sweep for CID (rate -> final-epoch loss)."""
        c = self.course
        return c.module.expected_sweep(c.reference, c.profile, CID)


def wants(build: Build) -> Build:
    """Decorator: ``build(kit) -> {name: notebook}`` are the notebooks this test module reads from
    the shared cohort.  The module's name (without ``test_``) is its owner; returns ``build``, the
    handle to read the results with."""
    owner = _owner(build)
    if owner in _WANTED and _WANTED[owner] is not build:
        raise ValueError(f"{build.__module__} registers two cohorts; one @wants per module")
    _WANTED[owner] = build
    return build


def _owner(build: Build) -> str:
    return next(iter(owners_of([build.__module__])))


def _free_key(name: str, taken) -> str:
    """A file-name-safe key for `name` that is not in `taken` (name, name_2, name_3, ...)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
    return next(k for n in itertools.count(1) if (k := slug if n == 1 else f"{slug}_{n}") not in taken)


@dataclass(frozen=True)
class GradedCohort:
    cfg: Any                        # how it was graded (sandbox, CELL_TIMEOUT_S cells, a private copy of the checks)
    subs: Path                      # the submitted notebooks, <key>.ipynb
    roster: Path                    # key, name and CID of every notebook (what a TA would upload)
    out: Path                       # grade_batch's out folder: read only (copy it to change it)
    summary: str                    # grade_batch's summary text
    keys: Mapping[tuple[str, str], str]     # (owner, name) -> the key it was graded under
    by_key: Mapping[str, Any]       # key -> SubmissionResult, as stored

    def key(self, build: Build, name: str) -> str:
        return self.keys[(_owner(build), name)]

    def results(self, build: Build) -> dict[str, Any]:
        """name -> SubmissionResult for the notebooks ``build`` asked for."""
        owner = _owner(build)
        return {name: self.by_key[key] for (o, name), key in self.keys.items() if o == owner}


def owners_of(modules: Iterable[str]) -> set[str]:
    """The owners (see `wants`) of these test modules' names."""
    return {m.rsplit(".", 1)[-1].removeprefix("test_") for m in modules}


def grade_shared_cohort(kit: Kit, cfg, base: Path, *, owners: set[str], sandboxed: bool,
                        workers: int = 2) -> GradedCohort:
    """Build the notebooks of the registered modules among `owners`, grade each distinct one once,
    in one batch."""
    from gradekit.batch import grade_batch
    from gradekit.intake import read_identity
    from gradekit.store import ResultStore

    checks = base / "checks"        # tests that re-judge copy this again, and edit their copy
    shutil.copytree(cfg.checks, checks, ignore=shutil.ignore_patterns("__pycache__"))
    cfg = cfg.with_(checks=checks, sandbox=sandboxed,
                    limits=replace(cfg.limits, cell_timeout_s=CELL_TIMEOUT_S))
    subs, out, roster = base / "subs", base / "out", base / "roster.csv"
    subs.mkdir()
    # A key is the first asker's name for the notebook, never its module's name (which a test may look
    # for in a page: "integrity").
    keys, key_of_text, identities = {}, {}, {}
    for owner, build in _WANTED.items():
        if owner not in owners:
            continue
        for name, nb in build(kit).items():
            text = nbformat.writes(nb)
            if text not in key_of_text:
                key = key_of_text[text] = _free_key(name, identities)
                (subs / f"{key}.ipynb").write_text(text, encoding="utf-8")
                identities[key] = read_identity(nb, cfg.cid_placeholder)
            keys[(owner, name)] = key_of_text[text]
    with open(roster, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("Username", "Name", "CID")] + [(key, i.name or "", "" if i.cid is None else i.cid)
                                                                 for key, i in identities.items()])
    summary = grade_batch(cfg, [subs], out, roster=roster, workers=workers, progress=False)
    with ResultStore(out / "results.sqlite", readonly=True) as store:
        by_key = {r.key: r for r in store.all()}
    missing = set(keys.values()) - set(by_key)
    assert not missing, f"the shared cohort lost {sorted(missing)}:\n{summary}"
    return GradedCohort(cfg, subs, roster, out, summary, keys, by_key)


def graded_once_per_run(shared_root: Path, grade: Callable[[Path], GradedCohort]) -> GradedCohort:
    """Under pytest-xdist every process has its own session: the first one to ask grades the cohort in
    the run's shared temp folder, holding a lock; the others wait for it and read what it left (the
    way pytest-xdist's documentation makes a session fixture run once).  fcntl, not a package: one
    lock, held for one call."""
    import fcntl
    import pickle

    base, done = shared_root / "shared-cohort", shared_root / "shared-cohort.pickle"
    with open(shared_root / "shared-cohort.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return pickle.loads(done.read_bytes())
        if base.exists():      # a process before this one failed grading it: its error is the one to read
            raise RuntimeError(f"grading the shared cohort failed in another pytest-xdist process ({base})")
        base.mkdir()
        cohort = grade(base)
        done.write_bytes(pickle.dumps(cohort))
        return cohort
