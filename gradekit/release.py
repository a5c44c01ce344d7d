"""Source -> release: the student version of the assignment, written by nbgrader's own machinery.

``generate_release(root)`` first regenerates the data bundled next to the instructor notebook
(deterministic: unchanged files keep their bytes and mtime), then runs nbgrader's
``GenerateAssignment`` converter configured by the repository's ``nbgrader_config.py`` -- the same
code path as ``nbgrader generate_assignment <name> --force`` run from the repository root, which
therefore writes the same release.  Our part of the pipeline is the two preprocessors of
:mod:`gradekit.nbgrader_ext` that ``nbgrader_config.py`` registers.

``release_is_fresh(root)`` regenerates into a temporary copy and compares the bytes with the
committed release (for CI).
"""
from __future__ import annotations

import contextlib
import filecmp
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from . import contentload
from .config import CONFIG_NAME, load_config
from .errors import GradekitError

NBGRADER_CONFIG = "nbgrader_config.py"


class ReleaseError(GradekitError):
    """nbgrader could not generate the release (e.g. a malformed seeded bug); the message has its log."""


def write_bundled_data(source_dir: Path, course_dir: Path) -> None:
    """(Re)write the files the course bundles with its notebook (its ``bundled_files`` hook) into
    ``source_dir``; deterministic writers leave unchanged files untouched."""
    hook = getattr(contentload.load(course_dir, "course"), "bundled_files", None)
    for bundled in (hook() if hook else ()):
        bundled.write(Path(source_dir) / bundled.path)


@contextlib.contextmanager
def _alembic_head_in_process() -> Iterator[None]:
    """nbgrader stamps a new gradebook with the head revision of its database migrations, which it
    asks a subprocess for (``alembic heads``: a fresh interpreter importing alembic and SQLAlchemy,
    ~2.5 s of CPU per release, and an ``alembic`` executable that must be on PATH).  Meanwhile it gets
    the same answer from alembic's own API, in this process, over nbgrader's migrations folder."""
    import nbgrader.api
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    asked = nbgrader.api.get_alembic_version
    nbgrader.api.get_alembic_version = lambda: ScriptDirectory(ALEMBIC_DIR).get_current_head()
    try:
        yield
    finally:
        nbgrader.api.get_alembic_version = asked


