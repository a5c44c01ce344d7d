"""nbgrader preprocessor: ClearSolutions, except for answer cells whose code is given to the students.

Stock ``ClearSolutions`` replaces an answer cell (nbgrader ``solution: true``) that holds no
``### BEGIN SOLUTION`` region by the code stub: the whole cell counts as the solution.  That would
wipe the cells whose given code the students are meant to edit:

- a cell holding a SEEDED BUG region (the students fix the released bug), and
- a cell tagged ``keep-in-release`` (e.g. "Your details", where students fill in their name and CID).

This subclass keeps those cells' text (their solution regions, if any, are still cleared; the tag is
removed) and behaves exactly like ``ClearSolutions`` for every other cell.  It takes
``ClearSolutions``' place in ``nbgrader_config.py``; ``ReleaseSeededBugs`` runs after it.
"""
from __future__ import annotations

from typing import Any

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import ClearSolutions
from traitlets import Unicode

from .markup import has_marker


class ClearSolutionsKeepGiven(ClearSolutions):
    """ClearSolutions that keeps answer cells with a seeded bug or the ``keep-in-release`` tag."""

    keep_tag = Unicode("keep-in-release", help="Cell tag: release this answer cell's code as it is.").tag(config=True)

    def _keeps(self, cell: NotebookNode) -> bool:
        return cell.cell_type == "code" and (self.keep_tag in cell.metadata.get("tags", ()) or has_marker(cell.source))

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int) -> tuple[Any, ResourcesDict]:
        if not (utils.is_solution(cell) and self._keeps(cell)):
            return super().preprocess_cell(cell, resources, index)
        self._replace_solution_region(cell, resources["language"])
        tags = [t for t in cell.metadata.get("tags", ()) if t != self.keep_tag]
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        return cell, resources
