"""Who a notebook says it belongs to: ``Name`` and ``CID`` read statically (nothing is executed).

The release's "Your details" cell reads::

    Name = "Your name"
    CID = 123446 # Replace with your College ID (as a numeric value with no leading 0s)
    CID = int(CID)
    np.random.seed(CID)

Only *top-level* assignments with literal values count: ``CID = 1234567``, ``CID = "01234567"``,
``CID = int("1234567")``; ``CID = int(CID)`` (and ``CID = CID``) keep the value and are ignored.
Cells are parsed with :mod:`ast` (IPython magics translated first); a cell that does not parse is
read line by line with a regular expression.  Code cells are searched first, in notebook order; a
markdown/raw cell is consulted only when no code cell assigns CID.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..model import Identity

CID_VAR = "CID"
NAME_VAR = "Name"
MAX_CID_DIGITS = 10          # College IDs have 8 digits with the leading 0; more than 10 is nonsense
NAME_PLACEHOLDERS = frozenset({"your name", ""})

_EXAMPLE = "CID = 1234567"


@dataclass(frozen=True)
class _Assign:
    """One top-level ``CID = ...`` / ``Name = ...`` found in a cell."""

    var: str
    cell: int
    cell_type: str
    kind: str                 # "literal" | "noop" (CID = int(CID)) | "computed" | "bad_int" (CID = 0123)
    value: Any = None         # int | str | float for "literal"; the int for "bad_int"
    text: str = ""            # the right-hand side as written
    stmt: str = ""            # the statement as written (first line, shortened)


# ----------------------------------------------------------------------------- parsing one cell

def _cell_source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        return "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def _classify(expr: ast.expr, var: str, text: str) -> tuple[str, Any]:
    """(kind, value) of the right-hand side of ``var = expr``."""
    if isinstance(expr, ast.Constant) and type(expr.value) in (int, str, float):
        return "literal", expr.value
    if (isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd))
            and isinstance(expr.operand, ast.Constant) and type(expr.operand.value) in (int, float)):
        v = expr.operand.value
        return "literal", -v if isinstance(expr.op, ast.USub) else v
    if isinstance(expr, ast.Name) and expr.id == var:
        return "noop", None
    if (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name)
            and expr.func.id in ("int", "str") and len(expr.args) == 1 and not expr.keywords):
        arg = expr.args[0]
        if isinstance(arg, ast.Name) and arg.id == var:
            return "noop", None
        if expr.func.id == "int" and var == CID_VAR:
            kind, value = _classify(arg, var, text)
            if kind == "literal":
                try:
                    return "literal", int(value.strip() if isinstance(value, str) else value)
                except (ValueError, OverflowError):
                    return "computed", None
        if expr.func.id == "str" and var == NAME_VAR:
            return _classify(arg, var, text)
    return "computed", None


def _shorten(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 60 else line[:57] + "..."


def _assignments_ast(tree: ast.Module, src: str) -> list[tuple[str, ast.expr, str, str]]:
    out: list[tuple[str, ast.expr, str, str]] = []
    stmt_text = ""

    def add(target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name) and target.id in (CID_VAR, NAME_VAR):
            if value is None:
                out.append((target.id, ast.Name(id="?"), "", stmt_text))
            else:
                out.append((target.id, value, ast.get_source_segment(src, value) or "", stmt_text))
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
            if values is not None and len(values) == len(target.elts):
                for t, v in zip(target.elts, values):
                    add(t, v)
            else:
                for t in target.elts:
                    add(t, None)

    for stmt in tree.body:
        stmt_text = _shorten(ast.get_source_segment(src, stmt) or "")
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                add(target, stmt.value)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            add(stmt.target, stmt.value)
        elif isinstance(stmt, ast.AugAssign):
            add(stmt.target, None)
    return out


_LINE = re.compile(rf"^(?P<var>{CID_VAR}|{NAME_VAR})\s*(?::[^=]*)?=(?!=)\s*(?P<rhs>.*?)\s*$", re.M)
_LEADING_ZERO_INT = re.compile(r"0[0-9_]*[1-9][0-9_]*")


def _assignments_regex(src: str, cell: int, cell_type: str) -> list[_Assign]:
    found: list[_Assign] = []
    for m in _LINE.finditer(src):
        var, rhs = m["var"], m["rhs"]
        for candidate in (rhs, rhs.split("#", 1)[0].strip()):
            try:
                expr = ast.parse(candidate, mode="eval").body
            except Exception:  # noqa: BLE001 - SyntaxError, and MemoryError/RecursionError when too deep
                continue
            kind, value = _classify(expr, var, candidate)
            found.append(_Assign(var, cell, cell_type, kind, value, candidate, _shorten(m.group(0))))
            break
        else:
            bare = rhs.split("#", 1)[0].strip()
            if var == CID_VAR and len(bare) <= 30 and _LEADING_ZERO_INT.fullmatch(bare):
                found.append(_Assign(var, cell, cell_type, "bad_int", int(bare.replace("_", "")), bare,
                                     _shorten(m.group(0))))
            else:
                found.append(_Assign(var, cell, cell_type, "computed", None, bare, _shorten(m.group(0))))
    return found


def _parse(src: str) -> ast.Module | SyntaxError:
    """The cell's syntax tree, or the SyntaxError that stops Python running it.  An expression nested
    thousands deep (``-------...1``) makes CPython's parser raise MemoryError or RecursionError, not
    SyntaxError: the kernel cannot run that cell either, so it is a syntax error here too."""
    try:
        return ast.parse(src)
    except (SyntaxError, ValueError) as e:
        first_error = e if isinstance(e, SyntaxError) else SyntaxError(str(e))
    except (MemoryError, RecursionError) as e:
        first_error = SyntaxError(f"too deeply nested to parse ({type(e).__name__})")
    if re.search(r"^\s*[%!]", src, re.M):       # IPython magics / shell escapes: translate, retry
        try:
            from IPython.core.inputtransformer2 import TransformerManager
            return ast.parse(TransformerManager().transform_cell(src))
        except Exception:  # noqa: BLE001 - any failure here just means "does not parse"
            pass
    return first_error


def _cell_assignments(src: str, cell: int, cell_type: str) -> tuple[list[_Assign], SyntaxError | None]:
    """Top-level assignments of CID/Name in one cell, and the cell's syntax error if it has one."""
    if CID_VAR not in src and NAME_VAR not in src:
        return [], None
    tree = _parse(src)
    if isinstance(tree, SyntaxError):
        return _assignments_regex(src, cell, cell_type), tree
    found = []
    for var, expr, text, stmt in _assignments_ast(tree, src):
        kind, value = _classify(expr, var, text)
        found.append(_Assign(var, cell, cell_type, kind, value, text, stmt))
    return found, None


