"""nbgrader's configuration for this course (gradekit's own settings are in gradekit.toml).

Both ``nbgrader generate_assignment mini --force`` (run from this folder) and
``gradekit.release.generate_release`` read this file, so they write the same release/mini/.

Seeded bugs: in any answer cell of source/mini/mini.ipynb, write

    ### BEGIN SEEDED BUG
    ### RELEASE: <the buggy line students get>      (one or more; indented like the code)
    <the correct line(s)>
    ### END SEEDED BUG

No Python needs to change to add one.  An answer cell whose given code students edit without a seeded
bug (e.g. "Your details") carries the cell tag ``keep-in-release``.
"""
import os

from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ComputeChecksums,
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    SaveCells,
)

from gradekit.nbgrader_ext import ClearSolutionsKeepGiven, ReleaseSeededBugs

c = get_config()  # noqa: F821 -- provided by traitlets when it loads this file

# The course root is this folder wherever nbgrader is started from; the gradebook database lives here
# too (/gradebook.db is git-ignored) and is rebuilt by every release.
COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = COURSE_ROOT
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(COURSE_ROOT, "gradebook.db")
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
# Files next to the notebook (micrograph.png, data/) are copied into the release; never editor litter.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store", "*.tmp"]
c.CourseDirectory.max_file_size = 100000  # kB; larger files would be skipped with only a warning

# Stated explicitly (they are nbgrader's defaults) because gradekit.fabricate relies on them.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"

# `nbgrader autograde` (the benchmark baseline) runs each cell with this limit; nbgrader's default of
# 30 s is shorter than the learning-rate sweep.  Same value as gradekit.toml's cell_timeout_s.
c.Execute.timeout = 600

# nbgrader's default list with two changes: ClearSolutions keeps the answer cells whose code is given
# (seeded bugs, "Your details"), and ReleaseSeededBugs runs right after it -- before the checksums
# and SaveCells, which must see the released (buggy) code (tests/test_release.py checks the order).
c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    ClearSolutionsKeepGiven,
    ReleaseSeededBugs,
    ClearOutput,
    CheckCellMetadata,
    ComputeChecksums,
    SaveCells,
    ClearHiddenTests,
    ClearMarkScheme,
    ComputeChecksums,
    CheckCellMetadata,
]
