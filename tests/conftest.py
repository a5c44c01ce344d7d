"""Shared fixtures: the course configuration at the `tiny` profile, and notebooks built from the release."""
from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import gradekit  # noqa: F401 -- before nbformat: it spares nbformat's jsonschema a 1-s import (gradekit/__init__.py)
import nbformat
import pytest

os.environ.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_SANDBOX = "GRADEKIT_REQUIRE_SANDBOX"      # set by .ci/run: CI must run the sandbox tests
collect_ignore = ["courses"]   # tests/courses/*: course content (its checks are run by the judge, not by pytest)


# The order `make test` hands test files to its pytest-xdist processes (the Makefile passes
# --no-loadscope-reorder, so a free process takes the next file of this list).  Longest first (seconds
# measured on this 2-core machine in the comments), so that no long file starts last and runs alone;
# test_regrades first: it grades the shared cohort (a pool on both cores, ~65 s) while the other
# process runs test_sandbox (~95 s), whose tests mostly wait for timeouts.  The other readers of the
# cohort come after both.  Files not listed run after these, in collection order.
SLOW_FILES_FIRST = (
    "test_regrades.py",        # the shared cohort (65) + 15
    "test_sandbox.py",         # 95, mostly waiting
    "test_corpus.py",          # 160: both corpus batches
    "test_budgets.py",         # 65
    "test_distributed.py",     # 60
    "test_batch.py",           # 60
    "test_validate.py",        # 35
    "test_mistakes.py",        # 25
    "test_reference.py",       # 16
    "test_executors.py",       # 12
    "test_release.py",         # 15
    "test_second_course.py",   # 10
    "test_cgroups.py",         # 11
)


def _schedule_rank(item) -> int:
    name = item.path.name
    return SLOW_FILES_FIRST.index(name) if name in SLOW_FILES_FIRST else len(SLOW_FILES_FIRST)


def pytest_collection_modifyitems(config, items):
    """Files in SLOW_FILES_FIRST order (a stable sort: tests keep their order within a file).

    Tests marked `sandbox` need a working bubblewrap sandbox.  Without one they are skipped together,
    with the one reason why; with GRADEKIT_REQUIRE_SANDBOX=1 (CI) the run fails instead, so a CI that
    silently skipped every sandbox test cannot pass."""
    items.sort(key=_schedule_rank)
    sandboxed = [item for item in items if item.get_closest_marker("sandbox")]
    if not sandboxed:
        return
    from gradekit.sandbox import sandbox_self_test

    reason = sandbox_self_test()
    if reason is None:
        return
    if os.environ.get(REQUIRE_SANDBOX) == "1":
        raise pytest.UsageError(f"{len(sandboxed)} sandbox tests cannot run and {REQUIRE_SANDBOX}=1: {reason}")
    skip = pytest.mark.skip(reason=f"bubblewrap sandbox unavailable: {reason}")
    for item in sandboxed:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_cfg(tmp_path_factory):
    """The repository's configuration at the tiny profile, with small limits and a private cache.

    Time budgets are off here (budget_factor 0: every test session would first time the honest
    notebook); tests/test_budgets.py turns them on."""
    from gradekit.config import load_config

    cfg = load_config(ROOT / "gradekit.toml")
    return cfg.with_(profile="tiny", cache=tmp_path_factory.mktemp("cache"),
                     limits=replace(cfg.limits, cell_timeout_s=30, notebook_timeout_s=240, budget_factor=0))


@pytest.fixture(scope="session")
def course(tiny_cfg):
    from gradekit.grading import Course

    return Course(tiny_cfg)


@pytest.fixture(scope="session")
def variants(course):
    return course.content_module("variants")


@pytest.fixture(scope="session")
def release_nb(tiny_cfg):
    return nbformat.read(tiny_cfg.release, as_version=4)


@pytest.fixture(scope="session")
def source_nb(tiny_cfg):
    return nbformat.read(tiny_cfg.source, as_version=4)


@pytest.fixture(scope="session")
def make_student(release_nb, source_nb, variants, course):
    """Factory: a student notebook at the tiny profile, built from the release."""
    def make(*, cid=1234567, name="Test Student", fixed=(), solved=(), full=False):
        if full:
            fixed, solved = variants.BUG_PARTS, variants.TASK_PARTS
        return variants.student(release_nb, source_nb, name=name, cid=cid, fixed=fixed, solved=solved,
                                profile=course.profile)
    return make


def submission_of(key: str, nb, cid_placeholder: int = 123446):
    """A Submission as intake would make it, from an in-memory notebook."""
    from gradekit.intake import read_identity
    from gradekit.model import Submission

    text = nbformat.writes(nb)
    return Submission(key=key, source_name=f"{key}.ipynb", sha256=hashlib.sha256(text.encode()).hexdigest(),
                      notebook_json=text, identity=read_identity(nb, cid_placeholder))


@pytest.fixture(scope="session")
def shared_cohort(request, tiny_cfg, make_student, variants, course, tmp_path_factory):
    """The `@shared_cohort.wants` notebooks of every module whose selected tests use this fixture,
    graded once, in one batch (tests/shared_cohort.py).  Sandboxed when the sandbox works (the
    readers marked `sandbox` skip otherwise); the tests that only read results share it."""
    from shared_cohort import Kit, grade_shared_cohort, graded_once_per_run, owners_of

    from gradekit.sandbox import sandbox_self_test

    owners = owners_of(item.module.__name__ for item in request.session.items
                       if "shared_cohort" in getattr(item, "fixturenames", ()))

    def grade(base: Path):
        return grade_shared_cohort(Kit(make_student, variants, course), tiny_cfg, base, owners=owners,
                                   sandboxed=sandbox_self_test() is None)

    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return grade(tmp_path_factory.mktemp("cohort"))
    return graded_once_per_run(tmp_path_factory.getbasetemp().parent, grade)
