"""Judge probe results with the course's autograder checks, in the trusted process.

The checks are ordinary pytest files (``autograder/<assignment>/test_<part>.py``): the file name is
the gradebook column, ``@pytest.mark.points(n)`` the weight, ``@pytest.mark.hidden`` keeps a check
out of the student's self-check.  We run them with ``pytest.main`` and a plugin that supplies the
submission's data as fixtures and collects one CheckResult per test, rather than inventing a check
format of our own: instructors write and debug checks with the tool they already know.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

from .errors import SetupError
from .model import CheckResult, Identity, ProbeResult

MARKERS = (
    "points(n): how many points the check is worth",
    "hidden: not shown in the student's self-check; its message must not reveal reference values",
)


@dataclass(frozen=True)
class JudgeInputs:
    probes: Mapping[str, ProbeResult]
    identity: Identity
    exercise: Mapping[str, Any]          # the course profile (learning rates, sizes, ...)
    reference: Callable[..., Any]        # refcache.ReferenceCache: reference(fn, **kwargs)
    course: Any = None                   # the course module (autograder/<assignment>/course.py)


class _JudgePlugin:
    """Supplies fixtures and records results; one instance per judged submission."""

    def __init__(self, inputs: JudgeInputs):
        self.inputs = inputs
        self.results: list[CheckResult] = []
        self.collect_errors: list[str] = []

    def pytest_configure(self, config):
        for m in MARKERS:
            config.addinivalue_line("markers", m)

    @pytest.fixture
    def probes(self) -> Mapping[str, ProbeResult]:
        return self.inputs.probes

    @pytest.fixture
    def identity(self) -> Identity:
        return self.inputs.identity

    @pytest.fixture
    def cid(self) -> int:
        ident = self.inputs.identity
        if not ident.cid_ok:
            pytest.fail(f"graded against your own College ID, and I could not use yours: {ident.cid_problem}")
        return ident.cid

    @pytest.fixture
    def exercise(self) -> Mapping[str, Any]:
        return self.inputs.exercise

    @pytest.fixture
    def reference(self) -> Callable[..., Any]:
        return self.inputs.reference

    @pytest.fixture
    def course(self) -> Any:
        return self.inputs.course

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append(f"{report.nodeid}: {report.longreprtext[-2000:]}")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and not report.passed):
            marker = item.get_closest_marker("points")
            if marker is None or not marker.args:
                self.collect_errors.append(f"{item.nodeid}: has no @pytest.mark.points(n)")
                return
            max_points = float(marker.args[0])
            passed = report.passed
            self.results.append(CheckResult(
                part=_part_of(item.path),
                name=item.name,
                points=max_points if passed else 0.0,
                max_points=max_points,
                passed=passed,
                visible=item.get_closest_marker("hidden") is None,
                message="" if passed else _student_message(call.excinfo),
            ))


def _part_of(path: Path) -> str:
    stem = Path(path).stem
    return stem[len("test_"):] if stem.startswith("test_") else stem


def _student_message(excinfo) -> str:
    """The check's own sentence, without pytest's assertion introspection (which could show
    reference values that a hidden check compares against)."""
    if excinfo is None:
        return "check failed"
    exc = excinfo.value
    if isinstance(exc, AssertionError):
        text = str(exc).split("\nassert ")[0].strip()
        return text if text and not text.startswith("assert ") else "check failed"
    if excinfo.errisinstance(pytest.fail.Exception):
        return str(exc).strip() or "check failed"
    return f"the check could not evaluate your answer ({type(exc).__name__}: {str(exc)[:200]})"


def parts_of(checks_dir: Path) -> list[str]:
    """Gradebook columns, in file-name order (stable across runs)."""
    return [_part_of(p) for p in sorted(Path(checks_dir).glob("test_*.py"))]


class _PointsPlugin:
    """Collects each check's part, points and visibility without running anything."""

    def __init__(self):
        self.checks: list[tuple[str, str, float, bool]] = []
        self.errors: list[str] = []

    def pytest_configure(self, config):
        for m in MARKERS:
            config.addinivalue_line("markers", m)

    def pytest_collectreport(self, report):
        if report.failed:
            self.errors.append(f"{report.nodeid}: {report.longreprtext[-2000:]}")

    def pytest_collection_modifyitems(self, items):
        for item in items:
            marker = item.get_closest_marker("points")
            if marker is None or not marker.args:
                self.errors.append(f"{item.nodeid}: has no @pytest.mark.points(n)")
                continue
            self.checks.append((_part_of(item.path), item.name, float(marker.args[0]),
                                item.get_closest_marker("hidden") is None))


