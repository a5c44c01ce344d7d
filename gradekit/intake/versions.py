"""Is a submission this release's notebook, or another version of the exercise?

Courses reuse exercises: a student may hand in last year's notebook (a Colab download without
nbgrader metadata, other tasks, a function with other arguments).  Such a notebook still runs and
is judged, but a TA must see at once why it scores what it scores.  `compare` tells what differs,
from code only (ast), nothing course-specific:

* the release's given code cells (read-only in nbgrader, tests included), found by nbgrader
  grade_id or by their text, and its answer cells, found by grade_id or their first (comment) line;
* the names the probes need (the course's `expected_names()` hook, else every function and class
  the source notebook's answer cells define) that the untouched release defines, defined at the
  top level of some code cell;
* the signatures of the functions among them, as the source notebook defines them.

`explain_signature` adds the expected signature to a check message that failed on a call's
arguments ("perceptron() takes 4 positional arguments but 5 were given").
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

GIVEN_SHOWN = 3     # given cells named in the message, at most


@dataclass(frozen=True)
class ReleaseContract:
    """What a submission of this release contains, derived from the release and source notebooks."""

    given: tuple[tuple[str | None, str, str], ...]   # (grade_id, normalised text, first line) per given code cell
    answers: tuple[tuple[str | None, str], ...]      # (grade_id, first line) per answer cell of the release
    names: tuple[str, ...]                           # top-level names the probes need that the release defines
    signatures: Mapping[str, str]                    # function name -> "f(a, b, c)", as the source has it
    also_accepted: Mapping[str, str]                 # function name -> its signature in the release (a seeded bug)


def _nbgrader(cell: Any) -> Mapping[str, Any]:
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def _normal(text: str) -> str:
    return " ".join(text.split())


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= 50 else line[:47] + "..."


def python_of(source: str) -> str:
    """A cell's Python: IPython's `!shell` and `%magic` lines blanked (they are not Python)."""
    return "\n".join("" if ln.lstrip().startswith(("!", "%")) else ln for ln in source.splitlines())


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(python_of(source))
    except (SyntaxError, ValueError, MemoryError, RecursionError):   # MemoryError: deeply nested input
        return None


def signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """`name(a, b, c=..., *args, **kw)` as written (defaults shown as `=...`)."""
    a = fn.args
    pos = a.posonlyargs + a.args
    defaults = [None] * (len(pos) - len(a.defaults)) + list(a.defaults)
    parts = [p.arg + ("=..." if d is not None else "") for p, d in zip(pos, defaults)]
    if a.vararg:
        parts.append("*" + a.vararg.arg)
    elif a.kwonlyargs:
        parts.append("*")
    parts += [k.arg + ("=..." if d is not None else "") for k, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        parts.append("**" + a.kwarg.arg)
    return f"{fn.name}({', '.join(parts)})"


def top_level(sources: Iterable[str]) -> tuple[set[str], dict[str, str]]:
    """Names bound at the top level of these cells, and the (last) signature of each function."""
    names: set[str] = set()
    sigs: dict[str, str] = {}
    for src in sources:
        tree = _parse(src)
        for node in tree.body if tree else ():
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
                sigs[node.name] = signature(node)
            elif isinstance(node, ast.ClassDef):
                names.add(node.name)
                sigs.pop(node.name, None)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.With, ast.Import,
                                   ast.ImportFrom)):
                for sub in ast.walk(node) if not isinstance(node, (ast.Import, ast.ImportFrom)) else ():
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                        names.add(sub.id)
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names.update((al.asname or al.name).split(".")[0] for al in node.names)
    return names, sigs


def contract(release_nb: Any, source_nb: Any, expected_names: Sequence[str] | None = None) -> ReleaseContract:
    """The release's contract; `expected_names` from the course's hook, else the functions and classes
    the source notebook's answer cells define."""
    given = tuple((_nbgrader(c).get("grade_id"), _normal(c.source), _first_line(c.source))
                  for c in release_nb.cells
                  if c.cell_type == "code" and _nbgrader(c).get("locked") and not _nbgrader(c).get("solution"))
    answers = [c.source for c in source_nb.cells if c.cell_type == "code" and _nbgrader(c).get("solution")]
    _, sigs = top_level(answers)
    release_code = [c for c in release_nb.cells if c.cell_type == "code"]
    release_names, release_sigs = top_level(c.source for c in release_code)
    answer_cells = tuple((_nbgrader(c).get("grade_id"), _first_line(c.source)) for c in release_code
                         if _nbgrader(c).get("solution") and _first_line(c.source).startswith("#"))
    if expected_names is None:
        defined = set()
        for src in answers:
            tree = _parse(src)
            defined |= {n.name for n in (tree.body if tree else ())
                        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        expected_names = sorted(defined)
    # Only what the untouched release defines tells a version apart: a task not yet answered, or a
    # seeded bug not yet fixed (a `def` or `class` left as released), is this release's notebook.
    return ReleaseContract(given, answer_cells, tuple(n for n in expected_names if n in release_names),
                           {n: s for n, s in sigs.items() if n in expected_names},
                           {n: s for n, s in release_sigs.items() if n in expected_names})


def compare(c: ReleaseContract, nb: Any) -> list[str]:
    """What differs between the submission `nb` and the release, one phrase each; [] when nothing."""
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    ids = {_nbgrader(cell).get("grade_id") for cell in code} - {None}
    texts = {_normal(cell.source) for cell in code}
    names, sigs = top_level(cell.source for cell in code)
    out: list[str] = []
    for name, want in c.signatures.items():
        got = sigs.get(name)
        if got is not None and got not in (want, c.also_accepted.get(name)):
            out.append(f"it defines {got} where this exercise has {want}")
    missing = [n for n in c.names if n not in names]
    if missing:
        out.append("it never defines " + ", ".join(f"`{n}`" for n in missing))
    firsts = {_first_line(cell.source) for cell in code}
    gone = [first for gid, first in c.answers if gid not in ids and first not in firsts]    # the tasks first
    gone += [first for gid, text, first in c.given if gid not in ids and text not in texts]
    if gone:
        shown = ", ".join(f"“{f}”" for f in gone[:GIVEN_SHOWN]) + (f" and {len(gone) - GIVEN_SHOWN} more"
                                                                   if len(gone) > GIVEN_SHOWN else "")
        out.append(f"{len(gone)} cell{'s' if len(gone) > 1 else ''} of the release "
                   f"{'is' if len(gone) == 1 else 'are'} missing or changed ({shown})")
    return out


def mismatch_sentence(differences: Sequence[str]) -> str:
    return ("this looks like another version of the exercise's notebook: " + "; ".join(differences)
            + ". Checks are those of this release")


_ARITY = re.compile(r"\b([A-Za-z_]\w*)\(\) (?:takes|missing \d+ required|got an unexpected keyword"
                    r"|got multiple values)")


def explain_signature(message: str, c: ReleaseContract) -> str:
    """A failure caused by a call's arguments, with the signature this exercise expects appended."""
    m = _ARITY.search(message or "")
    if m and m.group(1) in c.signatures and c.signatures[m.group(1)] not in message:
        return f"{message.rstrip('.')}. The exercise's function is {c.signatures[m.group(1)]}"
    return message
