"""nbgrader's configuration for a gradekit course, in one call from the course's ``nbgrader_config.py``.

The order of the release preprocessors is engine knowledge a course should not copy: ReleaseSeededBugs
must run right after ClearSolutions and before ComputeChecksums and SaveCells (which must see the
released, buggy code; tests/test_release.py shows what breaks otherwise), and nbgrader's stock
ClearSolutions would wipe answer cells whose code is given.  The list is derived from nbgrader's own
default, so a new nbgrader preprocessor is kept.
"""
from __future__ import annotations

import os
from typing import Any

#: nbgrader's defaults, stated because gradekit.fabricate relies on them.
CODE_STUB = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
SOLUTION_DELIMITERS = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_TESTS_DELIMITERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def release_preprocessors() -> list[type]:
    """nbgrader's default GenerateAssignment chain with ClearSolutions replaced by ClearSolutionsKeepGiven
    and ReleaseSeededBugs right after it."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import ClearSolutions

    from . import ClearSolutionsKeepGiven, ReleaseSeededBugs

    chain = [ClearSolutionsKeepGiven if p is ClearSolutions else p
             for p in GenerateAssignment.class_traits()["preprocessors"].default()]
    chain.insert(chain.index(ClearSolutionsKeepGiven) + 1, ReleaseSeededBugs)
    return chain


def configure(c: Any, course_root: str, *, cell_timeout_s: float = 600) -> None:
    """Set nbgrader's configuration ``c`` for the course in ``course_root``: its folders and gradebook
    database (rebuilt by every release), what is never copied into a release, the solution and
    hidden-test markers, `nbgrader autograde`'s cell limit, and the release chain."""
    root = os.path.abspath(course_root)
    c.CourseDirectory.root = root
    c.CourseDirectory.db_url = "sqlite:///" + os.path.join(root, "gradebook.db")
    c.CourseDirectory.source_directory = "source"
    c.CourseDirectory.release_directory = "release"
    # Files next to the notebook (data, images) are copied into the release; never editor litter.
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store", "*.tmp"]
    c.CourseDirectory.max_file_size = 100000  # kB; larger files would be skipped with only a warning
    c.ClearSolutions.code_stub = dict(CODE_STUB)
    c.ClearSolutions.begin_solution_delimeter, c.ClearSolutions.end_solution_delimeter = SOLUTION_DELIMITERS
    c.ClearHiddenTests.begin_test_delimeter, c.ClearHiddenTests.end_test_delimeter = HIDDEN_TESTS_DELIMITERS
    c.Execute.timeout = cell_timeout_s
    c.GenerateAssignment.preprocessors = release_preprocessors()
