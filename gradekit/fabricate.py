"""Build student notebooks from the release by code: for tests, the demo and benchmarks.

Every function is pure: it takes nbformat NotebookNodes and returns a modified *copy*.  Nothing here
knows the course: seeded bugs and solutions are read from the instructor notebook's markup
(``### BEGIN SEEDED BUG`` ... and nbgrader's ``### BEGIN SOLUTION`` ...), cells are found by their
nbgrader ``grade_id``, and the "Your details" convention (``Name = ...``, ``CID = ...``) is the
engine's own.

    student = fabricate.set_details(release, "Ada Lovelace", 1234567)
    student = fabricate.fix_bug(student, source, "sigmoid")        # one seeded bug fixed
    student = fabricate.solve(student, source, "task_1")           # one task answered (by grade_id)
    perfect = fabricate.perfect(release, source, "Ada", 1234567)   # everything fixed and answered
"""
from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nbformat.notebooknode import NotebookNode, from_dict

from .nbgrader_ext.markup import parse_regions

#: nbgrader's code stub for Python answers (``ClearSolutions.code_stub``, set in nbgrader_config.py).
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
BEGIN_SOLUTION = "BEGIN SOLUTION"
END_SOLUTION = "END SOLUTION"


@dataclass(frozen=True)
class SeededBug:
    grade_id: str | None      # the answer cell's nbgrader grade_id (None when the cell has none)
    buggy_text: str           # the released lines
    fixed_text: str           # the correct lines, as in the source


# --------------------------------------------------------------------------------------------------
# cells


def grade_id(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def find_cell(nb: NotebookNode, gid: str) -> int:
    """Index of the cell whose nbgrader grade_id is ``gid``; KeyError if there is none."""
    for index, cell in enumerate(nb.cells):
        if grade_id(cell) == gid:
            return index
    raise KeyError(f"no cell with grade_id {gid!r}")


def _find(nb: NotebookNode, gid: str, fallback: Callable[[NotebookNode], bool], what: str) -> int:
    """The cell with grade_id ``gid``, else the only code cell for which ``fallback`` holds."""
    try:
        return find_cell(nb, gid)
    except KeyError:
        pass
    hits = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and fallback(cell)]
    if len(hits) != 1:
        raise KeyError(f"no cell with grade_id {gid!r}, and {len(hits)} cells (not exactly one) {what}")
    return hits[0]


def _copy(nb: NotebookNode) -> NotebookNode:
    return copy.deepcopy(nb)


def _lines_index(haystack: list[str], needle: list[str]) -> int:
    """First index where ``needle`` occurs as consecutive lines of ``haystack``, or -1."""
    for i in range(len(haystack) - len(needle) + 1):
        if haystack[i:i + len(needle)] == needle:
            return i
    return -1


def _replace_lines(source: str, old: str, new: str) -> str | None:
    """``source`` with the first whole-line occurrence of ``old`` replaced by ``new``; None if absent."""
    lines, needle = source.split("\n"), old.split("\n")
    at = _lines_index(lines, needle)
    if at < 0:
        return None
    return "\n".join(lines[:at] + new.split("\n") + lines[at + len(needle):])


# --------------------------------------------------------------------------------------------------
# seeded bugs


def seeded_bugs(source_nb: NotebookNode) -> list[SeededBug]:
    """Every seeded bug of the instructor notebook, in notebook order."""
    return [SeededBug(grade_id(cell), region.buggy_text, region.fixed_text)
            for cell in source_nb.cells if cell.cell_type == "code"
            for region in parse_regions(cell.source)]


def fix_bug(release_nb: NotebookNode, source_nb: NotebookNode, gid: str) -> NotebookNode:
    """Fix the seeded bug(s) of the answer cell ``gid``: its buggy lines become the source's correct ones.

    Without nbgrader metadata (a student's editor dropped it) the cell is the one holding the buggy lines.
    """
    bugs = [bug for bug in seeded_bugs(source_nb) if bug.grade_id == gid]
    if not bugs:
        raise KeyError(f"the source has no seeded bug in a cell with grade_id {gid!r}")
    nb = _copy(release_nb)
    index = _find(nb, gid, lambda c: _lines_index(c.source.split("\n"), bugs[0].buggy_text.split("\n")) >= 0,
                  f"hold the buggy lines {bugs[0].buggy_text!r}")
    cell = nb.cells[index]
    for bug in bugs:
        fixed = _replace_lines(cell.source, bug.buggy_text, bug.fixed_text)
        if fixed is None:
            raise ValueError(f"cell {index} no longer holds the buggy lines {bug.buggy_text!r}")
        cell.source = fixed
    return nb