def check_table(checks_dir: Path) -> list[tuple[str, str, float, bool]]:
    """Every check of the course as (part, check name, points, visible), read by collecting the checks
    (nothing runs).  SetupError when a check file does not import or a check has no points."""
    plugin = _PointsPlugin()
    stamps = _check_stamps(checks_dir)
    _forget_stale_checks(stamps)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        pytest.main(_pytest_args(checks_dir) + ["--collect-only"], plugins=[plugin])
    _stamp_checks(stamps)
    if plugin.errors:
        raise SetupError("the autograder checks are broken:\n" + "\n".join(plugin.errors))
    return plugin.checks


def course_points(checks_dir_or_cfg) -> dict[str, float]:
    """part -> the most points its checks award (the sum of their ``@pytest.mark.points``)."""
    checks_dir = getattr(checks_dir_or_cfg, "checks", checks_dir_or_cfg)
    out: dict[str, float] = {}
    for part, _, points, _ in check_table(Path(checks_dir)):
        out[part] = out.get(part, 0.0) + points
    return out


def _pytest_args(checks_dir: Path) -> list[str]:
    return [
        str(checks_dir),
        "-c", os.devnull,              # ignore the repository's own pytest settings
        f"--rootdir={checks_dir}",
        "--import-mode=importlib",     # no clash with the engine's own tests/ of the same names
        # Only the judge's plugin and pytest's own: a plugin installed next to gradekit (xdist,
        # randomly, ...) could reorder, reseed or skip checks, and loading them cost ~0.4 s per worker.
        "--disable-plugin-autoload",
        "-p", "no:cacheprovider",
        "-p", "no:stepwise",
        # This plugin runs gc.collect() twice per pytest.main (at unconfigure and cleanup).  In a
        # grading worker (torch, numpy, the course loaded) that is ~0.35 s of the judge's ~0.4 s CPU
        # per submission; what it reports (exceptions raised in __del__) is no grading result.
        "-p", "no:unraisableexception",
        "-q", "--no-header", "--tb=no", "-s",
        "-W", "ignore::DeprecationWarning",
    ]


def _check_stamps(checks_dir: Path) -> dict[str, tuple]:
    """Module name (the file's stem, as pytest's importlib mode names it) -> (path, mtime, size)."""
    out = {}
    for path in [*Path(checks_dir).glob("test_*.py"), Path(checks_dir) / "conftest.py"]:
        with contextlib.suppress(OSError):
            st = path.stat()
            out[path.stem] = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    return out


def _forget_stale_checks(stamps: dict[str, tuple]) -> None:
    """pytest's importlib mode reuses a module already in sys.modules under the same name: in a
    process that lives on (a re-judge after grading, a test session, a worker), a check edited
    since, or the same-named check of another checks folder, would be judged with the old code.
    Such modules are dropped; a module loaded from the unchanged file is kept (no re-import)."""
    for name, stamp in stamps.items():
        mod = sys.modules.get(name)
        if mod is not None and getattr(mod, "__gradekit_stamp__", None) != stamp:
            del sys.modules[name]


def _stamp_checks(stamps: dict[str, tuple]) -> None:
    """Remember which file version each check module was loaded from (stamps taken *before* the
    run: a file edited meanwhile is seen as changed next time)."""
    for name, stamp in stamps.items():
        mod = sys.modules.get(name)
        if mod is not None and os.path.realpath(getattr(mod, "__file__", "") or "") == stamp[0]:
            mod.__gradekit_stamp__ = stamp


def judge(checks_dir: Path, inputs: JudgeInputs, *, visible_only: bool = False) -> tuple[CheckResult, ...]:
    plugin = _JudgePlugin(inputs)
    stamps = _check_stamps(checks_dir)
    _forget_stale_checks(stamps)
    args = _pytest_args(checks_dir)
    if visible_only:
        args += ["-m", "not hidden"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = pytest.main(args, plugins=[plugin])
    _stamp_checks(stamps)
    if plugin.collect_errors:
        raise SetupError("the autograder checks are broken:\n" + "\n".join(plugin.collect_errors))
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise SetupError(f"running the checks in {checks_dir} failed with pytest exit code {int(code)}")
    return tuple(plugin.results)
