"""The one place text becomes a spreadsheet cell: every CSV/TSV/"xls" file a person opens goes through
:func:`sheet_cell` (gradebook.csv, blackboard_upload.xls, blackboard_feedback.xls, blackboard_review.tsv).

Names, file names, messages and keys are controlled by a notebook or by whoever named a file, so a
cell must never run as a formula (``=HYPERLINK(...)``, ``=1+2``, ``@SUM``, ``-2+3``) and must never
split a row (a tab or a line break in a file name).  Numbers are not text and stay numbers.

Encodings (what opens right by double-click, accents included):
* ``.csv``: UTF-8 with a byte-order mark -- Excel reads UTF-8 only when the BOM is there, LibreOffice
  and pandas (``utf-8-sig``) either way.
* Blackboard's ``.xls`` (really tab-separated text): UTF-16 with a BOM, the encoding of the Grade
  Centre's own download, which it therefore accepts back; Excel opens it as a sheet.
* ``.tsv``: UTF-8 with a BOM, as ``.csv``.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

CSV_ENCODING = "utf-8-sig"
BLACKBOARD_ENCODING = "utf-16"      # Python writes the BOM (little-endian on x86)
TSV_ENCODING = "utf-8-sig"

#: A text cell starting with one of these is run as a formula (or mangled) by Excel / LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "'")
_BREAKS = re.compile(r"[\t\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")


def is_blank(value: object) -> bool:
    """None, pandas' NA or a float NaN: an empty cell."""
    if value is None:
        return True
    try:
        import pandas as pd

        if value is pd.NA:
            return True
    except ImportError:          # pragma: no cover - pandas is a dependency
        pass
    return isinstance(value, float) and math.isnan(value)


def formula_safe(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula, also behind
    leading blanks, which an import may trim (Excel and LibreOffice then show it as text;
    :func:`unescape` removes it again)."""
    risky = text.startswith(FORMULA_START) or text.lstrip(" \t\r\n\xa0").startswith(FORMULA_START)
    return "'" + text if risky else text


def unescape(text: str) -> str:
    """The inverse of :func:`formula_safe` for text written by it."""
    return text[1:] if text.startswith("'") else text


def sheet_cell(value: object, *, one_line: bool = True) -> object:
    """A value as one spreadsheet cell: blank -> "", numbers unchanged, text flattened to one line
    (tabs and line breaks become one space; ``one_line=False`` keeps them, for CSV, which quotes)
    and made formula-safe."""
    if is_blank(value):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    if one_line:
        text = _BREAKS.sub(" ", text)
    return formula_safe(text)


def number_cell(x: float) -> str:
    """10.0 -> "10", 7.25 -> "7.25" (at most 4 decimals, no exponent); NaN -> ""."""
    if is_blank(x):
        return ""
    s = f"{float(x):.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def tsv_text(rows: Iterable[Sequence[object]]) -> str:
    """Rows of cells -> tab-separated text (no quoting: every text cell passes :func:`sheet_cell`)."""
    lines = []
    for row in rows:
        cells = [c if isinstance(c, str) and c == "" else sheet_cell(c) for c in row]
        lines.append("\t".join(number_cell(c) if isinstance(c, (int, float)) and not isinstance(c, bool)
                               else str(c) for c in cells))
    return "\r\n".join(lines) + "\r\n"


def write_tsv(path: Path, rows: Iterable[Sequence[object]], *, encoding: str) -> None:
    """Write rows as tab-separated text in ``encoding`` (with its BOM)."""
    Path(path).write_text(tsv_text(rows), encoding=encoding, newline="")


def write_csv(path: Path, df, text_columns: Sequence[str]) -> Path:
    """A DataFrame as a CSV a person opens: UTF-8 with a BOM, every cell of ``text_columns`` through
    :func:`sheet_cell` (formula-safe; line breaks kept, CSV quotes them), written atomically."""
    from .atomic import atomic_write

    safe = df.copy()
    for c in text_columns:
        if c in safe.columns:
            safe[c] = safe[c].map(lambda v: sheet_cell(v, one_line=False), na_action="ignore").astype("string")
    return atomic_write(Path(path), lambda p: safe.to_csv(p, index=False, lineterminator="\n", encoding=CSV_ENCODING))
