"""nbgrader preprocessor: swap every SEEDED BUG region for the lines the students get.

Registered in the repository's ``nbgrader_config.py`` right after ``ClearSolutionsKeepGiven`` and
before ``ComputeChecksums`` and ``SaveCells``: the checksums in the released notebook and the cells
stored in the gradebook must be those of the *released* (buggy) code, or nbgrader would flag every
untouched cell as changed and store the fix in the gradebook.  tests/test_release.py enforces this.
The markup is described in :mod:`gradekit.nbgrader_ext.markup`.
"""
from __future__ import annotations

from typing import Any

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool

from .markup import SeededBugSyntaxError, has_marker, parse_regions, release_source


def _describe(cell: NotebookNode, index: int) -> str:
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"cell {index}" + (f" (grade_id {grade_id!r})" if grade_id else "")


class ReleaseSeededBugs(NbGraderPreprocessor):
    """Replace each ``### BEGIN SEEDED BUG`` ... ``### END SEEDED BUG`` region by its RELEASE lines."""

    enforce_metadata = Bool(
        True,
        help="Refuse a seeded bug in a cell students cannot edit (a locked or an autograder-tests cell).",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        resources.setdefault("gradekit", {})["seeded_bugs"] = []
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int) -> tuple[Any, ResourcesDict]:
        if cell.cell_type != "code":
            if has_marker(cell.source):
                raise SeededBugSyntaxError(f"{_describe(cell, index)}: seeded-bug markers are only allowed in code "
                                           f"cells, this one is {cell.cell_type}")
            return cell, resources
        try:
            regions = parse_regions(cell.source)
        except SeededBugSyntaxError as e:
            self.log.error("Malformed seeded bug in %s:\n%s", _describe(cell, index), cell.source)
            raise SeededBugSyntaxError(f"{_describe(cell, index)}: {e}") from None
        if not regions:
            return cell, resources
        if self.enforce_metadata and (utils.is_locked(cell) or utils.is_grade(cell)):
            raise SeededBugSyntaxError(f"{_describe(cell, index)}: a seeded bug must be in a cell students can "
                                       f"edit (an answer cell, nbgrader solution: true), not a locked or tests cell")
        cell.source = release_source(cell.source)
        resources["gradekit"]["seeded_bugs"].append(cell.metadata.get("nbgrader", {}).get("grade_id", index))
        return cell, resources