# ----------------------------------------------------------------------------- judging the CID

def _cid_value(a: _Assign) -> tuple[int | None, str | None, tuple[str, ...]]:
    """(cid, problem, flags) for one literal assignment."""
    v = a.value
    if a.kind == "bad_int":
        return v, (f"`CID = {a.text}` is not valid Python (a number cannot start with 0): "
                   f"write CID = {v}."), ("cid_cell_syntax_error",)
    if a.kind != "literal":
        return None, (f"CID is computed (`{a.stmt}`) rather than written as a number: "
                      f"write your College ID as a plain number, e.g. {_EXAMPLE}."), ()
    if isinstance(v, str):
        s = v.strip()
        if not re.fullmatch(r"[0-9]+", s):
            return None, (f"CID is the text {v!r}, which is not a number: "
                          f"write your College ID as a plain number, e.g. {_EXAMPLE}."), ()
        flags = ("cid_leading_zero",) if len(s) > 1 and s.startswith("0") else ()
        if len(s) > MAX_CID_DIGITS + 5:
            return None, f"CID has {len(s)} digits, far too many for a College ID.", flags
        return int(s), None, flags
    if isinstance(v, float):
        if not v.is_integer():
            return None, f"CID is {v}, not a whole number: write your College ID, e.g. {_EXAMPLE}.", ()
        return int(v), None, ()
    return v, None, ()