def _nbgrader(root: Path, assignment: str):
    """(config, coursedir) as ``nbgrader`` run from ``root`` would build them from ``nbgrader_config.py``."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    if not (root / NBGRADER_CONFIG).is_file():
        raise ReleaseError(f"{root / NBGRADER_CONFIG} is missing: it registers gradekit's preprocessors with nbgrader")
    config = PyFileConfigLoader(NBGRADER_CONFIG, path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = assignment
    return config, coursedir


def run_generate_assignment(root: Path, assignment: str) -> str:
    """Run nbgrader's ``GenerateAssignment`` (force, create) with ``root/nbgrader_config.py``; returns its log.

    Raises ReleaseError, with nbgrader's log and traceback, when nbgrader fails.
    """
    from nbgrader.converters import GenerateAssignment
    from nbgrader.utils import capture_log

    config, coursedir = _nbgrader(Path(root).resolve(), assignment)
    converter = GenerateAssignment(coursedir=coursedir, config=config)
    converter.force = True
    converter.create_assignment = True
    with _alembic_head_in_process():
        result = capture_log(converter)
    log = result.get("log", "")
    if not result["success"]:
        raise ReleaseError(f"nbgrader generate_assignment {assignment} failed:\n{log}\n{result.get('error', '')}")
    return log


#: Text that must never reach students (nbgrader's and gradekit's region markers).
FORBIDDEN_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                     "BEGIN SEEDED BUG", "END SEEDED BUG", "RELEASE:", "BEGIN MARK SCHEME")


def verify_release(root: Path, assignment: str) -> list[str]:
    """What is wrong with ``release/<assignment>/<notebooks>`` as nbgrader must see it (empty: nothing).

    - no region marker is left in any cell;
    - each cell's nbgrader checksum is that of its released text (else ``nbgrader autograde`` and
      ``validate`` take untouched cells for changed ones: a preprocessor ran after ComputeChecksums);
    - the gradebook stored the released text of every answer and read-only cell (else a
      preprocessor ran after SaveCells, and the gradebook holds what students must not see).
    """
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import compute_checksum

    root = Path(root).resolve()
    _, coursedir = _nbgrader(root, assignment)
    problems: list[str] = []
    notebooks = sorted((root / "release" / assignment).glob("*.ipynb"))
    if not notebooks:
        return [f"release/{assignment} has no notebook"]
    with Gradebook(coursedir.db_url) as gradebook:
        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            for index, cell in enumerate(nb.cells):
                where = f"{path.name} cell {index}"
                problems += [f"{where}: contains the marker {m!r}" for m in FORBIDDEN_MARKERS if m in cell.source]
                meta = cell.metadata.get("nbgrader")
                if not meta or "grade_id" not in meta:
                    continue
                where += f" ({meta['grade_id']})"
                if "checksum" in meta and meta["checksum"] != compute_checksum(cell):
                    problems.append(f"{where}: nbgrader checksum is not that of the released text")
                if meta.get("grade"):
                    continue  # the gradebook keeps grade cells with their hidden tests, by design
                try:
                    stored = gradebook.find_source_cell(meta["grade_id"], path.stem, assignment)
                except MissingEntry:
                    problems.append(f"{where}: missing from the gradebook")
                    continue
                if stored.source != cell.source:
                    problems.append(f"{where}: the gradebook stored other text than the release shows")
                elif stored.checksum != meta.get("checksum"):
                    problems.append(f"{where}: the gradebook stored another checksum than the release's")
    return problems


def generate_release(root: Path, *, course_dir: Path | None = None) -> Path:
    """Regenerate the bundled data, write ``release/<assignment>/`` with nbgrader, verify it; returns the folder.

    Deterministic: running it twice gives byte-identical files.  ReleaseError if nbgrader fails or
    :func:`verify_release` finds a problem.
    """
    root = Path(root).resolve()
    cfg = load_config(root / CONFIG_NAME)
    write_bundled_data(root / "source" / cfg.assignment, course_dir or cfg.checks)
    run_generate_assignment(root, cfg.assignment)
    problems = verify_release(root, cfg.assignment)
    if problems:
        raise ReleaseError("nbgrader wrote an inconsistent release (check the preprocessor order in "
                           f"{NBGRADER_CONFIG}):\n  " + "\n  ".join(problems))
    return root / "release" / cfg.assignment


def _tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()


def compare_trees(expected: Path, actual: Path) -> list[str]:
    """Byte-level differences between two folders, one sentence each (empty when identical)."""
    want, have = _tree(expected), _tree(actual)
    problems = [f"{name}: missing" for name in sorted(want - have)]
    problems += [f"{name}: not expected" for name in sorted(have - want)]
    problems += [f"{name}: differs" for name in sorted(want & have)
                 if not filecmp.cmp(expected / name, actual / name, shallow=False)]
    return problems


def release_is_fresh(root: Path) -> tuple[bool, str]:
    """Regenerate the release in a temporary copy of the course and compare bytes with ``root``'s.

    Returns ``(True, message)`` when the committed release is exactly what the source gives, else
    ``(False, message listing the files that differ)``.  ``root`` itself is not modified.
    """
    root = Path(root).resolve()
    cfg = load_config(root / CONFIG_NAME)
    assignment = cfg.assignment
    committed = root / "release" / assignment
    with tempfile.TemporaryDirectory(prefix="gradekit-release-") as tmp:
        copy = Path(tmp)
        for name in (CONFIG_NAME, NBGRADER_CONFIG):
            shutil.copy2(root / name, copy / name)
        shutil.copytree(root / "source" / assignment, copy / "source" / assignment)
        fresh = generate_release(copy, course_dir=cfg.checks)
        problems = compare_trees(fresh, committed)
    if not problems:
        return True, f"release/{assignment} is up to date with source/{assignment}"
    shown = "\n  ".join(problems[:20]) + ("\n  ..." if len(problems) > 20 else "")
    return False, (f"release/{assignment} is stale ({len(problems)} file(s)); regenerate it with "
                   f"`gradekit release` and commit:\n  {shown}")
