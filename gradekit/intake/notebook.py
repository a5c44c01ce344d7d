"""One submitted file -> Submission: read (size-capped), decode, parse, upgrade, normalise, validate.

Bad input is never an exception: it becomes ``Submission(notebook_json=None, problem=...)`` with a
sentence a student can act on.  What nbformat does and what we do instead:

* ``nbformat.reads(s, as_version=4)`` parses, converts and validates, but only *logs* a validation
  error, reports a JSON error without line/column, and its validation step repairs missing or
  duplicated cell ids with random ids while emitting FutureWarnings (MissingIDFieldWarning,
  DuplicateCellId).  So we parse with :mod:`json` ourselves (line/column), convert older major
  versions with ``nbformat.convert``, give cells deterministic fresh ids *before* validating (no
  warnings, the same bytes always normalise to the same JSON), then call ``nbformat.validate``
  and, if it fails, repair what does not matter for grading (outputs are re-made by the sandbox;
  unknown metadata via ``nbformat.validator.normalize(strip_invalid_metadata=True)``).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.validator import ValidationError

from ..model import Submission
from .identity import scan_identity

MAX_CELLS = 2_000      # the release has ~50 cells; each costs ~0.2 ms in intake (nbformat validates twice)
PYTHON_KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
_CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")      # nbformat 4.5 schema


class NotebookProblem(ValueError):
    """The bytes are not a notebook we can grade; the message is for the student."""


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"      # callers pass max_notebook_mb * 1024 * 1024


# ----------------------------------------------------------------------------- I/O edge

def read_capped(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing (NotebookProblem) empty files, non-files and files over
    `max_bytes` -- the size is checked with fstat *before* reading, and at most max_bytes + 1
    bytes are ever read (a file growing meanwhile is caught too)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise NotebookProblem(f"The file could not be read ({e.strerror}).") from None
    if not stat.S_ISREG(st.st_mode):
        raise NotebookProblem("This is not a regular file.")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise NotebookProblem(f"The file could not be read ({e.strerror}).") from None
    with open(fd, "rb", closefd=True) as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise NotebookProblem(f"The file is {_mb(size)}, larger than the limit of {_mb(max_bytes)} "
                                  f"(clear large outputs, e.g. Kernel > Restart & Clear Output, and save again).")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise NotebookProblem(f"The file is larger than the limit of {_mb(max_bytes)}.")
    return data


# ----------------------------------------------------------------------------- pure steps

def decode(raw: bytes) -> tuple[str, tuple[str, ...]]:
    """UTF-8 text of the file (a UTF-8 byte-order mark is dropped and flagged)."""
    if not raw.strip():
        raise NotebookProblem("The file is empty.")
    for magic, what in ((b"PK\x03\x04", "a zip archive"), (b"%PDF", "a PDF document"),
                        (b"\x89PNG", "a PNG image"), (b"\xd0\xcf\x11\xe0", "an old Office document")):
        if raw.startswith(magic):
            raise NotebookProblem(f"The file is {what}, not a Jupyter notebook (.ipynb).")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise NotebookProblem("The file is UTF-16 text, not UTF-8: save it again from Jupyter.")
    flags: tuple[str, ...] = ()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw, flags = raw[3:], ("utf8_bom",)
    try:
        return raw.decode("utf-8"), flags
    except UnicodeDecodeError as e:
        raise NotebookProblem(f"The file is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                              f"a notebook saved by Jupyter always is.") from None


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        msg = e.msg[:-3] if e.msg.endswith(" at") else e.msg     # "Unterminated string starting at"
        raise NotebookProblem(f"The file is not valid JSON: {msg} at line {e.lineno}, column {e.colno} "
                              f"(was it edited by hand, or saved while truncated?).") from None
    except RecursionError:
        raise NotebookProblem("The file is not a notebook: its JSON is nested too deeply.") from None
    except ValueError as e:  # e.g. an integer with too many digits
        raise NotebookProblem(f"The file is not valid JSON: {e}.") from None


def _not_a_notebook(why: str) -> NotebookProblem:
    return NotebookProblem(f"The file is valid JSON but not a Jupyter notebook ({why}).")


def _fresh_id(index: int, taken: set[str]) -> str:
    base = f"cell-{index}"
    new, n = base, 1
    while new in taken:
        n += 1
        new = f"{base}-{n}"
    taken.add(new)
    return new


def repair_cell_ids(cells: list[Any], renew_all: bool) -> tuple[str, ...]:
    """Give every cell a valid, unique id, deterministically (``cell-<index>``); returns flags.
    The first cell carrying an id keeps it; later cells with the same id get fresh ones."""
    keep: list[bool] = []
    seen: set[str] = set()
    flags: list[str] = []
    for c in cells:
        cid = c.get("id")
        valid = not renew_all and isinstance(cid, str) and bool(_CELL_ID.match(cid))
        if valid and cid in seen:
            valid = False
            if "cell_ids_duplicated" not in flags:
                flags.append("cell_ids_duplicated")
        elif not valid and not renew_all and "cell_ids_missing" not in flags:
            flags.append("cell_ids_missing")
        if valid:
            seen.add(cid)
        keep.append(valid)
    for i, c in enumerate(cells):
        if not keep[i]:
            c["id"] = _fresh_id(i, seen)
    return tuple(sorted(flags))


def _validation_error(nb: NotebookNode) -> str | None:
    try:
        nbformat.validate(nb)
    except ValidationError as e:
        msg = str(getattr(e, "message", "") or e).splitlines()[0][:200]
        where = re.search(r"On instance(\[.*?\]):", str(e))
        return f"{msg} (at {where.group(1)})" if where else msg
    return None


def _repair_cells(cells: list[Any]) -> bool:
    changed = False
    for c in cells:
        for k, default in (("metadata", {}), ("source", "")):
            if k not in c:
                c[k], changed = NotebookNode(default) if k == "metadata" else default, True
        if c.get("cell_type") == "code":
            for k, default in (("outputs", []), ("execution_count", None)):
                if k not in c:
                    c[k], changed = default, True
    return changed


def _clear_outputs(cells: list[Any]) -> None:
    for c in cells:
        if c.get("cell_type") == "code":
            c["outputs"], c["execution_count"] = [], None


def _is_python(metadata: Any) -> bool:
    ks = metadata.get("kernelspec") if isinstance(metadata.get("kernelspec"), dict) else {}
    li = metadata.get("language_info") if isinstance(metadata.get("language_info"), dict) else {}
    lang = ks.get("language") or li.get("name") or ""
    return not isinstance(lang, str) or not lang.strip() or "python" in lang.lower()


def _is_colab(nb: NotebookNode) -> bool:
    if "colab" in nb.metadata:
        return True
    return any(isinstance(c.get("metadata"), dict) and ("colab" in c["metadata"] or "outputId" in c["metadata"])
               for c in nb.cells)


def _check_cells(cells: Any) -> list[Any]:
    if not isinstance(cells, list):
        raise _not_a_notebook('it has no list of "cells"')
    if not all(isinstance(c, dict) and isinstance(c.get("cell_type"), str) for c in cells):
        raise _not_a_notebook("some cells are not cell objects with a cell_type")
    return cells


def _check_cell_count(data: dict) -> None:
    """Refuse a notebook of more than MAX_CELLS cells before any per-cell work (a 19 MB file of 290,000
    markdown cells cost 17.6 s of serial intake, ahead of every other student)."""
    sheets = data.get("worksheets") if isinstance(data.get("worksheets"), list) else []
    groups = [data.get("cells")] + [ws.get("cells") for ws in sheets if isinstance(ws, dict)]
    n = sum(len(g) for g in groups if isinstance(g, list))
    if n > MAX_CELLS:
        raise NotebookProblem(f"The notebook has {n:,} cells, more than the limit of {MAX_CELLS:,}: this is not "
                              f"the exercise's notebook (submit the notebook you worked in).")


def normalise(data: Any) -> tuple[NotebookNode, tuple[str, ...]]:
    """A parsed JSON value -> valid nbformat 4.5 NotebookNode plus flags; NotebookProblem if impossible."""
    if not isinstance(data, dict):
        raise _not_a_notebook(f"it is a JSON {type(data).__name__.replace('dict', 'object')}")
    _check_cell_count(data)
    major, minor = data.get("nbformat"), data.get("nbformat_minor", 0)
    if "nbformat" not in data:
        raise _not_a_notebook('it has no "nbformat" field')
    if type(major) is not int or type(minor) is not int:
        raise _not_a_notebook('its "nbformat" version is not a number')
    if major not in (3, 4):   # nbformat's v1/v2 upgraders crash on bad input; nobody has such files
        raise NotebookProblem(f"The notebook format version {major} is not supported (expected 4).")
    flags: list[str] = []
    if major == 4:
        # nbformat's reader itself needs every cell's metadata (else AttributeError): add it first
        bare = [c for c in _check_cells(data.get("cells")) if not isinstance(c.get("metadata"), dict)]
        for c in bare:
            c["metadata"] = {}
        if bare:
            flags.append("cells_repaired")
    if not isinstance(data.get("metadata"), dict):
        data["metadata"] = {}
    try:
        nb = nbformat.versions[major].to_notebook_json(data, minor=minor)
        if major < 4:
            if not isinstance(nb.get("worksheets", []), list):
                raise _not_a_notebook('"worksheets" is not a list')
            nb = nbformat.convert(nb, 4)
            flags.append(f"upgraded_from_v{major}")
    except NotebookProblem:
        raise
    except (ValidationError, ValueError, TypeError, KeyError, AttributeError, IndexError, NameError) as e:
        raise _not_a_notebook(f"its structure is damaged: {type(e).__name__}: {str(e)[:200]}") from None

    cells = _check_cells(nb.get("cells"))

    renew = major < 4 or nb.get("nbformat_minor", 0) < 5
    if major == 4 and renew:
        flags.append("cell_ids_added")
    if renew:
        nb["nbformat_minor"] = 5
    flags += repair_cell_ids(cells, renew_all=renew)

    if not _is_python(nb.metadata):
        flags.append("kernel_not_python")
        nb.metadata.pop("language_info", None)
    nb.metadata["kernelspec"] = NotebookNode(PYTHON_KERNELSPEC)
    if _is_colab(nb):
        flags.append("colab")

    error = _validation_error(nb)
    if error and _repair_cells(cells):
        if "cells_repaired" not in flags:
            flags.append("cells_repaired")
        error = _validation_error(nb)
    if error:
        _clear_outputs(cells)
        if not (error := _validation_error(nb)):
            flags.append("outputs_cleared")
    if error:
        changes, stripped = nbformat.validator.normalize(nb, strip_invalid_metadata=True)
        if changes and not (error := _validation_error(stripped)):
            nb = stripped
            flags.append("metadata_stripped")
    if error:
        raise NotebookProblem(f"The file does not follow the Jupyter notebook format: {error}.")
    return nb, tuple(flags)


# ----------------------------------------------------------------------------- the entry point

def read_submission(path: Path, *, key: str, source_name: str, cid_placeholder: int,
                    max_bytes: int) -> Submission:
    """Read one submitted file.  Never raises for bad input: a file that is not a gradable notebook
    gives ``notebook_json=None`` and a specific ``problem``; otherwise ``notebook_json`` is the
    normalised nbformat 4.5 JSON, ``identity`` the statically read Name/CID, and ``flags`` say what
    was normalised (see ``gradekit.intake.flags.FLAG_TEXT``).  ``sha256`` is of the raw bytes
    (empty when the file was too large to read)."""
    sha = ""
    try:
        raw = read_capped(Path(path), max_bytes)
        sha = hashlib.sha256(raw).hexdigest()
        text, flags = decode(raw)
        nb, nb_flags = normalise(parse_json(text))
        identity, id_flags = scan_identity(nb, cid_placeholder)
        return Submission(key=key, source_name=source_name, sha256=sha, notebook_json=nbformat.writes(nb),
                          identity=identity, flags=flags + nb_flags + id_flags)
    except NotebookProblem as e:
        return Submission(key=key, source_name=source_name, sha256=sha, notebook_json=None, problem=str(e))
    except Exception as e:  # noqa: BLE001 - anything not foreseen (MemoryError, RecursionError included): still data
        what = f"{type(e).__name__}: {str(e)[:200]}".rstrip(": ")
        return Submission(key=key, source_name=source_name, sha256=sha, notebook_json=None,
                          problem=f"The file could not be read as a notebook ({what}); the grader's intake "
                                  f"stopped on it, so it was not graded: ask a TA.")