def scan_identity(nb: Mapping[str, Any], cid_placeholder: int) -> tuple[Identity, tuple[str, ...]]:
    """The notebook's Identity plus intake flags (see flags.FLAG_TEXT) describing what was seen."""
    cells = nb.get("cells", [])
    cells = cells if isinstance(cells, list) else []
    by_type: dict[bool, list[_Assign]] = {True: [], False: []}
    errors: dict[int, SyntaxError] = {}
    for i, cell in enumerate(cells):
        if not isinstance(cell, Mapping):
            continue
        ctype = str(cell.get("cell_type", ""))
        found, err = _cell_assignments(_cell_source(cell), i, ctype)
        by_type[ctype == "code"].extend(found)
        if err is not None:
            errors[i] = err

    def pick(var: str) -> list[_Assign]:
        code = [a for a in by_type[True] if a.var == var and a.kind != "noop"]
        return code or [a for a in by_type[False] if a.var == var and a.kind != "noop"]

    names = pick(NAME_VAR)
    name = None
    if names and names[-1].kind == "literal" and isinstance(names[-1].value, str):
        name = names[-1].value.strip()
        name = None if name.casefold() in NAME_PLACEHOLDERS else name

    cids = pick(CID_VAR)
    if not cids:
        return Identity(name, None, (f"No `CID = ...` line was found in your notebook: put your College ID "
                                     f"in the \"Your details\" cell, e.g. {_EXAMPLE}.")), ()
    last = cids[-1]
    cid, problem, flags = _cid_value(last)
    flags = list(flags)

    values = []
    for a in cids:
        v = _cid_value(a)[0]
        if v is not None and v != cid_placeholder and v not in values:
            values.append(v)
    if len(values) > 1:
        flags.append("cid_several_values")
    if last.cell in errors and last.kind != "bad_int":
        flags.append("cid_cell_syntax_error")
    if last.cell_type != "code":
        flags.append("cid_not_in_code_cell")

    if problem is None:
        if cid == cid_placeholder:
            cid, problem = None, (f"CID is still the template's placeholder {cid_placeholder}: "
                                  f"replace it with your College ID.")
        elif cid <= 0:
            cid, problem = None, f"CID is {cid}: a College ID is a positive number."
        elif len(str(cid)) > MAX_CID_DIGITS:
            cid, problem = None, f"CID {cid} has {len(str(cid))} digits, too many for a College ID."
        elif "cid_not_in_code_cell" in flags:
            problem = (f"CID is set in a {last.cell_type or 'non-code'} cell, which never runs: "
                       f"change that cell back to a code cell.")
        elif "cid_cell_syntax_error" in flags:
            e = errors[last.cell]
            where = f", line {e.lineno}" if e.lineno else ""
            problem = f"The cell that sets CID has a syntax error ({e.msg}{where}), so it does not run: fix it."
        elif "cid_several_values" in flags:
            shown = ", ".join(str(v) for v in values)
            problem = (f"CID is set several times to different values ({shown}); the last one, {cid}, "
                       f"was used: keep a single `CID = ...` line.")
    return Identity(name, cid, problem), tuple(flags)


def read_identity(nb: Mapping[str, Any], cid_placeholder: int) -> Identity:
    """Name and CID from the notebook's top-level assignments, without running anything.

    `nb` is a notebook (NotebookNode or plain dict, any cell order, cells possibly retyped).
    ``cid_problem`` is a sentence for the student when the CID is not usable."""
    return scan_identity(nb, cid_placeholder)[0]