def fix_all_bugs(release_nb: NotebookNode, source_nb: NotebookNode) -> NotebookNode:
    nb = release_nb
    for gid in dict.fromkeys(bug.grade_id for bug in seeded_bugs(source_nb)):
        nb = fix_bug(nb, source_nb, gid)
    return nb


# --------------------------------------------------------------------------------------------------
# solutions


def solution_regions(source: str) -> list[list[str]]:
    """The lines inside each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region of a cell."""
    regions: list[list[str]] = []
    current: list[str] | None = None
    for line in source.split("\n"):
        if BEGIN_SOLUTION in line:
            current = []
        elif END_SOLUTION in line:
            if current is not None:
                regions.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return regions


def solution_cells(source_nb: NotebookNode) -> list[str]:
    """grade_ids of the source's answer cells that hold a solution region."""
    return [grade_id(c) for c in source_nb.cells if c.cell_type == "code" and solution_regions(c.source)]


def solve(release_nb: NotebookNode, source_nb: NotebookNode, gid: str, stub: str = CODE_STUB) -> NotebookNode:
    """Answer cell ``gid``: each stub in the release cell becomes the source's solution region (in order).

    Without nbgrader metadata the cell is the only code cell that holds the stub, if there is one.
    """
    regions = solution_regions(source_nb.cells[find_cell(source_nb, gid)].source)
    if not regions:
        raise ValueError(f"source cell {gid!r} has no '### {BEGIN_SOLUTION}' region to copy")
    stub_lines = stub.split("\n")
    nb = _copy(release_nb)
    index = _find(nb, gid, lambda c: _has_stub(c.source, stub_lines), "hold the code stub")
    lines = nb.cells[index].source.split("\n")
    out: list[str] = []
    at, filled = 0, 0
    while at < len(lines):
        indent = _stub_at(lines, stub_lines, at)
        if indent is None or filled == len(regions):
            out.append(lines[at])
            at += 1
            continue
        out.extend(regions[filled])  # the source's lines carry their own indentation
        filled += 1
        at += len(stub_lines)
    if filled != len(regions):
        raise ValueError(f"cell {gid!r} of the release has {filled} code stub(s), "
                         f"the source {len(regions)} solution region(s)")
    nb.cells[index].source = "\n".join(out)
    return nb


def _stub_at(lines: list[str], stub_lines: list[str], at: int) -> str | None:
    """The indentation of a code stub that starts exactly at line ``at``, or None."""
    if at + len(stub_lines) > len(lines):
        return None
    first = lines[at]
    indent = first[:len(first) - len(first.lstrip())]
    return indent if all(lines[at + k] == indent + s for k, s in enumerate(stub_lines)) else None


def _has_stub(source: str, stub_lines: list[str]) -> bool:
    lines = source.split("\n")
    return any(_stub_at(lines, stub_lines, i) is not None for i in range(len(lines)))


def solve_all(release_nb: NotebookNode, source_nb: NotebookNode) -> NotebookNode:
    nb = release_nb
    for gid in solution_cells(source_nb):
        nb = solve(nb, source_nb, gid)
    return nb


# --------------------------------------------------------------------------------------------------
# editing


def set_details(nb: NotebookNode, name: str | None, cid: int | str | None) -> NotebookNode:
    """Fill in "Your details": the first ``Name = ...`` and ``CID = ...`` lines of the cell that has them.

    ``name`` becomes a string literal; an int ``cid`` becomes its digits, a str ``cid`` is inserted
    verbatim as Python source (``'"01234"'``, ``"None"``, ``"input()"`` ...).  None leaves it as it is.
    A comment after the value is kept.
    """
    out = _copy(nb)
    for cell in out.cells:
        if cell.cell_type == "code" and re.search(r"^Name\s*=", cell.source, re.MULTILINE):
            if name is not None:
                cell.source, _ = _assign(cell.source, "Name", json.dumps(name, ensure_ascii=False), count=1)
            if cid is not None:
                cell.source, _ = _assign(cell.source, "CID", str(cid), count=1)
            return out
    raise KeyError("no code cell assigns Name = ... at the start of a line")


_ASSIGN = r"^(?P<lhs>{var}[ \t]*=(?!=)[ \t]*)(?P<value>[^\n#]*?)(?P<comment>[ \t]*#.*)?$"


def _assign(source: str, var: str, value_source: str, *, count: int = 0, old: str | None = None) -> tuple[str, int]:
    """Rewrite the module-level lines ``var = <value>  # comment`` of ``source``; returns (source, lines matched)."""
    pattern = re.compile(_ASSIGN.format(var=re.escape(var)))
    lines = source.split("\n")
    matched = 0
    for i, line in enumerate(lines):
        m = pattern.match(line)
        if m is None or (old is not None and m.group("value").strip() != old):
            continue
        if count and matched >= count:
            break
        lines[i] = m.group("lhs") + value_source + (m.group("comment") or "")
        matched += 1
    return "\n".join(lines), matched


def set_assignment(nb: NotebookNode, var: str, value_source: str, *, gid: str | None = None,
                   old: str | None = None) -> NotebookNode:
    """Rewrite the standalone module-level assignments ``var = <value>`` (e.g. ``num_images = 500``).

    ``value_source`` is Python source.  ``gid`` limits the change to one cell; ``old`` to lines whose
    current value is exactly that source (``old="5"``).  A comment after the value is kept.
    ValueError if no line matched (a test must not silently run at full size).
    """
    out = _copy(nb)
    targets = [out.cells[find_cell(out, gid)]] if gid is not None else out.cells
    matched = 0
    for cell in targets:
        if cell.cell_type == "code":
            cell.source, n = _assign(cell.source, var, value_source, old=old)
            matched += n
    if not matched:
        where = f"cell {gid!r}" if gid else "the notebook"
        raise ValueError(f"{where} has no standalone line '{var} = {old or '...'}' to rewrite")
    return out


def replace_in_cell(nb: NotebookNode, gid: str, old: str, new: str) -> NotebookNode:
    """Replace the text ``old`` (must occur) by ``new`` in cell ``gid``."""
    out = _copy(nb)
    cell = out.cells[find_cell(out, gid)]
    if old not in cell.source:
        raise ValueError(f"cell {gid!r} does not contain {old!r}")
    cell.source = cell.source.replace(old, new)
    return out


def set_source(nb: NotebookNode, gid: str, source: str) -> NotebookNode:
    out = _copy(nb)
    out.cells[find_cell(out, gid)].source = source
    return out


def insert_cell(nb: NotebookNode, source: str, *, after: str | None = None, index: int | None = None,
                cell_type: str = "code", cell_id: str | None = None) -> NotebookNode:
    """Insert a new cell after the cell with grade_id ``after``, at ``index``, or at the end."""
    out = _copy(nb)
    cell = {"cell_type": cell_type, "metadata": {}, "source": source}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    if out.get("nbformat_minor", 0) >= 5 or any("id" in c for c in out.cells):
        cell["id"] = cell_id or f"fabricated-{len(out.cells)}"
    at = find_cell(out, after) + 1 if after is not None else (len(out.cells) if index is None else index)
    out.cells.insert(at, from_dict(cell))
    return out


def delete_cell(nb: NotebookNode, gid: str) -> NotebookNode:
    out = _copy(nb)
    del out.cells[find_cell(out, gid)]
    return out


def strip_nbgrader_metadata(nb: NotebookNode) -> NotebookNode:
    """Drop every cell's (and the notebook's) ``nbgrader`` metadata, as some editors do."""
    out = _copy(nb)
    out.metadata.pop("nbgrader", None)
    for cell in out.cells:
        cell.metadata.pop("nbgrader", None)
    return out


def shuffle_ids(nb: NotebookNode, seed: int = 0) -> NotebookNode:
    """Give every cell a new random id (as a notebook re-saved by another editor gets); deterministic."""
    out = _copy(nb)
    rng = random.Random(seed)
    for cell in out.cells:
        cell["id"] = "%032x" % rng.getrandbits(128)
    return out


def clear_outputs(nb: NotebookNode) -> NotebookNode:
    out = _copy(nb)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return out


def perfect(release_nb: NotebookNode, source_nb: NotebookNode, name: str, cid: int | str) -> NotebookNode:
    """The release with every seeded bug fixed, every solution region answered and the details filled in."""
    return set_details(solve_all(fix_all_bugs(release_nb, source_nb), source_nb), name, cid)


def code_cells(nb: NotebookNode) -> Iterable[NotebookNode]:
    return (cell for cell in nb.cells if cell.cell_type == "code")
